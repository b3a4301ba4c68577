"""genhtml 2.x on per-test data: the shape the plugin hands it, and pages that read as genhtml 1.16's.

lcov 2.x ends every section it reads with a walk over the branch data of every
test read so far for that file, so the plugin hands genhtml 2.x the per-test
sections without branch records and each file's branches once, last
(html.lcov2_per_test_text); lcov.tests.info itself keeps every test's branches.
The pages are compared with genhtml 1.16's of the same run, number by number,
on a generated project where every test reaches every module.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_lcov import html as html_module
from pytest_lcov.html import (
    BRANCHES_TEST_NAME,
    LCOV2_MAX_PIECES,
    LCOV2_PIECE_SECTIONS,
    Genhtml,
    Lcov2Load,
    find_genhtml,
    genhtml_arguments,
    lcov2_per_test_pieces,
    lcov2_per_test_text,
    lcov2_pieces,
    write_html,
)
from pytest_lcov.model import merge_records
from pytest_lcov.tracefile import parse
from tests.helpers import PYTEST
from tests.lcov_tools import LcovTools, require

MODULES = 3
FUNCTIONS = 6
TESTS_PER_FILE = 40  # x 3 test files: 120 tests reach every module


def write_many_tests_project(root: Path) -> None:
    """Modules with branches, a function no test calls, a line that always raises, a loop; test files whose
    every test reaches every module, each test a different part of it."""
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    for m in range(MODULES):
        body = "".join(
            f"def f{i}(x):\n"
            f"    if x % {i + 2} == 0:\n"
            f"        return 1\n"
            f"    elif x > {i * 7}:\n"
            f"        for k in range(x % 3):\n"
            f"            x += k\n"
            f"        return 2\n"
            f"    return 3\n\n\n"
            for i in range(FUNCTIONS)
        )
        body += "def boom(x):\n    if x:\n        raise ValueError(x)\n\n\n"
        body += "def never(x):\n    return x if x else -x\n"
        (root / "pkg").mkdir(exist_ok=True)
        (root / f"pkg/mod{m}.py").write_text(body)
    (root / "pkg/plain.py").write_text("def plain(x):\n    return x + 1\n")  # no branches
    for t in range(MODULES):
        calls = "".join(
            f"    if (x * {k + 3} + {m + t}) % 4 < 2:\n        mod{m}.f{k}(x)\n"
            for m in range(MODULES)
            for k in range(FUNCTIONS)
        )
        (root / "tests").mkdir(exist_ok=True)
        (root / f"tests/test_t{t}.py").write_text(
            "import pytest\n"
            + "".join(f"from pkg import mod{m}\n" for m in range(MODULES))
            + "from pkg.plain import plain\n"
            + f"\n\n@pytest.mark.parametrize('x', range({TESTS_PER_FILE}))\ndef test_reach(x):\n{calls}"
            + "    assert plain(x) == x + 1\n"
            + f"    if x % 9 == {t + 1}:\n"
            + f"        with pytest.raises(ValueError):\n            mod{t}.boom(x)\n"
        )


@dataclass
class Pages:
    """What a genhtml report says, release apart: every number and every per-test list."""

    heads: dict[str, dict[str, str]] = field(default_factory=dict)  # page -> metric -> "hit/found rate"
    rows: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (page, file) -> metric -> ...
    tests: dict[tuple[str, str], dict[str, str]] = field(
        default_factory=dict
    )  # (file, test) -> metric -> ...
    lines: dict[str, list[tuple[int, str, tuple[str, ...]]]] = field(default_factory=dict)  # source pages
    functions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # function pages


METRICS_1 = ("Lines", "Functions", "Branches")  # genhtml 1.x's column order
METRICS_2 = ("Lines", "Branches", "Functions")  # genhtml 2.x's


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _rows(page: Path) -> list[str]:
    """The table rows of `page`, the bar graphs' inner tables left out."""
    text = re.sub(
        r"<table[^>]*><tr><td class=\"coverBarOutline\".*?</table>", "", page.read_text("utf-8"), flags=re.S
    )
    return re.findall(r"<tr>(.*?)</tr>", text, re.S)


def _cells(row: str) -> list[tuple[str, str]]:
    return [
        (m[1], _text(m[2])) for m in re.finditer(r'<td class=["\']?(\w+)["\']?[^>]*>(.*?)</td>', row, re.S)
    ]


