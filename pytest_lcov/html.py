"""genhtml, the classic LCOV HTML report, run on the tracefile just written."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "install lcov (Debian/Ubuntu: apt-get install lcov; macOS: brew install lcov)"


class HtmlError(Exception):
    """genhtml is missing or failed; the message is one line for the user."""


@dataclass(frozen=True)
class Genhtml:
    """A genhtml found on this machine, and its major version."""

    command: tuple[str, ...]
    major: int


def find_genhtml(command: str = "genhtml") -> Genhtml:
    """Locate genhtml (`command` may carry arguments) and ask its version."""
    words = shlex.split(command) or ["genhtml"]
    executable = shutil.which(words[0])
    if executable is None:
        raise HtmlError(f"pytest-lcov: no HTML report: {words[0]!r} not found: {INSTALL_HINT}")
    try:
        version = subprocess.run(
            [executable, *words[1:], "--version"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise HtmlError(f"pytest-lcov: no HTML report: cannot run {executable}: {exc}") from None
    match = re.search(r"LCOV version (\d+)\.", version)
    if match is None:
        raise HtmlError(f"pytest-lcov: no HTML report: {executable} is not lcov's genhtml")
    return Genhtml((executable, *words[1:]), int(match[1]))


def genhtml_arguments(
    genhtml: Genhtml,
    tracefile: Path,
    out_dir: Path,
    title: str,
    description_file: Path | None,
    absolute_root: Path | None,
) -> list[str]:
    """The command line for the genhtml found.

    Branch and function tables are on; lcov 1.x needs its rc switch for
    branches in older releases, 2.x its own flag.  Per-test data gets the
    detailed views with the tests' descriptions.
    """
    args = [*genhtml.command, "--quiet", "--title", title, "--output-directory", str(out_dir)]
    if genhtml.major < 2:
        args += ["--rc", "genhtml_branch_coverage=1", "--rc", "genhtml_function_coverage=1"]
    else:
        args += ["--branch-coverage", "--function-coverage"]
    if description_file is not None:
        args += ["--show-details", "--description-file", str(description_file)]
    if absolute_root is not None:
        args += ["--prefix", str(absolute_root)]
    return [*args, str(tracefile)]


def without_path_prefix(text: str, prefix: str) -> str:
    """The tracefile with `prefix` taken off its SF: paths, so genhtml finds the sources."""
    return "".join(
        "SF:" + line[3 + len(prefix) :] if line.startswith("SF:" + prefix) else line
        for line in text.splitlines(keepends=True)
    )


def write_html(
    genhtml: Genhtml,
    tracefile: Path,
    out_dir: Path,
    rootdir: Path,
    title: str,
    description_file: Path | None = None,
    path_prefix: str = "",
    absolute: bool = False,
) -> list[str]:
    """Run genhtml from the rootdir (the SF: paths are relative to it).

    Returns genhtml's ERROR/WARNING lines; raises HtmlError when it fails.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pytest-lcov-html-") as scratch:
        source = tracefile
        if path_prefix:
            source = Path(scratch) / "lcov.info"
            source.write_text(without_path_prefix(tracefile.read_text(encoding="utf-8"), path_prefix))
        args = genhtml_arguments(
            genhtml, source, out_dir, title, description_file, rootdir if absolute else None
        )
        try:
            result = subprocess.run(args, cwd=rootdir, capture_output=True, text=True, timeout=3600)
        except (OSError, subprocess.SubprocessError) as exc:
            raise HtmlError(f"pytest-lcov: genhtml did not run: {exc}") from None
    output = (result.stdout + result.stderr).splitlines()
    complaints = [line.strip() for line in output if re.search(r"\b(ERROR|WARNING)\b", line)]
    if result.returncode != 0:
        detail = complaints[0] if complaints else (output[-1].strip() if output else "no output")
        raise HtmlError(f"pytest-lcov: genhtml failed (exit {result.returncode}): {detail}")
    return complaints
