"""Execution counts on whole real test suites, against the settrace reference.

For each project (real_projects.py's pinned attrs and click, in its virtual
environment), the project's test suite runs each way, in fresh pytest processes:

  ref   pytest -p countref
        the measured packages traced by tests/counting_reference.py, and counted
        by pytest-lcov's import hook in the same run (no coverage.py)
  ours  pytest -p countdump --lcov=OUT --lcov-branch --lcov-counts=executions
        the plugin as users run it; countdump writes its counters

Every count of the same run is compared: each statement's count (coverage.py's
statements), each function's entries, and each way out of an if/while/for/case
(against how often the reference saw the branch line followed by the
destination); the tracefile's DA against the counters it was written from;
the test outcome of every run; and no measured file may have been imported
before counting began.  Any difference is listed with its file and line, and
the script exits 1.  Counts that vary between runs of one kind, and counts
where the suite ran differently under coverage.py than under the reference,
are listed apart.

    python benchmarks/real_counts.py                     # attrs and click, twice each way
    python benchmarks/real_counts.py --projects click --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import real_projects
from common import (
    BenchmarkError,
    Variant,
    check_output,
    child_env,
    prepare,
    pytest_summary,
    same_file,
    shown,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from pytest_lcov.tracefile import parse  # noqa: E402
from tests.counting_reference import statement_lines  # noqa: E402

PACKAGES = {"attrs": "attr,attrs", "click": "click"}  # what each project's coverage configuration measures
MAX_SHOWN = 20
TRACEFILE = "bench-out/real-counts.info"


Key = tuple[Any, ...]  # (kind, file, line, qualname or destination)


@dataclass
class Comparison:
    project: str
    runs: int
    bin_dir: Path
    files: int = 0
    statements: int = 0
    executed: int = 0  # statements with a count above 0
    above_one: int = 0  # statements with a count above 1
    highest: int = 0
    functions: int = 0
    ways: int = 0
    outcome: str = ""
    seconds: dict[str, list[float]] = field(default_factory=lambda: {"ref": [], "ours": []})
    differences: list[str] = field(default_factory=list)
    unstable: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # the suite ran differently under coverage.py


@dataclass(frozen=True)
class SuiteRun:
    counts: Any  # the plugin's JSON
    outcome: str  # pytest's last line, without its time
    log: str
    seconds: float


def run_suite(project: real_projects.Project, cwd: Path, bin_dir: Path, mode: str, logs: Path) -> SuiteRun:
    """One run of the suite with one of the two plugins."""
    out = cwd / "bench-out" / f"real-counts-{mode}.json"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    command = [str(bin_dir / "pytest"), "-q", *project.pytest_args, "-p", "no:cov", "-p", "no:cacheprovider"]
    if mode == "ref":
        command += ["-p", "countref"]
    else:
        command += [
            "-p",
            "countdump",
            f"--lcov={cwd / TRACEFILE}",
            "--lcov-branch",
            "--lcov-counts=executions",
        ]
    variant = Variant(mode, (tuple(command),), TRACEFILE if mode == "ours" else None)
    env = child_env(bin_dir)
    env.update(
        PYTHONPATH=str(HERE / "counts"),
        REAL_COUNTS_OUT=str(out),
        REAL_COUNTS_PACKAGES=PACKAGES[project.name],
        REAL_COUNTS_REFERENCE=str(REPO / "tests" / "counting_reference.py"),
        REAL_COUNTS_COUNTERS="1",
    )
    log = logs / f"{project.folder}-real-counts-{mode}.log"
    print(f"$ {shown(command)}   > {log}", flush=True)
    prepare(cwd, variant)
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as output:
        code = subprocess.run(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    if code != 0 or not out.is_file():
        raise BenchmarkError(f"{mode} run of {project.name} failed (exit {code}): see {log}")
    check_output(cwd, variant)
    outcome = pytest_summary(text, timed=False)
    return SuiteRun(json.loads(out.read_text(encoding="utf-8")), outcome, text, seconds)


def counted_values(ours: Any, statements: dict[str, set[int]]) -> dict[Key, int]:
    """Every count pytest-lcov's counters hold, keyed as `reference_values` keys them."""
    values: dict[Key, int] = {}
    for name, counted in ours["files"].items():
        lines = dict(map(tuple, counted["lines"]))
        values.update((("line", name, line), lines.get(line, 0)) for line in statements[name])
        values.update((("function", name, line, qualname), n) for line, qualname, n in counted["functions"])
        for line, dest, taken in counted["ways"]:
            if (
                dest is not None and dest != line
            ):  # out of the function, or back to itself: no pair to compare
                values["way", name, line, dest] = taken
    return values