def _numbers(cells: list[tuple[str, str]], major: int, metrics: tuple[str, ...]) -> dict[str, str]:
    """The (rate, hit, found) of each metric in a table row, by metric, as "hit/found rate"."""
    values = [text for kind, text in cells if kind.startswith(("coverPer", "coverNum", "testPer", "testNum"))]
    out = {}
    if major == 1:  # rate, "hit / found"
        for metric, (rate, count) in zip(
            METRICS_1, zip(values[0::2], values[1::2], strict=True), strict=True
        ):
            hit, _, found = count.partition(" / ")
            out[metric] = f"{hit}/{found} {rate}"
    else:  # rate, found, hit; a file with neither branches nor functions has the lines' cells only
        triples = list(zip(values[0::3], values[1::3], values[2::3], strict=True))
        for metric, (rate, found, hit) in zip(metrics[: len(triples)], triples, strict=True):
            out[metric] = f"{hit or ('0' if found else '')}/{found} {rate}"  # 2.x: an empty cell for 0 hit
    return out


def _columns(page: str, major: int) -> tuple[str, ...]:
    """The metrics of a page's table: 2.x leaves out the column of a metric no file there has."""
    if major == 1:
        return METRICS_1
    heads = {"Lines": ">Line Coverage", "Branches": ">Branch Coverage", "Functions": ">Function Coverage"}
    return tuple(metric for metric in METRICS_2 if heads[metric] in page)


def _head(page: str, major: int) -> dict[str, str]:
    text = _text(page)
    metrics = "(Lines|Functions|Branches)"
    if major == 1:
        found = re.finditer(metrics + r": (\d+) (\d+) ([\d.]+ %|-)", text)
        return {m[1]: f"{m[2]}/{m[3]} {m[4]}" for m in found}
    found = re.finditer(metrics + r": ([\d.]+ %|-) (\d+) (\d+)", text)
    return {m[1]: f"{m[4]}/{m[3]} {m[2]}" for m in found}


# Line number, branch marks, count: 2.x leaves the branch column out of a file without branches.
def _known(numbers: dict[str, str]) -> dict[str, str]:
    """The metrics a file has: 1.x shows a file without branches as 0/0, 2.x leaves the cells empty or out."""
    return {metric: value for metric, value in numbers.items() if value not in ("0/0 -", "/ -")}


SOURCE_LINE = re.compile(r"^\s*(\d+)\s*(\[.*?\])?\s*:?\s*(\d*|#####)\s*:")


def read_pages(report: Path, major: int) -> Pages:
    """Every number of the report's index, detail, source and function pages."""
    pages = Pages()
    for index in sorted(report.rglob("index.html")):
        name = index.relative_to(report).as_posix()
        text = index.read_text(encoding="utf-8")
        pages.heads[name] = _known(_head(text, major))
        columns = _columns(text, major)
        for row in _rows(index):
            cells = _cells(row)
            if cells and cells[0][0] in ("coverFile", "coverDirectory"):  # 2.x: "pkg/", 1.x: "pkg"
                pages.rows[(name, cells[0][1].rstrip("/"))] = _known(_numbers(cells[1:], major, columns))
    for detail in sorted(report.rglob("index-detail.html")):
        folder = detail.parent.relative_to(report).as_posix()
        columns = _columns(detail.read_text(encoding="utf-8"), major)
        current = ""
        for row in _rows(detail):
            cells = _cells(row)
            if cells and cells[0][0] == "coverFile":
                current = f"{folder}/{cells[0][1]}"
            elif cells and cells[0][0] == "testName":
                pages.tests[(current, cells[0][1])] = _numbers(cells[1:], major, columns)
    for source in sorted(report.rglob("*.gcov.html")):
        name = source.relative_to(report).as_posix().removesuffix(".gcov.html")
        text = source.read_text(encoding="utf-8")
        pages.heads[name] = _known(_head(text, major))
        found = []
        for raw in re.findall(r'<span class="lineNum">.*?(?=<span class="lineNum">|</pre>)', text, re.S):
            titles = tuple(re.findall(r'title="(Branch [^"]*)"', raw))
            match = SOURCE_LINE.match(_text(raw))
            if match:
                found.append((int(match[1]), match[3], titles))
        pages.lines[name] = found
        functions = source.with_name(source.name.replace(".gcov.html", ".func.html"))
        rows = _rows(functions) if functions.is_file() else []  # 2.x: none for a file without functions
        pages.functions[name] = sorted(
            (cells[0][1], cells[1][1]) for cells in map(_cells, rows) if cells and cells[0][0] == "coverFn"
        )
    return pages


