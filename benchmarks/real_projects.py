"""Per-test data on real projects: pytest-lcov against pytest-cov's ``--cov-context=test``.

For each project (pinned releases of attrs and click: the test suite of the
sdist, run against the same release installed from PyPI; and run.py's
generated per-test project at 200 modules and 2,000 tests), in a virtual
environment made here (Python 3.11), it runs:

  anchor  pytest --cov --cov-branch --cov-context=test --cov-report=lcov:OUT      (pytest-cov)
          the same with --cov-report= followed by coverage lcov                     (for reference)
  ours    pytest --lcov=OUT --lcov-branch --lcov-per-test   (analysis cache warm, and cold: a first run)
  refs    pytest --lcov=OUT --lcov-branch; pytest --cov --cov-branch --cov-report=lcov:OUT;
          plain pytest

Each timed run is measured from outside: wall time, CPU time and the peak RSS of
the largest process (getrusage(RUSAGE_CHILDREN) of a fresh wrapper), and the
peak of the summed PSS of the whole process tree (sampled every 50 ms from
/proc), which counts helper processes too, and counts pages a forked child
shares with its parent once.  Variants run interleaved, in a
rotating order, after one untimed run of each (which compiles .pyc files and
fills pytest-lcov's analysis cache, kept per variant).  The tables show
medians, ratios against the anchor, the load average at each run, and the
line and branch totals of each tracefile, which must agree.

    python benchmarks/real_projects.py                       # attrs, click, synth; 3 timed runs each
    python benchmarks/real_projects.py --projects click --repeat 5
    python benchmarks/real_projects.py --plugin /tmp/other-checkout --venv benchmarks/work/real/venv-other
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import common
import generate
from common import BenchmarkError, Command, Output, Row, Sample, Variant, rss, tree, wall

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work" / "real"
PYTHON_VERSION = "3.11"

# The measured environment, pinned: the tools compared, and each project's test dependencies.
TOOLS = ("pytest==9.2.0", "coverage==7.17.5", "pytest-cov==7.1.0", "pytest-xdist==3.8.0")


@dataclass(frozen=True)
class Project:
    name: str
    version: str  # a release on PyPI, or (generated) what the project holds
    requirements: tuple[str, ...]  # what its tests need besides the tools
    pytest_args: tuple[str, ...]  # its suite as run here: seeds, known failures
    notes: tuple[str, ...] = ()
    generated: generate.Params | None = None  # made by generate.py, not downloaded

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}".replace(" ", "")

    @property
    def pypi_release(self) -> tuple[str, ...]:
        return () if self.generated else (f"{self.name}=={self.version}",)


PROJECTS = {
    "attrs": Project(
        "attrs",
        "26.1.0",
        # attrs' "tests" dependency group (pytest-mypy-plugins is only in its "mypy" group).
        ("hypothesis==6.170.17", "pympler==1.1", "cloudpickle==3.1.3"),
        (
            "--hypothesis-seed=0",
            "--deselect",
            "tests/test_converters.py::TestPipe::test_wrapped_annotation",
        ),
        (
            "attrs: tests/test_converters.py::TestPipe::test_wrapped_annotation is deselected: it fails "
            "on Python 3.11 with or without coverage (`assert bool is None`); the other 1,376 tests pass. "
            "Hypothesis runs with --hypothesis-seed=0, so every run executes the same examples.",
            "attrs measures what its own [tool.coverage.run] says: source_pkgs = attr, attrs (installed "
            'from the wheel), branch = true, parallel = true, patch = ["subprocess"] (so pytest-lcov keeps '
            "its data in a file, as pytest-cov does).",
        ),
    ),
    "click": Project(
        "click",
        "8.5.1",
        (),
        (),
        (
            "click: its suite as configured (`-m 'not stress'`); every test passes. It measures what its "
            "own [tool.coverage.run] says: source = click, tests; branch = true (pytest-lcov keeps its "
            "data in memory, pytest-cov in a .coverage file). The suite forks the pytest process for a "
            "moment (a child with the same command line that soon holds its own copy of the heap): "
            "in runs where a sample catches it, the process tree's peak includes that copy.",
        ),
    ),
    "synth": Project(
        "synth",
        "200 modules x 2000 tests",
        (),
        (),
        (
            "synth: benchmarks/generate.py --modules 200 --tests 2000 (run.py's case c project, at 200 "
            "modules): 2,000 small tests, each reaching a few of 200 generated modules of about 300 lines; "
            "[tool.coverage.run] source = synthpkg.",
        ),
        generated=generate.Params(200, 0, 2000, 20240601),
    ),
}


# pytest-cov's contexts need a settrace core: on 3.14+ coverage.py's default (sys.monitoring)
# records them incomplete, and warns, which a suite's filterwarnings = error (click's) fails on.
PYTEST_COV_CONTEXTS = (("COVERAGE_CORE", "ctrace"),)


@dataclass
class Result:
    project: Project
    cwd: Path
    variants: list[Variant]
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)  # each variant's last run's
    outcome: str = ""  # the plain run's pytest summary line


# --- the environment ------------------------------------------------------------------------------


def find_python(given: str | None, version: str = PYTHON_VERSION) -> str:
    if given:
        return given
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    # pyenv's own interpreter first: its shims on PATH may not answer for a version not selected;
    # then PATH, then the one .ci/install-python unpacked.
    candidates = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    unpacked = Path.home() / ".cache/pytest-lcov/pythons" / version / "bin" / f"python{version}"
    found = str(candidates[-1]) if candidates else shutil.which(f"python{version}")
    if not found and unpacked.exists():
        found = str(unpacked)
    if not found:
        raise BenchmarkError(f"no python{version} in ~/.pyenv, on PATH or from .ci/install-python {version}")
    return found


def ensure_venv(
    venv: Path, python: str, plugin: Path, projects: Sequence[Project], version: str = PYTHON_VERSION
) -> Path:
    """A venv of Python `version`: the pinned tools, the projects' releases, their test needs."""
    requirements = sorted(
        {
            *TOOLS,
            *(release for p in projects for release in p.pypi_release),
            *(r for p in projects for r in p.requirements),
        }
    )
    stamp_text = json.dumps({"requirements": requirements, "plugin": str(plugin)})
    stamp = venv / "bench-stamp.json"
    bin_dir = venv / "bin"
    if stamp.is_file() and stamp.read_text() == stamp_text and (bin_dir / "pytest").exists():
        return bin_dir
    if venv.exists():
        shutil.rmtree(venv)
    common.run([python, "-m", "venv", str(venv)])
    made = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if made != version:
        raise BenchmarkError(f"{python} is Python {made}, not {version}")
    common.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", *requirements, "-e", str(plugin)])
    stamp.write_text(stamp_text)
    return bin_dir