def reference_values(reference: Any, keys: Iterable[Key]) -> dict[Key, int]:
    """The reference's count for each key: a statement's count, a function's entries, a transition's."""
    by_file: dict[str, dict[Key, int]] = {}
    for name, ref in reference.items():
        got = by_file.setdefault(name, {})
        got.update((("line", name, line), n) for line, n in ref["lines"])
        got.update((("function", name, line, qualname), n) for line, qualname, n in ref["functions"])
        got.update((("way", name, a, b), n) for a, b, n in ref["transitions"])
    values = {key: by_file.get(key[1], {}).get(key, 0) for key in keys}
    # A function the reference saw entered that the counters do not know is a difference too.
    for got in by_file.values():
        values.update((key, n) for key, n in got.items() if key[0] == "function" and n and key not in values)
    return values


def tracefile_differences(cwd: Path, ours: Any) -> list[str]:
    """The tracefile's DA must be the counters' statement counts: what users see is what was counted."""
    written = parse((cwd / TRACEFILE).read_text(encoding="utf-8"))
    tracefile = {Path(os.path.realpath(cwd / r.record.path)): r.record for r in written}
    bad = []
    for name, counted in ours["files"].items():
        record = tracefile.get(same_file(Path(os.path.realpath(name)), tracefile))
        if record is None:
            bad.append(f"{name}: not in the tracefile")
            continue
        lines = dict(map(tuple, counted["lines"]))
        wrong = sorted(line for line, n in record.lines.items() if n != lines.get(line, 0))
        if wrong:
            bad.append(f"{name}: the tracefile's DA differs from the counters on lines {wrong[:10]}")
    return bad


def describe(key: Key, shown_values: str, bin_dir: Path) -> str:
    """One count, by file (relative to the venv's parent) and line."""
    kind, name, line, *rest = key
    short = os.path.relpath(name, bin_dir.parent)
    what = {
        "line": "statement ran",
        "function": f"{rest[0] if rest else ''}() entered",
        "way": f"way to line {rest[0] if rest else ''} taken",
    }[kind]
    return f"{short}:{line}: {what} {shown_values}"


def compare_values(
    result: Comparison, first: list[dict[Key, int]], second: list[dict[Key, int]], names: tuple[str, str]
) -> list[str]:
    """Keys whose counts differ between two kinds of run; a key varying within a kind goes to `unstable`."""
    out = []
    keys = set().union(*first, *second)
    for key in sorted(keys, key=repr):
        a = [values.get(key, 0) for values in first]
        b = [values.get(key, 0) for values in second]
        if len(set(a)) > 1 or len(set(b)) > 1:
            result.unstable.append(describe(key, f"{names[0]} {a}, {names[1]} {b}", result.bin_dir))
        elif a[0] != b[0]:
            out.append(describe(key, f"{a[0]} times ({names[0]}), {b[0]} ({names[1]})", result.bin_dir))
    return out