def assert_same_as_genhtml_1(one: Pages, two: Pages) -> None:
    """genhtml 2.x's pages `two` say what genhtml 1.16's `one` say, each test's own branches aside."""
    assert len(one.rows) >= 2 * MODULES and len(one.lines) == 2 * MODULES + 1 and one.tests
    assert two.heads == one.heads
    assert two.rows == one.rows
    assert two.lines == one.lines
    assert two.functions == one.functions
    assert sum(len(titles) for lines in one.lines.values() for _, _, titles in lines) > 100
    assert any("was not taken" in " ".join(titles) for lines in one.lines.values() for _, _, titles in lines)
    # The per-test lists: the same tests per file, with the same line and function numbers.
    assert two.tests.keys() == one.tests.keys()
    assert len(one.tests) > MODULES * MODULES * TESTS_PER_FILE
    for key, numbers in one.tests.items():
        assert {m: two.tests[key][m] for m in ("Lines", "Functions")} == {
            m: numbers[m] for m in ("Lines", "Functions")
        }, key
        assert two.tests[key]["Branches"] == "0/0 -", key  # what the handed shape leaves out


def genhtml_command(lcov: LcovTools) -> str:
    return f"perl {lcov.bin_dir / 'genhtml'}"


def html_run(root: Path, lcov: LcovTools, folder: str) -> None:
    """A real pytest session with per-test data and `lcov`'s genhtml making the report in `folder`.

    Started as pytester starts one (no PYTEST_ADDOPTS, HOME in the folder), never as an
    xdist worker, with `lcov`'s PERL5LIB.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTEST_ADDOPTS", "PERL5LIB") and not key.startswith("PYTEST_XDIST_")
    }
    env |= {"HOME": str(root), "PY_COLORS": "0"}
    if "PERL5LIB" in lcov.env:
        env["PERL5LIB"] = lcov.env["PERL5LIB"]
    command = [
        *PYTEST,
        "--lcov",
        "--lcov-branch",
        "--lcov-per-test",
        "--lcov-source=.",
        f"--lcov-html={folder}",
        f"--lcov-genhtml={genhtml_command(lcov)}",
        "--lcov-html-required",
    ]
    result = subprocess.run(
        command, cwd=root, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )
    outlines = result.stdout.splitlines()
    assert result.returncode == 0, [*outlines[-20:], result.stderr]
    assert not [line for line in outlines if line.startswith("pytest-lcov: genhtml:")]


def many_tests_project(base: Path) -> Path:
    """The project in `base`/project: each run's is named alike, as its rootdir names its data."""
    root = base / "project"
    root.mkdir()
    write_many_tests_project(root)
    return root


@dataclass(frozen=True)
class Genhtml1Run:
    """The many-tests project after one run with genhtml 1.16's report, which the tests compare with."""

    root: Path  # the project and the run's lcov.tests.info and lcov.desc: read, never changed
    pages: Pages  # genhtml 1.16's report (h1), read


@pytest.fixture(scope="module")
def genhtml_1_run(tmp_path_factory: pytest.TempPathFactory) -> Genhtml1Run:
    """html_run with genhtml 1.16, once for the tests of this module that compare with its pages."""
    root = many_tests_project(tmp_path_factory.mktemp("genhtml-1"))
    html_run(root, require(1), "h1")
    return Genhtml1Run(root, read_pages(root / "h1", 1))