def add_python_arguments(parser: argparse.ArgumentParser) -> None:
    """--python-version, --python and --venv: which CPython the projects run on, in which venv."""
    parser.add_argument(
        "--python-version",
        default=PYTHON_VERSION,
        help="the CPython version measured (default %(default)s)",
    )
    parser.add_argument("--python", default=None, help="that version's interpreter (default: found)")
    parser.add_argument(
        "--venv", type=Path, default=None, help=f"default {WORK}/venv (3.11), {WORK}/venv-X.Y (others)"
    )


def venv_of(args: argparse.Namespace, plugin: Path) -> Path:
    """The bin folder of the venv add_python_arguments' options name, made when missing or stale."""
    version = args.python_version
    venv = args.venv or WORK / ("venv" if version == PYTHON_VERSION else f"venv-{version}")
    python = find_python(args.python, version)
    return ensure_venv(venv.resolve(), python, plugin, list(PROJECTS.values()), version)


def ensure_sources(project: Project, bin_dir: Path) -> Path:
    """The project's sdist (tests included), downloaded once and unpacked."""
    folder = WORK / project.folder
    if project.generated is not None:
        generate.ensure(folder, project.generated)
        return folder
    if (folder / "pyproject.toml").is_file():
        return folder
    downloads = WORK / "sdists"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"{project.folder}.tar.gz"
    if not archive.is_file():
        common.run(
            [
                str(bin_dir / "python"),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-d",
                str(downloads),
                f"{project.name}=={project.version}",
            ]
        )
    with tarfile.open(archive) as tar:
        tar.extractall(WORK, filter="data")
    if not (folder / "tests").is_dir():
        raise BenchmarkError(f"{archive} has no tests/ folder")
    return folder


