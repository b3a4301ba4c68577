"""Benchmark pytest-lcov against coverage.py's and pytest-cov's LCOV output.

Cases (see benchmarks/README.md):

  a  the report step alone, on one .coverage file: ``coverage lcov`` vs pytest-lcov
  b  a whole test run: plain pytest vs ``pytest --lcov`` vs pytest-cov ``--cov-report=lcov``
  c  per-test data: ``pytest --lcov --lcov-per-test`` vs pytest-cov ``--cov-context=test``
     followed by ``coverage lcov``
  d  per-test HTML: genhtml 2.3.1 and 1.16 on the per-test file vs on the same run's
     one-section tracefile, on a project shaped like jinja's suite (~900 tests, ~9,000
     test x file sections); and the peak memory of writing the per-test file
  e  the report phase (goal A): the time from the end of the last test to the tracefile
     written, of ``pytest --lcov --lcov-branch`` with the analysis cache cold and with no
     cache, vs the whole of ``coverage lcov`` on the same tests' .coverage file
  f  one core (a guard): a whole ``pytest --lcov --lcov-branch`` run pinned to CPU 0
     (``taskset -c 0``), this checkout vs the version at git 8c78f85, cache cold and warm

Every measurement runs in a fresh ``python -c`` wrapper (benchmarks/common.py) that
runs the commands and reports its own children's wall time, CPU time and peak RSS
(getrusage(RUSAGE_CHILDREN)), so each run's peak memory is its own, and the peak PSS
summed over the command's process tree, sampled from /proc.  Variants of a case run
interleaved, after an untimed warm-up run that compiles the synthetic project's .pyc
files.

    python benchmarks/run.py --quick               # smoke run: every case once, tiny sizes
    python benchmarks/run.py --cases a,b --repeat 5
    python benchmarks/run.py --cases a,e --modules 1000   # goals A and B as stated
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import NamedTuple, TextIO

import generate
from common import (
    SAMPLE_INTERVAL,
    BenchmarkError,
    Column,
    Command,
    Output,
    Row,
    Sample,
    Variant,
    check_output,
    child_env,
    commands_block,
    disagreement,
    load_column,
    output_columns,
    package_state,
    prepare,
    rotated,
    rss,
    sample_text,
    show_variants,
    shown,
    size_text,
    slug,
    table,
    timing_columns,
    trace_totals,
    tree,
    wall,
)
from common import measure_variant as measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
BIN = Path(sys.executable).parent
PYTHON = str(Path(sys.executable))
PACKAGE = generate.PACKAGE
QUIET = ("-q",)
NO_CACHEPROVIDER = ("-p", "no:cacheprovider")
TIMING_PLUGIN = HERE / "timing"  # benchtiming.py: when the last test finished (case e)
TIMING_ENV = "BENCHTIMING_FILE"  # where benchtiming writes that time
OLD_COMMIT = "8c78f85"  # case f measures the current checkout against this version
OLD_TREE = WORK / f"old-{OLD_COMMIT}"  # a git worktree of it
CASES = ("a", "b", "c", "d", "e", "f")


@dataclass(frozen=True)
class Goal:
    """A stated performance goal: one variant's median against another's, printed under the table."""

    name: str  # "goal A", "guard", ...
    label: str
    against: str
    goal: str  # the goal in words
    bound: float | None = None  # met when the ratio is within it; None: the ratio only (noise decides)
    speedup: bool = False  # the ratio is against / label (higher is better), else label / against
    phase: bool = False  # label's report phase (not its whole wall time) against `against`'s wall time


@dataclass
class Case:
    """Variants timed against the first one, the anchor."""

    key: str
    title: str
    cwd: Path
    variants: list[Variant]
    comparisons: list[tuple[str, str]] = field(default_factory=list)  # (variant, against)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)  # each variant's last run's
    disagreements: list[str] = field(default_factory=list)  # tracefiles whose totals should agree and do not

    def agreeing(self) -> list[tuple[str, str]]:
        """The pairs of variants whose tracefiles must hold the same lines and branches."""
        pairs = [*self.comparisons, *((goal.label, goal.against) for goal in self.goals)]
        return list(dict.fromkeys(pairs))


def measure_variant(variant: Variant, cwd: Path, log: Path) -> Sample:
    return measure(PYTHON, variant, cwd, log, child_env(BIN))


def env_command(values: dict[str, str]) -> Command:
    """``env NAME=VALUE ...``: a variant's own environment, put before its command.

    child_env() strips PYTHONPATH from every measured command on purpose; a
    variant that needs one says so in its command, where the commands block
    shows it (``env`` execs the command: no extra process).
    """
    return ("env", *(f"{name}={value}" for name, value in values.items()))


def run_case(case: Case, repeat: int, warmup: int, logs: Path) -> None:
    """Warm up with the anchor, then time every variant `repeat` times, interleaved."""
    print(f"\n## {case.title}", flush=True)
    show_variants(case.cwd, case.variants)
    anchor = case.variants[0]
    for number in range(warmup):
        prepare(case.cwd, anchor)
        measure_variant(anchor, case.cwd, logs / f"{case.key}-warmup-{number}.log")
    for variant in case.variants:
        if variant.prime:
            prepare(case.cwd, variant)
            measure_variant(variant, case.cwd, logs / f"{case.key}-{variant.key}-prime.log")
    case.samples = {variant.label: [] for variant in case.variants}
    for round_number in range(repeat):
        for variant in rotated(case.variants, round_number):
            prepare(case.cwd, variant)
            sample = measure_variant(variant, case.cwd, logs / f"{case.key}-{variant.key}.log")
            output = check_output(case.cwd, variant, case.outputs.get(variant.label))
            if output is not None:
                case.outputs[variant.label] = output
            if variant.timing is not None:
                sample = dataclasses.replace(sample, phase=report_phase(case, variant))
            case.samples[variant.label].append(sample)
            extra = "" if sample.phase is None else f", report phase {sample.phase:.2f} s"
            print(
                f"  [{round_number + 1}/{repeat}] {variant.label}: {sample_text(sample)}{extra}", flush=True
            )
    for label, against in case.agreeing():
        problem = disagreement(label, case.outputs.get(label), against, case.outputs.get(against))
        if problem is not None:
            print(f"  DIFFERENT: {problem}", flush=True)
            case.disagreements.append(problem)


def report_phase(case: Case, variant: Variant) -> float:
    """Seconds from the end of the last test (benchtiming's record) to the tracefile's last write.

    Both are wall-clock times (time.time() and the file's mtime), so they
    compare; the mtime's resolution is the kernel's clock tick (a few ms).
    """
    assert variant.timing is not None and variant.output is not None
    record = case.cwd / variant.timing
    if not record.is_file():
        raise BenchmarkError(f"{variant.label}: benchtiming wrote no {record} (is -p benchtiming loaded?)")
    last_test_end = float(record.read_text(encoding="utf-8"))
    return (case.cwd / variant.output).stat().st_mtime_ns / 1e9 - last_test_end


# --- the table ------------------------------------------------------------------------------------


def median(case: Case, label: str, value: Callable[[Sample], float | None]) -> float:
    """The median of one number over a variant's timed runs."""
    numbers = [number for number in map(value, case.samples[label]) if number is not None]
    return statistics.median(numbers)


def phase(sample: Sample) -> float | None:
    return sample.phase


def phase_columns() -> list[Column]:
    """Case e's report phase: median and range, and its ratio to the anchor's whole wall time."""

    def phases(row: Row) -> list[float]:
        return [sample.phase for sample in row.samples if sample.phase is not None]

    def phase_text(row: Row) -> str:
        found = phases(row)
        return f"{statistics.median(found):.2f} s ({min(found):.2f} - {max(found):.2f})" if found else "-"

    def phase_ratio(row: Row) -> str:
        found = phases(row)
        return f"{statistics.median(found) / row.median(wall, of_anchor=True):.2f}" if found else "-"

    return [Column("report phase (min - max)", phase_text), Column("phase x anchor wall", phase_ratio)]


def case_table(case: Case) -> str:
    columns = timing_columns()
    if any(variant.timing for variant in case.variants):
        columns += phase_columns()
    columns += [load_column(), *output_columns(raising=False)]
    anchor = case.samples[case.variants[0].label]
    rows = [
        Row(variant, case.samples[variant.label], anchor, number == 0, case.outputs.get(variant.label))
        for number, variant in enumerate(case.variants)
    ]
    text = table(columns, rows)
    lines_below = [comparison(case, label, against) for label, against in case.comparisons]
    lines_below += [goal_line(case, goal) for goal in case.goals]
    if lines_below:
        text += "\n\n" + "\n".join(lines_below)
    return text


def times(mine: float, theirs: float) -> str:
    """A ratio, or "-" where the other is 0 (a command too short for one sample of its memory)."""
    return f"{mine / theirs:.2f}" if theirs else "-"


def comparison(case: Case, label: str, against: str) -> str:
    """One variant against another, directly: wall time, largest process, process tree."""
    mine, theirs = median(case, label, wall), median(case, against, wall)
    return (
        f"- {label} vs {against}: wall x {mine / theirs:.2f} ({mine - theirs:+.2f} s), "
        f"peak RSS x {median(case, label, rss) / median(case, against, rss):.2f}, "
        f"tree PSS x {times(median(case, label, tree), median(case, against, tree))}"
    )


def goal_line(case: Case, goal: Goal) -> str:
    """A goal's ratio, measured in this run, with the goal beside it."""
    mine = median(case, goal.label, phase if goal.phase else wall)
    theirs = median(case, goal.against, wall)
    what = f"{goal.label}'s report phase" if goal.phase else goal.label
    if goal.speedup:
        ratio, how = theirs / mine, f"speed-up {theirs:.2f} s / {mine:.2f} s"
    else:
        ratio, how = mine / theirs, f"ratio {mine:.2f} s / {theirs:.2f} s"
    verdict = ""
    if goal.bound is not None:
        met = ratio >= goal.bound if goal.speedup else ratio <= goal.bound
        verdict = ": **met**" if met else ": **not met**"
    return f"- {goal.name}: {what} vs {goal.against}: {how} = **{ratio:.2f}** (goal: {goal.goal}{verdict})"


# --- the cases ----------------------------------------------------------------------------------


def tool(name: str) -> str:
    return str(BIN / name)


@functools.cache
def pytest_has_option(cwd: Path, option: str) -> bool:
    done = subprocess.run(
        [tool("pytest"), "--help"], cwd=cwd, capture_output=True, text=True, env=child_env(BIN), check=False
    )
    return option in done.stdout


def convert_command() -> Command:
    """``pytest-lcov convert``: the plugin's report step, run on a data file."""
    script = BIN / "pytest-lcov"
    return (str(script), "convert") if script.exists() else (PYTHON, "-m", "pytest_lcov", "convert")


class DataFile(NamedTuple):
    """A .coverage file of the project's tests, and how it was made (for the notes)."""

    path: str  # relative to the project's folder
    command: Command
    seconds: float

    def note(self) -> str:
        return f"Data file made once by `{shown(self.command)}` ({self.seconds:.1f} s)."


@functools.cache
def data_file(cwd: Path, branch: bool, /) -> DataFile:  # positional: one cache key per file
    """``coverage run [--branch] -m pytest`` once per benchmark run; cases a and e share the file."""
    kind = "branches" if branch else "lines"
    data = f"out/a-{kind}.coverage"
    make = (
        tool("coverage"),
        "run",
        *(["--branch"] if branch else []),
        f"--data-file={data}",
        "-m",
        "pytest",
        "-p",
        "no:lcov",
        *NO_CACHEPROVIDER,
        *QUIET,
    )
    print(f"\nmaking {data}: {shown(make)}", flush=True)
    (cwd / "out").mkdir(exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(make, cwd=cwd, env=child_env(BIN), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"{shown(make)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return DataFile(data, make, time.perf_counter() - started)


def coverage_lcov(data: DataFile, output: str) -> Variant:
    """The anchor of cases a and e: coverage.py's own report step on a data file."""
    return Variant(
        "coverage lcov", ((tool("coverage"), "lcov", f"--data-file={data.path}", "-o", output),), output
    )


def goal_size_note(goal: str, modules: int) -> str:
    """Goals are stated at 1,000 modules: say so, and what this run has."""
    return (
        f"{goal} is stated at 1,000 modules with branches: `python benchmarks/run.py --cases a,e "
        f"--modules 1000`; this run: {modules:,} modules."
    )


def cases_a(cwd: Path, modules: int) -> list[Case]:
    """The report step alone, on data files made once here."""
    convert = convert_command()
    cases = []
    for kind, branch in (("lines", False), ("branches", True)):
        data = data_file(cwd, branch)
        ours: Command = (*convert, data.path, "-o", f"out/a-ours-{kind}.info")
        ours_label = "pytest-lcov convert"
        case = Case(
            key=f"a-{kind}",
            title=f"a ({kind}): the report step alone, one .coverage file",
            cwd=cwd,
            variants=[
                coverage_lcov(data, f"out/a-coverage-{kind}.info"),
                Variant(ours_label, (ours,), f"out/a-ours-{kind}.info"),
            ],
        )
        # The plugin keeps its analysis cache in pytest's cache folder; convert takes --cache-dir.
        cold_dir, warm_dir = f"out/a-cache-cold-{kind}", f"out/a-cache-warm-{kind}"
        case.variants += [
            Variant(
                f"{ours_label} --cache-dir, cache cold",
                ((*ours, "--cache-dir", cold_dir),),
                f"out/a-ours-{kind}.info",
                cleanup=(cold_dir,),
            ),
            Variant(
                f"{ours_label} --cache-dir, cache warm",
                ((*ours, "--cache-dir", warm_dir),),
                f"out/a-ours-{kind}.info",
                prime=True,
            ),
        ]
        plain, cold, warm = (variant.label for variant in case.variants[1:])
        case.goals = [
            Goal("speed-up", plain, "coverage lcov", "for reference", speedup=True),
            Goal("goal B", cold, "coverage lcov", "speed-up at least 2", 2.0, speedup=True),
            Goal("speed-up", warm, "coverage lcov", "for reference", speedup=True),
        ]
        case.notes.append(data.note())
        case.notes.append(
            "pytest-lcov's row is its `convert` command: `Coverage(data_file=...).load()`, then "
            "`write_report`, the plugin's report step. Speed-up: coverage lcov's median wall time "
            "over pytest-lcov's. " + goal_size_note("Goal B", modules)
        )
        cases.append(case)
    return cases


CACHE_NOTE = (
    "pytest-lcov caches coverage.py's parse of each source file in pytest's cache folder. "
    "*cache cold*: the run starts with no cache (the first run on a machine: files are parsed, in "
    "parallel worker processes when there are many, and stored); *cache warm*: every file is in the "
    "cache (a rerun with unchanged sources); *--lcov-no-cache* (with `-p no:cacheprovider`): no cache "
    "kept: helper processes parse into a temporary folder for this run only (with 50 or more files on "
    "two or more processors; otherwise the pytest process parses at the report)."
)


def lcov_variants(
    label: str,
    flags: Sequence[str],
    output: str,
    with_cache: bool,
    modes: Sequence[str] = ("cold", "warm", "off"),
) -> list[Variant]:
    """``pytest --lcov`` as run, or, with pytest-lcov's analysis cache, cold, warm and turned off.

    Each cached variant has a cache folder of its own (``-o cache_dir=``), so the
    interleaved runs cannot warm or empty each other's cache.  `modes` picks
    which of the three a case measures.
    """
    base = (tool("pytest"), f"--lcov={output}", *flags, "-p", "no:cov")
    if not with_cache:
        return [Variant(label, ((*base, *QUIET),), output)]
    key = slug(label)
    cold_dir, warm_dir = f".cache-{key}-cold", f".cache-{key}-warm"
    variants = {
        "cold": Variant(
            f"{label}, cache cold",
            ((*base, "-o", f"cache_dir={cold_dir}", *QUIET),),
            output,
            cleanup=(cold_dir,),
        ),
        "warm": Variant(
            f"{label}, cache warm",
            ((*base, "-o", f"cache_dir={warm_dir}", *QUIET),),
            output,
            prime=True,
        ),
        "off": Variant(
            f"{label} --lcov-no-cache",
            ((*base, "--lcov-no-cache", *NO_CACHEPROVIDER, *QUIET),),
            output,
        ),
    }
    return [variants[mode] for mode in modes]


def case_b(cwd: Path, with_cache: bool) -> Case:
    plain = (tool("pytest"), "-p", "no:lcov", "-p", "no:cov", *QUIET)
    cov = (
        tool("pytest"),
        f"--cov={PACKAGE}",
        "--cov-report=lcov:out/b-cov-lines.info",
        "-p",
        "no:lcov",
        *QUIET,
    )
    cov_branch = (
        tool("pytest"),
        f"--cov={PACKAGE}",
        "--cov-branch",
        "--cov-report=lcov:out/b-cov-branches.info",
        "-p",
        "no:lcov",
        *QUIET,
    )
    (cwd / "out").mkdir(exist_ok=True)
    ours = lcov_variants("pytest --lcov", (), "out/b-lcov-lines.info", with_cache)
    ours_branch = lcov_variants(
        "pytest --lcov --lcov-branch", ("--lcov-branch",), "out/b-lcov-branches.info", with_cache
    )
    case = Case(
        key="b",
        title="b: a whole test run",
        cwd=cwd,
        variants=[
            Variant("plain pytest", (plain,), None),
            *ours,
            *ours_branch,
            Variant("pytest-cov lcov", (cov,), "out/b-cov-lines.info", cleanup=(".coverage",)),
            Variant(
                "pytest-cov lcov --cov-branch",
                (cov_branch,),
                "out/b-cov-branches.info",
                cleanup=(".coverage",),
            ),
        ],
        comparisons=[
            *((variant.label, "pytest-cov lcov") for variant in ours),
            *((variant.label, "pytest-cov lcov --cov-branch") for variant in ours_branch),
        ],
    )
    if with_cache:
        case.notes.append(CACHE_NOTE)
    return case


def cases_c(cwd: Path, with_cache: bool) -> list[Case]:
    (cwd / "out").mkdir(exist_ok=True)
    cases = []
    for kind, branch in (("lines", False), ("branches", True)):
        theirs_out = f"out/c-cov-{kind}.info"
        ours_out = f"out/c-lcov-{kind}.info"
        theirs = (
            tool("pytest"),
            f"--cov={PACKAGE}",
            *(["--cov-branch"] if branch else []),
            "--cov-context=test",
            "--cov-report=",
            "-p",
            "no:lcov",
            *QUIET,
        )
        convert = (tool("coverage"), "lcov", "-o", theirs_out)
        ours = lcov_variants(
            f"pytest --lcov --lcov-per-test ({kind})",
            ("--lcov-per-test", *(["--lcov-branch"] if branch else [])),
            ours_out,
            with_cache,
        )
        variants = [
            Variant(
                f"pytest-cov --cov-context=test + coverage lcov ({kind})",
                (theirs, convert),
                theirs_out,
                cleanup=(".coverage",),
            ),
            *ours,
        ]
        if not branch:
            variants.append(
                Variant("plain pytest", ((tool("pytest"), "-p", "no:lcov", "-p", "no:cov", *QUIET),), None)
            )
        case = Case(
            key=f"c-{kind}",
            title=f"c ({kind}): per-test data",
            cwd=cwd,
            variants=variants,
            comparisons=[(variant.label, variants[0].label) for variant in ours],
        )
        if with_cache:
            case.notes.append(CACHE_NOTE)
        case.notes.append(
            "coverage lcov merges the contexts into one section; so does pytest-lcov's tracefile (counts: "
            "the tests that reached each line), and beside it a `.tests.info` file holds one TN section "
            "per test that reached a file, with a `.desc` file: the `output` column gives all sizes."
        )
        cases.append(case)
    return cases


# --- case d: per-test HTML ----------------------------------------------------------------------

LCOV2_USR = Path(os.environ.get("LCOV2_ROOT", Path.home() / ".cache/pytest-lcov/lcov2")) / "root/usr"
CORE_CONFTEST = '''"""Every test also calls into the core modules, as a library's tests reach its core.

Written by benchmarks/run.py (case d) over what generate.py made.
"""

import zlib

import pytest

{imports}
{snippets}

CORE = [{groups}]


@pytest.fixture(autouse=True)
def reach_core(request: pytest.FixtureRequest) -> None:
    for number, calls in enumerate(CORE):
        bits = zlib.crc32(f"{{request.node.nodeid}}:{{number}}".encode())
        for index, call in enumerate(calls):
            if (bits >> (2 * index)) & 3:  # three calls in four, chosen by the test's node id
                call()
'''
GOAL = 1.0  # per-test HTML with genhtml 2.x: at most this many times genhtml 1.16's on the per-test file
HANDED = "genhtml 2.3.1, per-test as pytest-lcov hands it over"


def write_core_conftest(folder: Path, modules: int, core: int, seed: int) -> None:
    """Make every test reach the first `core` modules too, so the per-test data is shaped like a suite's.

    A generated test calls into its own module only; a real suite's tests each
    reach the library's core (jinja's 911 tests: 9,111 test x file sections).
    Here an autouse fixture calls, in each core module, about three in four of
    the calls generate.py makes for its tests, chosen by the test's node id, so
    tests differ in the lines and branches they reach.
    """
    imports, snippets, groups = [], [], []
    for number, (sub, name) in enumerate(generate.module_names(modules)[:core]):
        module = generate.make_module(f"{PACKAGE}.{sub}.{name}", seed)
        rng = random.Random(f"{seed}:core:{module.dotted}")
        imports.append(f"from {PACKAGE}.{sub} import {name} as core{number}")
        names = []
        for index, call in enumerate(module.calls):
            names.append(f"_core{number}_{index}")
            snippets.append(f"\n\ndef {names[-1]}() -> None:\n    mod = core{number}\n    {call(rng)}\n")
        groups.append("[" + ", ".join(names) + "]")
    text = CORE_CONFTEST.format(
        imports="\n".join(imports), snippets="".join(snippets), groups=", ".join(groups)
    )
    conftest = folder / "conftest.py"
    if not conftest.is_file() or conftest.read_text(encoding="utf-8") != text:
        conftest.write_text(text, encoding="utf-8")


def genhtml_command(major: int, tracefile: str | list[str], html: str, per_test: bool) -> Command:
    """genhtml of lcov `major` with branches and functions, as pytest-lcov runs it (on pieces: see html)."""
    if major == 1:
        flags: Command = ("--rc", "genhtml_branch_coverage=1", "--rc", "genhtml_function_coverage=1")
        command: Command = ("genhtml", *flags)
    else:
        perl5lib = f"PERL5LIB={LCOV2_USR / 'lib/lcov'}"
        genhtml2 = str(LCOV2_USR / "bin/genhtml")
        command = ("env", perl5lib, "perl", genhtml2, "--branch-coverage", "--function-coverage")
    tracefiles = [tracefile] if isinstance(tracefile, str) else tracefile
    if major >= 2 and len(tracefiles) > 1:
        command = (*command, "--rc", "check_data_consistency=0")
    details = ("--show-details", "--description-file", "out/d.desc") if per_test else ()
    return (*command, "--quiet", *details, "-o", html, *tracefiles)


def lcov2_estimate(tests_file: Path) -> str:
    """pytest-lcov's own estimate of genhtml 2.x's time on `tests_file` (html.Lcov2Load), if it has one."""
    try:
        from pytest_lcov.html import Lcov2Load
    except ImportError:
        return ""
    by_file: dict[str, list[int]] = {}
    path, records = "", 0
    with tests_file.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("SF:"):
                path, records = line[3:].rstrip("\n"), 0
            elif line.startswith(("DA:", "FN:", "FNDA:")):
                records += 1
            elif line.startswith("end_of_record"):
                by_file.setdefault(path, []).append(records)
    load = Lcov2Load()
    for counts in by_file.values():
        load.add_file(counts)
    return (
        f"pytest-lcov's estimate of genhtml 2.x's time on the per-test file as the plugin hands it over "
        f"(html.Lcov2Load): {load.seconds:.0f} s ({load.sections:,} sections; {load.records:,} records; "
        f"{load.walks:,} calls on a test's branch data; {load.merges:,} sections merged from later pieces)."
    )


def make_inputs(cwd: Path, run: Command) -> tuple[Command, list[str]]:
    """One per-test run: out/d.info (one section), out/d.tests.info, out/d.desc; and what genhtml 2.x gets.

    genhtml 2.x gets the per-test file as the plugin hands it over: in pieces
    (html.lcov2_per_test_pieces, LCOV2_PIECE_SECTIONS sections of a source
    file to a piece), each named as the per-test file; the pieces' paths are returned.
    """
    make = (*run, "--lcov=out/d.info", "--lcov-per-test")
    print(f"\nmaking out/d.info, out/d.tests.info, out/d.desc: {shown(make)}", flush=True)
    done = subprocess.run(make, cwd=cwd, env=child_env(BIN), capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (cwd / "out/d.tests.info").is_file():
        raise BenchmarkError(f"{shown(make)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    from pytest_lcov.html import LCOV2_PIECE_SECTIONS, lcov2_per_test_pieces  # the checkout's

    folder = cwd / "out/d.handed"
    shutil.rmtree(folder, ignore_errors=True)
    pieces: list[str] = []
    with contextlib.ExitStack() as stack, (cwd / "out/d.tests.info").open(encoding="utf-8") as source:
        outs: list[TextIO] = []
        for piece, line in lcov2_per_test_pieces(source, LCOV2_PIECE_SECTIONS):
            while piece >= len(outs):  # piece 0 is out/d.handed/d.tests.info, piece i out/d.handed/i/...
                name = Path("out/d.handed", *([str(len(outs))] if outs else []), "d.tests.info")
                (cwd / name).parent.mkdir(parents=True, exist_ok=True)
                outs.append(stack.enter_context((cwd / name).open("w", encoding="utf-8")))
                pieces.append(str(name))
            outs[piece].write(line)
    return make, pieces


def html_variant(label: str, major: int, tracefile: str | list[str], folder: str, per_test: bool) -> Variant:
    return Variant(label, (genhtml_command(major, tracefile, folder, per_test),), None, cleanup=(folder,))


def genhtml_found() -> bool:
    """Both genhtml releases case d runs: lcov 1.x's on PATH, lcov 2.x's in LCOV2_ROOT."""
    return (LCOV2_USR / "bin/genhtml").is_file() and shutil.which("genhtml") is not None


def cases_d(cwd: Path) -> list[Case]:
    """Writing per-test data (peak memory), then genhtml 2.3.1 and 1.16 on it against the one-section file."""
    (cwd / "out").mkdir(exist_ok=True)
    if not genhtml_found():
        raise BenchmarkError(f"case d needs lcov 1.x's genhtml on PATH and lcov 2.x in {LCOV2_USR}")
    run = (tool("pytest"), "--lcov-branch", *NO_CACHEPROVIDER, "-p", "no:cov", *QUIET)
    make, pieces = make_inputs(cwd, run)
    per_test = ("--lcov=out/d-write.info", "--lcov-per-test")
    write = Case(
        key="d-write",
        title="d (writing): per-test data, peak memory",
        cwd=cwd,
        variants=[
            Variant("pytest --lcov --lcov-branch", ((*run, "--lcov=out/d-run.info"),), "out/d-run.info"),
            Variant(
                "pytest --lcov --lcov-branch --lcov-per-test",
                ((*run, *per_test),),
                "out/d-write.info",
            ),
        ],
        comparisons=[("pytest --lcov --lcov-branch --lcov-per-test", "pytest --lcov --lcov-branch")],
        notes=[
            "Both files stream source file by source file: the report step adds a few MiB to the peak. "
            "The rest of the per-test run's extra is coverage.py's in-memory data of the tests' contexts, "
            "held from the first test on (it grows with the per-test data; the report does not)."
        ],
    )
    html = Case(
        key="d-html",
        title="d (HTML): genhtml on the per-test file vs on the one-section tracefile",
        cwd=cwd,
        variants=[
            html_variant("genhtml 2.3.1, one section", 2, "out/d.info", "out/h2", False),
            html_variant("genhtml 2.3.1, per-test as written", 2, "out/d.tests.info", "out/h2t", True),
            html_variant(HANDED, 2, pieces, "out/h2h", True),
            html_variant("genhtml 1.16, one section", 1, "out/d.info", "out/h1", False),
            html_variant("genhtml 1.16, per-test", 1, "out/d.tests.info", "out/h1t", True),
        ],
    )
    html.comparisons = [
        ("genhtml 2.3.1, per-test as written", "genhtml 1.16, per-test"),
        (HANDED, "genhtml 1.16, per-test"),
        (HANDED, "genhtml 2.3.1, one section"),
        ("genhtml 1.16, per-test", "genhtml 1.16, one section"),
    ]
    inputs = ", ".join(
        f"`{name}` {size_text(path.stat().st_size)} (TN sections: {trace_totals(path).tests:,})"
        for name, path in ((name, cwd / name) for name in ("out/d.info", "out/d.tests.info"))
    )
    html.notes += [
        f"Inputs, made once by `{shown(make)}`: {inputs}; `out/d.handed/` holds what `--lcov-html` "
        f"hands genhtml 2.x, in {len(pieces)} pieces (pytest_lcov.html.lcov2_per_test_pieces: the per-test "
        "sections without branch records, each file's branches once, at most "
        "html.LCOV2_PIECE_SECTIONS sections of a source file to a piece).",
        f"Goal: genhtml 2.3.1 as pytest-lcov runs it at most {GOAL:g} x genhtml 1.16's time on the per-test "
        "file (floor: 2 x).",
    ]
    if estimate := lcov2_estimate(cwd / "out/d.tests.info"):
        html.notes.append(estimate)
    return [write, html]


# --- case e: the report phase (goal A) ---------------------------------------------------------

PHASE_GOAL = 0.25  # goal A: the report phase at most this times coverage lcov's whole run


def timed(variant: Variant, cwd: Path, key: str) -> Variant:
    """`variant` with benchtiming loaded, so that its report phase can be read after each run."""
    timing = f"out/{key}-{slug(variant.label)}.time"
    env = env_command({"PYTHONPATH": str(TIMING_PLUGIN), TIMING_ENV: timing})  # relative to `cwd`
    commands = tuple((*env, *command, "-p", "benchtiming") for command in variant.commands)
    return dataclasses.replace(variant, commands=commands, timing=timing)


def case_e(cwd: Path, with_cache: bool, modules: int) -> Case:
    """Goal A: from the last test's end to the tracefile written, against coverage lcov's whole run."""
    data = data_file(cwd, True)
    ours = [  # a plugin without the cache: one variant, cold and off alike
        timed(variant, cwd, "e")
        for variant in lcov_variants(
            "pytest --lcov --lcov-branch",
            ("--lcov-branch",),
            "out/e-lcov.info",
            with_cache,
            modes=("cold", "off"),
        )
    ]
    case = Case(
        key="e",
        title="e: the report phase, pytest --lcov --lcov-branch vs coverage lcov (goal A)",
        cwd=cwd,
        variants=[coverage_lcov(data, "out/e-coverage.info"), *ours],
    )
    case.goals = [
        Goal("goal A", variant.label, "coverage lcov", f"at most {PHASE_GOAL:g}", PHASE_GOAL, phase=True)
        for variant in ours
    ]
    case.notes += [
        data.note(),
        "Report phase: the tracefile's mtime less the wall-clock time at which the last test finished "
        "(`pytest_runtest_logfinish` in benchmarks/timing/benchtiming.py, loaded by `-p benchtiming` "
        "from PYTHONPATH and written to `$BENCHTIMING_FILE` at `pytest_unconfigure`). It holds stopping "
        "coverage.py, its data, and pytest-lcov's report step; the median wall column is the whole run. "
        "`phase x anchor wall`: the report phase over coverage lcov's whole run (load the data, report).",
        CACHE_NOTE,
        goal_size_note("Goal A", modules),
    ]
    return case


# --- case f: one core, against an earlier version (a guard) ------------------------------------


def ensure_old_tree() -> Path:
    """A git worktree of OLD_COMMIT under benchmarks/work (the main checkout stays as it is)."""
    if not (OLD_TREE / "pytest_lcov" / "__init__.py").is_file():
        command = ["git", "worktree", "add", "--detach", str(OLD_TREE), OLD_COMMIT]
        print(f"\n$ {shown(command)}", flush=True)
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchmarkError(f"{shown(command)} failed: {done.stderr.strip()}")
    wanted, found = (
        subprocess.run(
            ["git", "rev-parse", f"{revision}^{{commit}}"],
            cwd=where,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        for where, revision in ((REPO, OLD_COMMIT), (OLD_TREE, "HEAD"))
    )
    if not wanted or wanted != found:
        raise BenchmarkError(f"{OLD_TREE} is at {found or 'no commit'}, not {OLD_COMMIT} ({wanted})")
    return OLD_TREE


def check_import(cwd: Path, env: Command, expected: Path) -> None:
    """Stop unless, after `env`, ``import pytest_lcov`` gives the checkout meant to be measured."""
    done = subprocess.run(
        [*env, PYTHON, "-c", "import pytest_lcov; print(pytest_lcov.__file__)"],
        cwd=cwd,
        env=child_env(BIN),
        capture_output=True,
        text=True,
        check=False,
    )
    found = Path(done.stdout.strip()).resolve().parent if done.returncode == 0 else None
    if found != (expected / "pytest_lcov").resolve():
        raise BenchmarkError(
            f"after {shown(env) or 'no env additions'}, pytest_lcov imports from {found}, not {expected}: "
            f"{done.stderr.strip()}"
        )


def pinned(variant: Variant, env: Command) -> Variant:
    """`variant` on CPU 0 only (its helper processes too: affinity is inherited), after `env`."""
    commands = tuple(("taskset", "-c", "0", *env, *command) for command in variant.commands)
    return dataclasses.replace(variant, commands=commands)


def case_f(cwd: Path) -> Case:
    """The guard: on one core, this checkout never slower than OLD_COMMIT, cache cold and warm."""
    old_tree = ensure_old_tree()
    old_env = env_command({"PYTHONPATH": str(old_tree)})
    check_import(cwd, old_env, old_tree)
    check_import(cwd, (), REPO)
    flags = ("--lcov-branch",)
    old = [
        pinned(variant, old_env)
        for variant in lcov_variants(
            f"old {OLD_COMMIT}: pytest --lcov --lcov-branch",
            flags,
            "out/f-old.info",
            True,
            modes=("cold", "warm"),
        )
    ]
    new = [
        pinned(variant, ())
        for variant in lcov_variants(
            "new: pytest --lcov --lcov-branch", flags, "out/f-new.info", True, modes=("cold", "warm")
        )
    ]
    case = Case(
        key="f",
        title=f"f: one core (taskset -c 0), this checkout vs {OLD_COMMIT} (guard)",
        cwd=cwd,
        variants=[old[0], new[0], old[1], new[1]],
    )
    case.goals = [
        Goal("guard", mine.label, theirs.label, "never slower: at most 1.00 within noise, see min - max")
        for mine, theirs in zip(new, old, strict=True)
    ]
    case.notes += [
        f"old: git {OLD_COMMIT} from the worktree {old_tree}, put first on PYTHONPATH for its runs "
        "(checked before the runs: `import pytest_lcov` comes from there; without it, from this "
        "checkout). Every command runs under `taskset -c 0`, pytest-lcov's parsing helpers too.",
        CACHE_NOTE,
    ]
    return case


# --- main ---------------------------------------------------------------------------------------


def environment(started_at: datetime, state_before: str) -> list[str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    state_after = package_state(REPO)
    lines = [
        f"- date: {started_at.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        f"- Python {platform.python_version()}, pytest {version('pytest')}, coverage {version('coverage')}, "
        f"pytest-cov {version('pytest-cov')}",
        f"- pytest-lcov: {state_before}",
    ]
    if state_after != state_before:
        lines.append(
            f"- **pytest-lcov's code changed during the benchmark**; at the end: {state_after}. "
            "Runs of different versions are mixed in these numbers."
        )
    return lines


def synth_summary(folder: Path) -> str:
    modules = list((folder / PACKAGE).rglob("mod*.py"))
    tests = list((folder / "tests").glob("test_*.py"))
    lines = sum(path.read_bytes().count(b"\n") for path in modules)
    test_count = sum(path.read_bytes().count(b"\ndef test_") for path in tests)
    return f"{len(modules)} modules, {lines} lines, {test_count} tests in {len(tests)} files"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases", default=None, help=f"comma-separated: {', '.join(CASES)} (default a,b,c; all with --quick)"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed runs per variant (default 5; 1 with --quick)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed anchor runs per case (default 1; 0 with --quick)"
    )
    parser.add_argument(
        "--modules", type=int, default=None, help="modules for cases a, b, e and f (default 2000)"
    )
    parser.add_argument(
        "--tests-per-module", type=int, default=3, help="for cases a, b, e and f (default %(default)s)"
    )
    parser.add_argument("--pertest-modules", type=int, default=None, help="modules for case c (default 300)")
    parser.add_argument("--pertest-tests", type=int, default=None, help="tests for case c (default 2000)")
    parser.add_argument("--html-modules", type=int, default=None, help="modules for case d (default 60)")
    parser.add_argument("--html-tests", type=int, default=None, help="tests for case d (default 900)")
    parser.add_argument(
        "--html-core", type=int, default=None, help="case d: modules every test reaches (default 9)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: every case once at tiny sizes, checking that the outputs agree",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"Markdown results file (default {WORK / 'results.md'}; results-quick.md with --quick)",
    )
    args = parser.parse_args(argv)
    wanted = [c.strip() for c in (args.cases or (",".join(CASES) if args.quick else "a,b,c")).split(",")]
    wanted = [c for c in wanted if c]
    if not wanted or set(wanted) - set(CASES):
        parser.error(f"--cases takes a comma-separated list of {', '.join(CASES)}")
    repeat = args.repeat or (1 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else (0 if args.quick else 1)
    modules = args.modules or (12 if args.quick else 2000)
    pertest_modules = args.pertest_modules or (8 if args.quick else 300)
    pertest_tests = args.pertest_tests or (40 if args.quick else 2000)
    html_modules = args.html_modules or (6 if args.quick else 60)
    html_tests = args.html_tests or (30 if args.quick else 900)
    html_core = min(args.html_core or (2 if args.quick else 9), html_modules)
    suffix = "-quick" if args.quick else ""
    results = args.results or WORK / f"results{suffix}.md"
    big = WORK / f"synth{suffix}"
    small = WORK / f"synth-pertest{suffix}"
    shaped = WORK / f"synth-html{suffix}"
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    started_at = datetime.now(UTC)
    state_before = package_state(REPO)
    cases: list[Case] = []
    skipped: list[str] = []
    sizes: list[str] = []
    on_big = [key for key in wanted if key in "abef"]
    if on_big:
        generate.ensure(big, generate.Params(modules, args.tests_per_module, None, 20240601))
        sizes.append(f"- cases {', '.join(on_big)}: `{big}`: {synth_summary(big)}")
    if "c" in wanted:
        generate.ensure(small, generate.Params(pertest_modules, 0, pertest_tests, 20240601))
    try:
        if "a" in wanted:
            cases.extend(cases_a(big, modules))
        if "b" in wanted:
            cases.append(case_b(big, pytest_has_option(big, "--lcov-no-cache")))
        if "c" in wanted and pytest_has_option(small, "--lcov-per-test"):
            sizes.append(f"- case c: `{small}`: {synth_summary(small)}")
            cases.extend(cases_c(small, pytest_has_option(small, "--lcov-no-cache")))
        elif "c" in wanted:
            skipped.append(
                "c: `--lcov-per-test` is not available (`pytest --help` does not list it); skipped"
            )
        if "e" in wanted:
            cases.append(case_e(big, pytest_has_option(big, "--lcov-no-cache"), modules))
        if "f" in wanted and shutil.which("taskset") is None:
            skipped.append("f: `taskset` is not on PATH (util-linux), so runs cannot be pinned to one CPU")
            print(f"\nskipping case {skipped[-1]}", flush=True)
        elif "f" in wanted:
            cases.append(case_f(big))
        if "d" in wanted and args.quick and not genhtml_found() and os.environ.get("CI") != "true":
            skipped.append(f"d: lcov 1.x's genhtml is not on PATH or lcov 2.x not in {LCOV2_USR}")
            print(f"\nskipping case {skipped[-1]}", flush=True)
        elif "d" in wanted:
            generate.ensure(shaped, generate.Params(html_modules, 0, html_tests, 20240601))
            write_core_conftest(shaped, html_modules, html_core, 20240601)
            sizes.append(
                f"- case d: `{shaped}`: {synth_summary(shaped)}; every test reaches {html_core} more"
            )
            cases.extend(cases_d(shaped))
        for case in cases:
            run_case(case, repeat, warmup, logs)
    except BenchmarkError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started

    out = ["# pytest-lcov benchmarks", "", *environment(started_at, state_before), *sizes]
    out.append(f"- {repeat} timed runs per variant (median shown), {warmup} warm-up run(s) of each anchor")
    out.append(f"- whole benchmark: {elapsed / 60:.1f} min wall clock")
    out.append(
        "- peak RSS: max RSS of the measured command's processes (getrusage(RUSAGE_CHILDREN) "
        "in a fresh wrapper per run); tree PSS: the peak of the PSS summed over the command's "
        f"process and all its descendants, sampled every {SAMPLE_INTERVAL * 1000:.0f} ms from /proc "
        "(a page shared by n processes counts 1/n in each); load: the 1-minute load average just "
        "before each timed run (min - max)"
    )
    for case in cases:
        out += ["", f"## {case.title}", "", case_table(case), "", commands_block(case.cwd, case.variants)]
        if case.notes:
            out += ["", *(f"Note: {note}" for note in case.notes)]
        if case.disagreements:
            out += ["", *(f"**DIFFERENT**: {problem}" for problem in case.disagreements)]
    if skipped:
        out += ["", "## Skipped", "", *(f"- {line}" for line in skipped)]
    text = "\n".join(out) + "\n"
    print("\n" + text)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text, encoding="utf-8")
    print(f"written to {results}", file=sys.stderr)
    if any(case.disagreements for case in cases):
        print("benchmark failed: tracefiles that should agree do not (DIFFERENT above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