def test_genhtml_2_pages_read_as_genhtml_1_pages_on_many_tests_per_file(
    genhtml_1_run: Genhtml1Run, tmp_path: Path
) -> None:
    """Every number and per-test list of genhtml 2.3.1's report is genhtml 1.16's, but each test's branches.

    Both reports are of one run: 1.16 reads lcov.tests.info as written, 2.3.1
    the shape the plugin hands it.  Compared: the head table of every index
    and source page, every file's row, every line's count and branch titles
    ("Branch 1 was taken 3 times"), every function's count, and in the
    detailed view, per file, which tests reached it with their line and
    function numbers.  Each test's own branch numbers are the one thing the
    handed shape leaves out (2.x shows "-"); genhtml 2.3.1 on lcov.tests.info
    as written shows them as 1.16 does.
    """
    lcov2 = require(2)
    root = many_tests_project(tmp_path)
    html_run(root, lcov2, "h2")
    written = (root / "lcov.tests.info").read_text(encoding="utf-8")
    assert "BRDA:" in written  # the per-test file keeps every test's branches
    # genhtml 1.16's report of the same project, from a session run the same way: the same data
    assert (genhtml_1_run.root / "lcov.tests.info").read_text(encoding="utf-8") == written
    one, two = genhtml_1_run.pages, read_pages(root / "h2", 2)

    sections = written.count("TN:")
    assert sections > MODULES * MODULES * TESTS_PER_FILE  # many tests per file
    assert_same_as_genhtml_1(one, two)
    assert BRANCHES_TEST_NAME not in (root / "h2/descriptions.html").read_text(encoding="utf-8")

    # genhtml 2.3.1 on lcov.tests.info as written: each test's branches too, as 1.16 shows them.
    lcov2.genhtml(
        root / "lcov.tests.info", root / "h2w", "--show-details", "--description-file", "lcov.desc", cwd=root
    )
    whole = read_pages(root / "h2w", 2)
    assert whole.tests == one.tests
    assert whole.lines == one.lines


