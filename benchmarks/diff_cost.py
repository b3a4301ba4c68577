"""What coverage of the change (``--lcov-diff``) adds to the report, against the report itself.

On a generated project (``generate.py``) made into a git repository, with a
change to `--changed` modules on a branch, this times, in one process and on
the same data:

* the anchor: the report step, ``pytest-lcov convert`` of the run's data file
  with a warm analysis cache (the fastest the report gets);
* what ``--lcov-diff`` adds: asking git for the changed lines and meeting them
  with the tracefile's records (``changed_lines`` + ``diff_coverage``).

    python benchmarks/diff_cost.py --modules 1000 --changed 50 --repeat 5

Prints medians and the ratio, with the commands run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common import Variant, check_output, prepare, run

from pytest_lcov.diff import changed_lines, diff_coverage
from pytest_lcov.tracefile import parse

HERE = Path(__file__).resolve().parent
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def make_project(folder: Path, modules: int, changed: int) -> None:
    """The project, committed on main; a branch that edits `changed` modules; the run's data and tracefile."""
    if folder.exists():
        shutil.rmtree(folder)
    run(
        [sys.executable, str(HERE / "generate.py"), "--modules", str(modules), "--out", str(folder)],
        HERE,
        True,
    )
    (folder / ".gitignore").write_text(".coverage\n*.info\n.pytest_cache/\n__pycache__/\ncache/\n")
    run([*GIT, "init", "-q", "-b", "main"], folder, True)
    run([*GIT, "add", "."], folder, True)
    run([*GIT, "commit", "-q", "-m", "base"], folder, True)
    run([*GIT, "checkout", "-q", "-b", "change"], folder, True)
    sources = sorted((folder / "synthpkg").rglob("mod*.py"))
    for source in sources[:: max(1, len(sources) // changed)][:changed]:
        lines = source.read_text().splitlines(keepends=True)
        # Edit a line in the middle and add a small function at the end.
        middle = len(lines) // 2
        lines[middle] = lines[middle].rstrip("\n") + "  # edited\n"
        lines.append("\n\ndef added_by_the_change(x):\n    if x:\n        return 1\n    return 0\n")
        source.write_text("".join(lines))
    run([*GIT, "commit", "-q", "-am", "change"], folder, True)
    run([sys.executable, "-m", "coverage", "run", "--branch", "-m", "pytest", "-q", "-p", "no:lcov",
         "-p", "no:cacheprovider", "-p", "no:hypothesispytest"], folder, True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "work" / "diff-cost")
    args = parser.parse_args()
    folder = args.out.resolve()
    make_project(folder, args.modules, args.changed)
    convert = [sys.executable, "-m", "pytest_lcov", "convert", ".coverage", "-o", "lcov.info",
               "--cache-dir", "cache"]  # fmt: skip
    report_step = Variant("pytest-lcov convert", (tuple(convert),), "lcov.info")
    prepare(folder, report_step)
    run(convert, folder, True, note="(once to warm the cache, then timed)")
    check_output(folder, report_step)
    report = median_seconds(
        lambda: subprocess.run(convert, cwd=folder, check=True, capture_output=True), args.repeat
    )
    records = {
        str(folder / parsed.record.path): parsed.record
        for parsed in parse((folder / "lcov.info").read_text(encoding="utf-8"))
    }

    def measure_the_change() -> object:
        changed = changed_lines("main", folder)
        return diff_coverage(changed, records, changed.relative)

    added = median_seconds(measure_the_change, args.repeat)
    result = diff_coverage(changed_lines("main", folder), records, lambda path: path)
    print(
        f"\n{args.modules} modules, {len(result.files)} changed files, {result.statements} changed statements"
    )
    print(f"report step (convert, warm cache), median of {args.repeat}: {report:.3f} s")
    print(f"added by --lcov-diff (git + diff coverage), median of {args.repeat}: {added:.3f} s")
    print(f"ratio: {added / report:.3f} x the warm report step")


if __name__ == "__main__":
    main()
