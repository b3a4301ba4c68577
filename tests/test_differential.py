"""Differential coverage (pytest_lcov.differential) against genhtml 2.3.1's own categories.

Each case builds a real git history, writes a baseline and a current
tracefile (by real pytest-lcov sessions, or by hand where a case needs exact
counts), makes the diff with `genhtml_diff`, runs genhtml with
``--baseline-file`` and ``--diff-file`` and reads its category counts from
what it prints ("Processing file X" then ``line: GNC:2 ...``, and the overall
summary): they must equal ours, per file and in total.

genhtml 2.3.1 counts every branch of a category shown in the current source
twice when no ``--annotate-script`` gives line ages (SourceFile::
_countBranchTlaData, genhtml:4690-4695, adds to the category table, then
``branchCovCount(..., 'noGroup', ...)`` adds to the same table again): its
branch counts are compared with twice ours.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_lcov.diff import DiffError
from pytest_lcov.differential import (
    DifferentialReport,
    baseline_mismatch,
    categories,
    genhtml_diff,
    parse_unified_diff,
)
from pytest_lcov.model import BranchRecord, FileRecord, FunctionRecord
from pytest_lcov.tracefile import format_record, parse
from tests.helpers import PYTEST, git, run_pytest
from tests.lcov_tools import LcovTools

METRIC_NAMES = {"line": "lines", "branch": "branches", "function": "functions"}
IGNORED = "*.info\nchange.diff\nout/\n.pytest_cache/\n__pycache__/\n.coverage*\n"


# --- running genhtml and reading its counts ----------------------------------------------------


Counts = dict[str, dict[str, int]]


def read_genhtml_counts(output: str) -> tuple[dict[str, Counts], Counts]:
    """Per-file and overall category counts from genhtml's output.

    Per file: ``Processing file NAME[ (source code changed)]`` followed by
    indented ``line: GBC:2 CBC:3`` lines.  Overall: the ``Overall coverage
    rate`` block, ``  lines.......: ...`` then ``       GBC....: 2`` lines.
    """
    files: dict[str, Counts] = {}
    totals: Counts = {}
    current: str | None = None
    overall_metric: str | None = None
    in_overall = False
    for line in output.splitlines():
        started = re.match(r"Processing file (.+?)(?: \(source code changed\))?$", line)
        if started:
            current = started[1]
            files[current] = {}
            continue
        if line.startswith(("Processing directory", "Processing top level")):
            current = None
            continue
        if line.startswith("Overall coverage rate"):
            in_overall, current = True, None
            continue
        listed = re.match(r"^\s+(line|branch|function): (.*)$", line)
        if listed and current is not None:
            files[current][METRIC_NAMES[listed[1]]] = {
                tla: int(count) for tla, count in re.findall(r"([A-Z]{3}):(\d+)", listed[2])
            }
            continue
        if in_overall:
            metric = re.match(r"^  (lines|functions|branches)\.*: ", line)
            if metric:
                overall_metric = metric[1]
                continue
            tla = re.match(r"^\s+([A-Z]{3})\.*: (\d+)$", line)
            if tla and overall_metric is not None:
                totals.setdefault(overall_metric, {})[tla[1]] = int(tla[2])
    return files, totals


def as_genhtml_shows(counts: Counts, record: FileRecord | None = None) -> Counts:
    """Our counts as genhtml 2.3.1 prints them: branches twice (see the module docstring), empty left out.

    For one file (`record` its current data), genhtml prints a metric only
    when the current data has some of it (genhtml:8018-8027): a function only
    in the baseline (EUB) is counted in the totals but not shown for its file.
    """
    present = (
        {
            "lines": bool(record.lines),
            "branches": bool(record.branches),
            "functions": bool(record.functions),
        }
        if record is not None
        else {}
    )
    shown: Counts = {}
    for metric, found in counts.items():
        if not present.get(metric, True):
            continue
        factor = 2 if metric == "branches" else 1
        numbers = {tla: n * (factor if tla not in ("DUB", "DCB") else 1) for tla, n in found.items() if n}
        if numbers:
            shown[metric] = numbers
    return shown


def run_genhtml(tools: LcovTools, folder: Path, base: Path, current: Path, diff: Path, *extra: str) -> str:
    result = tools.run(
        "genhtml",
        *extra,
        "--branch-coverage",
        "--function-coverage",
        "--no-prefix",
        "--ignore-errors",
        "empty",  # a history whose diff is empty is a history too
        "--baseline-file",
        base,
        "--diff-file",
        diff,
        "-o",
        folder / "out",
        current,
        cwd=folder,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def read(path: Path) -> dict[str, FileRecord]:
    return {p.record.path: p.record for p in parse(path.read_text(encoding="utf-8"), str(path))}


def compare_with_genhtml(
    tools: LcovTools,
    folder: Path,
    ref: str = "main",
    diff_text: bytes | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[DifferentialReport, dict[str, Counts], Counts]:
    """Make the diff (unless given), compute ours and genhtml's; assert they are equal; return both."""
    base, current = read(folder / "base.info"), read(folder / "current.info")
    if diff_text is None:
        diff_text = genhtml_diff(ref, folder, [*base, *current])
    (folder / "change.diff").write_bytes(diff_text)
    ours = categories(base, current, parse_unified_diff(diff_text))
    files_in = (folder / "base.info", folder / "current.info", folder / "change.diff")
    output = run_genhtml(tools, folder, *files_in, *extra)
    files, totals = read_genhtml_counts(output)
    assert totals == as_genhtml_shows(ours.totals), output
    assert set(files) <= set(ours.files), output
    for path, found in ours.files.items():
        # genhtml leaves out a file with no data (an empty __init__.py)
        assert files.get(path, {}) == as_genhtml_shows(found.counts, current[path]), (path, output)
    return ours, files, totals