def test_genhtml_2_pages_from_pieces_read_as_genhtml_1_pages(
    genhtml_1_run: Genhtml1Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The copy handed in pieces (25 sections of a file to a piece here, not 200) reads the same.

    Each piece is a tracefile genhtml 2.x reads on its own and merges into
    the earlier ones; the branches of all tests are in piece 0, which lcov
    2.2+ would call inconsistent with the lines of that piece alone, so the
    check is off.  Every number and per-test list is still 1.16's.
    """
    lcov2 = require(2)
    root = genhtml_1_run.root
    tests_file = root / "lcov.tests.info"
    monkeypatch.setenv("PERL5LIB", lcov2.env["PERL5LIB"])
    genhtml = find_genhtml(genhtml_command(lcov2))
    assert genhtml.major == 2  # 2.3.1, which Debian's build calls 2.0-1
    monkeypatch.setattr(html_module, "LCOV2_PIECE_SECTIONS", 25)
    assert lcov2_pieces(genhtml) == 25
    with tests_file.open(encoding="utf-8") as lines:
        pieces = {piece for piece, _ in lcov2_per_test_pieces(lines, 25)}
    assert pieces == set(range(5))  # 1 + 120 sections per module
    h2 = tmp_path / "h2"  # beside this test's files, not in the shared run's folder
    assert write_html(genhtml, tests_file, h2, root, "t", root / "lcov.desc") == []
    assert "check_data_consistency=0" in (h2 / "cmd_line").read_text(encoding="utf-8")
    assert_same_as_genhtml_1(genhtml_1_run.pages, read_pages(h2, 2))


def test_the_shape_handed_to_genhtml_2_adds_up_to_the_per_test_file() -> None:
    """Per-test sections lose their branch records; each file's branches come once, last, added up."""
    written = (
        "TN:run\nSF:a.py\nFN:1,f\nFNDA:0,f\nFNF:1\nFNH:0\nBRDA:2,0,0,-\nBRDA:2,0,1,-\nBRF:2\nBRH:0\n"
        "DA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n"
        "TN:t1\nSF:a.py\nFN:1,f\nFNDA:1,f\nFNF:1\nFNH:1\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nBRF:2\nBRH:1\n"
        "DA:2,1\nLF:1\nLH:1\nend_of_record\n"
        "TN:branches_of_all_tests\nSF:a.py\nBRDA:2,0,0,2\nBRDA:2,0,1,-\nBRDA:3,1,0,-\nBRF:3\nBRH:1\n"
        "DA:3,1\nLF:1\nLH:1\nend_of_record\n"
        "TN:t3\nSF:b.py\nDA:1,1\nLF:1\nLH:1\nend_of_record\n"
    )
    handed = "".join(lcov2_per_test_text(written.splitlines(keepends=True)))
    body, _, tail = handed.partition("TN:branches_of_all_tests_2\n")
    assert "BR" not in body
    assert tail == (
        "SF:a.py\nBRDA:2,0,0,3\nBRDA:2,0,1,0\nBRDA:3,1,0,-\nBRF:3\nBRH:1\nend_of_record\n"
    )  # b.py has no branches: no section; a test named like the branches' gets another name
    records = parse(handed)
    assert [(r.test_name, r.record.path) for r in records][:4] == [
        ("run", "a.py"),
        ("t1", "a.py"),
        ("branches_of_all_tests", "a.py"),
        ("t3", "b.py"),
    ]
    summed = [
        merge_records(r.record for r in parse(text) if r.record.path == "a.py") for text in (written, handed)
    ]
    assert summed[0] == summed[1]  # lcov -a of either: the same record


def test_pieces_hold_a_file_s_sections_in_order_and_the_branches_in_piece_0() -> None:
    """Per source file, its first sections go to piece 0, the next to piece 1; all branches to piece 0."""
    written = "".join(
        f"TN:t{i}\nSF:{path}\nFN:1,f\nFNDA:1,f\nBRDA:2,0,0,{i}\nBRDA:2,0,1,-\nDA:1,1\nDA:2,1\nend_of_record\n"
        for i in range(5)
        for path in ("a.py", "b.py")
    )
    pieces: dict[int, str] = {}
    for piece, line in lcov2_per_test_pieces(written.splitlines(keepends=True), 2):
        pieces[piece] = pieces.get(piece, "") + line
    assert sorted(pieces) == [0, 1, 2]
    branches = [(BRANCHES_TEST_NAME, "a.py"), (BRANCHES_TEST_NAME, "b.py")]
    assert [re.findall(r"TN:(\w+)\nSF:(\S+)", text) for text in pieces.values()] == [
        [("t0", "a.py"), ("t0", "b.py"), ("t1", "a.py"), ("t1", "b.py"), *branches],
        [("t2", "a.py"), ("t2", "b.py"), ("t3", "a.py"), ("t3", "b.py")],
        [("t4", "a.py"), ("t4", "b.py")],
    ]
    assert "BRDA:2,0,0,10\nBRDA:2,0,1,-\n" in pieces[0] and "BR" not in pieces[1] + pieces[2]
    assert "".join(pieces.values()).count("DA:1,1") == 10
    assert "".join(line for _, line in lcov2_per_test_pieces(written.splitlines(), None)) == "".join(
        lcov2_per_test_text(written.splitlines(keepends=True))
    )


def test_past_the_last_piece_a_file_s_sections_stay_in_it() -> None:
    """At most max_pieces tracefiles, whatever the tests per file: the last takes the rest."""
    written = "".join(f"TN:t{i}\nSF:a.py\nDA:1,1\nend_of_record\n" for i in range(10))
    pieces = [
        piece for piece, line in lcov2_per_test_pieces(written.splitlines(), 2, 3) if line.startswith("TN:")
    ]
    assert pieces == [0, 0, 1, 1, 2, 2, 2, 2, 2, 2]
    load = Lcov2Load()
    load.add_file([1] * (LCOV2_PIECE_SECTIONS * (LCOV2_MAX_PIECES + 1)))
    last = 2 * LCOV2_PIECE_SECTIONS
    assert load.walks == (LCOV2_MAX_PIECES - 1) * LCOV2_PIECE_SECTIONS * (LCOV2_PIECE_SECTIONS + 1) // 2 + (
        last * (last + 1) // 2
    )


@pytest.mark.parametrize(
    ("version", "rc"), [((2, 0), True), ((2, 1), False), ((2, 3), True), ((1, 16), False)]
)
def test_pieces_turn_off_the_consistency_check_where_genhtml_knows_it(
    version: tuple[int, int], rc: bool
) -> None:
    """lcov 2.2+ checks each piece alone (its branches are all tests'); 2.0 ignores the key, 2.1 refuses."""
    genhtml = Genhtml(("genhtml",), *version)
    pieces = [Path("t/lcov.tests.info"), Path("t/1/lcov.tests.info")]
    args = genhtml_arguments(genhtml, pieces, Path("out"), "t", Path("lcov.desc"), None)
    assert ("check_data_consistency=0" in args) == rc
    assert args[-2:] == ["t/lcov.tests.info", "t/1/lcov.tests.info"]
    one = genhtml_arguments(genhtml, pieces[0], Path("out"), "t", Path("lcov.desc"), None)
    assert "check_data_consistency=0" not in one and one[-1] == "t/lcov.tests.info"
