"""What run.py and real_projects.py share: how a run is measured, and how results are written.

Both scripts time commands the same way, so that their numbers can be read side
by side: each measurement runs in a fresh wrapper process (see `WRAPPER`), which
reports wall time, CPU time, the peak RSS of the largest process and the peak
PSS of the whole process tree; the load average is taken just before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

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


class Labelled(Protocol):
    """A variant as the commands block needs it (each script has a Variant class of its own)."""

    @property
    def label(self) -> str: ...

    @property
    def commands(self) -> tuple[Command, ...]: ...


def shown(command: Sequence[str]) -> str:
    """A command as a shell would take it, so that the results can be pasted and rerun."""
    return shlex.join(command)


def size_text(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KiB"


def ratio_text(hit: int, found: int) -> str:
    return f"{hit}/{found} ({100 * hit / found:.1f}%)" if found else "-"


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


def show_variants(cwd: Path, variants: Sequence[Labelled]) -> None:
    """Print what is about to run, before the first run: a long benchmark shows its commands early."""
    print(f"\nin {cwd}:", flush=True)
    for variant in variants:
        print(f"  {variant.label}:", flush=True)
        for command in variant.commands:
            print(f"    {shown(command)}", flush=True)


def commands_block(cwd: Path, variants: Sequence[Labelled]) -> str:
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