# --- the variants ---------------------------------------------------------------------------------


def keyed(
    key: str,
    label: str,
    commands: tuple[Command, ...],
    output: str | None,
    *,
    ours: bool = False,
    cleanup: tuple[str, ...] = (),
    env: tuple[tuple[str, str], ...] = (),
) -> Variant:
    """A variant named by `key` (in logs, --variants and the goals) and shown as `label`."""
    return Variant(label, commands, output, key=key, ours=ours, cleanup=cleanup, env=env)


def variants(project: Project, bin_dir: Path) -> list[Variant]:
    pytest = (str(bin_dir / "pytest"), "-q", *project.pytest_args)

    def cache(key: str) -> tuple[str, ...]:
        # pytest's cache folder (and so pytest-lcov's analysis cache) of the variant's own.
        return ("-o", f"cache_dir=.bench-cache/{key}")

    coverage_files = (".coverage", ".coverage.*")
    return [
        keyed(
            "anchor",
            "pytest-cov --cov-context=test, --cov-report=lcov (COVERAGE_CORE=ctrace)",
            (
                (
                    *pytest,
                    *cache("anchor"),
                    "--cov",
                    "--cov-branch",
                    "--cov-context=test",
                    "--cov-report=lcov:bench-out/cov-context.info",
                    "-p",
                    "no:lcov",
                ),
            ),
            "bench-out/cov-context.info",
            cleanup=coverage_files,
            env=PYTEST_COV_CONTEXTS,
        ),
        keyed(
            "anchor-separate",
            "pytest-cov --cov-context=test, then coverage lcov (COVERAGE_CORE=ctrace)",
            (
                (
                    *pytest,
                    *cache("anchor-separate"),
                    "--cov",
                    "--cov-branch",
                    "--cov-context=test",
                    "--cov-report=",
                    "-p",
                    "no:lcov",
                ),
                (str(bin_dir / "coverage"), "lcov", "-q", "-o", "bench-out/cov-context-separate.info"),
            ),
            "bench-out/cov-context-separate.info",
            cleanup=coverage_files,
            env=PYTEST_COV_CONTEXTS,
        ),
        keyed(
            "per-test",
            "pytest --lcov --lcov-branch --lcov-per-test, analysis cache warm",
            (
                (
                    *pytest,
                    *cache("per-test"),
                    "--lcov=bench-out/per-test.info",
                    "--lcov-branch",
                    "--lcov-per-test",
                    "-p",
                    "no:cov",
                ),
            ),
            "bench-out/per-test.info",
            ours=True,
        ),
        keyed(
            "per-test-cold",
            "pytest --lcov --lcov-branch --lcov-per-test, analysis cache cold",
            (
                (
                    *pytest,
                    *cache("per-test-cold"),
                    "--lcov=bench-out/per-test-cold.info",
                    "--lcov-branch",
                    "--lcov-per-test",
                    "-p",
                    "no:cov",
                ),
            ),
            "bench-out/per-test-cold.info",
            ours=True,
            cleanup=(".bench-cache/per-test-cold",),  # a first run: every file parsed
        ),
        keyed(
            "lcov",
            "pytest --lcov --lcov-branch",
            ((*pytest, *cache("lcov"), "--lcov=bench-out/lcov.info", "--lcov-branch", "-p", "no:cov"),),
            "bench-out/lcov.info",
            ours=True,
        ),
        keyed(
            "lcov-ctrace",
            "pytest --lcov --lcov-branch, COVERAGE_CORE=ctrace (the core of per-test branches, counts)",
            (
                (
                    *pytest,
                    *cache("lcov-ctrace"),
                    "--lcov=bench-out/lcov-ctrace.info",
                    "--lcov-branch",
                    "-p",
                    "no:cov",
                ),
            ),
            "bench-out/lcov-ctrace.info",
            ours=True,
            env=(("COVERAGE_CORE", "ctrace"),),
        ),
        keyed(
            "counts",
            "pytest --lcov --lcov-branch --lcov-counts=executions",
            (
                (
                    *pytest,
                    *cache("counts"),
                    "--lcov=bench-out/counts.info",
                    "--lcov-branch",
                    "--lcov-counts=executions",
                    "-p",
                    "no:cov",
                ),
            ),
            "bench-out/counts.info",
            ours=True,
        ),
        keyed(
            "cov",
            "pytest-cov --cov-report=lcov (no contexts)",
            (
                (
                    *pytest,
                    *cache("cov"),
                    "--cov",
                    "--cov-branch",
                    "--cov-report=lcov:bench-out/cov.info",
                    "-p",
                    "no:lcov",
                ),
            ),
            "bench-out/cov.info",
            cleanup=coverage_files,
        ),
        keyed("plain", "plain pytest", ((*pytest, *cache("plain"), "-p", "no:lcov", "-p", "no:cov"),), None),
    ]


