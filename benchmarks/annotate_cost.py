"""What age-and-owner annotation (pytest_lcov.annotate) costs genhtml 2.x, on jinja's real history.

On a checkout of jinja 3.1.6 with its git history (cloned once into
benchmarks/work/annotate/), its test suite is run once under pytest-lcov
(``pytest --lcov --lcov-branch --lcov-source=jinja2``: the library, whose
history is what is blamed) in a venv made here (the pinned tools of
real_projects.py, MarkupSafe and trio).  Then, in the same process and on the same
tracefile, each round times, in a rotating order:

* plain     genhtml 2.3.1 as the plugin runs it (--quiet --branch-coverage --function-coverage);
* trivial   the same genhtml with a module that gives every line one fixed commit, owner and
            date, without pytest-lcov's module's stand-ins (for comparison: what genhtml's
            annotated report costs with the simplest annotator);
* cold      `write_annotations` (git blame of every source, in threads, no cache), then the
            same genhtml with `genhtml_arguments` (--annotate-script MODULE --annotate-script
            FOLDER --date-bins 7,30,180 --show-owners);
* cold, overlapped (and without tooltips)
            `start_annotations`, genhtml started at once, then its result: the blames run
            while genhtml reads the tracefile and writes its first pages;
* warm (and without tooltips)
            as cold, with a blame cache filled beforehand at the same HEAD (a second run).

The cost of annotation is (precompute + annotated genhtml) - plain genhtml, in
wall time (and in CPU time: this process and its children); the ratio printed
is that cost over plain genhtml's time, per round, and its median.  The load
average (``uptime``) is printed before and after.

    python benchmarks/annotate_cost.py --source https://github.com/pallets/jinja.git --repeat 3
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import real_projects
from common import BenchmarkError

from pytest_lcov.annotate import Annotations, genhtml_arguments, start_annotations, write_annotations

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work" / "annotate"
JINJA_TAG = "3.1.6"
# jinja's one dependency, and what its tests need (requirements/tests.txt of 3.1.6), pinned
JINJA_NEEDS = real_projects.Project("MarkupSafe", "3.0.2", ("trio==0.27.0",), ())
LCOV2_ROOT = Path(os.environ.get("LCOV2_ROOT", Path.home() / ".cache/pytest-lcov/lcov2")) / "root/usr"


def checkout(source: str) -> Path:
    """jinja at its release tag, with the whole history before it (reused when present)."""
    folder = WORK / f"jinja-{JINJA_TAG}"
    if not (folder / ".git").is_dir():
        if folder.exists():
            shutil.rmtree(folder)
        subprocess.run(["git", "clone", "-q", "--no-local", source, str(folder)], check=True)
    subprocess.run(["git", "-C", str(folder), "checkout", "-q", "--detach", JINJA_TAG], check=True)
    return folder


def tracefile(bin_dir: Path, project: Path) -> Path:
    """jinja's suite once under pytest-lcov, importing jinja2 from the checkout's src/."""
    output = WORK / "jinja.info"
    env = dict(os.environ, PYTHONPATH=str(project / "src"))
    command = [
        str(bin_dir / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--lcov={output}",
        "--lcov-branch",
        # jinja's own source = jinja2, tests also measures tests/res/templates2/foo, a template
        # coverage.py cannot parse, and its warning stops pytest-lcov's report: the library alone
        "--lcov-source=jinja2",
    ]
    print("$", " ".join(command), f"(in {project}, PYTHONPATH=src)", flush=True)
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:])
    if not output.is_file():
        raise BenchmarkError(f"no tracefile: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    return output


def sources(info: Path, project: Path) -> list[str]:
    names = [line[3:] for line in info.read_text(encoding="utf-8").splitlines() if line.startswith("SF:")]
    return [name if os.path.isabs(name) else str(project / name) for name in names]


@dataclass
class Timing:
    wall: float
    cpu: float  # user + system of this process (the precompute's threads) and of its children

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)

    def __sub__(self, other: Timing) -> Timing:
        return Timing(self.wall - other.wall, self.cpu - other.cpu)


def timed(action: Callable[[], object]) -> Timing:
    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    wall, used = time.perf_counter(), cpu()
    action()
    return Timing(time.perf_counter() - wall, cpu() - used)


def genhtml(info: Path, out: Path, project: Path, extra: list[str], check: bool = True) -> Timing:
    if out.exists():
        shutil.rmtree(out)
    command = [
        "perl",
        str(LCOV2_ROOT / "bin/genhtml"),
        "--quiet",
        "--branch-coverage",
        "--function-coverage",
        *extra,
        "--output-directory",
        str(out),
        str(info),
    ]
    env = dict(os.environ, PERL5LIB=str(LCOV2_ROOT / "lib/lcov"))
    result: list[subprocess.CompletedProcess[str]] = []
    timing = timed(
        lambda: result.append(subprocess.run(command, cwd=project, env=env, capture_output=True, text=True))
    )
    text = result[0].stdout + result[0].stderr
    if result[0].returncode != 0 or (check and ("ERROR" in text or "WARNING" in text)):
        raise BenchmarkError(f"genhtml failed or complained: {' '.join(command)}\n{text[-3000:]}")
    return timing


# For comparison: genhtml annotating with a module that does nothing but read each source and give
# every line one fixed commit, owner and date, without pytest-lcov's module's two stand-ins (a date
# parser when DateTime::Format::W3CDTF is missing, and each date's age worked out once).
TRIVIAL_MODULE = """package annotate_trivial;
use strict;
sub new { return bless {}, shift; }
sub annotate
{
    my ($self, $path) = @_;
    open(my $source, '<', $path) or die("cannot read '$path': $!");
    my @lines;
    while (my $line = <$source>) {
        chomp($line);
        $line =~ s/\\r//g;
        push(@lines, [$line, 'someone', 'Some One <one@example.org>', '2024-01-01T00:00:00+00:00', 'f' x 40]);
    }
    close($source);
    return (0, \\@lines);
}
1;
"""


def precompute(
    into: list[Annotations], project: Path, files: list[str], folder: Path, cache: Path | None
) -> None:
    into.append(write_annotations(project, files, folder, cache=cache))


def overlap(
    into: list[Annotations], info: Path, project: Path, files: list[str], folder: Path, tooltips: bool
) -> None:
    """start_annotations, genhtml started at once, then the blames' result."""
    pending = start_annotations(project, files, folder)
    genhtml(info, WORK / "html-annotated", project, pending.genhtml_arguments(tooltips=tooltips))
    into.append(pending.result())


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--source", default="https://github.com/pallets/jinja.git", help="where to clone jinja"
    )
    parser.add_argument("--repeat", type=int, default=3)
    real_projects.add_python_arguments(parser)
    args = parser.parse_args()
    if not (LCOV2_ROOT / "bin/genhtml").exists():
        raise BenchmarkError(f"no genhtml 2.x in {LCOV2_ROOT}: run bash .ci/install-lcov")
    WORK.mkdir(parents=True, exist_ok=True)
    project = checkout(args.source)
    python = real_projects.find_python(args.python, args.python_version)
    venv = args.venv or WORK / "venv"
    bin_dir = real_projects.ensure_venv(venv, python, REPO, [JINJA_NEEDS], args.python_version)
    info = tracefile(bin_dir, project)
    files = sources(info, project)
    lines = sum(1 for line in info.read_text(encoding="utf-8").splitlines() if line.startswith("DA:"))
    commits = subprocess.run(
        ["git", "-C", str(project), "rev-list", "--count", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"jinja {JINJA_TAG}: {len(files)} files, {lines} DA lines, {commits} commits in its history")
    annotations: list[Annotations] = []
    trivial_folder = WORK / "trivial"
    trivial_folder.mkdir(exist_ok=True)
    (trivial_folder / "annotate_trivial.pm").write_text(TRIVIAL_MODULE)
    trivial_arguments = ["--annotate-script", str(trivial_folder / "annotate_trivial.pm")]
    trivial_arguments += ["--date-bins", "7,30,180", "--show-owners"]
    cache = WORK / "blame-cache.json"
    cache.unlink(missing_ok=True)
    write_annotations(project, files, WORK / "annotations-warmup", cache=cache)  # fills the cache
    # name: (a blame cache, genhtml's tooltips, genhtml started at once: start_annotations)
    annotated: dict[str, tuple[Path | None, bool, bool]] = {
        "cold": (None, True, False),
        "cold, overlapped": (None, True, True),
        "cold, overlapped, no tooltips": (None, False, True),
        "warm": (cache, True, False),
        "warm, no tooltips": (cache, False, False),
    }
    variants = ["plain", "trivial", *annotated]
    print("load before:", uptime(), flush=True)
    costs: dict[str, list[float]] = {name: [] for name in annotated}
    cpu_costs: dict[str, list[float]] = {name: [] for name in annotated}
    for round_number in range(args.repeat):
        shift = round_number % len(variants)
        order = variants[shift:] + variants[:shift]
        done: dict[str, Timing] = {}
        precomputes: dict[str, Timing] = {}
        for variant in order:
            if variant == "plain":
                done[variant] = genhtml(info, WORK / "html-plain", project, [])
            elif variant == "trivial":  # it warns that DateTime::Format::W3CDTF is missing: expected
                done[variant] = genhtml(info, WORK / "html-trivial", project, trivial_arguments, check=False)
            else:
                blame_cache, tooltips, overlapped = annotated[variant]
                folder = WORK / "annotations"
                if folder.exists():
                    shutil.rmtree(folder)
                if overlapped:
                    done[variant] = timed(
                        functools.partial(overlap, annotations, info, project, files, folder, tooltips)
                    )
                    continue
                precomputes[variant] = timed(
                    functools.partial(precompute, annotations, project, files, folder, blame_cache)
                )
                arguments = genhtml_arguments(folder, tooltips=tooltips)
                done[variant] = genhtml(info, WORK / "html-annotated", project, arguments)
        plain = done["plain"]
        report = [f"plain {plain.wall:.2f} ({plain.cpu:.2f})"]
        report.append(f"trivial annotator {done['trivial'].wall:.2f} ({done['trivial'].cpu:.2f})")
        for name in annotated:
            html = done[name]
            before = precomputes.get(name, Timing(0.0, 0.0))
            cost = before + html - plain
            costs[name].append(cost.wall / plain.wall)
            cpu_costs[name].append(cost.cpu / plain.cpu)
            steps = (
                f"precompute {before.wall:.2f} ({before.cpu:.2f}) + genhtml" if name in precomputes else "all"
            )
            report.append(
                f"{name}: {steps} {html.wall:.2f} ({html.cpu:.2f}) "
                f"= {cost.wall / plain.wall:.2f} x plain ({cost.cpu / plain.cpu:.2f})"
            )
        print(f"round {round_number + 1}, wall (cpu) s:\n  " + "\n  ".join(report), flush=True)
    print("load after:", uptime())
    last = annotations[-1]
    print(
        f"annotated {last.files} files ({last.committed_lines} committed lines, "
        f"{last.uncommitted_lines} uncommitted); {last.outside} outside the repository"
    )
    print("median ratio, annotation cost (precompute + annotated genhtml - plain genhtml) / plain genhtml:")
    for name in annotated:
        wall, cpu = statistics.median(costs[name]), statistics.median(cpu_costs[name])
        print(f"  {name:<30} wall {wall:.2f}   cpu {cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
