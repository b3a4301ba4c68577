"""What the benchmark scripts share: how a run is measured, checked, and how results are written.

The scripts time commands the same way, so that their numbers can be read side
by side: each measurement runs in a fresh wrapper process (see `WRAPPER`), which
reports wall time, CPU time, the peak RSS of the largest process and the peak
PSS of the whole process tree; the load average is taken just before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
Command = tuple[str, ...]

SAMPLE_INTERVAL = 0.05  # seconds between two samples of the process tree's memory

# Run by a fresh interpreter per measurement, so that getrusage(RUSAGE_CHILDREN)
# covers that measurement's commands only.  The wrapper samples, every
# spec["interval"] seconds, the PSS summed over the running command and all its
# descendants: RUSAGE_CHILDREN gives the largest single process only, which
# misses helper processes (pytest-lcov's parsing workers, a suite's own forks).
# The sampling runs in a thread: the main thread waits for each command, so
# that the wall time ends when the command does, not at the next sample.
WRAPPER = r"""
import json, os, resource, subprocess, sys, threading, time
spec = json.loads(sys.argv[1])
PAGE = os.sysconf("SC_PAGE_SIZE")

def memory(pid):
    # PSS: a page shared by n processes (a forked child's copy-on-write pages) counts 1/n in each.
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0

