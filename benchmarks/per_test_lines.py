"""Per-test line data on CPython 3.12 and 3.13: its cost against a line-only run, and its exactness.

On 3.12 and 3.13 ``pytest --lcov --lcov-per-test`` (lines) measures with
coverage.py's sys.monitoring core and re-arms its events at each test's start
and end.  For each Python and project, in a virtual environment of that Python
with real_projects.py's pinned tools, this script times (interleaved, medians):

- ``lines``: ``pytest --lcov``, line data only (the anchor);
- ``per-test``: ``pytest --lcov --lcov-per-test``, as users run it;
- ``per-test-ctrace``: the same with ``COVERAGE_CORE=ctrace`` (coverage.py's C tracer);
- ``cov-context``: pytest-cov's ``--cov --cov-context=test --cov-report=``.

and checks, after the timed runs, that the sys.monitoring run's files equal
the C tracer's byte for byte, and that each test's section holds exactly the
lines coverage.py's contexts give that test in pytest-cov's run.

Projects: real_projects.py's attrs and click suites, in copies whose
``[tool.coverage.run]`` says ``branch = false`` (per-test branches keep the C
tracer), and generate.py's 2,000-test project (300 modules, run.py's case c).

    python benchmarks/per_test_lines.py                                   # 3.12 and 3.13; attrs, click, synth
    python benchmarks/per_test_lines.py --pythons 3.13 --projects click --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import common
import generate
import real_projects
from common import BenchmarkError, Command, Row, Sample, Variant

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from pytest_lcov.tracefile import parse  # noqa: E402

WORK = real_projects.WORK
PYTHONS = ("3.12", "3.13")
SYNTH = real_projects.Project(
    "synth",
    "300 modules x 2000 tests",
    (),
    (),
    generated=generate.Params(300, 0, 2000, 20240601),
)
PROJECTS = {
    "attrs": real_projects.PROJECTS["attrs"],
    "click": real_projects.PROJECTS["click"],
    "synth": SYNTH,
}
BRANCH_ON = "branch = true"


@dataclass
class Result:
    python: str
    project: real_projects.Project
    cwd: Path
    variants: list[Variant]
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    failed: bool = False


def lines_copy(project: real_projects.Project, bin_dir: Path) -> Path:
    """The project's sources, with its coverage configuration's branches turned off (made once)."""
    source = real_projects.ensure_sources(project, bin_dir)
    if project.generated is not None:
        return source  # generate.py's project measures lines
    copy = WORK / f"{project.folder}-lines"
    if not (copy / "pyproject.toml").is_file():
        shutil.copytree(
            source, copy, ignore=shutil.ignore_patterns(".bench-cache", "bench-out", ".coverage*")
        )
        config = copy / "pyproject.toml"
        text = config.read_text(encoding="utf-8")
        if text.count(BRANCH_ON) != 1:
            raise BenchmarkError(f"{config}: expected one `{BRANCH_ON}` to turn off")
        config.write_text(text.replace(BRANCH_ON, "branch = false"), encoding="utf-8")
    return copy


def variants(project: real_projects.Project, bin_dir: Path, python: str) -> list[Variant]:
    pytest = (str(bin_dir / "pytest"), "-q", *project.pytest_args)

    def ours(key: str, *extra: str) -> Command:
        return (
            *pytest,
            "-o",
            f"cache_dir=.bench-cache/{python}-{key}",
            f"--lcov=bench-out/{python}/{key}.info",
            *extra,
            "-p",
            "no:cov",
        )

    return [
        Variant("pytest --lcov (lines)", (ours("lines"),), key="lines"),
        Variant(
            "pytest --lcov --lcov-per-test (lines)", (ours("per-test", "--lcov-per-test"),), key="per-test"
        ),
        Variant(
            "COVERAGE_CORE=ctrace pytest --lcov --lcov-per-test (lines)",
            (ours("per-test-ctrace", "--lcov-per-test"),),
            key="per-test-ctrace",
            env=(("COVERAGE_CORE", "ctrace"),),
        ),
        Variant(
            "pytest-cov --cov --cov-context=test --cov-report= (lines)",
            (
                (
                    *pytest,
                    "-o",
                    f"cache_dir=.bench-cache/{python}-cov",
                    "--cov",
                    "--cov-context=test",
                    "--cov-report=",
                    "-p",
                    "no:lcov",
                ),
            ),
            key="cov-context",
        ),
    ]


def run_result(result: Result, bin_dir: Path, repeat: int, warmup: int, logs: Path) -> None:
    print(f"\n## Python {result.python}: {result.project.name} {result.project.version}", flush=True)
    common.show_variants(result.cwd, result.variants)
    python, env = str(bin_dir / "python"), common.child_env(bin_dir)
    (result.cwd / "bench-out" / result.python).mkdir(parents=True, exist_ok=True)
    result.samples = {variant.key: [] for variant in result.variants}
    for round_number in range(-warmup, repeat):
        for variant in common.rotated(result.variants, round_number):
            if variant.key == "cov-context":  # its data stays for the check: ours keep none in the folder
                for old in result.cwd.glob(".coverage*"):
                    old.unlink()
            log = logs / f"lines-{result.python}-{result.project.folder}-{variant.key}.log"
            sample = common.measure_variant(python, variant, result.cwd, log, env)
            if round_number >= 0:
                result.samples[variant.key].append(sample)
            step = f"{round_number + 1}/{repeat}" if round_number >= 0 else "warm-up"
            print(f"  [{step}] {variant.key}: {common.sample_text(sample)}", flush=True)
    check(result, bin_dir)


def check(result: Result, bin_dir: Path) -> None:
    """The sys.monitoring run's files against the C tracer's, and each test's lines against pytest-cov's."""
    out = result.cwd / "bench-out" / result.python
    ours = tests_lines(out / "per-test.tests.info", out / "per-test.desc", result.cwd)
    suffixes = (".info", ".tests.info", ".desc")
    if all(
        (out / f"per-test{x}").read_bytes() == (out / f"per-test-ctrace{x}").read_bytes() for x in suffixes
    ):
        result.checks.append(
            "`per-test` files (.info, .tests.info, .desc) byte-identical to `per-test-ctrace`'s"
        )
    else:
        traced = tests_lines(out / "per-test-ctrace.tests.info", out / "per-test-ctrace.desc", result.cwd)
        compare(result, ours, traced, "the C tracer's run (`per-test-ctrace`)")
    theirs = pytest_cov_lines(result.cwd, bin_dir, statements(out / "per-test.tests.info", result.cwd))
    compare(result, ours, theirs, "pytest-cov's `--cov-context=test` contexts")


def compare(
    result: Result,
    ours: dict[tuple[str, Path], set[int]],
    theirs: dict[tuple[str, Path], set[int]],
    what: str,
) -> None:
    """Each test's lines in `ours` against `theirs`: equal, or the differences (the run then fails)."""
    tests = len({test for test, _ in ours})
    compared = f"{tests:,} tests, {len(ours):,} (test, file) pairs, {sum(map(len, ours.values())):,} lines"
    differing = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
    if not differing:
        result.checks.append(f"each test's lines equal {what}: {compared}")
        return
    result.failed = True
    examples = []
    for key in differing[:3]:
        in_ours, in_theirs = ours.get(key, set()), theirs.get(key, set())
        examples.append(
            f"{key[0]} {key[1].name}: ours only {sorted(in_ours - in_theirs)}, "
            f"theirs only {sorted(in_theirs - in_ours)}"
        )
    result.checks.append(
        f"**DIFFERENT** from {what} in {len(differing):,} of {compared}: {'; '.join(examples)}"
    )


