"""`pytest-lcov merge` against the real `lcov -a` of lcov 1.16 and 2.3.1.

Inputs are either written by real pytest runs of the sample project (one
tracefile per shard, as a CI job split in parts writes them) or small
tracefiles whose merge is worked out by hand below.  Every merge is compared
with lcov's own: section by section (DA counts, FN hits, BRDA taken) and by
the numbers `lcov --summary` prints.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_lcov.cli import main
from pytest_lcov.merge import lcov_test_name
from pytest_lcov.tracefile import parse
from tests.helpers import PYTEST, assert_refused, run_cli, run_pytest
from tests.lcov_tools import LcovTools
from tests.sample_project import write_sample_project

SAMPLE_TESTS = ("test_decorators", "test_shapes", "test_flow", "test_legacy_and_spaced")


def merge(cwd: Path, inputs: Sequence[Path], output: Path, *extra: str) -> str:
    """Our merge; returns the summary line it printed."""
    result = run_cli("merge", *inputs, "-o", output, *extra, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def lcov_add(lcov: LcovTools, inputs: Sequence[Path], output: Path, cwd: Path) -> None:
    """lcov's own merge, keeping branches (1.16 drops them without the rc option)."""
    branch = ["--rc", "lcov_branch_coverage=1"] if lcov.major == 1 else ["--branch-coverage"]
    adds = [arg for path in inputs for arg in ("-a", str(path))]
    result = lcov.run("lcov", *branch, *adds, "-o", output, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr


def summary_numbers(lcov: LcovTools, tracefile: Path, cwd: Path) -> dict[str, tuple[int, int]]:
    """`lcov --summary`'s (hit, found) per metric: `lines......: 75.0% (6 of 8 lines)`."""
    branch = ["--rc", "lcov_branch_coverage=1"] if lcov.major == 1 else ["--branch-coverage"]
    result = lcov.run("lcov", "--summary", tracefile, *branch, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.finditer(r"^\s+(lines|functions|branches)\.+: .*\((\d+) of (\d+)", result.stdout, re.M)
    return {m[1]: (int(m[2]), int(m[3])) for m in found}


def printed_numbers(summary_line: str) -> dict[str, tuple[int, int]]:
    """Our summary line's (hit, found) per metric: `lines 6/8 (75.0%)`."""
    return {
        m[1]: (int(m[2]), int(m[3]))
        for m in re.finditer(r"(lines|functions|branches) (\d+)/(\d+)", summary_line)
    }


BranchKey = tuple[int, int, int, bool]


@dataclass(frozen=True)
class Counts:
    """What one (test name, SF) section says, in the form every reader agrees on."""

    lines: dict[int, int]
    functions: dict[str, int]
    branches: dict[BranchKey, int | None]


def counts_by_section(tracefile: Path) -> dict[tuple[str, str], Counts]:
    """Each section's counts by (test name, SF path); lcov writes one section per pair."""
    sections: dict[tuple[str, str], Counts] = {}
    for parsed in parse(tracefile.read_text(encoding="utf-8"), str(tracefile)):
        key = (parsed.test_name, parsed.record.path)
        assert key not in sections, f"two sections for {key}"
        record = parsed.record
        sections[key] = Counts(
            dict(record.lines),
            {fn.name: fn.hits for fn in record.functions},
            {(b.line, b.block, b.branch, b.exception): b.taken for b in record.branches},
        )
    return sections


def assert_same_sections(ours: Path, theirs: Path, major: int) -> None:
    mine, lcovs = counts_by_section(ours), counts_by_section(theirs)
    assert mine.keys() == lcovs.keys()
    for key, counts in mine.items():
        other = lcovs[key]
        assert counts.lines == other.lines, key
        assert counts.branches == other.branches, key
        if major == 1:
            # lcov 1.16 keeps FN lines per file, not per test: each test's
            # section lists every function of the file, with no FNDA (read as
            # 0) for the ones that test's sections never named.
            assert counts.functions == {name: other.functions[name] for name in counts.functions}, key
            assert all(
                other.functions[name] == 0 for name in other.functions.keys() - counts.functions.keys()
            )
        else:
            assert counts.functions == other.functions, key


def assert_merge_equals_lcov(lcov: LcovTools, inputs: Sequence[Path], cwd: Path, *extra: str) -> Path:
    """Our merge and `lcov -a` of the same inputs: same sections, same `lcov --summary`."""
    ours = cwd / f"ours{lcov.major}.info"
    theirs = cwd / f"lcov{lcov.major}.info"
    printed = merge(cwd, inputs, ours, *extra)
    lcov_add(lcov, inputs, theirs, cwd)
    assert_same_sections(ours, theirs, lcov.major)
    numbers = summary_numbers(lcov, ours, cwd)
    assert numbers == summary_numbers(lcov, theirs, cwd)
    assert printed_numbers(printed) == numbers
    return ours


# Worked out by hand.  src/m.py, test t1: A + B + B's second t1 section.
#   DA 1: 1+1=2, 2: 1+0=1, 3: 1+0=1, 4: 0+0+5=5, 6: 0+1=1, 7: 0+1=1
#   FNDA f: 1+0=1, h: 0+1=1
#   BRDA 3: 1+-=1 and 0+-=0; 7: -+2=2 and -+0=0  ('-' adds as nothing)
# src/m.py, test shard-1 (A) and shard_1 (B): lcov reads both names as
# shard_1, so they are one section: f from A, h from B, line 7's '-'+'-'='-'.
# src/other.py: only in B, under the empty test name, copied as it is.
# Files in path order, each file's tests in name order.  Totals, a line hit
# if any test hit it: lines 6/8, functions 2/3, branches 2/4.
A_INFO = """\
TN:t1
SF:src/m.py
FN:2,f
FN:6,h
FNDA:1,f
FNDA:0,h
FNF:2
FNH:1
BRDA:3,0,0,1
BRDA:3,0,1,0
BRDA:7,0,0,-
BRDA:7,0,1,-
BRF:4
BRH:1
DA:1,1
DA:2,1
DA:3,1
DA:4,0
DA:6,0
DA:7,0
LF:6
LH:3
end_of_record
TN:shard-1
SF:src/m.py
FN:2,f
FNDA:2,f
FNF:1
FNH:1
BRDA:7,0,0,-
BRDA:7,0,1,-
BRF:2
BRH:0
DA:2,2
DA:3,2
LF:2
LH:2
end_of_record
"""
B_INFO = """\
TN:t1
SF:src/m.py
FN:2,f
FN:6,h
FNDA:0,f
FNDA:1,h
BRDA:3,0,0,-
BRDA:3,0,1,-
BRDA:7,0,0,2
BRDA:7,0,1,0
DA:1,1
DA:2,0
DA:3,0
DA:4,0
DA:6,1
DA:7,1
end_of_record
TN:shard_1
SF:src/m.py
FN:6,h
FNDA:1,h
BRDA:7,0,0,-
BRDA:7,0,1,-
DA:6,1
DA:7,0
end_of_record
TN:
SF:src/other.py
FN:1,k
FNDA:0,k
DA:1,0
DA:2,0
end_of_record
TN:t1
SF:src/m.py
DA:4,5
end_of_record
"""
MERGED = """\
TN:shard_1
SF:src/m.py
FN:2,f
FN:6,h
FNDA:2,f
FNDA:1,h
FNF:2
FNH:2
BRDA:7,0,0,-
BRDA:7,0,1,-
BRF:2
BRH:0
DA:2,2
DA:3,2
DA:6,1
DA:7,0
LF:4
LH:3
end_of_record
TN:t1
SF:src/m.py
FN:2,f
FN:6,h
FNDA:1,f
FNDA:1,h
FNF:2
FNH:2
BRDA:3,0,0,1
BRDA:3,0,1,0
BRDA:7,0,0,2
BRDA:7,0,1,0
BRF:4
BRH:2
DA:1,2
DA:2,1
DA:3,1
DA:4,5
DA:6,1
DA:7,1
LF:6
LH:6
end_of_record
TN:
SF:src/other.py
FN:1,k
FNDA:0,k
FNF:1
FNH:0
DA:1,0
DA:2,0
LF:2
LH:0
end_of_record
"""


@pytest.fixture
def handwritten(tmp_path: Path) -> list[Path]:
    (tmp_path / "A.info").write_text(A_INFO, encoding="utf-8")
    (tmp_path / "B.info").write_text(B_INFO, encoding="utf-8")
    return [tmp_path / "A.info", tmp_path / "B.info"]


def test_test_names_read_as_lcov_reads_them() -> None:
    assert lcov_test_name("shard-1") == "shard_1"
    assert lcov_test_name("tést") == "t__st"  # each byte of é, as Perl's \W on bytes
    assert lcov_test_name("name,diff") == "name"
    assert lcov_test_name("") == ""


def test_handwritten_merge_is_the_one_worked_out_by_hand(handwritten: list[Path], tmp_path: Path) -> None:
    printed = merge(tmp_path, handwritten, tmp_path / "out.info")
    assert (tmp_path / "out.info").read_text(encoding="utf-8") == MERGED
    assert printed_numbers(printed) == {"lines": (6, 8), "functions": (2, 3), "branches": (2, 4)}


def test_handwritten_merge_equals_lcov_add(handwritten: list[Path], tmp_path: Path, lcov: LcovTools) -> None:
    assert_merge_equals_lcov(lcov, handwritten, tmp_path)


def test_input_order_does_not_matter(handwritten: list[Path], tmp_path: Path) -> None:
    merge(tmp_path, handwritten[::-1], tmp_path / "out.info")
    assert (tmp_path / "out.info").read_text(encoding="utf-8") == MERGED


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    return pytester


class Shards:
    """CI shards: real pytest runs of some of the sample's tests, with --lcov, each run once per module.

    The tests only read the tracefiles; they merge them in their own copy of the
    sample project (the SF: paths are relative).  Every run is in one folder, so a
    run under the default test name is named as the others.
    """

    def __init__(self, base: Path) -> None:
        self.root = base / "sample"
        self.root.mkdir()
        write_sample_project(self.root)
        self.tracefiles: dict[tuple[str, ...], Path] = {}

    def tracefile(self, *args: str) -> Path:
        """The tracefile of a run with `args`, made by the first test that asks for it."""
        if args not in self.tracefiles:
            output = self.root / f"shard{len(self.tracefiles)}.info"
            # As pytester starts a session (no PYTEST_ADDOPTS, HOME in the folder), never as an xdist
            # worker: this fixture starts before tests/conftest.py's function-scoped one takes the marks.
            env = {
                key: value
                for key, value in os.environ.items()
                if key != "PYTEST_ADDOPTS" and not key.startswith("PYTEST_XDIST_")
            }
            result = subprocess.run(
                [*PYTEST, f"--lcov={output.name}", "--lcov-branch", *args],
                cwd=self.root,
                env=env | {"HOME": str(self.root), "PY_COLORS": "0"},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            self.tracefiles[args] = output
        return self.tracefiles[args]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Shards:
    return Shards(tmp_path_factory.mktemp("shards"))


def test_shards_merge_as_lcov_adds_them_and_as_one_run_measures(
    sample: pytest.Pytester, sessions: Shards, lcov1: LcovTools, lcov2: LcovTools
) -> None:
    """Two shards under one test name: their sections add into one per file."""
    shards = [
        sessions.tracefile("-k", "test_decorators or test_shapes"),
        sessions.tracefile("-k", "test_flow or test_legacy_and_spaced"),
    ]
    assert_merge_equals_lcov(lcov1, shards, sample.path)
    merged = assert_merge_equals_lcov(lcov2, shards, sample.path)
    whole = sessions.tracefile()
    # The plugin counts 0/1 per run; summed shards count how many ran a line,
    # but what was hit, and every total, is what one run of all tests finds
    # (less the empty app/__init__.py, which lcov -a drops too).
    assert hit_sets(merged) == hit_sets(whole)
    assert summary_numbers(lcov1, merged, sample.path) == summary_numbers(lcov1, whole, sample.path)
    assert summary_numbers(lcov2, merged, sample.path) == summary_numbers(lcov2, whole, sample.path)


def hit_sets(tracefile: Path) -> dict[tuple[str, str], tuple[set[int], set[str], set[BranchKey]]]:
    return {
        key: (
            {line for line, count in counts.lines.items() if count},
            {name for name, hits in counts.functions.items() if hits},
            {branch for branch, taken in counts.branches.items() if taken},
        )
        for key, counts in counts_by_section(tracefile).items()
        if counts.lines
    }


def test_per_test_sections_stay_apart(sample: pytest.Pytester, sessions: Shards, lcov: LcovTools) -> None:
    """One shard per test, each under its own TN: name: one section per file and name."""
    shards = {
        name: sessions.tracefile(f"--lcov-test-name={name}", f"tests/test_app.py::{name}")
        for name in SAMPLE_TESTS
    }
    merged = counts_by_section(assert_merge_equals_lcov(lcov, list(shards.values()), sample.path))
    for name, shard in shards.items():
        # Each shard's files with lines, under its own name and as it wrote them:
        # nothing of another test is added in.  (The empty app/__init__.py has
        # no lines: lcov -a drops it, and so do we.)
        own = {path: counts for (_, path), counts in counts_by_section(shard).items() if counts.lines}
        assert {path: counts for (test, path), counts in merged.items() if test == name} == own
    lcov.genhtml(sample.path / f"ours{lcov.major}.info", sample.path / "html", cwd=sample.path)


def test_lcov2_format_merge_equals_lcov2(sample: pytest.Pytester, sessions: Shards, lcov2: LcovTools) -> None:
    """lcov 2's own dialect: function end lines, branch descriptions, exception branches."""
    shards = [
        sessions.tracefile("--lcov-format=lcov2", "-k", "test_flow or test_decorators"),
        sessions.tracefile("--lcov-format=lcov2", "-k", "not test_decorators"),
    ]
    merged = assert_merge_equals_lcov(lcov2, shards, sample.path, "--format=lcov2")
    text = merged.read_text(encoding="utf-8")
    assert re.search(r"^FN:\d+,\d+,Box\.grow\.step$", text, re.M)
    assert re.search(r"^BRDA:\d+,e0,every run raised,2$", text, re.M)
    lcov2.genhtml(merged, sample.path / "html", cwd=sample.path)


def test_lcov2_splits_a_block_whose_exception_branch_one_input_lacks(
    sample: pytest.Pytester, sessions: Shards, lcov2: LcovTools
) -> None:
    """Where lcov 2.3.1 and we part: we keep one block, as one run of all tests has it.

    In the lcov2 dialect a line whose every run raised has its exception
    branch in the same block as its ways out.  lcov 2.3.1 adds blocks only
    when they have the same number of branches, so a shard where that line
    never ran (two ways, both '-') becomes a second block of phantom branches.
    """
    shards = [
        sessions.tracefile("--lcov-format=lcov2", "-k", "test_flow"),
        sessions.tracefile("--lcov-format=lcov2", "-k", "not test_flow"),
    ]
    whole = sessions.tracefile("--lcov-format=lcov2")
    merge(sample.path, shards, sample.path / "ours.info", "--format=lcov2")
    lcov_add(lcov2, shards, sample.path / "theirs.info", sample.path)
    key = ("sample_app", "app/flow.py")
    ours = counts_by_section(sample.path / "ours.info")[key].branches
    theirs = counts_by_section(sample.path / "theirs.info")[key].branches
    assert ours == counts_by_section(whole)[key].branches
    raising = {line for line, _, _, exception in ours if exception}
    assert raising
    phantom = {branch: taken for branch, taken in theirs.items() if branch not in ours}
    assert {(line, block) for line, block, _, _ in phantom} == {(line, 1) for line in raising}
    assert set(phantom.values()) == {None}
    assert {branch: theirs[branch] for branch in ours} == ours


def test_compat_output_of_mixed_dialects_reads_as_one_run(
    sample: pytest.Pytester, sessions: Shards, lcov1: LcovTools
) -> None:
    shards = [
        sessions.tracefile("--lcov-format=lcov2", "-k", "test_flow"),
        sessions.tracefile("-k", "not test_flow"),
    ]
    merge(sample.path, shards, sample.path / "out.info")
    whole = sessions.tracefile()
    assert hit_sets(sample.path / "out.info") == hit_sets(whole)
    assert summary_numbers(lcov1, sample.path / "out.info", sample.path) == summary_numbers(
        lcov1, whole, sample.path
    )


# Refusals: each bad input alone or after a good one.
GOOD = "TN:\nSF:m.py\nFN:2,f\nFNDA:1,f\nDA:1,1\nDA:2,1\nend_of_record\n"
BAD_INPUTS = {
    "garbage": ("hello world\n", ["bad.info:1:", "not an LCOV record"]),
    "bad-count": ("TN:\nSF:m.py\nDA:1,x\nend_of_record\n", ["bad.info:3:", "DA count is not a whole number"]),
    "truncated": (GOOD[:42], ["bad.info:7:", "missing end_of_record"]),
    "not-utf8": ("TN:\nSF:caf\udce9.py\n", ["bad.info:2:", "not UTF-8"]),
    "empty": ("", ["bad.info:1:", "no SF section"]),
    "moved-function": (GOOD.replace("FN:2,f", "FN:3,f"), ["bad.info:2:", "function 'f'", "good.info:2"]),
    "other-checksum": (
        GOOD.replace("DA:1,1", "DA:1,1,abc") + GOOD.replace("DA:1,1", "DA:1,1,xyz"),
        ["bad.info:9:", "line 1 has two checksums"],
    ),
    # Python's int() refuses more than 4,300 digits: this once ended in a ValueError traceback.
    "5000-digit-count": (
        "TN:\nSF:m.py\nDA:1," + "9" * 5000 + "\nend_of_record\n",
        ["bad.info:3: DA count '99999", "(5000 characters) is too large (more than 2**64 - 1)"],
    ),
    "5000-digit-function-count": (
        "TN:\nSF:m.py\nFNL:0,2\nFNA:0," + "9" * 5000 + ",f\nDA:1,1\nend_of_record\n",
        ["bad.info:4: FNA count '99999", "is too large"],
    ),
    # Arabic-Indic 1 and 3: once read as DA:1,3.
    "arabic-indic-digits": (
        "TN:\nSF:m.py\nDA:\u0661,\u0663\nend_of_record\n",
        ["bad.info:3: DA line is not a whole number"],
    ),
    # A path with a line separator (U+2028) in a conflict: still one line on stderr.
    "line-separator-in-path": (
        (GOOD.replace("DA:1,1", "DA:1,1,abc") + GOOD.replace("DA:1,1", "DA:1,1,xyz")).replace(
            "m.py", "m\u2028.py"
        ),
        ["bad.info:9:", "m .py: line 1 has two checksums"],
    ),
    # The section named at line 1, right after the byte order mark.
    "moved-function-after-bom": (
        "\ufeff" + GOOD.removeprefix("TN:\n").replace("FN:2,f", "FN:3,f"),
        ["bad.info:1:", "function 'f'", "good.info:2"],
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_refused_in_one_line(tmp_path: Path, case: str) -> None:
    text, expected = BAD_INPUTS[case]
    (tmp_path / "good.info").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.info").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert_refused(tmp_path, ["merge", "good.info", "bad.info"], *expected)


def test_missing_input_is_refused_before_any_is_read(tmp_path: Path) -> None:
    (tmp_path / "good.info").write_text(GOOD, encoding="utf-8")
    assert_refused(tmp_path, ["merge", "good.info", "gone.info"], "gone.info: no such file")
    assert_refused(tmp_path, ["merge", "good.info", "."], ".: not a file")


def test_tracefiles_of_two_versions_of_a_source_are_refused(pytester: pytest.Pytester) -> None:
    """A stale tracefile from before an edit moved a function: adding them would be nonsense."""
    pytester.makepyfile(mod="def f():\n    return 1\n", test_mod="import mod\n\ndef test_f():\n    mod.f()\n")
    run_pytest(pytester, "--lcov=old.info")
    pytester.makepyfile(mod="import os\n\n\ndef f():\n    return 1\n")
    run_pytest(pytester, "--lcov=edited.info")
    assert_refused(
        pytester.path, ["merge", "old.info", "edited.info"], "edited.info:", "mod.py", "function 'f'"
    )


def test_unwritable_output_is_refused(tmp_path: Path) -> None:
    (tmp_path / "good.info").write_text(GOOD, encoding="utf-8")
    (tmp_path / "out").mkdir()
    result = run_cli("merge", "good.info", "-o", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("pytest-lcov merge: cannot write out:")
    assert len(result.stderr.splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["good.info", "out"]


def test_output_is_named_never_its_temporary_file(tmp_path: Path) -> None:
    """A name that fits, but whose temporary `.NAME.xxxxxxxx.tmp` is too long for the file system."""
    (tmp_path / "good.info").write_text(GOOD, encoding="utf-8")
    name = "o" * 250
    result = run_cli("merge", "good.info", "-o", name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"pytest-lcov merge: cannot write {name}: File name too long\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["good.info"]


# Records lcov reads and this parser once refused.  Trailing blanks after
# numbers, '#' comments (`lcov --comment` writes them) and KF: for SF: are
# read alike by lcov 1.16 and 2.3.1.
TOLERATED = (
    "# written by lcov --comment\n"
    "TN:t\n"
    "KF:m.py\n"
    "FN:2,f\n"
    "FNDA:1,f\n"
    "BRDA:2,0,0,1 \n"
    "BRDA:2,0,1,0\t\n"
    "#inside a section\n"
    "DA:1,1  \n"
    "DA:2,1 \n"
    "LF:2 \n"
    "end_of_record   \n"
)


def test_comments_kf_and_trailing_blanks_merge_as_lcov_adds_them(tmp_path: Path, lcov: LcovTools) -> None:
    (tmp_path / "tolerated.info").write_text(TOLERATED, encoding="utf-8")
    (tmp_path / "good.info").write_text(GOOD.replace("TN:\n", "TN:t\n"), encoding="utf-8")
    ours = assert_merge_equals_lcov(lcov, [tmp_path / "tolerated.info", tmp_path / "good.info"], tmp_path)
    assert "DA:1,2\nDA:2,2\n" in ours.read_text(encoding="utf-8")


def test_trailing_blanks_after_names_merge_as_lcov_2_adds_them(tmp_path: Path, lcov2: LcovTools) -> None:
    """lcov 2 strips them from TN, SF and function names; 1.16 keeps them as part of the name."""
    blanks = "TN:t \nSF:m.py\t\nFN:2,f  \nFNDA:1,f \nDA:1,1\nDA:2,1\nend_of_record\n"
    (tmp_path / "blanks.info").write_text(blanks, encoding="utf-8")
    (tmp_path / "good.info").write_text(GOOD.replace("TN:\n", "TN:t\n"), encoding="utf-8")
    ours = assert_merge_equals_lcov(lcov2, [tmp_path / "blanks.info", tmp_path / "good.info"], tmp_path)
    assert counts_by_section(ours)[("t", "m.py")].functions == {"f": 2}


def test_a_byte_order_mark_is_read_and_not_written(tmp_path: Path) -> None:
    """lcov 2.3.1 refuses such a file, 1.16 drops its first record: merged, it becomes one both read."""
    bom = "\ufeff".encode()
    (tmp_path / "a.info").write_bytes(bom + GOOD.encode())
    (tmp_path / "b.info").write_bytes(bom + GOOD.removeprefix("TN:\n").encode())
    merge(tmp_path, [tmp_path / "a.info", tmp_path / "b.info"], tmp_path / "out.info")
    # GOOD twice, under the empty test name both times: every count doubled.
    assert (tmp_path / "out.info").read_bytes() == (
        b"TN:\nSF:m.py\nFN:2,f\nFNDA:2,f\nFNF:1\nFNH:1\nDA:1,2\nDA:2,2\nLF:2\nLH:2\nend_of_record\n"
    )


def test_a_branch_named_by_a_superscript_digit_merges_as_lcov_2_adds_it(
    tmp_path: Path, lcov2: LcovTools
) -> None:
    """Once a ValueError traceback: str.isdigit() called it a number and int() refused it."""
    text = "TN:\nSF:m.py\nBRDA:1,0,\u00b2,1\nBRDA:1,0,x,0\nDA:1,1\nend_of_record\n"
    (tmp_path / "a.info").write_text(text, encoding="utf-8")
    (tmp_path / "b.info").write_text(text, encoding="utf-8")
    inputs = [tmp_path / "a.info", tmp_path / "b.info"]
    ours = assert_merge_equals_lcov(lcov2, inputs, tmp_path, "--format=lcov2")
    assert "BRDA:1,0,\u00b2,2\nBRDA:1,0,x,0\n" in ours.read_text(encoding="utf-8")
    assert "BRDA:1,0,\u00b2,2\n" in (tmp_path / "lcov2.info").read_text(encoding="utf-8")


def test_counts_summed_past_64_bits_are_written_as_the_largest(tmp_path: Path) -> None:
    """Each input holds the largest count; the sum is written as that count, so the output reads back.

    (`lcov -a` 2.3.1 writes the sum as 3.68934881474191e+19, which no reader takes as a count.)
    """
    most = "18446744073709551615"
    text = (
        f"TN:\nSF:m.py\nFN:1,f\nFNDA:{most},f\nBRDA:1,0,0,{most}\nBRDA:1,0,1,0\n"
        f"DA:1,{most}\nDA:2,1\nend_of_record\n"
    )
    (tmp_path / "a.info").write_text(text, encoding="utf-8")
    merge(tmp_path, [tmp_path / "a.info", tmp_path / "a.info"], tmp_path / "out.info")
    expected = (
        f"TN:\nSF:m.py\nFN:1,f\nFNDA:{most},f\nFNF:1\nFNH:1\nBRDA:1,0,0,{most}\nBRDA:1,0,1,0\nBRF:2\nBRH:1\n"
        f"DA:1,{most}\nDA:2,2\nLF:2\nLH:2\nend_of_record\n"
    )
    assert (tmp_path / "out.info").read_text(encoding="utf-8") == expected
    merge(tmp_path, [tmp_path / "out.info", tmp_path / "a.info"], tmp_path / "again.info")
    assert (tmp_path / "again.info").read_text(encoding="utf-8") == expected.replace("DA:2,2", "DA:2,3")


def test_leading_zeros_are_not_digits_of_size(tmp_path: Path, lcov: LcovTools) -> None:
    (tmp_path / "a.info").write_text("TN:\nSF:m.py\nDA:1," + "0" * 30 + "3\nDA:2,1\nend_of_record\n")
    ours = assert_merge_equals_lcov(lcov, [tmp_path / "a.info", tmp_path / "a.info"], tmp_path)
    assert "DA:1,6\n" in ours.read_text(encoding="utf-8")


# lcov 2.2+'s MC/DC records.  These sources become inputs in the form lcov
# 2.3.1 itself writes them: each is put through its `lcov -a --mcdc-coverage`.
MCDC_A = """\
TN:
SF:m.c
FNL:0,1,5
FNA:0,1,main
BRDA:2,0,0,1
BRDA:2,0,1,0
MCDC:2,2,t,1,0,a
MCDC:2,2,f,0,0,a
MCDC:2,2,t,0,1,b
MCDC:2,2,f,1,1,b
DA:1,1
DA:2,1
DA:3,0
end_of_record
"""
MCDC_B = """\
TN:
SF:m.c
FNL:0,1,5
FNA:0,1,main
BRDA:2,0,0,0
BRDA:2,0,1,1
MCDC:2,2,t,0,0,a
MCDC:2,2,f,2,0,a
MCDC:2,2,t,0,1,b
MCDC:2,2,f,0,1,b
MCDC:3,1,t,1,0,c
MCDC:3,1,f,0,0,c
DA:1,1
DA:2,1
DA:3,1
end_of_record
"""


def test_mcdc_records_are_left_out_as_lcov_add_leaves_them_and_said_so(
    tmp_path: Path, lcov2: LcovTools
) -> None:
    """Without --mcdc-coverage `lcov -a` drops MC/DC data silently; we drop it too, and say so."""
    (tmp_path / "m.c").write_text("int main(){\n if(a&&b)\n  c;\n return 0;\n}\n", encoding="utf-8")
    inputs = []
    for name, text in (("a", MCDC_A), ("b", MCDC_B)):
        (tmp_path / f"{name}.src").write_text(text, encoding="utf-8")
        output = tmp_path / f"{name}.info"
        result = lcov2.run(
            "lcov", "--branch-coverage", "--mcdc-coverage", "-a", f"{name}.src", "-o", output, cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "\nMCF:" in output.read_text(encoding="utf-8")
        inputs.append(output)
    result = run_cli("merge", *inputs, "-o", "ours.info", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # 4 MCDC lines in a, 6 in b: each condition's t and f line.
    assert result.stderr == (
        "pytest-lcov merge: 10 MCDC records (MC/DC condition coverage) left out, as `lcov -a` "
        "leaves them out without --mcdc-coverage; `lcov -a --mcdc-coverage` keeps them\n"
    )
    ours, theirs = tmp_path / "ours.info", tmp_path / "theirs.info"
    lcov_add(lcov2, inputs, theirs, tmp_path)
    assert "MC" not in theirs.read_text(encoding="utf-8")
    assert "MC" not in ours.read_text(encoding="utf-8")
    assert_same_sections(ours, theirs, 2)
    numbers = summary_numbers(lcov2, ours, tmp_path)
    assert numbers == summary_numbers(lcov2, theirs, tmp_path)
    assert (
        printed_numbers(result.stdout)
        == numbers
        == {"lines": (3, 3), "functions": (1, 1), "branches": (2, 2)}
    )


def test_usage_errors_stay_argparse_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["merge", "a.info"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: pytest-lcov merge")
    assert err.endswith("error: the following arguments are required: -o/--output\n")