def init_repo(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / ".gitignore").write_text(IGNORED)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "base")
    git(folder, "checkout", "-q", "-b", "work")


def write_lcov(path: Path, records: list[FileRecord]) -> None:
    path.write_text("TN:\n" + "".join(format_record(record, "lcov2") for record in records))


# --- one case worked out by hand ----------------------------------------------------------------


BASE_M = "def f(x):\n    if x:\n        return 1\n    return 2\n\n\ndef g():\n    return 3\n"
# Line 4 inserted; old line 7 `def g():` replaced by `def h():` (a delete and an insert).
CURRENT_M = "def f(x):\n    if x:\n        return 1\n    y = 5\n    return 2\n\n\ndef h():\n    return 3\n"
U = "def k():\n    return 0\n"


@pytest.mark.lcov2
def test_a_case_worked_out_by_hand(tmp_path: Path, lcov2: LcovTools) -> None:
    init_repo(tmp_path, {"m.py": BASE_M, "u.py": U})
    (tmp_path / "m.py").write_text(CURRENT_M)  # uncommitted: the working tree is the current version
    base_m = FileRecord(
        "m.py",
        lines={1: 1, 2: 1, 3: 1, 4: 0, 7: 1, 8: 0},
        functions=[FunctionRecord("f", 2, 4, 1), FunctionRecord("g", 8, 8, 0)],
        branches=[BranchRecord(2, 0, 0, 1), BranchRecord(2, 0, 1, 0)],
    )
    current_m = FileRecord(
        "m.py",
        lines={1: 1, 2: 1, 3: 0, 4: 1, 5: 1, 8: 1, 9: 1},
        functions=[FunctionRecord("f", 2, 5, 1), FunctionRecord("h", 9, 9, 1)],
        branches=[BranchRecord(2, 0, 0, 0), BranchRecord(2, 0, 1, 1)],
    )
    # u.py is unchanged but only the current tracefile measures it.
    current_u = FileRecord("u.py", lines={1: 1, 2: 0}, functions=[FunctionRecord("k", 2, 2, 0)])
    write_lcov(tmp_path / "base.info", [base_m])
    write_lcov(tmp_path / "current.info", [current_m, current_u])

    ours, files, _ = compare_with_genhtml(lcov2, tmp_path)

    # m.py, line by line (current number: baseline number, counts):
    #   1: was 1, 1 => 1            CBC
    #   2: was 2, 1 => 1            CBC
    #   3: was 3, 1 => 0            LBC
    #   4: inserted, 1              GNC
    #   5: was 4, 0 => 1            GBC
    #   8: inserted (`def h():`), 1 GNC
    #   9: was 8, 0 => 1            GBC
    #   baseline 7 (`def g():`) deleted, was 1: DCB
    assert ours.files["m.py"].counts["lines"] == {"LBC": 1, "GBC": 2, "GNC": 2, "CBC": 2, "DCB": 1}
    assert ours.files["m.py"].lines == {1: "CBC", 2: "CBC", 3: "LBC", 4: "GNC", 5: "GBC", 8: "GNC", 9: "GBC"}
    assert ours.files["m.py"].deleted == {7: "DCB"}
    # Line 2's block 0: its first way out 1 => 0 (LBC), its second 0 => 1 (GBC).
    assert ours.files["m.py"].counts["branches"] == {"LBC": 1, "GBC": 1}
    # f starts on line 2 in both; its body (2-5) holds inserted code (line 4): changed, so
    #   its CBC (1 => 1) becomes GNC.
    # h starts on line 9, which was line 8, where g started: one entry, matched by line.
    #   Its body did not change, but its names did: g, only in the baseline, not hit: EUB;
    #   h, only in the current one, hit: GIC.
    assert ours.files["m.py"].counts["functions"] == {"GIC": 1, "GNC": 1, "EUB": 1}
    # u.py is not in the baseline: its code is included code, UIC (line 2, k) and GIC (line 1).
    assert ours.files["u.py"].counts == {
        "lines": {"UIC": 1, "GIC": 1},
        "branches": {},
        "functions": {"UIC": 1},
    }
    # The source page marks each branch once with its category: the doubling is the tables'.
    page = next((tmp_path / "out").rglob("m.py.gcov.html")).read_text(encoding="utf-8")
    assert sorted(re.findall(r'title="([A-Z]{3}): Branch', page)) == ["GBC", "LBC"]
    # genhtml's own numbers, written out: branches twice (see the module docstring).
    assert files["m.py"] == {
        "lines": {"GBC": 2, "GNC": 2, "CBC": 2, "LBC": 1, "DCB": 1},
        "branches": {"LBC": 2, "GBC": 2},
        "functions": {"GIC": 1, "GNC": 1, "EUB": 1},
    }


