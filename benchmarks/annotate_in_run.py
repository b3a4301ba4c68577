"""What age and owner of lines add to a review run's HTML step, inside pytest-lcov, on a real project.

annotate_cost.py times the annotator beside genhtml; this times the plugin as
a user runs it: ``pytest --lcov --lcov-branch --lcov-diff=REF --lcov-html``
with genhtml 2.x, which annotates, against the same run without
``--lcov-diff``, which does not.  Both write the tracefile and run genhtml;
the difference of their tracefile and HTML steps (timed in-process by
timing/benchsteps.py) is what annotation adds.  It is compared with
genhtml 2.x's own time on the same tracefile.  "cold" runs start without the
blames kept in pytest's cache, "warm" runs with them.

    python benchmarks/annotate_in_run.py --project DIR --python VENV/bin/python \
        [--ref HEAD~20] [--repeat 3] [--pytest-args "--lcov-source=jinja2"]

DIR is a git checkout of the project (jinja 3.1.6 in docs/change-coverage.md)
whose tests run with the given Python; the analysis cache is warmed first.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LCOV2_USR = Path(os.environ.get("LCOV2_ROOT", Path.home() / ".cache/pytest-lcov/lcov2")) / "root/usr"
BLAME_CACHE = Path(".pytest_cache/d/pytest-lcov-analysis/blame.json")


def steps(project: Path, python: str, args: list[str]) -> float:
    """One pytest run's tracefile and HTML steps, in seconds."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE / "timing"), "src"]))
    env["PERL5LIB"] = str(LCOV2_USR / "lib/lcov")
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "benchsteps", *args],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"^STEPS html=([\d.]+) write=([\d.]+)$", done.stdout, re.M)
    if found is None or "pytest-lcov: genhtml" in done.stdout or "age and owner" in done.stdout:
        sys.exit(f"run failed or genhtml complained:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return float(found[1]) + float(found[2])


def genhtml_alone(project: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["perl", str(LCOV2_USR / "bin/genhtml"), "--branch-coverage", "--function-coverage", "--quiet",
         "-o", "bench-genhtml", "lcov.info"],
        cwd=project, env=dict(os.environ, PERL5LIB=str(LCOV2_USR / "lib/lcov")), check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--python", type=Path, required=True)
    parser.add_argument("--ref", default="HEAD~20")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pytest-args", default="")
    args = parser.parse_args()
    project = args.project.resolve()
    python = str(args.python.absolute())
    common = ["--lcov", "--lcov-branch", f"--lcov-genhtml=perl {LCOV2_USR / 'bin/genhtml'}"]
    common += shlex.split(args.pytest_args)
    review = [*common, f"--lcov-diff={args.ref}", "--lcov-html=bench-review"]
    plain = [*common, "--lcov-html=bench-plain"]
    print(f"load before: {os.getloadavg()[0]:.2f}, CPUs: {os.cpu_count()}")
    steps(project, python, plain)  # the analysis cache, warm for every run after
    times: dict[str, list[float]] = {"cold": [], "warm": [], "plain": [], "genhtml": []}
    for _ in range(args.repeat):
        (project / BLAME_CACHE).unlink(missing_ok=True)
        times["cold"].append(steps(project, python, review))
        times["warm"].append(steps(project, python, review))
        times["plain"].append(steps(project, python, plain))
        times["genhtml"].append(genhtml_alone(project))
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:8} median {median[name]:.2f} s  ({', '.join(f'{v:.2f}' for v in values)})")
    for name in ("cold", "warm"):
        added = median[name] - median["plain"]
        print(
            f"annotation added, {name}: {added:.2f} s = {added / median['genhtml']:.2f} x genhtml 2.x alone"
        )
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
