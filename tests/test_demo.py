"""The README's first command, the newcomer's first run: its pytest part on a copy of examples/demo.

Each run is a real `python -m pytest` in a fresh interpreter.  The summary line's numbers
must be coverage.py's own for the same tests (`coverage run -m pytest`, then `coverage
json`, on another copy), the HTML index must be there when genhtml is on PATH, and what
the README and docs/ show of the run (the README's summary line, the `lcov.info` excerpt
of docs/lcov-format.md) must be what the run writes.  Without genhtml the demo must still
pass, write `lcov.info` and say that there is no HTML report.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import coverage_json_files, expected_totals, missing_tool

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
README = REPO / "README.md"
DOCS = REPO / "docs"
DEMO_SECONDS = 20  # the README's promise for the demo's own run
SUMMARY = re.compile(
    r"^LCOV written to lcov\.info: lines (\d+)/(\d+) \([\d.]+%\), functions (\d+)/(\d+) \([\d.]+%\), "
    r"branches (\d+)/(\d+) \([\d.]+%\)$"
)
# Settings from the calling test run that would change what pytest or coverage.py do.
SCRUBBED = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONPATH")


def readme_commands() -> list[str]:
    """The README's set-up block (its first four-space indented lines), as .ci/readme.sh reads it."""
    block: list[str] = []
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("    ") and not line[4:5].isspace():
            block.append(re.sub(r"   *# .*$", "", line[4:]))
        elif block:
            break
    return block