# --- reading git's diff -------------------------------------------------------------------------


GIT_DIFF = b"""\
diff --git "a/t\\303\\251st.py" "b/t\\303\\251st.py"
index 1111111..2222222 100644
--- "a/t\\303\\251st.py"
+++ "b/t\\303\\251st.py"
@@ -1,3 +1,4 @@
 L1
-L2
+A
+B
 L3
@@ -9,3 +10,2 @@ def f():
 L9
-L10
 L11
diff --git a/old name.py b/new name.py
similarity index 100%
rename from old name.py
rename to new name.py
diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-x = 1
--- y
diff --git a/new.py b/new.py
new file mode 100644
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+x = 1
++++ z
\\ No newline at end of file
"""


def test_git_diff_is_read_into_line_maps() -> None:
    diff = parse_unified_diff(GIT_DIFF)
    assert set(diff.files) == {"t\u00e9st.py", "new name.py", "new.py"}
    assert set(diff.deleted) == {"gone.py"}
    test = diff.files["t\u00e9st.py"]
    assert test.old_path == "t\u00e9st.py"
    # baseline 2 replaced by current 2-3; 3..9 -> 4..10; baseline 10 deleted; 11, 12 -> 11, 12
    assert [test.baseline_line(line) for line in range(1, 13)] == [1, None, None, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert test.inserted_lines() == {2, 3}
    assert test.deleted_lines() == {2, 10}
    renamed = diff.files["new name.py"]
    assert renamed.old_path == "old name.py"
    assert [renamed.baseline_line(line) for line in (1, 5)] == [1, 5]
    assert diff.deleted["gone.py"].deleted_lines() == {1, 2}  # "-- y" is a line, not a header
    new = diff.files["new.py"]
    assert new.old_path is None
    assert new.inserted_lines() == {1, 2}  # "+++ z" too
    assert diff.baseline_name("new name.py") == "old name.py"
    assert diff.baseline_name("elsewhere.py") == "elsewhere.py"


# --- real pytest-lcov sessions ------------------------------------------------------------------


PYPROJECT = '[tool.coverage.run]\nsource = ["pkg"]\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
BASE_A = """\
def area(w, h):
    if w < 0 or h < 0:
        raise ValueError("negative")
    return w * h


def perimeter(w, h):
    return 2 * (w + h)


def label(n):
    if n > 10:
        return "big"
    return "small"
"""
# Lines move: a docstring is inserted at the top, area gains a line in its body, perimeter's
# body changes, label gains a branch.
CURRENT_A = """\
\"\"\"Shapes.\"\"\"


def area(w, h):
    if w < 0 or h < 0:
        raise ValueError("negative")
    assert w >= 0
    return w * h


def perimeter(w, h):
    total = w + h
    return 2 * total


def label(n):
    if n > 100:
        return "huge"
    if n > 10:
        return "big"
    return "small"
"""
OLD_NAME = "def twice(x):\n    return 2 * x\n\n\ndef thrice(x):\n    return 3 * x\n"
NEW_NAME = "def twice(x):\n    return 2 * x\n\n\ndef thrice(x):\n    y = 3 * x\n    return y\n"
GONE = "def gone():\n    return 0\n"
NEW = "def fresh(x):\n    if x:\n        return 1\n    return 0\n"
BASE_TEST = """\
from pkg.a import area, label, perimeter
from pkg.old_name import twice
from pkg.gone import gone


def test_all():
    assert area(2, 3) == 6
    assert perimeter(1, 1) == 4
    assert label(20) == "big"
    assert twice(2) == 4
    assert gone() == 0
"""
# perimeter and label(20) are no longer run: lost coverage; fresh is new and half run.
CURRENT_TEST = """\
from pkg.a import area, label
from pkg.new_name import thrice
from pkg.new import fresh


def test_all():
    assert area(2, 3) == 6
    assert label(5) == "small"
    assert thrice(2) == 6
    assert fresh(1) == 1
"""


@pytest.mark.lcov2
@pytest.mark.parametrize("dialect", ["lcov2", "compat"])
def test_real_sessions_at_the_base_and_at_the_head(
    pytester: pytest.Pytester, lcov2: LcovTools, dialect: str
) -> None:
    folder = pytester.path
    pytester.makepyprojecttoml(PYPROJECT)
    init_repo(
        folder,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": BASE_A,
            "pkg/old_name.py": OLD_NAME,
            "pkg/gone.py": GONE,
            "test_it.py": BASE_TEST,
        },
    )
    options = ["--lcov-branch", f"--lcov-format={dialect}"]
    assert run_pytest(pytester, *options, "--lcov=base.info").ret == 0
    # Committed: the rename with its edit and the deletion; left in the working tree: the
    # edit of a.py, the new test; untracked: pkg/new.py.
    git(folder, "mv", "pkg/old_name.py", "pkg/new_name.py")
    (folder / "pkg/new_name.py").write_text(NEW_NAME)
    git(folder, "rm", "-q", "pkg/gone.py")
    git(folder, "commit", "-q", "-am", "rename and delete")
    (folder / "pkg/a.py").write_text(CURRENT_A)
    (folder / "pkg/new.py").write_text(NEW)
    (folder / "test_it.py").write_text(CURRENT_TEST)
    assert run_pytest(pytester, *options, "--lcov=current.info").ret == 0

    ours, _, _ = compare_with_genhtml(lcov2, folder)

    assert set(ours.files) - {"pkg/__init__.py"} == {"pkg/a.py", "pkg/new_name.py", "pkg/new.py"}
    assert ours.files["pkg/new_name.py"].baseline_path == "pkg/old_name.py"
    assert ours.files["pkg/new.py"].baseline_path is None
    a = ours.files["pkg/a.py"]
    # perimeter's `return 2 * (w + h)` (ran) was deleted; its new body never ran.
    assert a.count("lines", "DCB") == 1
    assert a.count("lines", "UNC") == 3  # perimeter's 2 new lines, label's new `return "huge"`
    assert a.count("lines", "LBC") == 1  # label's `return "big"`: ran before, not now
    # area starts (its first body line, `if`) on a line unchanged, run before and now: CBC; with
    # end lines (lcov2) genhtml sees that its body gained code (`assert`), which makes it new: GNC.
    area = {"lcov2": "GNC", "compat": "CBC"}[dialect]
    assert a.count("functions", area) >= 1
    assert a.count("functions", "CBC") == (1 if dialect == "compat" else 0)
    # fresh: new code, line 3 run, line 4 not.
    assert ours.files["pkg/new.py"].counts["lines"] == {"UNC": 1, "GNC": 3}


