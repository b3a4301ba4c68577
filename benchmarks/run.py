"""Benchmark pytest-lcov against coverage.py's and pytest-cov's LCOV output.

Cases (see benchmarks/README.md):

  a  the report step alone, on one .coverage file: ``coverage lcov`` vs pytest-lcov
  b  a whole test run: plain pytest vs ``pytest --lcov`` vs pytest-cov ``--cov-report=lcov``
  c  per-test data: ``pytest --lcov --lcov-per-test`` vs pytest-cov ``--cov-context=test``
     followed by ``coverage lcov``
  d  per-test HTML: genhtml 2.3.1 and 1.16 on the per-test file vs on the same run's
     one-section tracefile, on a project shaped like jinja's suite (~900 tests, ~9,000
     test x file sections); and the peak memory of writing the per-test file

Every measurement runs in a fresh ``python -c`` wrapper that runs the commands and
reports its own children's wall time, CPU time and peak RSS (getrusage(RUSAGE_CHILDREN)),
so each run's peak memory is its own.  Variants of a case run interleaved, after an
untimed warm-up run that compiles the synthetic project's .pyc files.

    python benchmarks/run.py --quick               # smoke run, small sizes
    python benchmarks/run.py --cases a,b --repeat 5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import generate

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
BIN = Path(sys.executable).parent
PYTHON = str(Path(sys.executable))
PACKAGE = generate.PACKAGE
QUIET = ("-q",)
NO_CACHEPROVIDER = ("-p", "no:cacheprovider")

WRAPPER = """\
import json, resource, subprocess, sys, time
spec = json.loads(sys.argv[1])
with open(spec["log"], "w") as log:
    start = time.perf_counter()
    for command in spec["commands"]:
        log.write("$ " + " ".join(command) + "\\n")
        log.flush()
        code = subprocess.call(command, cwd=spec["cwd"], stdout=log, stderr=subprocess.STDOUT)
        if code:
            print(json.dumps({"error": code, "command": command}))
            sys.exit(0)
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}))
"""

Command = tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    """One thing to time: commands run in sequence, and the tracefile they leave."""

    label: str
    commands: tuple[Command, ...]
    output: str | None  # relative to the case's folder
    per_test: bool = False  # a per-test file (and a .desc) is written beside the output
    cleanup: tuple[str, ...] = ()  # files or folders removed before each run (stale data, caches)
    prime: bool = False  # run once, untimed, before the timed runs (fills a cache it keeps)


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    maxrss_kib: int


@dataclass
class Case:
    """Variants timed against the first one, the anchor."""

    key: str
    title: str
    cwd: Path
    variants: list[Variant]
    comparisons: list[tuple[str, str]] = field(default_factory=list)  # (variant, against)
    notes: list[str] = field(default_factory=list)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    extra_sizes: dict[str, str] = field(default_factory=dict)


class BenchmarkError(Exception):
    pass


def shown(command: Sequence[str]) -> str:
    return shlex.join(command)


def child_env() -> dict[str, str]:
    """The environment of every measured command: nothing that changes what is measured."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COVERAGE_", "PYTEST_"))
        and key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def measure(commands: Sequence[Command], cwd: Path, log: Path) -> Sample:
    """Run `commands` in a fresh wrapper process; its children's wall time, CPU and peak RSS."""
    spec = json.dumps({"commands": [list(c) for c in commands], "cwd": str(cwd), "log": str(log)})
    done = subprocess.run(
        [PYTHON, "-c", WRAPPER, spec], capture_output=True, text=True, env=child_env(), check=False
    )
    if done.returncode != 0:
        raise BenchmarkError(f"wrapper failed ({done.returncode}): {done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in result:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise BenchmarkError(
            f"exit code {result['error']} from: {shown(result['command'])}\n(log {log}, last lines:)\n{tail}"
        )
    return Sample(float(result["wall"]), float(result["cpu"]), int(result["maxrss_kib"]))