def statements(tests_file: Path, root: Path) -> dict[Path, set[int]]:
    """Each file's statements, from the per-test file's first section (the run's: every statement)."""
    found: dict[Path, set[int]] = {}
    for parsed in parse(tests_file.read_text(encoding="utf-8"), str(tests_file)):
        found.setdefault((root / parsed.record.path).resolve(), set(parsed.record.lines))
    return found


def tests_lines(tests_file: Path, desc_file: Path, root: Path) -> dict[tuple[str, Path], set[int]]:
    """(node id, file) -> the lines its section says it reached."""
    names: dict[str, str] = {}
    name = ""
    for line in desc_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("TN:"):
            name = line[3:].strip()
        elif line.startswith("TD:") and name not in names:
            names[name] = line[3:].strip()
    lines: dict[tuple[str, Path], set[int]] = {}
    run_name = None
    for parsed in parse(tests_file.read_text(encoding="utf-8"), str(tests_file)):
        run_name = run_name or parsed.test_name
        if parsed.test_name == run_name:
            continue
        reached = {number for number, count in parsed.record.lines.items() if count}
        if reached:
            lines[(names[parsed.test_name], (root / parsed.record.path).resolve())] = reached
    return lines


def pytest_cov_lines(
    root: Path, bin_dir: Path, statements: dict[Path, set[int]]
) -> dict[tuple[str, Path], set[int]]:
    """(node id, file) -> lines, from the last cov-context run's data, read by coverage.py in the venv."""
    # Raw line numbers become their statements' first lines, as coverage.py's reports (and ours) give them.
    script = """
import collections, json, sys, coverage
from coverage.python import PythonFileReporter
cov = coverage.Coverage(data_file=sys.argv[1], config_file=False)
cov.load()
data = cov.get_data()
out = {}
for name in data.measured_files():
    reporter, by_line = PythonFileReporter(name, cov), collections.defaultdict(set)
    for line, contexts in data.contexts_by_lineno(name).items():
        for first in reporter.translate_lines([line]):
            by_line[first].update(contexts)
    out[name] = {str(line): sorted(contexts) for line, contexts in by_line.items()}
print(json.dumps(out))
"""
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", script, str(root / ".coverage")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines: dict[tuple[str, Path], set[int]] = defaultdict(set)
    for filename, by_line in json.loads(done.stdout).items():
        path = common.same_file(Path(filename).resolve(), statements)
        for line, contexts in by_line.items():
            for context in contexts:
                node_id = context.rsplit("|", 1)[0]  # pytest-cov adds |setup, |run, |teardown
                if node_id and int(line) in statements.get(path, ()):
                    lines[(node_id, path)].add(int(line))
    return dict(lines)