def compare(project: real_projects.Project, cwd: Path, bin_dir: Path, logs: Path, runs: int) -> Comparison:
    """Run the suite `runs` times each way, alternating, and compare every count."""
    result = Comparison(project.name, runs, bin_dir)
    refs, ours = [], []
    for _ in range(runs):
        refs.append(run_suite(project, cwd, bin_dir, "ref", logs))
        ours.append(run_suite(project, cwd, bin_dir, "ours", logs))
        result.differences += tracefile_differences(cwd, ours[-1].counts)
    result.seconds = {"ref": [r.seconds for r in refs], "ours": [r.seconds for r in ours]}
    result.outcome = ours[0].outcome
    bad = result.differences
    if len({r.outcome for r in refs + ours}) > 1:
        bad.append(f"the runs ended differently: {sorted({r.outcome for r in refs + ours})}")
    counters = [r.counts["counters"] for r in refs] + [r.counts for r in ours]
    for run in counters:
        bad += [f"imported before counting began: {name}" for name in run["early"]]
    for run in ours:
        bad += [line for line in run.log.splitlines() if "counts are 0/1" in line]
    names = set().union(*(run["files"] for run in counters))
    statements = {name: statement_lines(Path(name).read_text(encoding="utf-8"), name) for name in names}
    same_run = [counted_values(r.counts["counters"], statements) for r in refs]
    keys = set().union(*same_run)
    reference = [reference_values(r.counts["reference"], keys) for r in refs]
    bad += compare_values(result, reference, same_run, ("reference", "counted"))
    plugin = [counted_values(r.counts, statements) for r in ours]
    result.elsewhere = compare_values(
        result, same_run, plugin, ("under the reference", "under pytest --lcov")
    )
    result.files = len(names)
    lines = [n for key, n in plugin[0].items() if key[0] == "line"]
    result.statements, result.executed = len(lines), sum(n > 0 for n in lines)
    result.above_one, result.highest = sum(n > 1 for n in lines), max(lines, default=0)
    result.functions = sum(key[0] == "function" for key in plugin[0])
    result.ways = sum(key[0] == "way" for key in plugin[0])
    return result


def report(results: list[Comparison]) -> str:
    out = ["# Execution counts on real test suites, against the settrace reference", ""]
    out += [
        "| project | outcome | files | statements | ran | ran > 1 | highest count | functions | ways | "
        "differences | varying between runs | ran differently under coverage.py | reference runs | "
        "pytest --lcov runs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        ref, ours = (", ".join(f"{t:.0f}" for t in r.seconds[mode]) + " s" for mode in ("ref", "ours"))
        out.append(
            f"| {r.project} | {r.outcome} | {r.files} | {r.statements:,} | {r.executed:,} | "
            f"{r.above_one:,} | {r.highest:,} | {r.functions:,} | {r.ways:,} | {len(r.differences)} | "
            f"{len(r.unstable)} | "
            f"{len(r.elsewhere)} | {ref} | {ours} |"
        )
    for r in results:
        for title, items in (
            ("differences", r.differences),
            ("counts varying between runs of one kind", r.unstable),
            ("counts of code that ran differently under pytest --lcov than under the reference", r.elsewhere),
        ):
            if items:
                out += ["", f"## {r.project}: {len(items)} {title}", ""]
                out += [f"- {item}" for item in items[:MAX_SHOWN]]
                if len(items) > MAX_SHOWN:
                    out.append(f"- ... and {len(items) - MAX_SHOWN} more")
    out += [
        "",
        "Each suite ran the given number of times each way, alternating. Differences: the import hook's",
        "counts against the reference's in the same run, and the tracefile's DA against the counters it",
        "was written from. A count that is not the same in every run of one kind (the suite itself varies)",
        "is listed apart. The last list compares the two kinds of run: the suite's own code may behave",
        "differently under coverage.py's tracer than under the reference's (what it finds in sys.gettrace(),",
        "when the garbage collector runs), so those counts are shown, not required to be equal.",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", default="attrs,click", help="comma-separated (default %(default)s)")
    real_projects.add_python_arguments(parser)
    parser.add_argument("--runs", type=int, default=2, help="runs of each kind (default %(default)s)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.projects.split(",") if name.strip()]
    if not names or set(names) - set(PACKAGES):
        parser.error(f"--projects takes a comma-separated list of: {', '.join(PACKAGES)}")
    logs = real_projects.WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        bin_dir = real_projects.venv_of(args, REPO)
        results = []
        for name in names:
            project = real_projects.PROJECTS[name]
            cwd = real_projects.ensure_sources(project, bin_dir)
            results.append(compare(project, cwd, bin_dir, logs, max(1, args.runs)))
    except (BenchmarkError, subprocess.CalledProcessError) as exc:
        print(f"\nreal_counts failed: {exc}", file=sys.stderr)
        return 1
    text = report(results)
    print("\n" + text)
    return 1 if any(r.differences for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
