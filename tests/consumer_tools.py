"""The LCOV consumers besides lcov itself, as real programs: what each reads from a tracefile.

npm's ``lcov-parse`` and ``lcov-result-merger`` and PyPI's ``diff-cover`` and
``lcov_cobertura`` are installed, pinned, by ``.ci/install-consumers`` into
``$PYTEST_LCOV_CONSUMERS`` (``node/`` and ``venv/``), outside the project's
virtual environments.  A missing consumer skips the test with the command that
installs it, except under ``CI=true``, where a skip would hide a failure: there
it fails (as ``tests.lcov_tools.require`` does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, NoReturn

from pytest_lcov.model import Totals
from tests.helpers import missing_tool

INSTALL_HINT = (
    "run `bash .ci/install-consumers` to install npm's lcov-parse and lcov-result-merger, "
    "and diff-cover and lcov_cobertura"
)
# Read at import: pytester points HOME at a temporary folder while a test runs.
CONSUMERS_ROOT = Path(os.environ.get("PYTEST_LCOV_CONSUMERS", Path.home() / ".cache/pytest-lcov/consumers"))
LCOV_PARSE_JS = Path(__file__).with_name("consumers") / "lcov_parse.js"


def _missing(what: str) -> NoReturn:
    missing_tool(f"{what} not found in {CONSUMERS_ROOT}: {INSTALL_HINT}")


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"
    return result


def _node_package(name: str) -> Path:
    prefix = CONSUMERS_ROOT / "node"
    if shutil.which("node") is None or not (prefix / "node_modules" / name / "package.json").exists():
        _missing(f"npm's {name}")
    return prefix


def venv_tool(name: str) -> Path:
    tool = CONSUMERS_ROOT / "venv/bin" / name
    if not tool.exists():
        _missing(name)
    return tool


def require(consumer: str) -> None:
    """Skip (fail under CI) now, before any work, unless `consumer` is installed."""
    if consumer in ("lcov-parse", "lcov-result-merger"):
        _node_package(consumer)
    else:
        venv_tool(consumer)


def lcov_parse(tracefile: Path) -> list[dict[str, Any]]:
    """npm lcov-parse's result for `tracefile`: one entry per section, as the library returns it."""
    prefix = _node_package("lcov-parse")
    result = _run(["node", str(LCOV_PARSE_JS), str(prefix), str(tracefile)], cwd=tracefile.parent)
    sections: list[dict[str, Any]] = json.loads(result.stdout)
    return sections


def lcov_result_merger(inputs: list[Path], output: Path) -> str:
    """Merge `inputs` (one folder, matched by its glob) with npm's lcov-result-merger; its output text."""
    prefix = _node_package("lcov-result-merger")
    [folder] = {path.parent for path in inputs}
    assert sorted(folder.glob("*.info")) == sorted(inputs), "the merger reads every *.info of the folder"
    _run([str(prefix / "node_modules/.bin/lcov-result-merger"), "*.info", str(output)], cwd=folder)
    return output.read_text(encoding="utf-8")


def lcov_cobertura(tracefile: Path, output: Path) -> ET.Element:
    """Convert with lcov_cobertura (paths read relative to the tracefile's folder); the XML's root."""
    tool = venv_tool("lcov_cobertura")
    _run([str(tool), str(tracefile), "--base-dir", ".", "--output", str(output)], cwd=tracefile.parent)
    return ET.parse(output).getroot()


def diff_cover(tracefile: Path, repo: Path, compare_branch: str) -> dict[str, Any]:
    """diff-cover's JSON report of `tracefile` for the changes in `repo` since `compare_branch`."""
    tool = venv_tool("diff-cover")
    report = repo / "diff-cover.json"
    _run(
        [str(tool), str(tracefile), f"--compare-branch={compare_branch}", f"--format=json:{report}"],
        cwd=repo,
    )
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return data


SUMMARY_LINE = re.compile(
    r"^\s+(lines|functions|branches)\.+: (?:[\d.]+% \((\d+) of (\d+) \w+\)|no data found)"
)


def summary_counts(output: str) -> Totals:
    """The hit and found counts `lcov --summary` (1.x or 2.x) printed; "no data found" is 0 of 0."""
    counts: dict[str, tuple[int, int]] = {}
    for line in output.splitlines():
        if match := SUMMARY_LINE.match(line):
            hit, found = match[2], match[3]
            counts[match[1]] = (int(hit), int(found)) if hit is not None else (0, 0)
    assert sorted(counts) == ["branches", "functions", "lines"], output
    return Totals(
        lines_found=counts["lines"][1],
        lines_hit=counts["lines"][0],
        functions_found=counts["functions"][1],
        functions_hit=counts["functions"][0],
        branches_found=counts["branches"][1],
        branches_hit=counts["branches"][0],
    )