# --- generated histories ------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[str], list[str], FileRecord, FileRecord]:
    """A small source, an edit of it (lines kept, deleted, replaced, inserted), coverage of both."""
    size = draw(st.integers(1, 10))
    base = [f"v{i} = {i}" for i in range(size)]
    current: list[str] = []
    fresh = iter(range(100, 1000))
    for index, text in enumerate([*base, None]):
        for _ in range(draw(st.integers(0, 2))):
            current.append(f"n{next(fresh)} = 0")
        if text is None:
            break
        # genhtml 2.3.1 dies on data of a deleted first line ("incorrectly marked 'delete'",
        # genhtml:2715-2721): the first line stays (test_a_deleted_first_line_is_deleted_code).
        action = draw(st.sampled_from(["keep", "keep", "delete", "replace"])) if index else "keep"
        if action == "keep":
            current.append(text)
        elif action == "replace":
            current.append(f"r{next(fresh)} = 1")
    return base, current, draw(coverage_of("m.py", len(base))), draw(coverage_of("m.py", len(current)))


@st.composite
def coverage_of(draw: st.DrawFn, path: str, size: int) -> FileRecord:
    """Lines that are code (hit 0-2), branches on some of them, functions over runs of them.

    Consistent as lcov 2 checks it: a function is hit exactly when a line of it is.
    """
    lines = {line: draw(st.integers(0, 2)) for line in range(1, size + 1) if draw(st.booleans()) or line == 1}
    branches = []
    for line, count in lines.items():
        for block in range(draw(st.integers(0, 2))):
            ways = draw(st.integers(2, 3))
            if count:  # a line that ran took a way out (lcov 2 checks it)
                taken: list[int | None] = [draw(st.integers(0, 1)) for _ in range(ways)]
                taken[draw(st.integers(0, ways - 1))] = 1
            else:
                taken = [draw(st.sampled_from([0, None]))] * ways
            branches += [BranchRecord(line, block, way, taken[way]) for way in range(ways)]
    functions = []
    starts = sorted(draw(st.sets(st.sampled_from(sorted(lines)), max_size=3)))
    for index, start in enumerate(starts):
        limit = starts[index + 1] - 1 if index + 1 < len(starts) else size
        end = draw(st.integers(start, limit))
        hit = int(any(lines.get(line, 0) for line in range(start, end + 1)))
        names = [f"fn{start}"] + ([f"alias{start}"] if draw(st.booleans()) else [])
        functions += [FunctionRecord(name, start, end, hit) for name in names]
    return FileRecord(path, lines=lines, functions=functions, branches=branches)