COLUMNS = [
    *common.timing_columns(
        wall_title="wall (median)",
        ratio_title="x `lines`",
        bold_ratio=True,
        cpu_title="CPU",
        rss_ratio=None,
        tree_title=None,
        mark_anchor=False,
    ),
    common.load_column("load"),
]


def table(result: Result) -> str:
    anchor = result.samples["lines"]
    rows = [Row(v, result.samples[v.key], anchor, v.key == "lines") for v in result.variants]
    return common.table(COLUMNS, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pythons", default=",".join(PYTHONS), help="comma-separated (default %(default)s)")
    common.add_run_arguments(parser, projects="attrs,click,synth")
    parser.add_argument(
        "--results", type=Path, default=WORK / "per-test-lines.md", help="default %(default)s"
    )
    args = parser.parse_args(argv)
    pythons = [v.strip() for v in args.pythons.split(",") if v.strip()]
    names = [name.strip() for name in args.projects.split(",") if name.strip()]
    if not names or set(names) - set(PROJECTS) or set(pythons) - set(PYTHONS):
        parser.error(f"--projects: some of {', '.join(PROJECTS)}; --pythons: some of {', '.join(PYTHONS)}")
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started, started_at = time.perf_counter(), datetime.now(UTC)
    state = common.package_state(REPO)
    results = []
    try:
        for version in pythons:
            bin_dir = real_projects.ensure_venv(
                WORK / f"venv-{version}",
                real_projects.find_python(None, version),
                REPO,
                list(real_projects.PROJECTS.values()),
                version,
            )
            for name in names:
                project = PROJECTS[name]
                result = Result(
                    version, project, lines_copy(project, bin_dir), variants(project, bin_dir, version)
                )
                run_result(result, bin_dir, args.repeat, args.warmup, logs)
                results.append(result)
    except (BenchmarkError, subprocess.CalledProcessError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    if common.package_state(REPO) != state:
        print("\npytest_lcov/ changed during the benchmark: the numbers mix two versions", file=sys.stderr)
        return 1
    out = [
        "# Per-test line data on CPython 3.12 and 3.13",
        "",
        f"- date: {started_at.strftime('%Y-%m-%d %H:%M UTC')}; "
        f"whole benchmark {(time.perf_counter() - started) / 60:.1f} min",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs; pytest-lcov {state}",
        f"- tools: {', '.join(real_projects.TOOLS)}; "
        f"medians of {args.repeat} runs after {args.warmup} warm-up",
    ]
    for result in results:
        out += [
            "",
            f"## Python {result.python}: {result.project.name} {result.project.version}",
            "",
            table(result),
            "",
        ]
        out += [f"- {line}" for line in result.checks]
        out += ["", common.commands_block(result.cwd, result.variants)]
    text = "\n".join(out) + "\n"
    args.results.write_text(text, encoding="utf-8")
    print("\n" + text)
    return 1 if any(result.failed for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