def tree_memory(root):
    # Sum of PSS over `root` and all its descendants, read from /proc.
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parents[int(name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
    children = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        total += memory(pid)
    return total

def watch(pid, done):
    # In a thread, so that the main thread's wait() sees the command's end at once.
    global peak
    while True:
        peak = max(peak, tree_memory(pid))
        if done.wait(spec["interval"]):
            return

peak = wall = 0
with open(spec["log"], "w") as log:
    for command in spec["commands"]:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=spec["cwd"], stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()
        watcher = threading.Thread(target=watch, args=(proc.pid, done))
        watcher.start()
        proc.wait()
        wall += time.perf_counter() - start
        done.set()
        watcher.join()
        if proc.returncode:
            print(json.dumps({"error": proc.returncode, "command": command}))
            sys.exit(0)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
    "maxrss_kib": usage.ru_maxrss, "tree_kib": peak // 1024,
}))
"""


class BenchmarkError(Exception):
    """A benchmark cannot go on (a command failed, an output is missing): the scripts stop and say why."""


@dataclass(frozen=True)
class Sample:
    """One timed run, as `measure` saw it from outside."""

    wall: float
    cpu: float
    maxrss_kib: int  # the largest process (getrusage(RUSAGE_CHILDREN).ru_maxrss)
    tree_kib: int  # the peak of the PSS summed over the command's process tree
    load: float  # 1-minute load average just before the run: the machine may be shared
    phase: float | None = None  # run.py case e: seconds from the last test's end to the tracefile written


@dataclass(frozen=True)
class Variant:
    """One thing to time: commands run in sequence (in the case's folder), and the tracefile they leave."""

    label: str
    commands: tuple[Command, ...]
    output: str | None = None  # the tracefile, relative to the case's folder
    key: str = ""  # a short name for logs and --variants (default: the label, slugged)
    cleanup: tuple[str, ...] = ()  # glob patterns of files or folders removed before each run
    prime: bool = False  # run once, untimed, before the timed runs (fills a cache it keeps)
    timing: str | None = None  # run.py case e: benchtiming's file (relative to the folder)
    env: tuple[tuple[str, str], ...] = ()  # set for this variant's commands
    ours: bool = False  # written by pytest-lcov: compared with the anchor's totals (real_projects.py)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", slug(self.label))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def shown(command: Sequence[str]) -> str:
    """A command as a shell would take it, so that the results can be pasted and rerun."""
    return shlex.join(command)


def size_text(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KiB"


def ratio_text(hit: int, found: int) -> str:
    return f"{hit}/{found} ({100 * hit / found:.1f}%)" if found else "-"


def run(command: Sequence[str], cwd: Path | None = None, quiet: bool = False, note: str = "") -> None:
    """Run a set-up command (not a measured one), shown first; stop on failure. `quiet`: keep its output."""
    print(f"$ {shown(command)}" + (f" {note}" if note else ""), flush=True)
    subprocess.run(command, cwd=cwd, check=True, capture_output=quiet)


def pytest_summary(log: str, timed: bool = True) -> str:
    """pytest's last summary line in a log ("12 passed, 1 skipped in 3.4s"), or "".

    `timed`: with its time, else without (to compare runs).
    """
    found = [line.strip("= ") for line in log.splitlines() if re.search(r"\d+ passed", line)]
    if not found:
        return ""
    return found[-1] if timed else re.sub(r"\s+in\s+[\d.]+s.*$", "", found[-1])


def child_env(bin_dir: Path) -> dict[str, str]:
    """The environment of every measured command: nothing from the caller's that changes what is measured.

    Coverage, pytest and Hypothesis settings, an outer PYTHONPATH or virtual
    environment would all change what runs; `bin_dir` (the measured tools)
    comes first on PATH.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COVERAGE_", "PYTEST_", "HYPOTHESIS_"))
        and key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def measure(python: str, commands: Sequence[Command], cwd: Path, log: Path, env: Mapping[str, str]) -> Sample:
    """Run `commands` in a fresh wrapper (`python`, with `env`); wall, CPU, peak RSS and tree PSS."""
    load = os.getloadavg()[0]
    spec = json.dumps(
        {
            "commands": [list(c) for c in commands],
            "cwd": str(cwd),
            "log": str(log),
            "interval": SAMPLE_INTERVAL,
        }
    )
    done = subprocess.run(
        [python, "-c", WRAPPER, spec], capture_output=True, text=True, env=dict(env), check=False
    )
    if done.returncode != 0:
        raise BenchmarkError(f"wrapper failed ({done.returncode}): {done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in result:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        raise BenchmarkError(
            f"exit code {result['error']} from: {shown(result['command'])}\n(log {log}, last lines:)\n{tail}"
        )
    return Sample(
        float(result["wall"]), float(result["cpu"]), int(result["maxrss_kib"]), int(result["tree_kib"]), load
    )


def sample_text(sample: Sample) -> str:
    """One run's numbers, for the progress lines both scripts print."""
    return (
        f"{sample.wall:.2f} s wall, {sample.cpu:.2f} s CPU, {sample.maxrss_kib / 1024:.0f} MiB largest "
        f"process, {sample.tree_kib / 1024:.0f} MiB tree PSS (load {sample.load:.2f})"
    )


def show_variants(cwd: Path, variants: Sequence[Variant]) -> None:
    """Print what is about to run, before the first run: a long benchmark shows its commands early."""
    print(f"\nin {cwd}:", flush=True)
    for variant in variants:
        print(f"  {variant.label}:", flush=True)
        for command in variant.commands:
            print(f"    {shown(command)}", flush=True)


def commands_block(cwd: Path, variants: Sequence[Variant]) -> str:
    """The exact commands of a table, in Markdown, so that each number can be reproduced."""
    out = [f"Commands (run in `{cwd}`):", "", "```sh"]
    for variant in variants:
        out.append(f"# {variant.label}")
        out.extend(shown(command) for command in variant.commands)
    out.append("```")
    return "\n".join(out)


def rotated(items: Sequence[T], round_number: int) -> list[T]:
    """The variants in this round's order: rotated each round, so that no variant always runs first."""
    shift = round_number % len(items)
    return [*items[shift:], *items[:shift]]


def package_state(checkout: Path) -> str:
    """Which pytest-lcov is measured: git HEAD, whether pytest_lcov/ differs from it, a hash of its code.

    The hash tells apart two runs of the same commit with different uncommitted
    changes; the scripts compare it before and after a run, to see a change
    made during a long benchmark.
    """
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "pytest_lcov"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    digest = hashlib.sha256()
    for path in sorted((checkout / "pytest_lcov").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    code = f"pytest_lcov/*.py sha256 {digest.hexdigest()[:12]}"
    if head.returncode != 0:
        return f"not a git checkout, {code}"
    state = "modified working tree" if dirty.stdout.strip() else "clean"
    return f"git {head.stdout.strip()} ({state}), {code}"


def add_run_arguments(parser: argparse.ArgumentParser, projects: str) -> None:
    """--projects, --repeat and --warmup, as the scripts that time whole test suites take them."""
    parser.add_argument("--projects", default=projects, help="comma-separated (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per variant (default %(default)s)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs per variant first (default %(default)s)"
    )


def same_file(path: Path, ours: Iterable[Path]) -> Path:
    """The file among `ours` that `path` names under another folder ([paths]: site-packages -> src).

    A tracefile names a file as `[tool.coverage.paths]` remapped it (click's
    src/click/core.py); what ran it names the measured path (site-packages).
    The file is the one of ours that shares the longest tail of path parts
    with it, when only one does; `path` itself when none does.
    """
    if path in ours:
        return path

    def shared_tail(other: Path) -> int:
        count = 0
        for mine, theirs in zip(reversed(path.parts), reversed(other.parts), strict=False):
            if mine != theirs:
                break
            count += 1
        return count

    scored = sorted(((shared_tail(other), str(other)) for other in ours), reverse=True)
    if scored and scored[0][0] >= 2 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return Path(scored[0][1])
    return path


def measure_variant(python: str, variant: Variant, cwd: Path, log: Path, env: Mapping[str, str]) -> Sample:
    """`measure` of a variant's commands, with its own environment variables over `env`."""
    return measure(python, variant.commands, cwd, log, {**env, **dict(variant.env)})


# --- outputs: cleaning up before a run, reading and checking what it wrote -----------------------


def companions(output: str) -> tuple[str, str]:
    """The per-test file and the description file that per-test data writes beside `output`."""
    path = Path(output)
    return str(path.with_name(path.stem + ".tests.info")), str(path.with_suffix(".desc"))


def prepare(cwd: Path, variant: Variant) -> None:
    """Remove what an earlier run left that this one must not find: its outputs, a cold cache."""
    names = list(variant.cleanup)
    if variant.timing:
        names.append(variant.timing)
    if variant.output:
        names += [variant.output, *companions(variant.output)]
        (cwd / variant.output).parent.mkdir(parents=True, exist_ok=True)
    for pattern in names:
        for path in cwd.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


@dataclass(frozen=True)
class TraceTotals:
    """A tracefile's totals, with each source file's sections added up (as ``lcov -a`` does)."""

    tests: int  # TN lines: more than one in a tracefile means per-test sections
    sections: int  # SF sections
    lines: tuple[int, int]  # hit, found
    functions: tuple[int, int]  # hit, found, as the FNH/FNF lines say (summed, never merged)
    branches: tuple[int, int]  # hit, found
    exception_lines: int  # pytest-lcov's extra branch for lines whose every run raised

    @property
    def merged(self) -> tuple[int, int, int, int]:
        """Lines hit, lines found, branches hit, branches found."""
        return (*self.lines, *self.branches)

    @property
    def counted(self) -> tuple[int, int, int, int]:
        """`merged` less pytest-lcov's raising-line branches: what coverage.py's own report gives."""
        extra = self.exception_lines
        return (*self.lines, self.branches[0] - extra, self.branches[1] - extra)


def trace_totals(path: Path) -> TraceTotals:
    """Totals of a tracefile; a file with repeated ``SF`` sections is added up line by line first.

    Branches are matched by (file, line, block, branch), which is exact for
    numeric ids; a file that names each source once is read from its
    LF/LH/BRF/BRH lines instead, so text branch ids (coverage.py's) never
    need matching.
    """
    lines: dict[tuple[str, int], bool] = {}
    branches: dict[tuple[str, str, str, str], bool] = {}
    exceptions: set[tuple[str, str]] = set()
    declared = dict.fromkeys(("LH", "LF", "FNH", "FNF", "BRH", "BRF"), 0)
    sources: set[str] = set()
    tests = sections = 0
    source = ""
    with path.open(encoding="utf-8", errors="replace") as text:
        for raw in text:
            key, _, value = raw.rstrip("\n").partition(":")
            if key == "DA":
                number, count = value.split(",")[:2]
                line_key = (source, int(number))
                lines[line_key] = lines.get(line_key, False) or count != "0"
            elif key == "BRDA":
                parts = value.split(",")
                line, block, taken = parts[0], parts[1], parts[-1]
                branch_key = (source, line, block, ",".join(parts[2:-1]))
                branches[branch_key] = branches.get(branch_key, False) or taken not in ("0", "-")
                if block != "0":  # pytest-lcov's exception branch: a block of its own (compat), e0 (lcov2)
                    exceptions.add((source, line))
            elif key in declared:
                declared[key] += int(value)
            elif key == "SF":
                source = value
                sources.add(value)
                sections += 1
            elif key == "TN":
                tests += 1
    if sections == len(sources):
        merged = ((declared["LH"], declared["LF"]), (declared["BRH"], declared["BRF"]))
    else:
        merged = ((sum(lines.values()), len(lines)), (sum(branches.values()), len(branches)))
    functions = (declared["FNH"], declared["FNF"])
    return TraceTotals(tests, sections, merged[0], functions, merged[1], len(exceptions))


@dataclass(frozen=True)
class Output:
    """What a variant's run wrote, as `check_output` found it."""

    size: str  # the tracefile's size, and its companions' ("1.2 MiB + 3.4 MiB tests.info + 2 KiB desc")
    totals: TraceTotals  # the tracefile's
    tests: TraceTotals | None  # the per-test file beside it, when one was written


def check_output(
    cwd: Path, variant: Variant, earlier: Output | None = None, dotted: bool = False
) -> Output | None:
    """Check what a run wrote: its tracefile, a per-test file that adds up to it, the same totals as before.

    Raises BenchmarkError when the tracefile is missing or empty, when a
    per-test file beside it does not add up to it, or when its totals differ
    from the `earlier` run's of the same variant.  `dotted`: companions are
    named ".tests.info" and ".desc" in the size text, else "tests.info" and "desc".
    """
    if variant.output is None:
        return None
    path = cwd / variant.output
    if not path.is_file() or path.stat().st_size == 0:
        raise BenchmarkError(f"{variant.label}: no tracefile {path} written")
    totals = trace_totals(path)
    size, tests = size_text(path.stat().st_size), None
    for name in companions(variant.output):
        companion = cwd / name
        if not companion.is_file():
            continue
        suffix = companion.name[len(path.stem) + (0 if dotted else 1) :]
        size += f" + {size_text(companion.stat().st_size)} {suffix}"
        if name.endswith(".tests.info"):  # per-test sections: they must add up to the tracefile
            tests = trace_totals(companion)
            if tests.merged != totals.merged:
                raise BenchmarkError(f"{companion} adds up to {tests.merged}, {path} to {totals.merged}")
    if earlier is not None and earlier.totals.merged != totals.merged:
        raise BenchmarkError(
            f"{variant.label}: totals changed between runs: {earlier.totals.merged} then {totals.merged}"
        )
    return Output(size, totals, tests)


def disagreement(label: str, mine: Output | None, against: str, theirs: Output | None) -> str | None:
    """Why two variants' tracefiles do not hold the same lines and branches; None when they do (or lack one).

    pytest-lcov's raising-line branches are set aside (see the main README):
    the rest must be coverage.py's.
    """
    if mine is None or theirs is None or mine.totals.counted == theirs.totals.counted:
        return None
    return (
        f"{label}: lines and branches {mine.totals.counted} differ from {against}'s {theirs.totals.counted} "
        "(lines hit, found, branches hit, found; raising-line branches set aside)"
    )


# --- the tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One variant's line in a table: its timed runs, the anchor's, what it wrote."""

    variant: Variant
    samples: Sequence[Sample]
    anchor: Sequence[Sample]  # the anchor's runs, which the ratios are against
    is_anchor: bool
    output: Output | None = None

    def median(self, value: Callable[[Sample], float | None], of_anchor: bool = False) -> float:
        """The median of one number over the variant's timed runs (or the anchor's)."""
        numbers = [n for n in map(value, self.anchor if of_anchor else self.samples) if n is not None]
        return statistics.median(numbers)

    def ratio(self, value: Callable[[Sample], float | None]) -> float:
        return self.median(value) / self.median(value, of_anchor=True)


@dataclass(frozen=True)
class Column:
    title: str
    cell: Callable[[Row], str]
    align: str = "---:"


def table(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """A Markdown table: one line a row, one cell a column."""
    lines = [
        "| " + " | ".join(column.title for column in columns) + " |",
        "| " + " | ".join(column.align for column in columns) + " |",
    ]
    lines += ["| " + " | ".join(column.cell(row) for column in columns) + " |" for row in rows]
    return "\n".join(lines)


def wall(sample: Sample) -> float:
    return sample.wall


def cpu(sample: Sample) -> float:
    return sample.cpu


def rss(sample: Sample) -> float:
    return sample.maxrss_kib


def tree(sample: Sample) -> float:
    return sample.tree_kib


def timing_columns(
    *,
    wall_title: str = "median wall",
    ratio_title: str = "x anchor",
    bold_ratio: bool = False,
    cpu_title: str = "median CPU",
    rss_title: str = "peak RSS",
    rss_ratio: str | None = "RSS x anchor",
    tree_title: str | None = "tree PSS",
    tree_ratio: str | None = None,
    mark_anchor: bool = True,
) -> list[Column]:
    """The variant's name, then its wall time (median, range, x anchor), CPU time and peak memory.

    The titles are the scripts' own; a None title leaves its column out.
    """

    def name(row: Row) -> str:
        return f"**{row.variant.label}** (anchor)" if mark_anchor and row.is_anchor else row.variant.label

    def wall_range(row: Row) -> str:
        return f"{min(s.wall for s in row.samples):.2f} - {max(s.wall for s in row.samples):.2f} s"

    def ratio(row: Row) -> str:
        return f"**{row.ratio(wall):.2f}**" if bold_ratio else f"{row.ratio(wall):.2f}"

    columns = [
        Column("variant", name, "---"),
        Column(wall_title, lambda row: f"{row.median(wall):.2f} s"),
        Column("min - max", wall_range),
        Column(ratio_title, ratio),
        Column(cpu_title, lambda row: f"{row.median(cpu):.2f} s"),
        Column(rss_title, lambda row: f"{row.median(rss) / 1024:.0f} MiB"),
    ]
    if rss_ratio is not None:
        columns.append(Column(rss_ratio, lambda row: f"{row.ratio(rss):.2f}"))
    if tree_title is not None:
        columns.append(Column(tree_title, lambda row: f"{row.median(tree) / 1024:.0f} MiB"))
    if tree_ratio is not None:
        columns.append(Column(tree_ratio, lambda row: f"{row.ratio(tree):.2f}"))
    return columns


def load_column(title: str = "load (1 min)") -> Column:
    """The 1-minute load average before the variant's runs, min - max: the machine may be shared."""
    return Column(
        title, lambda row: f"{min(s.load for s in row.samples):.2f} - {max(s.load for s in row.samples):.2f}"
    )


def output_columns(*, raising: bool, output_align: str = "---:") -> list[Column]:
    """The output's size, and its lines and branches hit/found ("-" for a variant that writes none).

    `raising`: pytest-lcov's raising-line branches are shown apart ("+ N
    raising"); else the branches as the tracefile counts them, and a tracefile
    with per-test sections (an earlier pytest-lcov's) says how many instead.
    """

    def lines(row: Row) -> str:
        if row.output is None:
            return "-"
        totals = row.output.totals
        if not raising and totals.tests > 1:
            return f"{totals.tests} TN sections"
        return ratio_text(*totals.lines)

    def branches(row: Row) -> str:
        if row.output is None:
            return "-"
        totals = row.output.totals
        if not raising:
            return "-" if totals.tests > 1 else ratio_text(*totals.branches)
        extra = totals.exception_lines
        text = ratio_text(totals.branches[0] - extra, totals.branches[1] - extra)
        return text + (f" + {extra} raising" if extra else "")

    return [
        Column("output", lambda row: row.output.size if row.output else "-", output_align),
        Column("lines hit/found", lines),
        Column("branches hit/found", branches),
    ]