def run_case(case: Case, repeat: int, warmup: int, logs: Path) -> None:
    """Warm up with the anchor, then time every variant `repeat` times, interleaved."""
    print(f"\n## {case.title}\n\nin {case.cwd}:", flush=True)
    for variant in case.variants:
        print(f"  {variant.label}:", flush=True)
        for command in variant.commands:
            print(f"    {shown(command)}", flush=True)
    anchor = case.variants[0]
    for number in range(warmup):
        prepare(case, anchor)
        measure(anchor.commands, case.cwd, logs / f"{case.key}-warmup-{number}.log")
    for variant in case.variants:
        if variant.prime:
            prepare(case, variant)
            measure(variant.commands, case.cwd, logs / f"{case.key}-{slug(variant.label)}-prime.log")
    case.samples = {variant.label: [] for variant in case.variants}
    for round_number in range(repeat):
        shift = round_number % len(case.variants)
        order = case.variants[shift:] + case.variants[:shift]  # no variant always runs first
        for variant in order:
            prepare(case, variant)
            log = logs / f"{case.key}-{slug(variant.label)}.log"
            sample = measure(variant.commands, case.cwd, log)
            case.samples[variant.label].append(sample)
            check_output(case, variant)
            print(
                f"  [{round_number + 1}/{repeat}] {variant.label}: {sample.wall:.2f}s, "
                f"{sample.maxrss_kib / 1024:.0f} MiB",
                flush=True,
            )


def companions(output: str) -> tuple[str, str]:
    """The per-test file and the description file that per-test data writes beside `output`."""
    path = Path(output)
    return str(path.with_name(path.stem + ".tests.info")), str(path.with_suffix(".desc"))


def prepare(case: Case, variant: Variant) -> None:
    names = list(variant.cleanup)
    if variant.output:
        names += [variant.output, *companions(variant.output)]
    for name in names:
        path = case.cwd / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def check_output(case: Case, variant: Variant) -> None:
    if variant.output is None:
        return
    path = case.cwd / variant.output
    if not path.is_file() or path.stat().st_size == 0:
        raise BenchmarkError(f"{variant.label}: no tracefile {path} written")
    case.sizes[variant.label] = path.stat().st_size
    if not variant.per_test:
        return
    extra = ""
    for name in companions(variant.output):
        companion = case.cwd / name
        if companion.is_file():
            extra += f" + {size_text(companion.stat().st_size)} {companion.name.split('.', 1)[1]}"
    case.extra_sizes[variant.label] = extra


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- reading tracefiles -----------------------------------------------------------------------


@dataclass(frozen=True)
class TraceTotals:
    sections: int
    records: int
    lines: tuple[int, int]
    functions: tuple[int, int]
    branches: tuple[int, int]


def trace_totals(path: Path) -> TraceTotals:
    """Sum the LH/LF, FNH/FNF and BRH/BRF lines of a tracefile."""
    sums = dict.fromkeys(("LH", "LF", "FNH", "FNF", "BRH", "BRF"), 0)
    sections = records = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            key, _, value = line.rstrip("\n").partition(":")
            if key in sums:
                sums[key] += int(value)
            elif key == "TN":
                sections += 1
            elif key == "SF":
                records += 1
    return TraceTotals(
        sections, records, (sums["LH"], sums["LF"]), (sums["FNH"], sums["FNF"]), (sums["BRH"], sums["BRF"])
    )


def ratio_text(hit: int, found: int) -> str:
    return f"{hit}/{found} ({100 * hit / found:.1f}%)" if found else "-"