# --- measuring ------------------------------------------------------------------------------------


def run_project(result: Result, bin_dir: Path, repeat: int, warmup: int, logs: Path) -> None:
    project, cwd = result.project, result.cwd
    print(f"\n## {project.name} {project.version}", flush=True)
    common.show_variants(cwd, result.variants)
    python, env = str(bin_dir / "python"), common.child_env(bin_dir)
    for number in range(warmup):
        for variant in result.variants:
            common.prepare(cwd, variant)
            log = logs / f"{project.folder}-{variant.key}-warmup{number}.log"
            sample = common.measure_variant(python, variant, cwd, log, env)
            print(f"  warm-up {variant.key}: {sample.wall:.1f}s (load {sample.load:.2f})", flush=True)
    result.samples = {variant.key: [] for variant in result.variants}
    for round_number in range(repeat):
        for variant in common.rotated(result.variants, round_number):
            common.prepare(cwd, variant)
            log = logs / f"{project.folder}-{variant.key}.log"
            sample = common.measure_variant(python, variant, cwd, log, env)
            result.samples[variant.key].append(sample)
            check_run(result, variant, log)
            print(f"  [{round_number + 1}/{repeat}] {variant.key}: {common.sample_text(sample)}", flush=True)


def check_run(result: Result, variant: Variant, log: Path) -> None:
    summary = common.pytest_summary(log.read_text(encoding="utf-8", errors="replace"))
    if variant.key == "plain" and summary:
        result.outcome = summary
    output = common.check_output(result.cwd, variant, result.outputs.get(variant.key), dotted=True)
    if output is not None:
        result.outputs[variant.key] = output


# --- the table ------------------------------------------------------------------------------------

COLUMNS = [
    *common.timing_columns(
        wall_title="wall (median)",
        cpu_title="CPU",
        rss_title="peak RSS, largest process",
        rss_ratio="x anchor",
        tree_title="peak PSS, process tree",
        tree_ratio="x anchor",
    ),
    common.load_column(),
    *common.output_columns(raising=True, output_align="---"),
]


def table(result: Result) -> str:
    anchor = result.samples["anchor"]
    rows = [
        Row(v, result.samples[v.key], anchor, v.key == "anchor", result.outputs.get(v.key))
        for v in result.variants
    ]
    return common.table(COLUMNS, rows)


GOALS = (
    # (variant, against, what the ratio is held to)
    ("per-test", "anchor", "per-test data: at most pytest-cov's context run with its report"),
    ("per-test", "anchor-separate", "per-test data: against pytest-cov's context run, then coverage lcov"),
    ("counts", "cov", "execution counts: at most pytest-cov's --cov --cov-branch run"),
)


def goal_lines(result: Result) -> list[str]:
    """The ratios the goals are stated in: wall time and peak memory, against the run they name."""
    lines = []
    for key, against, goal in GOALS:
        if key not in result.samples or against not in result.samples:
            continue
        variant = next(variant for variant in result.variants if variant.key == key)
        row = Row(variant, result.samples[key], result.samples[against], False)
        lines.append(
            f"- {goal}: `{key}` / `{against}`: wall **{row.ratio(wall):.2f}**, peak RSS "
            f"**{row.ratio(rss):.2f}**, process tree **{row.ratio(tree):.2f}**"
        )
    return lines


