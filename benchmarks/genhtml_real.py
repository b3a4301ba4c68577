"""Per-test HTML on real suites: genhtml 2.3.1 as ``--lcov-html`` runs it against genhtml 1.16.

For each pinned project of real_projects.py (attrs, click; its venv and sources),
one untimed ``pytest --lcov --lcov-branch --lcov-per-test`` writes
``bench-out/genhtml-real.tests.info`` and its description file; then, interleaved
and ``--repeat`` times each:

  genhtml 1.16   on the per-test file as written
  genhtml 2.3.1  on the copy ``--lcov-html`` hands it, in pieces (pytest_lcov.html.lcov2_per_test_pieces)

with the arguments the plugin gives each (pytest_lcov.html.genhtml_arguments),
and, with ``--written``, genhtml 2.3.1 once on the per-test file as written (minutes).
Then every number and per-test list of the two reports is compared
(tests/test_html_lcov2.py's reader): the same, but each test's own branch counts,
which the handed copy leaves out.  It prints wall and CPU time, the load average
before each run, the CPU count, and pytest-lcov's own estimate (html.Lcov2Load).

    python benchmarks/genhtml_real.py --python-version 3.14          # attrs, click; 3 runs each
    python benchmarks/genhtml_real.py --projects attrs --repeat 5 --written
    python benchmarks/genhtml_real.py --reuse      # the per-test files of the last run, suites not run
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common
from common import BenchmarkError, shown
from real_projects import PROJECTS, REPO, WORK, add_python_arguments, ensure_sources, venv_of
from run import LCOV2_USR, lcov2_estimate

sys.path.insert(0, str(REPO))

from pytest_lcov.html import Genhtml, _lcov2_per_test_copy, genhtml_arguments, lcov2_pieces
from tests.test_html_lcov2 import Pages, read_pages

OUT = "bench-out/genhtml-real"


def genhtml(major: int) -> Genhtml:
    if major == 1:
        return Genhtml(("genhtml",), 1)
    return Genhtml(("env", f"PERL5LIB={LCOV2_USR / 'lib/lcov'}", "perl", str(LCOV2_USR / "bin/genhtml")), 2)


def timed(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall and CPU seconds of `command`, and the 1-minute load average just before it."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BenchmarkError(f"{shown(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, load


def lines_and_functions(numbers: dict[str, str]) -> dict[str, str]:
    return {metric: value for metric, value in numbers.items() if metric != "Branches" and value != "0/0 -"}


def differences(one: Pages, two: Pages) -> list[str]:
    """Where genhtml 2.3.1's report of the handed copy differs from 1.16's, each test's branches aside."""
    found = [
        name for name in ("heads", "rows", "lines", "functions") if getattr(one, name) != getattr(two, name)
    ]
    if one.tests.keys() != two.tests.keys():
        found.append(f"per-test lists ({len(one.tests)} against {len(two.tests)} rows)")
    else:
        found += [
            f"test {key}"
            for key, numbers in one.tests.items()
            if lines_and_functions(two.tests[key]) != lines_and_functions(numbers)
        ]
    return found