def size_text(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KiB"


# --- the table ------------------------------------------------------------------------------------


def table(case: Case) -> str:
    anchor = case.variants[0].label
    anchor_wall = statistics.median(s.wall for s in case.samples[anchor])
    anchor_rss = statistics.median(s.maxrss_kib for s in case.samples[anchor])
    rows = [
        "| variant | median wall | min - max | x anchor | median CPU | peak RSS | RSS x anchor "
        "| output | lines hit/found | branches hit/found |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant in case.variants:
        samples = case.samples[variant.label]
        wall = statistics.median(s.wall for s in samples)
        rss = statistics.median(s.maxrss_kib for s in samples)
        lines = branches = "-"
        output = "-"
        if variant.output is not None:
            path = case.cwd / variant.output
            output = size_text(case.sizes[variant.label]) + case.extra_sizes.get(variant.label, "")
            totals = trace_totals(path)
            if totals.sections > 1:  # an earlier pytest-lcov wrote per-test sections into the tracefile
                lines = f"{totals.sections} TN sections"
            else:
                lines = ratio_text(*totals.lines)
                branches = ratio_text(*totals.branches)
        name = f"**{variant.label}** (anchor)" if variant.label == anchor else variant.label
        low, high = min(s.wall for s in samples), max(s.wall for s in samples)
        rows.append(
            f"| {name} | {wall:.2f} s | {low:.2f} - {high:.2f} s "
            f"| {wall / anchor_wall:.2f} | {statistics.median(s.cpu for s in samples):.2f} s "
            f"| {rss / 1024:.0f} MiB | {rss / anchor_rss:.2f} | {output} | {lines} | {branches} |"
        )
    text = "\n".join(rows)
    comparisons = []
    for label, against in case.comparisons:
        mine = statistics.median(s.wall for s in case.samples[label])
        theirs = statistics.median(s.wall for s in case.samples[against])
        mine_rss = statistics.median(s.maxrss_kib for s in case.samples[label])
        theirs_rss = statistics.median(s.maxrss_kib for s in case.samples[against])
        comparisons.append(
            f"- {label} vs {against}: wall x {mine / theirs:.2f} ({mine - theirs:+.2f} s), "
            f"peak RSS x {mine_rss / theirs_rss:.2f}"
        )
    if comparisons:
        text += "\n\n" + "\n".join(comparisons)
    return text


def commands_block(case: Case) -> str:
    out = [f"Commands (run in `{case.cwd}`):", "", "```sh"]
    for variant in case.variants:
        out.append(f"# {variant.label}")
        out.extend(shown(command) for command in variant.commands)
    out.append("```")
    return "\n".join(out)


# --- the cases ----------------------------------------------------------------------------------


def tool(name: str) -> str:
    return str(BIN / name)


def pytest_has_option(cwd: Path, option: str) -> bool:
    done = subprocess.run(
        [tool("pytest"), "--help"], cwd=cwd, capture_output=True, text=True, env=child_env(), check=False
    )
    return option in done.stdout


def convert_command() -> Command:
    """``pytest-lcov convert``: the plugin's report step, run on a data file."""
    script = BIN / "pytest-lcov"
    return (str(script), "convert") if script.exists() else (PYTHON, "-m", "pytest_lcov", "convert")


def cases_a(cwd: Path) -> list[Case]:
    """The report step alone, on data files made once here."""
    convert = convert_command()
    cases = []
    for kind, branch in (("lines", False), ("branches", True)):
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
        done = subprocess.run(make, cwd=cwd, env=child_env(), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchmarkError(f"{shown(make)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        made_in = time.perf_counter() - started
        ours: Command = (*convert, data, "-o", f"out/a-ours-{kind}.info")
        ours_label = "pytest-lcov convert"
        case = Case(
            key=f"a-{kind}",
            title=f"a ({kind}): the report step alone, one .coverage file",
            cwd=cwd,
            variants=[
                Variant(
                    "coverage lcov",
                    ((tool("coverage"), "lcov", f"--data-file={data}", "-o", f"out/a-coverage-{kind}.info"),),
                    f"out/a-coverage-{kind}.info",
                ),
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
        case.notes.append(f"Data file made once by `{shown(make)}` ({made_in:.1f} s).")
        case.notes.append(
            "pytest-lcov's row is its `convert` command: `Coverage(data_file=...).load()`, then "
            "`write_report`, the plugin's report step."
        )
        cases.append(case)
    return cases


CACHE_NOTE = (
    "pytest-lcov caches coverage.py's parse of each source file in pytest's cache folder. "
    "*cache cold*: the run starts with no cache (the first run on a machine: files are parsed, in "
    "parallel worker processes when there are many, and stored); *cache warm*: every file is in the "
    "cache (a rerun with unchanged sources); *--lcov-no-cache* (with `-p no:cacheprovider`): no cache "
    "at all, every file parsed in the pytest process."
)


def lcov_variants(
    label: str, flags: Sequence[str], output: str, with_cache: bool, per_test: bool = False
) -> list[Variant]:
    """``pytest --lcov`` as run, or, with pytest-lcov's analysis cache, cold, warm and turned off.

    Each cached variant has a cache folder of its own (``-o cache_dir=``), so the
    interleaved runs cannot warm or empty each other's cache.
    """
    base = (tool("pytest"), f"--lcov={output}", *flags, "-p", "no:cov")
    if not with_cache:
        return [Variant(label, ((*base, *QUIET),), output, per_test=per_test)]
    key = slug(label)
    cold_dir, warm_dir = f".cache-{key}-cold", f".cache-{key}-warm"
    return [
        Variant(
            f"{label}, cache cold",
            ((*base, "-o", f"cache_dir={cold_dir}", *QUIET),),
            output,
            per_test=per_test,
            cleanup=(cold_dir,),
        ),
        Variant(
            f"{label}, cache warm",
            ((*base, "-o", f"cache_dir={warm_dir}", *QUIET),),
            output,
            per_test=per_test,
            prime=True,
        ),
        Variant(
            f"{label} --lcov-no-cache",
            ((*base, "--lcov-no-cache", *NO_CACHEPROVIDER, *QUIET),),
            output,
            per_test=per_test,
        ),
    ]


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
            per_test=True,
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
GOAL = 3.0  # per-test HTML with genhtml 2.x: at most this many times the one-section report
SPLIT_PIECES = 100  # the per-test data cut into this many tracefiles, for lcov 2.x to read one by one


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


def regroup_by_test(source: Path, target: Path) -> None:
    """The same sections under one ``TN:`` line per test, each followed by all its files (as ``lcov -a``)."""
    by_test: dict[str, list[str]] = {}
    for block in source.read_text(encoding="utf-8").split("TN:")[1:]:
        name, _, body = block.partition("\n")
        by_test.setdefault(name, []).append(body)
    with target.open("w", encoding="utf-8") as out:
        for name, bodies in by_test.items():
            out.write(f"TN:{name}\n" + "".join(bodies))


def split_by_test(source: Path, folder: Path, pieces: int) -> None:
    """The sections of `source` (grouped by test) cut into `pieces` tracefiles, whole tests in each."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    blocks = ["TN:" + block for block in source.read_text(encoding="utf-8").split("TN:")[1:]]
    for number in range(pieces):
        part = blocks[number * len(blocks) // pieces : (number + 1) * len(blocks) // pieces]
        (folder / f"part{number:03d}.info").write_text("".join(part), encoding="utf-8")


def genhtml_command(major: int, tracefile: str, html: str, per_test: bool) -> Command:
    """genhtml of lcov `major` with branches and functions, as pytest-lcov runs it."""
    if major == 1:
        flags: Command = ("--rc", "genhtml_branch_coverage=1", "--rc", "genhtml_function_coverage=1")
        command: Command = ("genhtml", *flags)
    else:
        perl5lib = f"PERL5LIB={LCOV2_USR / 'lib/lcov'}"
        genhtml2 = str(LCOV2_USR / "bin/genhtml")
        command = ("env", perl5lib, "perl", genhtml2, "--branch-coverage", "--function-coverage")
    details = ("--show-details", "--description-file", "out/d.desc") if per_test else ()
    return (*command, "--quiet", *details, "-o", html, tracefile)


def lcov2_estimate(tests_file: Path) -> str:
    """pytest-lcov's own estimate of genhtml 2.x's time on `tests_file` (report.Lcov2Load), if it has one."""
    try:
        from pytest_lcov.report import Lcov2Load
    except ImportError:
        return ""
    by_file: dict[str, list[int]] = {}
    path, branch_lines = "", set[str]()
    with tests_file.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("SF:"):
                path, branch_lines = line[3:].rstrip("\n"), set()
            elif line.startswith("BRDA:"):
                branch_lines.add(line[5:].split(",", 1)[0])
            elif line.startswith("end_of_record"):
                by_file.setdefault(path, []).append(len(branch_lines))
    load = Lcov2Load()
    for counts in by_file.values():
        load.add_file(counts)
    return (
        f"pytest-lcov's estimate of genhtml 2.x's time on the per-test file (report.Lcov2Load): "
        f"{load.seconds:.0f} s ({load.sections:,} sections; {load.checks:,} branch-data checks "
        f"walking {load.entries:,} branch lines)."
    )


def make_inputs(cwd: Path, run: Command) -> Command:
    """One per-test run: out/d.info (one section), out/d.tests.info, out/d.desc; and the regrouped copy."""
    make = (*run, "--lcov=out/d.info", "--lcov-per-test")
    print(f"\nmaking out/d.info, out/d.tests.info, out/d.desc: {shown(make)}", flush=True)
    done = subprocess.run(make, cwd=cwd, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (cwd / "out/d.tests.info").is_file():
        raise BenchmarkError(f"{shown(make)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    regroup_by_test(cwd / "out/d.tests.info", cwd / "out/d.bytest.info")
    split_by_test(cwd / "out/d.bytest.info", cwd / "out/d.split", SPLIT_PIECES)
    return make


def html_variant(label: str, major: int, tracefile: str, folder: str, per_test: bool) -> Variant:
    return Variant(label, (genhtml_command(major, tracefile, folder, per_test),), None, cleanup=(folder,))


def cases_d(cwd: Path) -> list[Case]:
    """Writing per-test data (peak memory), then genhtml 2.3.1 and 1.16 on it against the one-section file."""
    (cwd / "out").mkdir(exist_ok=True)
    if not (LCOV2_USR / "bin/genhtml").is_file() or shutil.which("genhtml") is None:
        raise BenchmarkError(f"case d needs lcov 1.x's genhtml on PATH and lcov 2.x in {LCOV2_USR}")
    run = (tool("pytest"), "--lcov-branch", *NO_CACHEPROVIDER, "-p", "no:cov", *QUIET)
    make = make_inputs(cwd, run)
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
                per_test=True,
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
            html_variant("genhtml 2.3.1, per-test", 2, "out/d.tests.info", "out/h2t", True),
            html_variant("genhtml 2.3.1, per-test grouped by test", 2, "out/d.bytest.info", "out/h2b", True),
            html_variant(  # genhtml 2.x expands the pattern itself
                f"genhtml 2.3.1, per-test in {SPLIT_PIECES} files", 2, "out/d.split/*.info", "out/h2s", True
            ),
            html_variant("genhtml 1.16, one section", 1, "out/d.info", "out/h1", False),
            html_variant("genhtml 1.16, per-test", 1, "out/d.tests.info", "out/h1t", True),
        ],
    )
    html.comparisons = [(variant.label, html.variants[0].label) for variant in html.variants[1:4]]
    html.comparisons.append(("genhtml 1.16, per-test", "genhtml 1.16, one section"))
    inputs = ", ".join(
        f"`{name}` {size_text(path.stat().st_size)} (TN sections: {trace_totals(path).sections:,})"
        for name, path in ((name, cwd / name) for name in ("out/d.info", "out/d.tests.info"))
    )
    html.notes += [
        f"Inputs, made once by `{shown(make)}`: {inputs}; `out/d.bytest.info` holds the same sections "
        f"grouped by test (one TN: line per test, then all its files), `out/d.split/` the same cut into "
        f"{SPLIT_PIECES} tracefiles of whole tests, for comparison: pytest-lcov writes one file.",
        f"Goal: genhtml 2.3.1 on the per-test file at most {GOAL:g} x its time on the one-section file.",
    ]
    if estimate := lcov2_estimate(cwd / "out/d.tests.info"):
        html.notes.append(estimate)
    return [write, html]


# --- main ---------------------------------------------------------------------------------------


def package_state() -> str:
    """Which pytest-lcov is measured: git HEAD, whether pytest_lcov/ differs from it, a hash of its code."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "pytest_lcov"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    digest = hashlib.sha256()
    for path in sorted((REPO / "pytest_lcov").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    state = "modified working tree" if dirty.stdout.strip() else "clean"
    return f"git {head.stdout.strip()} ({state}), pytest_lcov/*.py sha256 {digest.hexdigest()[:12]}"


def environment(started_at: datetime, state_before: str) -> list[str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    state_after = package_state()
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
    parser.add_argument("--cases", default="a,b,c", help="comma-separated: a, b, c, d (default %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed runs per variant (default 5; 2 with --quick)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed anchor runs per case (default %(default)s)"
    )
    parser.add_argument("--modules", type=int, default=None, help="modules for cases a and b (default 2000)")
    parser.add_argument(
        "--tests-per-module", type=int, default=3, help="for cases a and b (default %(default)s)"
    )
    parser.add_argument("--pertest-modules", type=int, default=None, help="modules for case c (default 300)")
    parser.add_argument("--pertest-tests", type=int, default=None, help="tests for case c (default 2000)")
    parser.add_argument("--html-modules", type=int, default=None, help="modules for case d (default 60)")
    parser.add_argument("--html-tests", type=int, default=None, help="tests for case d (default 900)")
    parser.add_argument(
        "--html-core", type=int, default=None, help="case d: modules every test reaches (default 9)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 repeats: a smoke run")
    parser.add_argument("--results", type=Path, default=WORK / "results.md", help="Markdown results file")
    args = parser.parse_args(argv)
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not wanted or set(wanted) - {"a", "b", "c", "d"}:
        parser.error("--cases takes a comma-separated list of a, b, c, d")
    repeat = args.repeat or (2 if args.quick else 5)
    modules = args.modules or (40 if args.quick else 2000)
    pertest_modules = args.pertest_modules or (30 if args.quick else 300)
    pertest_tests = args.pertest_tests or (200 if args.quick else 2000)
    html_modules = args.html_modules or (20 if args.quick else 60)
    html_tests = args.html_tests or (150 if args.quick else 900)
    html_core = min(args.html_core or (3 if args.quick else 9), html_modules)
    suffix = "-quick" if args.quick else ""
    big = WORK / f"synth{suffix}"
    small = WORK / f"synth-pertest{suffix}"
    shaped = WORK / f"synth-html{suffix}"
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    started_at = datetime.now(UTC)
    state_before = package_state()
    cases: list[Case] = []
    skipped: list[str] = []
    sizes: list[str] = []
    if "a" in wanted or "b" in wanted:
        generate.ensure(big, generate.Params(modules, args.tests_per_module, None, 20240601))
        sizes.append(f"- cases a, b: `{big}`: {synth_summary(big)}")
    if "a" in wanted:
        cases.extend(cases_a(big))
    if "b" in wanted:
        cases.append(case_b(big, pytest_has_option(big, "--lcov-no-cache")))
    if "c" in wanted:
        generate.ensure(small, generate.Params(pertest_modules, 0, pertest_tests, 20240601))
        if pytest_has_option(small, "--lcov-per-test"):
            sizes.append(f"- case c: `{small}`: {synth_summary(small)}")
            cases.extend(cases_c(small, pytest_has_option(small, "--lcov-no-cache")))
        else:
            skipped.append(
                "c: `--lcov-per-test` is not available (`pytest --help` does not list it); skipped"
            )
    try:
        if "d" in wanted:
            generate.ensure(shaped, generate.Params(html_modules, 0, html_tests, 20240601))
            write_core_conftest(shaped, html_modules, html_core, 20240601)
            sizes.append(
                f"- case d: `{shaped}`: {synth_summary(shaped)}; every test reaches {html_core} more"
            )
            cases.extend(cases_d(shaped))
        for case in cases:
            run_case(case, repeat, args.warmup, logs)
    except BenchmarkError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started

    out = ["# pytest-lcov benchmarks", "", *environment(started_at, state_before), *sizes]
    out.append(
        f"- {repeat} timed runs per variant (median shown), {args.warmup} warm-up run(s) of each anchor"
    )
    out.append(f"- whole benchmark: {elapsed / 60:.1f} min wall clock")
    out.append(
        "- peak RSS: max RSS of the measured command's processes (getrusage(RUSAGE_CHILDREN) "
        "in a fresh wrapper per run)"
    )
    for case in cases:
        out += ["", f"## {case.title}", "", table(case), "", commands_block(case)]
        if case.notes:
            out += ["", *(f"Note: {note}" for note in case.notes)]
    if skipped:
        out += ["", "## Skipped", "", *(f"- {line}" for line in skipped)]
    text = "\n".join(out) + "\n"
    print("\n" + text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text, encoding="utf-8")
    print(f"written to {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
