"""Every shape of file the plugin writes, fed to the real LCOV consumers: what each reads.

Each file comes from a real `pytest --lcov ...` session over the sample project
(tests/sample_project.py); each consumer's numbers are compared with coverage.py's
own JSON report of the same tests, with LCOV's documented extra branch for each
line whose every run raised (flow.py line 48: `expected_totals`).  The consumers:
`lcov --summary` of lcov 1.16 and 2.3.1 (genhtml is checked on every file by
test_sample_project.py), npm's lcov-parse and lcov-result-merger, diff-cover and
lcov_cobertura (tests/consumer_tools.py).  The `lcov2` dialect is for lcov 2.x
only: where another consumer misreads it, the test states how, so that the
README's table stays true and a consumer that changes is noticed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coverage
import coverage.python
import coverage.regions
import pytest

from pytest_lcov.model import Totals
from pytest_lcov.tracefile import LcovParseError, parse
from tests.consumer_tools import (
    diff_cover,
    lcov_cobertura,
    lcov_parse,
    lcov_result_merger,
    require,
    summary_counts,
)
from tests.helpers import (
    QUIET_PLUGINS,
    coverage_json_files,
    expected_totals,
    git,
    run_pytest,
    session_env,
)
from tests.lcov_tools import LcovTools
from tests.sample_project import write_sample_project


@dataclass(frozen=True)
class Shape:
    args: tuple[str, ...]
    branch: bool


SHAPES = {
    "compat": Shape(("--lcov",), branch=False),  # the default: one section, compat dialect
    "branch": Shape(("--lcov", "--lcov-branch"), branch=True),  # holds the always-raising line
    "checksums": Shape(("--lcov", "--lcov-branch", "--lcov-checksums"), branch=True),
    "per-test": Shape(("--lcov", "--lcov-branch", "--lcov-per-test"), branch=True),
    "lcov2": Shape(("--lcov", "--lcov-branch", "--lcov-format=lcov2"), branch=True),
}
# The shapes every consumer here must read right; `lcov2` is for lcov 2.x.
COMPAT_SHAPES = ["compat", "branch", "checksums", "per-test"]
RAISING = ("app/flow.py", 48)  # `if d["missing"]:` raised every time it ran
ONE_LINE_DEF = re.compile(r"\s*(async\s+)?def\s.*:\s*\S")  # `def f(): return 1`


# --- what coverage.py says ---------------------------------------------------------------------


def excluded(reference: Reference, path: str) -> set[int]:
    return set(reference.files[path]["excluded_lines"])


@dataclass(frozen=True)
class Reference:
    """coverage.py's JSON report of the sample's tests, run with branch measurement."""

    files: dict[str, Any]
    root: Path

    def functions(self, path: str, branch: bool) -> tuple[int, int, int]:
        """(found, hit, one-line functions) that the file's functions imply for LCOV.

        coverage.py's function regions with statements; a function is hit when one of
        its statements ran, except a one-line function, whose only statement is its
        `def` (run at import): called when coverage.py recorded its return arc, and
        not a function record at all without branch data (see the README).  The
        regions come from coverage.py's region finder, with the JSON report's lines:
        before 7.11 the JSON report's own function table keeps one of two functions
        of the same name (a property's getter and setter).
        """
        text = coverage.python.get_python_source(str(self.root / path))
        source = text.splitlines()
        data = self.files[path]
        executed, missing = set(data["executed_lines"]) - excluded(self, path), set(data["missing_lines"])
        taken = {tuple(arc) for arc in data.get("executed_branches", [])}
        found = hit = one_liners = 0
        for region in coverage.regions.code_regions(text):
            statements = sorted(region.lines & (executed | missing))
            if region.kind != "function" or not statements:  # a `# pragma: no cover` function
                continue
            if len(statements) == 1 and ONE_LINE_DEF.match(source[statements[0] - 1]):
                if not branch:
                    continue
                one_liners += 1
                called = (statements[0], -statements[0]) in taken
            else:
                called = bool(region.lines & executed)
            found += 1
            hit += called
        return found, hit, one_liners

    def file_totals(self, path: str, branch: bool) -> Totals:
        totals, _ = expected_totals(self.files[path])
        found, hit, _ = self.functions(path, branch)
        totals.functions_found, totals.functions_hit = found, hit
        if not branch:
            totals.branches_found = totals.branches_hit = 0
        return totals

    def totals(self, branch: bool) -> Totals:
        total = Totals()
        for path in self.files:
            total += self.file_totals(path, branch)
        return total

    def raised_lines(self) -> int:
        """Branch lines whose every run raised: each has LCOV's exception branch."""
        return sum(expected_totals(data)[1] for data in self.files.values())

    def one_line_functions(self) -> int:
        return sum(self.functions(path, branch=True)[2] for path in self.files)

    def raising_branches(self) -> list[int]:
        """The taken counts of the always-raising line's LCOV branches: its arcs, never
        taken, then the exception branch, taken."""
        path, line = RAISING
        arcs = [arc for arc in self.files[path]["missing_branches"] if arc[0] == line]
        assert not [arc for arc in self.files[path]["executed_branches"] if arc[0] == line]
        return [0] * len(arcs) + [1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    folder = tmp_path_factory.mktemp("coverage-py")
    write_sample_project(folder)
    command = [sys.executable, "-m", "coverage", "run", "--branch", "-m", "pytest", *QUIET_PLUGINS]
    run = subprocess.run(
        [*command, "-p", "no:lcov", "-p", "no:cacheprovider", "-q"],
        cwd=folder,
        env=session_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return Reference(coverage_json_files(folder), folder)


class Sessions:
    """Real `pytest --lcov ...` sessions over the sample project, one folder each, run once per module."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.tracefiles: dict[str, Path] = {}

    def tracefile(self, name: str, *args: str) -> Path:
        """The file `--lcov` named, from a session with `args` (SHAPES[name]'s by default)."""
        if name not in self.tracefiles:
            folder = self.base / name
            write_sample_project(folder)
            command = [sys.executable, "-m", "pytest", *QUIET_PLUGINS, "-p", "no:cacheprovider"]
            result = subprocess.run(
                [*command, *(args or SHAPES[name].args)],
                cwd=folder,
                env=session_env(folder),
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert "LCOV written to lcov.info" in result.stdout, result.stdout
            self.tracefiles[name] = folder / "lcov.info"
        return self.tracefiles[name]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Sessions:
    return Sessions(tmp_path_factory.mktemp("sessions"))


def assert_one_section_per_file(tracefile: Path) -> None:
    paths = [parsed.record.path for parsed in parse(tracefile.read_text(encoding="utf-8"))]
    repeated = sorted({path for path in paths if paths.count(path) > 1})
    assert not repeated, (
        f"{tracefile.name}: {len(paths)} sections for {len(set(paths))} files; repeated: {repeated}"
    )


def line_counts(text: str) -> dict[str, dict[int, int]]:
    """DA counts by file, added up over the file's sections."""
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for parsed in parse(text):
        file_counts = counts[parsed.record.path]
        for line, count in parsed.record.lines.items():
            file_counts[line] = file_counts.get(line, 0) + count
    return counts


def test_reference_functions_match_a_count_by_hand(reference: Reference) -> None:
    # From the sample's sources (see test_sample_project's table): decorators.py 6 functions,
    # never_called and one_liner_uncalled not called; shapes.py 6, Unused.method not called;
    # flow.py 6, all called; never_imported.py 1, not called; legacy.py 1; "my module, v2.py" 1.
    # Without branch data the two one-line functions (one called) have no record.
    branch, lines_only = reference.totals(branch=True), reference.totals(branch=False)
    assert (branch.functions_found, branch.functions_hit) == (21, 17)
    assert (lines_only.functions_found, lines_only.functions_hit) == (19, 16)
    assert reference.one_line_functions() == 2
    assert reference.raised_lines() == 1
    assert reference.raising_branches() == [0, 0, 1]  # `if` has two ways out, plus the exception


# --- lcov --summary, 1.16 and 2.3.1 -------------------------------------------------------------


def lcov_summary(lcov: LcovTools, tracefile: Path) -> Totals:
    branch = ["--rc", "lcov_branch_coverage=1"] if lcov.major == 1 else ["--branch-coverage"]
    result = lcov.run("lcov", "--summary", tracefile, *branch, cwd=tracefile.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    return summary_counts(result.stdout + result.stderr)


@pytest.mark.parametrize("shape", COMPAT_SHAPES)
def test_lcov_summary_counts_what_coverage_py_counts(
    sessions: Sessions, reference: Reference, lcov: LcovTools, shape: str, tmp_path: Path
) -> None:
    tracefile = sessions.tracefile(shape)
    assert lcov_summary(lcov, tracefile) == reference.totals(SHAPES[shape].branch)
    if shape == "per-test":  # test_sample_project.py runs genhtml on the other shapes
        lcov.genhtml(tracefile, tmp_path / "html", cwd=tracefile.parent)
    assert_one_section_per_file(tracefile)


def test_lcov2_summary_reads_the_lcov2_dialect(
    sessions: Sessions, reference: Reference, lcov2: LcovTools
) -> None:
    assert lcov_summary(lcov2, sessions.tracefile("lcov2")) == reference.totals(branch=True)


def test_lcov1_misreads_the_lcov2_dialect(sessions: Sessions, reference: Reference, lcov1: LcovTools) -> None:
    expected = reference.totals(branch=True)
    read = lcov_summary(lcov1, sessions.tracefile("lcov2"))
    # `FN:start,end,name` is read as a function named `end`, never called; each FNDA name
    # becomes a function of its own; branches with text ids are dropped.
    with_end_line = expected.functions_found - reference.one_line_functions()
    assert read == Totals(
        lines_found=expected.lines_found,
        lines_hit=expected.lines_hit,
        functions_found=expected.functions_found + with_end_line,
        functions_hit=expected.functions_hit,
    )


# --- npm lcov-parse ------------------------------------------------------------------------------


def lcov_parse_totals(sections: list[dict[str, Any]], *, details: bool) -> Totals:
    """Its found/hit, added over sections: as its summary fields say, or counted from its details."""
    total = Totals()
    for section in sections:
        if details:
            lines, functions, branches = (
                section[kind]["details"] for kind in ("lines", "functions", "branches")
            )
            total += Totals(
                len(lines),
                sum(1 for d in lines if d["hit"] > 0),
                len(functions),
                sum(1 for d in functions if d.get("hit", 0) > 0),
                len(branches),
                sum(1 for d in branches if d["taken"] > 0),
            )
        else:
            total += Totals(
                *(
                    section[kind][key]
                    for kind in ("lines", "functions", "branches")
                    for key in ("found", "hit")
                )
            )
    return total


@pytest.mark.parametrize("shape", COMPAT_SHAPES)
def test_lcov_parse_reads_what_coverage_py_counts(
    sessions: Sessions, reference: Reference, shape: str
) -> None:
    tracefile = sessions.tracefile(shape)
    sections = lcov_parse(tracefile)
    expected = reference.totals(SHAPES[shape].branch)
    assert lcov_parse_totals(sections, details=False) == expected
    assert lcov_parse_totals(sections, details=True) == expected
    if SHAPES[shape].branch:
        path, line = RAISING
        taken = [
            b["taken"]
            for s in sections
            if s["file"] == path
            for b in s["branches"]["details"]
            if b["line"] == line
        ]
        assert sorted(taken) == reference.raising_branches()
    assert_one_section_per_file(tracefile)


def test_lcov_parse_misreads_the_lcov2_dialect(sessions: Sessions, reference: Reference) -> None:
    sections = lcov_parse(sessions.tracefile("lcov2"))
    expected = reference.totals(branch=True)
    # The totals come from the FNF/FNH, BRF/BRH, LF/LH records: right.
    assert lcov_parse_totals(sections, details=False) == expected
    # The details are not: a function with an end line is named by it and has no hit
    # count (its FNDA name matches no FN name), and text branch ids read as NaN.
    functions = [d for s in sections for d in s["functions"]["details"]]
    misnamed = [d for d in functions if d["name"].isdigit()]
    assert len(misnamed) == expected.functions_found - reference.one_line_functions()
    assert not [d for d in misnamed if "hit" in d]
    branches = [d for s in sections for d in s["branches"]["details"]]
    assert len(branches) == expected.branches_found
    assert all(d["branch"] is None for d in branches)  # JSON's null: lcov-parse's NaN
    assert sum(1 for d in branches if d["block"] is None) == reference.raised_lines()  # `e0`


# --- npm lcov-result-merger ----------------------------------------------------------------------


def merged_totals(text: str) -> Totals:
    total = Totals()
    for parsed in parse(text):
        total += parsed.record.totals()
    return total


@pytest.mark.parametrize("shape", COMPAT_SHAPES)
def test_lcov_result_merger_adds_a_file_to_itself(
    sessions: Sessions, reference: Reference, shape: str, tmp_path: Path
) -> None:
    tracefile = sessions.tracefile(shape)
    (tmp_path / "in").mkdir()
    inputs = [shutil.copy(tracefile, tmp_path / "in" / name) for name in ("a.info", "b.info")]
    text = lcov_result_merger([Path(p) for p in inputs], tmp_path / "merged.lcov")
    assert merged_totals(text) == reference.totals(SHAPES[shape].branch)
    ours = line_counts(tracefile.read_text(encoding="utf-8"))
    assert line_counts(text) == {path: {n: 2 * c for n, c in lines.items()} for path, lines in ours.items()}
    if shape == "checksums":
        assert not any(parsed.record.checksums for parsed in parse(text))  # it drops them
    assert_one_section_per_file(tracefile)


def test_lcov_result_merger_adds_shards_up_to_the_whole_run(
    sessions: Sessions, reference: Reference, tmp_path: Path
) -> None:
    # A CI job split in two: test_flow (which holds the always-raising line) and the rest.
    shards = [
        sessions.tracefile("shard-flow", "--lcov", "--lcov-branch", "-k", "test_flow"),
        sessions.tracefile("shard-rest", "--lcov", "--lcov-branch", "-k", "not test_flow"),
    ]
    (tmp_path / "in").mkdir()
    inputs = [Path(shutil.copy(shard, tmp_path / "in" / f"{i}.info")) for i, shard in enumerate(shards)]
    text = lcov_result_merger(inputs, tmp_path / "merged.lcov")
    assert merged_totals(text) == reference.totals(branch=True)
    assert {path: {n for n, c in lines.items() if c} for path, lines in line_counts(text).items()} == {
        path: set(data["executed_lines"]) - excluded(reference, path)
        for path, data in reference.files.items()
    }


def test_lcov_result_merger_garbles_the_lcov2_dialect(
    sessions: Sessions, reference: Reference, tmp_path: Path
) -> None:
    tracefile = sessions.tracefile("lcov2")
    (tmp_path / "in").mkdir()
    inputs = [Path(shutil.copy(tracefile, tmp_path / "in" / name)) for name in ("a.info", "b.info")]
    text = lcov_result_merger(inputs, tmp_path / "merged.lcov")
    expected = reference.totals(branch=True)
    # Text branch ids become NaN, which equals nothing: no branch is matched with its copy,
    # so each is written twice, as `BRDA:line,0,NaN,taken` (and `NaN,NaN` for `e0`).
    assert len(re.findall(r"^BRDA:\d+,(0|NaN),NaN,(\d+|-)$", text, re.M)) == 2 * expected.branches_found
    assert "BRDA:48,NaN,NaN,1" in text
    with pytest.raises(LcovParseError, match="BRDA"):
        parse(text)

    # Its summary records: lines and functions right, branches counted twice.
    def added(tag: str) -> int:
        return sum(int(n) for n in re.findall(rf"^{tag}:(\d+)$", text, re.M))

    assert (added("LF"), added("LH"), added("FNF"), added("FNH")) == (
        expected.lines_found,
        expected.lines_hit,
        expected.functions_found,
        expected.functions_hit,
    )
    assert (added("BRF"), added("BRH")) == (2 * expected.branches_found, 2 * expected.branches_hit)


# --- lcov_cobertura ------------------------------------------------------------------------------


def rate(hit: int, found: int) -> float:
    return hit / found if found else 0.0  # lcov_cobertura writes 0.0 for nothing found


@pytest.mark.parametrize("shape", COMPAT_SHAPES)
def test_lcov_cobertura_rates_are_coverage_py_rates(
    sessions: Sessions, reference: Reference, shape: str, tmp_path: Path
) -> None:
    branch = SHAPES[shape].branch
    tracefile = sessions.tracefile(shape)
    root = lcov_cobertura(tracefile, tmp_path / "coverage.xml")
    expected = reference.totals(branch)
    # Lines: counted from DA records; branches: the BRF/BRH records; methods: FN and FNDA.
    assert (int(root.attrib["lines-valid"]), int(root.attrib["lines-covered"])) == (
        expected.lines_found,
        expected.lines_hit,
    )
    assert float(root.attrib["line-rate"]) == rate(expected.lines_hit, expected.lines_found)
    assert (int(root.attrib["branches-valid"]), int(root.attrib["branches-covered"])) == (
        expected.branches_found,
        expected.branches_hit,
    )
    assert float(root.attrib["branch-rate"]) == rate(expected.branches_hit, expected.branches_found)
    methods = root.findall(".//method")
    assert (len(methods), sum(1 for m in methods if m.attrib["line-rate"] == "1.0")) == (
        expected.functions_found,
        expected.functions_hit,
    )
    # Per file (a class per source file), each line's hits and condition-coverage.
    classes = {c.attrib["filename"]: c for c in root.iter("class")}
    assert sorted(classes) == sorted(reference.files)
    for path, element in classes.items():
        file_expected = reference.file_totals(path, branch)
        assert float(element.attrib["line-rate"]) == rate(
            file_expected.lines_hit, file_expected.lines_found
        ), path
    if branch:
        path, line = RAISING
        [raising] = [e for e in classes[path].findall("lines/line") if e.attrib["number"] == str(line)]
        taken = reference.raising_branches()
        hit, found = sum(1 for t in taken if t), len(taken)
        assert raising.attrib["condition-coverage"] == f"{hit * 100 // found}% ({hit}/{found})"
    assert_one_section_per_file(tracefile)


def test_lcov_cobertura_misreads_the_lcov2_dialect(
    sessions: Sessions, reference: Reference, tmp_path: Path
) -> None:
    root = lcov_cobertura(sessions.tracefile("lcov2"), tmp_path / "coverage.xml")
    expected = reference.totals(branch=True)
    assert float(root.attrib["line-rate"]) == rate(expected.lines_hit, expected.lines_found)
    assert float(root.attrib["branch-rate"]) == rate(expected.branches_hit, expected.branches_found)
    # A function with an end line becomes two methods: `END,name` at its line, never
    # called, and `name` (from FNDA) at line 0 with its hits.
    methods = root.findall(".//method")
    with_end_line = expected.functions_found - reference.one_line_functions()
    assert len(methods) == expected.functions_found + with_end_line
    assert sum(1 for m in methods if m.attrib["line-rate"] == "1.0") == expected.functions_hit
    assert sum(1 for m in methods if re.fullmatch(r"\d+,.+", m.attrib["name"])) == with_end_line


# --- diff-cover ----------------------------------------------------------------------------------

# Lines given a trailing comment after the first commit (so every statement and arc stays
# as coverage.py measured it): lines that ran, lines that did not, the always-raising line,
# the one-line functions, a docstring, a blank line and `# pragma: no cover` lines (no
# statements), the latin-1 file and the file whose name has a space and a comma.
CHANGED: dict[str, list[int]] = {
    "app/flow.py": [10, 11, 25, 26, 48, 49, 50, 51, 53, 54],
    "app/decorators.py": [13, 14, 19, 22, 25],
    "app/shapes.py": [12, 17, 24],
    "app/legacy.py": [6],
    "app/my module, v2.py": [2],
    "app/never_imported.py": [1, 2],
}


@pytest.mark.parametrize("shape", [*COMPAT_SHAPES, "lcov2"])
def test_diff_cover_reports_the_changed_lines_not_run(
    pytester: pytest.Pytester, reference: Reference, shape: str
) -> None:
    require("diff-cover")
    write_sample_project(pytester.path)
    git(pytester.path, "init", "-q", "-b", "main")
    git(pytester.path, "add", "-A")
    git(pytester.path, "commit", "-q", "-m", "the sample project")
    for path, numbers in CHANGED.items():
        source = pytester.path / path
        lines = source.read_bytes().split(b"\n")
        for number in numbers:
            lines[number - 1] += b"  # changed"
        source.write_bytes(b"\n".join(lines))
    assert run_pytest(pytester, *SHAPES[shape].args).ret == 0
    tracefile = pytester.path / "lcov.info"

    report = diff_cover(tracefile, pytester.path, compare_branch="main")
    ours = line_counts(tracefile.read_text(encoding="utf-8"))
    read = {
        path: (stats["violation_lines"], stats["covered_lines"])
        for path, stats in report["src_stats"].items()
    }
    assert read == {
        path: (
            sorted(set(numbers) & set(reference.files[path]["missing_lines"])),
            # coverage.py 7.10 also lists excluded lines that ran as executed: they are not statements.
            sorted(set(numbers) & set(reference.files[path]["executed_lines"]) - excluded(reference, path)),
        )
        for path, numbers in CHANGED.items()
    }
    assert {path: violations for path, (violations, _) in read.items()} == {
        path: sorted(n for n in numbers if ours[path].get(n) == 0) for path, numbers in CHANGED.items()
    }
    assert report["total_num_violations"] == sum(len(v) for v, _ in read.values())
    assert_one_section_per_file(tracefile)