@pytest.mark.lcov2
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories())
def test_generated_histories_match_genhtml(
    lcov2: LcovTools, history: tuple[list[str], list[str], FileRecord, FileRecord]
) -> None:
    base_lines, current_lines, base, current = history
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        init_repo(folder, {"m.py": "".join(f"{line}\n" for line in base_lines)})
        (folder / "m.py").write_text("".join(f"{line}\n" for line in current_lines))
        write_lcov(folder / "base.info", [base])
        write_lcov(folder / "current.info", [current])
        compare_with_genhtml(lcov2, folder)


def test_a_file_only_in_the_baseline_is_not_reported_and_a_gate_reads_totals() -> None:
    base = {"gone.py": FileRecord("gone.py", lines={1: 1}), "m.py": FileRecord("m.py", lines={1: 1, 2: 1})}
    current = {"m.py": FileRecord("m.py", lines={1: 0, 2: 1, 3: 0})}
    report = categories(base, current, parse_unified_diff(b""))
    assert set(report.files) == {"m.py"}
    # No diff names m.py: it is unchanged; line 3 is code only now.
    assert report.totals["lines"] == {"LBC": 1, "UIC": 1, "CBC": 1}
    assert report.failing(["unc", "LBC", "UIC"]) == {"lines": {"LBC": 1, "UIC": 1}}
    with pytest.raises(ValueError, match="XYZ"):
        report.failing(["XYZ"])
    assert report.files["m.py"].count("lines", "UNC") == 0


def test_a_deleted_first_line_is_deleted_code() -> None:
    """genhtml 2.3.1 stops ("m.py:1: incorrectly marked 'delete'"); deleted code is DUB/DCB here."""
    diff = b"--- m.py\n+++ m.py\n@@ -1,2 +1,2 @@\n-import os\n-import re\n+import sys\n+import re2\n"
    base = {"m.py": FileRecord("m.py", lines={1: 1, 2: 0})}
    current = {"m.py": FileRecord("m.py", lines={1: 1, 2: 1})}
    report = categories(base, current, parse_unified_diff(diff))
    assert report.totals["lines"] == {"GNC": 2, "DUB": 1, "DCB": 1}
    assert report.files["m.py"].deleted == {1: "DCB", 2: "DUB"}


@pytest.mark.lcov2
def test_names_with_spaces_and_accents_and_a_prefix(tmp_path: Path, lcov2: LcovTools) -> None:
    """git quotes such names in its diff; the diff genhtml gets names them as the tracefile does."""
    name = "sp ace \u00e9.py"
    init_repo(tmp_path, {name: "a = 1\nb = 2\nc = 3\n"})
    (tmp_path / name).write_text("a = 1\nb = 20\nc = 3\nd = 4\n")
    base = FileRecord(name, lines={1: 1, 2: 1, 3: 0})
    current = FileRecord(name, lines={1: 1, 2: 0, 3: 1, 4: 1})
    write_lcov(tmp_path / "base.info", [base])
    write_lcov(tmp_path / "current.info", [current])
    ours, _, _ = compare_with_genhtml(lcov2, tmp_path)
    # 1: 1 => 1 CBC; 2 replaced: new, not run (UNC), old 2 run (DCB); 3: 0 => 1 GBC; 4 new, run: GNC
    assert ours.totals["lines"] == {"UNC": 1, "GBC": 1, "GNC": 1, "CBC": 1, "DCB": 1}
    text = genhtml_diff("main", tmp_path, [name], prefix="src/")
    assert text.startswith(f"--- src/{name}\n+++ src/{name}\n@@ -1,3 +1,4 @@\n".encode())


def test_genhtml_diff_writes_only_the_measured_files(tmp_path: Path) -> None:
    init_repo(tmp_path, {"m.py": "x = 1\n", "other.py": "y = 1\n", "old.py": "z = 1\n"})
    (tmp_path / "m.py").write_text("x = 2\n")
    (tmp_path / "other.py").write_text("y = 2\n")
    git(tmp_path, "mv", "old.py", "renamed.py")
    (tmp_path / "untracked.py").write_text("u = 1\nv = 2")  # no newline at the end
    (tmp_path / "stray.py").write_text("s = 1\n")
    text = genhtml_diff("main", tmp_path, ["m.py", "renamed.py", "untracked.py"])
    assert text == (
        b"--- m.py\n+++ m.py\n@@ -1,1 +1,1 @@\n-x = 1\n+x = 2\n"
        b"--- old.py\n+++ renamed.py\n"
        b"--- /dev/null\n+++ untracked.py\n@@ -0,0 +1,2 @@\n+u = 1\n+v = 2\n\\ No newline at end of file\n"
    )
    diff = parse_unified_diff(text)
    assert diff.baseline_name("renamed.py") == "old.py"
    assert diff.files["untracked.py"].inserted_lines() == {1, 2}
    assert diff.files["m.py"].inserted_lines() == {1}
    assert diff.files["m.py"].deleted_lines() == {1}