def documentation() -> str:
    """README.md, then every docs/*.md by name: where the README's examples moved to."""
    pages = [README, *sorted(DOCS.glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def demo_pytest_args() -> list[str]:
    """The arguments of the pytest that the README's first command runs in examples/demo."""
    first = readme_commands()[0]
    match = re.search(r"\(cd examples/demo && (pytest [^)]*)\)", first)
    assert match, f"the README's first command runs no pytest in examples/demo: {first}"
    words = shlex.split(match[1])
    return words[1:]


def copy_demo(where: Path) -> Path:
    """A clean copy of examples/demo, without what earlier runs left in it."""
    ignored = shutil.ignore_patterns(
        "htmlcov", "lcov.info", "lcov.desc", ".coverage*", ".pytest_cache", "__pycache__"
    )
    return Path(shutil.copytree(DEMO, where / "demo", ignore=ignored))


def clean_env(path: str | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SCRUBBED and not k.startswith(("COVERAGE_", "PYTEST_XDIST_"))
    }
    env["PY_COLORS"] = "0"
    if path is not None:
        env["PATH"] = path
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    return done, time.monotonic() - started


def summary_numbers(output: str) -> tuple[int, ...]:
    found = [m for line in output.splitlines() if (m := SUMMARY.match(line))]
    assert len(found) == 1, f"not one summary line in:\n{output}"
    return tuple(int(n) for n in found[0].groups())


def function_totals(files: dict[str, Any]) -> tuple[int, int]:
    """Functions found and called, from `coverage json`'s function regions.

    A region holds a function's body lines, so it was called when one of them ran; but a
    one-line function's only line is its `def`, which ran at import: it was called when
    coverage.py saw it return, the arc from its line to minus its line.
    """
    found = called = 0
    for data in files.values():
        for name, region in data["functions"].items():
            if not name:  # the module's own lines
                continue
            found += 1
            lines = region["executed_lines"] + region["missing_lines"]
            arcs = region["executed_branches"] + region["missing_branches"]
            if len(lines) == 1 and [lines[0], -lines[0]] in arcs:  # a one-line function
                ran = [lines[0], -lines[0]] in region["executed_branches"]
            else:
                ran = bool(region["executed_lines"])
            called += ran
    return found, called


def coverage_numbers(tmp_path: Path) -> tuple[int, ...]:
    """The demo's totals by coverage.py alone: `coverage run -m pytest`, then `coverage json`."""
    project = copy_demo(tmp_path / "coverage")
    done, _ = run(
        [sys.executable, "-m", "coverage", "run", "-m", "pytest", "-p", "no:lcov", "-q"], project, clean_env()
    )
    assert done.returncode == 0, done.stdout + done.stderr
    files = coverage_json_files(project)
    lines_found = lines_hit = branches_found = branches_hit = 0
    for data in files.values():
        totals, _ = expected_totals(data)
        lines_found += totals.lines_found
        lines_hit += totals.lines_hit
        branches_found += totals.branches_found
        branches_hit += totals.branches_hit
    functions_found, functions_hit = function_totals(files)
    return (lines_hit, lines_found, functions_hit, functions_found, branches_hit, branches_found)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, float]:
    """The README's demo run on a copy: the copy, pytest's output and how long it took."""
    project = copy_demo(tmp_path_factory.mktemp("readme"))
    done, took = run([sys.executable, "-m", "pytest", *demo_pytest_args()], project, clean_env())
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return project, output, took


def test_the_readme_runs_the_demo_with_branches_and_html() -> None:
    assert readme_commands()[1].endswith("pytest -n auto")
    assert demo_pytest_args() == ["--lcov", "--lcov-branch", "--lcov-html=htmlcov"]


def test_demo_summary_is_coverage_pys_own_numbers(demo_run: tuple[Path, str, float], tmp_path: Path) -> None:
    project, output, took = demo_run
    assert (project / "lcov.info").is_file()
    assert summary_numbers(output) == coverage_numbers(tmp_path)
    assert took < DEMO_SECONDS, f"the demo took {took:.1f} s"
    assert "2 passed" in output


def test_demo_html_report_is_written_when_genhtml_is_there(demo_run: tuple[Path, str, float]) -> None:
    project, output, _ = demo_run
    if shutil.which("genhtml") is None:
        missing_tool("genhtml not found: apt-get install lcov")
    assert "LCOV HTML report in htmlcov/index.html" in output.splitlines()
    assert (project / "htmlcov/index.html").is_file()
    assert (project / "htmlcov/shop/pricing.py.gcov.html").is_file()
    # A clean first run: nothing to warn about, no genhtml complaint.
    assert [line for line in output.splitlines() if line.startswith("pytest-lcov:")] == []
    assert "warnings summary" not in output


def test_readme_shows_what_the_demo_writes(demo_run: tuple[Path, str, float]) -> None:
    """The README's summary line and the docs' lcov.info excerpt are those of a real run."""
    project, output, _ = demo_run
    readme = README.read_text(encoding="utf-8")
    # The first summary line in the README is the demo's ("What it looks like").
    summaries = [line for line in readme.splitlines() if line.startswith("LCOV written to lcov.info:")]
    assert summaries, "no summary line (LCOV written to lcov.info: ...) in the README"
    shown_summary = summaries[0]
    assert shown_summary in output.splitlines()
    excerpt = re.search(r"^```\n(SF:shop/pricing\.py\n.*?)^```$", documentation(), re.M | re.S)
    assert excerpt, "no lcov.info excerpt of shop/pricing.py in the README or docs/*.md"
    record = (project / "lcov.info").read_text(encoding="utf-8").split("SF:shop/pricing.py\n", 1)[1]
    record_lines = ["SF:shop/pricing.py", *record.split("end_of_record\n", 1)[0].splitlines()]
    shown = [line for line in excerpt[1].splitlines() if line != "..."]
    # Each shown line is in the record, in the record's order.
    positions = [record_lines.index(line) if line in record_lines else -1 for line in shown]
    assert -1 not in positions, [line for line, at in zip(shown, positions, strict=True) if at == -1]
    assert positions == sorted(positions)


@pytest.fixture(scope="module")
def run_without_genhtml(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The demo run with a PATH that holds only a link to this Python: no genhtml, as without root."""
    where = tmp_path_factory.mktemp("no-genhtml")
    bin_dir = where / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    project = copy_demo(where)
    done, _ = run([sys.executable, "-m", "pytest", *demo_pytest_args()], project, clean_env(str(bin_dir)))
    return project, done


def test_without_genhtml_the_demo_passes_and_says_there_is_no_html(
    run_without_genhtml: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, done = run_without_genhtml
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert (project / "lcov.info").is_file()
    assert not (project / "htmlcov").exists()
    assert summary_numbers(output)
    lines = output.splitlines()
    assert any(line.startswith("pytest-lcov: no HTML report: 'genhtml' not found") for line in lines), output


def test_without_genhtml_the_demo_says_it_in_one_line(
    run_without_genhtml: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, done = run_without_genhtml
    output = done.stdout + done.stderr
    said = [line for line in output.splitlines() if "no HTML report" in line]
    assert len(said) == 1, "\n".join(said)
    assert "warnings summary" not in output