def agreement(result: Result) -> str:
    """Whether pytest-lcov's totals are pytest-cov's (less pytest-lcov's documented raising-line branches)."""
    anchor = result.outputs["anchor"].totals.merged
    lines = []
    for variant in result.variants:
        output = result.outputs.get(variant.key)
        if output is None or not variant.ours:
            continue
        mine, extra = output.totals.counted, output.totals.exception_lines
        sections = output.totals.sections + (output.tests.sections if output.tests else 0)
        verdict = "equal" if mine == anchor else f"DIFFERENT: {mine} against {anchor}"
        lines.append(
            f"- {variant.label}: lines and branches {verdict} to the anchor's "
            f"({sections} sections added up; {extra} raising-line branches set aside)"
        )
    return "\n".join(lines)


def checkout_state(plugin: Path) -> str:
    """The measured checkout: its path (``--plugin`` may name another) and its state."""
    return f"{plugin}: {common.package_state(plugin)}"


# --- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common.add_run_arguments(parser, projects="attrs,click,synth")
    parser.add_argument(
        "--variants",
        default=None,
        help="comma-separated keys to run (the anchor always runs): "
        "anchor-separate, per-test, per-test-cold, lcov, lcov-ctrace, counts, cov, plain",
    )
    add_python_arguments(parser)
    parser.add_argument(
        "--plugin", type=Path, default=REPO, help="the pytest-lcov checkout to install (editable)"
    )
    parser.add_argument("--results", type=Path, default=WORK / "results.md", help="default %(default)s")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.projects.split(",") if name.strip()]
    if not names or set(names) - set(PROJECTS):
        parser.error(f"--projects takes a comma-separated list of: {', '.join(PROJECTS)}")
    projects = [PROJECTS[name] for name in names]
    plugin = args.plugin.resolve()
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        # One environment for every project, whichever are run, so that it is made once.
        bin_dir = venv_of(args, plugin)
        results = []
        for project in projects:
            cwd = ensure_sources(project, bin_dir)
            chosen = variants(project, bin_dir)
            if args.variants:
                keep = {"anchor", *(key.strip() for key in args.variants.split(","))}
                chosen = [variant for variant in chosen if variant.key in keep]
            results.append(Result(project, cwd, chosen))
        started, started_at, state_before = time.perf_counter(), datetime.now(UTC), checkout_state(plugin)
        for result in results:
            run_project(result, bin_dir, args.repeat, args.warmup, logs)
    except (BenchmarkError, subprocess.CalledProcessError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    state_after = checkout_state(plugin)
    versions = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    wanted = {"pytest", "coverage", "pytest-cov", "hypothesis", "attrs", "click"}
    out = [
        "# Per-test data on real projects",
        "",
        f"- date: {started_at.strftime('%Y-%m-%d %H:%M UTC')}; whole benchmark "
        f"{(time.perf_counter() - started) / 60:.1f} min",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        f"- Python {args.python_version}; "
        + ", ".join(v for v in versions if v.split("==")[0].lower() in wanted),
        f"- pytest-lcov: {state_before}",
        f"- {args.repeat} timed runs per variant (medians), interleaved, after {args.warmup} untimed "
        "run(s) of each",
        "- peak RSS, largest process: getrusage(RUSAGE_CHILDREN).ru_maxrss of a fresh wrapper per run (the "
        "pytest process, where both plugins write their report; for the two-command variant, the larger of "
        "pytest and coverage lcov); process tree: the peak of the PSS summed over the command's process and "
        "all its descendants (pytest-lcov's parsing helpers, the tests' own children), sampled every "
        "50 ms (PSS counts a page shared by n processes 1/n in each, so forked children are not "
        "counted twice)",
        "- load: the 1-minute load average just before each timed run (min - max); the machine is shared",
    ]
    if state_after != state_before:
        out.append(f"- **pytest-lcov's code changed during the benchmark**; at the end: {state_after}")
    for result in results:
        out += ["", f"## {result.project.name} {result.project.version}", ""]
        if result.outcome:
            out += [f"Plain run: {result.outcome}.", ""]
        commands = common.commands_block(result.cwd, result.variants)
        out += [table(result), "", *goal_lines(result), "", agreement(result), "", commands, ""]
        out += [f"Note: {note}" for note in result.project.notes]
    text = "\n".join(out) + "\n"
    print("\n" + text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text, encoding="utf-8")
    print(f"written to {args.results}", file=sys.stderr)
    if "DIFFERENT" in text:
        print("benchmark failed: pytest-lcov's totals differ from pytest-cov's (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