@pytest.mark.lcov2
def test_a_diff_without_context_is_read_as_genhtml_reads_it(tmp_path: Path, lcov2: LcovTools) -> None:
    """``git diff -U0``: genhtml maps the lines after a pure insertion or deletion one off; so do we."""
    init_repo(tmp_path, {"m.py": "".join(f"v{i} = {i}\n" for i in range(1, 11))})
    lines = [f"v{i} = {i}" for i in range(1, 11)]
    lines[3:3] = ["n1 = 0", "n2 = 0"]  # two lines inserted after line 3
    del lines[8:10]  # baseline lines 7 and 8 deleted
    (tmp_path / "m.py").write_text("".join(f"{line}\n" for line in lines))
    diff = git(tmp_path, "diff", "-U0", "--no-prefix").encode()
    assert "@@ -3,0 +4,2 @@" in diff.decode() and "@@ -7,2 +8,0 @@" in diff.decode()
    base = FileRecord("m.py", lines={line: line % 2 for line in range(1, 11)})
    current = FileRecord("m.py", lines={line: 1 for line in range(1, 11)})
    write_lcov(tmp_path / "base.info", [base])
    write_lcov(tmp_path / "current.info", [current])
    # genhtml takes current lines 8-10, after the last deletion, for deleted lines and stops,
    # unless told to drop them, as we do.
    ours, _, _ = compare_with_genhtml(
        lcov2, tmp_path, diff_text=diff, extra=("--ignore-errors", "inconsistent")
    )
    # Its baseline lines 5 and 6 map to current 8 and 9 (one off), dropped: code no more,
    # ECB (5 ran) and EUB (6 did not).
    assert {line: ours.files["m.py"].lines[line] for line in (8, 9)} == {8: "ECB", 9: "EUB"}
    assert 10 not in ours.files["m.py"].lines
    # Read as git means it, current 6 would be baseline 4 (0 => 1, GBC); genhtml takes it for 3.
    assert ours.files["m.py"].lines[6] == "CBC"


@st.composite
def second_files(draw: st.DrawFn) -> tuple[str, tuple[list[str], list[str], FileRecord, FileRecord]]:
    """Another file of the history, and what happens to it: renamed, new and untracked, or newly measured."""
    return draw(st.sampled_from(["renamed", "untracked", "newly measured"])), draw(histories())


@pytest.mark.lcov2
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories(), second=second_files())
def test_generated_histories_of_two_files_match_genhtml(
    lcov2: LcovTools,
    history: tuple[list[str], list[str], FileRecord, FileRecord],
    second: tuple[str, tuple[list[str], list[str], FileRecord, FileRecord]],
) -> None:
    base_lines, current_lines, base, current = history
    fate, (other_base_lines, other_lines, other_base, other_current) = second
    text = "".join(f"{line}\n" for line in other_base_lines)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        committed = {"m.py": "".join(f"{line}\n" for line in base_lines)}
        if fate != "untracked":
            committed["s.py"] = text
        init_repo(folder, committed)
        (folder / "m.py").write_text("".join(f"{line}\n" for line in current_lines))
        new_name = "t.py" if fate == "renamed" else "s.py"
        if fate == "renamed":
            git(folder, "mv", "s.py", "t.py")
        (folder / new_name).write_text("".join(f"{line}\n" for line in other_lines))
        base_records = [base] + ([replace(other_base, path="s.py")] if fate == "renamed" else [])
        write_lcov(folder / "base.info", base_records)
        write_lcov(folder / "current.info", [current, replace(other_current, path=new_name)])
        compare_with_genhtml(lcov2, folder)


# --- whether the baseline is the base's (baseline_mismatch) -------------------------------------


CALC_OLD = """\
def add(a, b):
    if a < 0:
        return -1
    return a + b


def mul(a, b):
    return a * b


def sub(a, b):
    if b > a:
        return 0
    return a - b
"""
CALC_SHORT = """\
def add(a, b):
    if a < 0:
        return -1
    return a + b


def mul(a, b):
    return a * b
"""
# Same lines, same count; line 8's text differs.
CALC_BASE = CALC_SHORT.replace("return a * b", "return b * a")
CALC_TEST = """\
import importlib.util
from pathlib import Path

from pkg._version import VERSION
from pkg.calc import add, mul


def test_calc():
    assert add(1, 2) == 3
    assert mul(2, 3) == 6
    assert VERSION == "1.0"


def test_spaced():
    spec = importlib.util.spec_from_file_location("spaced", Path(__file__).parent / "pkg" / "two words.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.half(4) == 2
"""
SPACED_OLD = "def half(x):\n    if x:\n        return x // 2\n    return 0\n"
SPACED_BASE = "def half(x):\n    if x:\n        return x // 2\n    return 0\n"
SPACED_SHORT = "def half(x):\n    return x // 2\n"
MISMATCH_IGNORED = "*.info\n.pytest_cache/\n__pycache__/\n.coverage*\n_version.py\n"