def measure_project(name: str, bin_dir: Path, repeat: int, written: bool, reuse: bool) -> list[str]:
    project = PROJECTS[name]
    cwd = ensure_sources(project, bin_dir)
    out = cwd / OUT
    make = [
        str(bin_dir / "pytest"),
        "-q",
        *project.pytest_args,
        "-o",
        "cache_dir=.bench-cache/genhtml-real",
        f"--lcov={OUT}.info",
        "--lcov-branch",
        "--lcov-per-test",
        "-p",
        "no:cov",
    ]
    tests_file, description = out.with_suffix(".tests.info"), out.with_suffix(".desc")
    if reuse and tests_file.is_file() and description.is_file():
        print(f"\n{name}: reusing {tests_file} ({shown(make)})", flush=True)
    else:
        print(f"\n{name}: {shown(make)}", flush=True)
        done = subprocess.run(make, cwd=cwd, env=common.child_env(bin_dir), capture_output=True, text=True)
        if done.returncode != 0 or not tests_file.is_file():
            raise BenchmarkError(f"{shown(make)} failed:\n{done.stdout[-3000:]}")
    handed_folder = cwd / f"{OUT}-handed"
    shutil.rmtree(handed_folder, ignore_errors=True)
    started = time.perf_counter()
    handed = _lcov2_per_test_copy(tests_file, handed_folder, "", lcov2_pieces(genhtml(2)))
    shaping = time.perf_counter() - started

    def command(major: int, tracefiles: list[Path], html: str) -> list[str]:
        relative = [Path(os.path.relpath(tracefile, cwd)) for tracefile in tracefiles]
        desc = Path(os.path.relpath(description, cwd))
        return genhtml_arguments(genhtml(major), relative, Path(f"{OUT}-{html}"), name, desc, None)

    runs = {"genhtml 1.16, per-test file": command(1, [tests_file], "h1")}
    runs["genhtml 2.3.1, as --lcov-html hands it over"] = command(2, handed, "h2")
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label in runs}
    for round_number in range(repeat):
        for label, args in common.rotated(list(runs.items()), round_number):
            samples[label].append(timed(args, cwd))
            print(f"  {label}: {samples[label][-1][0]:.1f} s", flush=True)
    lines = [
        f"## {project.name} {project.version}",
        "",
        f"`{shown(make)}`: {tests_file.stat().st_size / 2**20:.1f} MiB, "
        f"{tests_file.read_text(encoding='utf-8').count('TN:'):,} sections; "
        f"shaping the copy: {shaping:.2f} s, in {len(handed)} pieces",
        "",
        "| genhtml | median wall | min - max | median CPU | load (1 min) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, found in samples.items():
        walls, cpus, loads = zip(*found, strict=True)
        lines.append(
            f"| {label} | {statistics.median(walls):.1f} s | {min(walls):.1f} - {max(walls):.1f} s | "
            f"{statistics.median(cpus):.1f} s | {min(loads):.2f} - {max(loads):.2f} |"
        )
    if written:
        wall, cpu, load = timed(command(2, [tests_file], "h2w"), cwd)
        lines.append(
            f"| genhtml 2.3.1, per-test file as written (once) | {wall:.1f} s | - | {cpu:.1f} s "
            f"| {load:.2f} |"
        )
    first, second = samples.values()
    ratio = statistics.median(s[0] for s in second) / statistics.median(s[0] for s in first)
    unlike = differences(read_pages(cwd / f"{OUT}-h1", 1), read_pages(cwd / f"{OUT}-h2", 2))
    lines += [
        "",
        f"genhtml 2.3.1 as --lcov-html runs it: {ratio:.2f} x genhtml 1.16's wall time.",
        lcov2_estimate(tests_file),
        "Pages: "
        + ("every number and per-test list the same" if not unlike else "DIFFERENT: " + "; ".join(unlike))
        + " (each test's own branch counts aside).",
        "",
        "```sh",
        *(shown(args) for args in runs.values()),
        "```",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", default="attrs,click", help="comma-separated (default %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs of each genhtml (default %(default)s)"
    )
    parser.add_argument(
        "--written", action="store_true", help="also genhtml 2.3.1 on the file as written, once"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the per-test file an earlier run wrote, if there is one, instead of running the suite",
    )
    parser.add_argument("--results", type=Path, default=WORK / "genhtml-real.md", help="default %(default)s")
    add_python_arguments(parser)
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.projects.split(",") if name.strip()]
    if not names or set(names) - {"attrs", "click"}:
        parser.error("--projects takes attrs, click or both")
    if not (LCOV2_USR / "bin/genhtml").is_file():
        parser.error(f"lcov 2.3.1 is not in {LCOV2_USR}: run .ci/install-lcov")
    out = [
        "# Per-test HTML on real suites: genhtml 2.3.1 as --lcov-html runs it, against genhtml 1.16",
        "",
        f"- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs; Python "
        f"{args.python_version}; {args.repeat} runs of each, interleaved; "
        f"pytest-lcov: {common.package_state(REPO)}",
    ]
    try:
        bin_dir = venv_of(args, REPO)
        for name in names:
            out += ["", *measure_project(name, bin_dir, args.repeat, args.written, args.reuse)]
    except (BenchmarkError, subprocess.CalledProcessError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    text = "\n".join(out) + "\n"
    print("\n" + text)
    args.results.write_text(text, encoding="utf-8")
    return 1 if "DIFFERENT" in text else 0


if __name__ == "__main__":
    sys.exit(main())