def lcov_run(project: Path, output: str, *options: str) -> dict[str, FileRecord]:
    """A real ``pytest --lcov --lcov-branch`` session in `project`; its tracefile's records by name."""
    command = [*PYTEST, "--lcov-branch", f"--lcov={output}", *options]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return read(project / output)


def calc_history(project: Path, repository: Path) -> dict[str, dict[str, FileRecord]]:
    """A history on main in `repository` (the pytest project in `project`), a baseline at each step.

    1 ``old``: calc.py 14 lines long; 2 ``short``: calc.py cut to 8 lines; 3 (main, the base):
    line 8's text changed, the length kept.  Then a branch ``work`` with edits in the working
    tree.  Each commit gets baselines with and without checksums (``.info``, ``.sums.info``).
    pkg/_version.py is written by "the build": ignored, never committed.
    """
    (project / "pkg").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "pkg/__init__.py").write_text("")
    (project / "pkg/_version.py").write_text('VERSION = "1.0"\n')
    (project / "test_calc.py").write_text(CALC_TEST)
    (repository / ".gitignore").write_text(MISMATCH_IGNORED)
    git(repository, "init", "-q", "-b", "main")
    baselines: dict[str, dict[str, FileRecord]] = {}
    for step, calc, spaced in (
        ("old", CALC_OLD, SPACED_OLD),
        ("short", CALC_SHORT, SPACED_BASE),
        ("base", CALC_BASE, SPACED_BASE),
    ):
        (project / "pkg/calc.py").write_text(calc)
        (project / "pkg/two words.py").write_text(spaced)
        git(repository, "add", ".")
        git(repository, "commit", "-q", "-m", step)
        baselines[step] = lcov_run(project, f"{step}.info")
        baselines[f"{step}.sums"] = lcov_run(project, f"{step}.sums.info", "--lcov-checksums")
    git(repository, "checkout", "-q", "-b", "work")
    (project / "pkg/calc.py").write_text("# changed on the branch\n" + CALC_BASE)
    return baselines


@pytest.fixture(scope="module")
def calc_repository(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, dict[str, FileRecord]]]:
    folder = tmp_path_factory.mktemp("mismatch")
    return folder, calc_history(folder, folder)


def test_the_base_s_own_baseline_fits(calc_repository: tuple[Path, dict[str, dict[str, FileRecord]]]) -> None:
    folder, baselines = calc_repository
    for step in ("base", "base.sums"):
        baseline = baselines[step]
        assert {"pkg/calc.py", "pkg/two words.py", "pkg/_version.py", "pkg/__init__.py"} <= set(baseline)
        assert bool(baseline["pkg/calc.py"].checksums) == step.endswith(".sums")
        assert baseline["pkg/calc.py"].branches  # --lcov-branch: branch lines are checked too
        assert baseline_mismatch(baseline, "main", folder) is None
        assert baseline_mismatch(baseline, "main", str(folder)) is None


def test_a_baseline_of_a_longer_file_is_past_the_end(
    calc_repository: tuple[Path, dict[str, dict[str, FileRecord]]],
) -> None:
    folder, baselines = calc_repository
    base = git(folder, "rev-parse", "main").strip()
    reason = baseline_mismatch(baselines["old"], "main", folder)
    assert reason == f"pkg/calc.py line 11 is past the end of its 8 lines at {base[:12]}"
    assert "\n" not in reason


def test_a_baseline_of_other_text_of_the_same_length(
    calc_repository: tuple[Path, dict[str, dict[str, FileRecord]]],
) -> None:
    folder, baselines = calc_repository
    base = git(folder, "rev-parse", "main").strip()
    # without checksums, the lengths are all there is to compare: they fit
    assert baseline_mismatch(baselines["short"], "main", folder) is None
    reason = baseline_mismatch(baselines["short.sums"], "main", folder)
    assert reason == f"pkg/calc.py line 8's checksum is not that of its text at {base[:12]}"
    # the checksum of the one line that differs is the only one that differs
    assert {
        line
        for line, sums in baselines["short.sums"]["pkg/calc.py"].checksums.items()
        if baselines["base.sums"]["pkg/calc.py"].checksums[line] != sums
    } == {8}


def test_a_baseline_naming_a_file_the_base_lacks(
    calc_repository: tuple[Path, dict[str, dict[str, FileRecord]]],
) -> None:
    folder, baselines = calc_repository
    base = git(folder, "rev-parse", "main").strip()[:12]
    later = dict(baselines["base"])
    later["pkg/added.py"] = FileRecord("pkg/added.py", lines={1: 1})
    assert baseline_mismatch(later, "main", folder) == f"names pkg/added.py, which {base} does not have"
    # a file of no lines is not looked for; nor is a file outside the repository
    later["pkg/added.py"] = FileRecord("pkg/added.py")
    later[str(folder.parent / "elsewhere.py")] = FileRecord("elsewhere.py", lines={99: 1})
    later["../outside/pkg/calc.py"] = FileRecord("../outside/pkg/calc.py", lines={99: 1})
    assert baseline_mismatch(later, "main", folder) is None
    # an absolute name in the repository is read as its relative name
    absolute = {str(folder / "pkg/calc.py"): baselines["old"]["pkg/calc.py"]}
    reason = baseline_mismatch(absolute, "main", folder)
    assert reason == f"{folder / 'pkg/calc.py'} line 11 is past the end of its 8 lines at {base}"
    # a generated file git ignores is not the base's, and no sign of a foreign baseline; one that
    # is committed later (tracked now, absent at the base) is
    assert "pkg/_version.py" in baselines["base"]
    other = {"pkg/later.py": FileRecord("pkg/later.py", lines={1: 1})}
    (folder / "pkg/later.py").write_text("x = 1\n")
    git(folder, "add", "pkg/later.py")
    try:
        assert baseline_mismatch(other, "main", folder) == f"names pkg/later.py, which {base} does not have"
    finally:
        git(folder, "rm", "-q", "--cached", "pkg/later.py")
        (folder / "pkg/later.py").unlink()


def test_a_function_or_a_branch_past_the_end(
    calc_repository: tuple[Path, dict[str, dict[str, FileRecord]]],
) -> None:
    folder, baselines = calc_repository
    base = git(folder, "rev-parse", "main").strip()[:12]
    record = baselines["base"]["pkg/calc.py"]
    assert baseline_mismatch({"pkg/calc.py": record}, "main", folder) is None
    ends = replace(record, functions=[FunctionRecord("f", 2, 9, 1)])
    assert baseline_mismatch({"pkg/calc.py": ends}, "main", folder) == (
        f"pkg/calc.py line 9 is past the end of its 8 lines at {base}"
    )
    branch = replace(record, branches=[BranchRecord(10, 0, 0, 1)])
    assert baseline_mismatch({"pkg/calc.py": branch}, "main", folder) == (
        f"pkg/calc.py line 10 is past the end of its 8 lines at {base}"
    )
    # a checksum with base64 padding is the same checksum
    padded = replace(
        record, lines={8: 1}, checksums={8: baselines["base.sums"]["pkg/calc.py"].checksums[8] + "=="}
    )
    assert baseline_mismatch({"pkg/calc.py": padded}, "main", folder) is None


def test_a_name_with_a_space(calc_repository: tuple[Path, dict[str, dict[str, FileRecord]]]) -> None:
    folder, baselines = calc_repository
    base = git(folder, "rev-parse", "main").strip()[:12]
    spaced = baselines["base.sums"]["pkg/two words.py"]
    assert spaced.lines and spaced.checksums
    assert baseline_mismatch({"pkg/two words.py": spaced}, "main", folder) is None
    shorter = replace(spaced, lines={**spaced.lines, 5: 0})
    assert baseline_mismatch({"pkg/two words.py": shorter}, "main", folder) == (
        f"pkg/two words.py line 5 is past the end of its 4 lines at {base}"
    )
    other = replace(spaced, checksums={line: "AAAAAAAAAAAAAAAAAAAAAA" for line in spaced.checksums})
    first = min(spaced.checksums)
    assert baseline_mismatch({"pkg/two words.py": other}, "main", folder) == (
        f"pkg/two words.py line {first}'s checksum is not that of its text at {base}"
    )


def test_a_rootdir_in_a_subfolder_of_the_repository(tmp_path: Path) -> None:
    """Names are relative to the pytest rootdir; the base is read at their place in the repository."""
    project = tmp_path / "sub project"
    project.mkdir()
    baselines = calc_history(project, tmp_path)
    base = git(tmp_path, "rev-parse", "main").strip()[:12]
    assert "pkg/calc.py" in baselines["base.sums"]
    assert baseline_mismatch(baselines["base.sums"], "main", project) is None
    assert baseline_mismatch(baselines["old"], "main", project) == (
        f"pkg/calc.py line 11 is past the end of its 8 lines at {base}"
    )
    assert baseline_mismatch(baselines["short.sums"], "main", project) == (
        f"pkg/calc.py line 8's checksum is not that of its text at {base}"
    )
    # read from the repository's root, the names are of files the base does not have there (the
    # empty pkg/__init__.py is not looked for, the ignored pkg/_version.py is not counted)
    assert baseline_mismatch(baselines["base"], "main", tmp_path) == (
        f"names pkg/calc.py, which {base} does not have"
    )


def test_git_failures_are_one_line(
    tmp_path: Path, calc_repository: tuple[Path, dict[str, dict[str, FileRecord]]]
) -> None:
    folder, baselines = calc_repository
    with pytest.raises(DiffError, match="unknown git ref 'nowhere'"):
        baseline_mismatch(baselines["base"], "nowhere", folder)
    with pytest.raises(DiffError, match="is not in a git checkout"):
        baseline_mismatch(baselines["base"], "main", tmp_path)
    with pytest.raises(DiffError, match="is not a folder"):
        baseline_mismatch(baselines["base"], "main", tmp_path / "missing")
    assert baseline_mismatch({}, "main", folder) is None
