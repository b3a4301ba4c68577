"""genhtml's HTML report: made by either lcov release, and never harmful.

It replaces only a missing or empty folder or an earlier report, swaps in
atomically, is bounded in time, fails in one line, and names no folder of
the machine.  Real genhtml 1.x and 2.x make the reports; small fake genhtml
scripts play the hostile parts (failing, hanging, printing bad bytes).
"""

from __future__ import annotations

import html
import os
import re
import shlex
import sys
import time
from pathlib import Path

import pytest

from pytest_lcov.html import (
    Genhtml,
    HtmlError,
    find_genhtml,
    genhtml_arguments,
    genhtml_command_problem,
    html_folder_problem,
    is_genhtml_report,
    write_html,
)
from pytest_lcov.model import Totals
from tests.browser import page_text, require_chromium, serve
from tests.helpers import read_records, run_pytest
from tests.lcov_tools import LcovTools
from tests.sample_project import write_sample_project

NO_REPORT = "no HTML report: "  # as raised; the run prints it under "pytest-lcov: "
NOT_A_FOLDER = "is a file, not a folder"
NOT_A_REPORT = "is not empty and not an earlier genhtml report: the report would replace what it holds"
WORK_MARK = b"pytest-lcov-"  # in the names of our temporary folders, past and present
TINY_TRACEFILE = """\
TN:tiny
SF:pkg/mod.py
FN:1,used
FNDA:1,used
FNF:1
FNH:1
DA:1,1
DA:2,1
DA:4,0
LF:3
LH:2
end_of_record
"""
FAKE_GENHTML = """\
import os, subprocess, sys, time
if "--version" in sys.argv:
    {on_version}
    print("genhtml: LCOV version 1.16")
    sys.exit(0)
out = sys.argv[sys.argv.index("--output-directory") + 1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "index.html"), "w") as page:
    page.write("<title>LCOV - half written</title>")
{body}
"""
FAILS = 'print("genhtml: ERROR: no space left on device")\nsys.exit(1)'
HANGS = """\
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[0] + ".child", "w") as pid:
    pid.write(str(child.pid))
time.sleep(600)
"""
BAD_BYTES = """\
open(os.path.join(out, "gcov.css"), "w").close()
sys.stdout.buffer.write(b"genhtml: WARNING: odd byte \\xff in a source line\\n")
"""


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    write_sample_project(pytester.path)
    return pytester


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A rootdir with one module and a hand-written tracefile of it (SF: relative)."""
    root = tmp_path / "tiny"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg/mod.py").write_text("def used():\n    return 1\n\ndef unused(): return 2\n")
    (root / "lcov.info").write_text(TINY_TRACEFILE)
    return root


def genhtml_command(lcov: LcovTools, monkeypatch: pytest.MonkeyPatch) -> str:
    """The command that runs this lcov release's genhtml (its Perl modules via PERL5LIB)."""
    if "PERL5LIB" in lcov.env:
        monkeypatch.setenv("PERL5LIB", lcov.env["PERL5LIB"])
    return f"perl {lcov.bin_dir / 'genhtml'}"


def genhtml_option(lcov: LcovTools, monkeypatch: pytest.MonkeyPatch) -> str:
    """--lcov-genhtml naming this lcov release's genhtml (its Perl modules via PERL5LIB)."""
    return f"--lcov-genhtml={genhtml_command(lcov, monkeypatch)}"


def fake_genhtml(folder: Path, body: str, on_version: str = "pass") -> str:
    """The command of a Python script that answers --version as genhtml 1.16 and then does `body`."""
    script = folder / "fake_genhtml.py"
    script.write_text(FAKE_GENHTML.format(on_version=on_version, body=body))
    return shlex.join([sys.executable, str(script)])


def file_totals(path: Path) -> Totals:
    totals = Totals()
    for record in read_records(path).values():
        totals += record.totals()
    return totals


def snapshot(top: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under `top` (or `top` itself, a file) by relative path, with its bytes."""
    if top.is_file():
        return {".": top.read_bytes()}
    return {
        str(path.relative_to(top)): path.read_bytes()
        for path in sorted(top.rglob("*"))
        if path.is_file() and not any(part in skip for part in path.relative_to(top).parts)
    }


def leftovers(folder: Path) -> list[str]:
    """Our temporary folders left in `folder`."""
    return [name for name in os.listdir(folder) if WORK_MARK.decode() in name]


def lcov_lines(result: pytest.RunResult) -> list[str]:
    """pytest-lcov's own lines: in the terminal summary, or a usage error on stderr at start-up."""
    lines = [line.removeprefix("ERROR: ") for line in result.outlines + result.errlines]
    return [line for line in lines if line.startswith("pytest-lcov: ")]


def no_traceback(result: pytest.RunResult) -> bool:
    text = "\n".join(result.outlines + result.errlines)
    return "Traceback" not in text and "INTERNALERROR" not in text


def gone(pid: int) -> bool:
    """Whether process `pid` ended (a zombie waiting for its reaper counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


# --- The report itself, from either release ---------------------------------


@pytest.mark.parametrize("per_test", [False, True], ids=["one-section", "per-test"])
def test_html_report_from_either_genhtml(
    sample: pytest.Pytester, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch, per_test: bool
) -> None:
    extra = ["--lcov-per-test"] if per_test else []
    result = run_pytest(
        sample, "--lcov", "--lcov-branch", "--lcov-html=htmlcov", genhtml_option(lcov, monkeypatch), *extra
    )
    assert result.ret == 0
    assert "LCOV HTML report in htmlcov/index.html" in result.outlines
    assert not [line for line in result.outlines if line.startswith("pytest-lcov: genhtml:")]
    index = (sample.path / "htmlcov/index.html").read_text()
    assert "sample_app" in index  # the project's name as title
    source_page = (sample.path / "htmlcov/app/flow.py.gcov.html").read_text()
    assert "def guarded(d):" in source_page  # found the source through the rootdir
    # The per-test report shows the tracefile's numbers: its sections add up to them.
    assert head_numbers(sample.path / "htmlcov/index.html") == lcov_numbers(sample.path / "lcov.info")
    if per_test:
        detail = (sample.path / "htmlcov/app/index-detail.html").read_text()
        assert "tests_test_app_py__test_flow" in detail


def head_numbers(index: Path) -> dict[str, tuple[int, int]]:
    """genhtml's head table, (hit, found) per metric: 1.x shows hit, total, rate; 2.x rate, total, hit."""
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", index.read_text(encoding="utf-8"))))
    metrics = "(Lines|Functions|Branches)"
    one = {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(metrics + r": (\d+) (\d+) [\d.]+ %", text)}
    two = {m[1]: (int(m[3]), int(m[2])) for m in re.finditer(metrics + r": [\d.]+ % (\d+) (\d+)", text)}
    return one or two


def lcov_numbers(tracefile: Path) -> dict[str, tuple[int, int]]:
    totals = file_totals(tracefile)
    return {
        "Lines": (totals.lines_hit, totals.lines_found),
        "Functions": (totals.functions_hit, totals.functions_found),
        "Branches": (totals.branches_hit, totals.branches_found),
    }


SLOW_TO_READ = {  # 1,201 per-test sections of one file, each with 60 branch lines
    "mod": "def f(x):\n"
    + "".join(f"    if x > {i}:\n        x += 0\n" for i in range(60))
    + "    return x\n",
    "test_mod": """
        import pytest
        import mod

        @pytest.mark.parametrize("x", range(1200))
        def test_f(x):
            assert mod.f(x) == x
    """,
}
RECORD_ARGS = 'open(sys.argv[0] + ".args", "w").write(" ".join(sys.argv[1:]))'


@pytest.mark.parametrize("major", [1, 2])
def test_per_test_html_with_genhtml_2_says_at_once_how_long_it_may_take(
    pytester: pytest.Pytester, major: int
) -> None:
    """Over the timeout (or 10 s), genhtml 2.x's time is said before it starts, on a line of its own.

    A fake genhtml of each release stands in: the line depends on the release and the
    data, and benchmarks/run.py (case d) measures the real genhtml it estimates.  The
    line comes right after pytest's progress ("[100%]"), which ends without a newline.
    """
    pytester.makepyfile(**SLOW_TO_READ)
    version = f'print("genhtml: LCOV version {major}.3.1"); sys.exit(0)' if major == 2 else "pass"
    command = fake_genhtml(pytester.path.parent, RECORD_ARGS, on_version=version)
    result = run_pytest(
        pytester,
        "--lcov",
        "--lcov-branch",
        "--lcov-per-test",
        "--lcov-source=mod",
        "--lcov-html=htmlcov",
        f"--lcov-genhtml={command}",
        "--lcov-genhtml-timeout=1",
        "-q",  # progress without file names: nothing ends its line but the plugin
    )
    assert result.ret == 0
    slow = [line for line in result.outlines if "may take" in line]
    if major == 1:
        assert slow == []
    else:
        # 1,201 sections of one file, 200 to a piece, each a call per test of its piece read before it.
        [line] = slow
        assert re.fullmatch(
            r"pytest-lcov: genhtml 2\.x may take about 2 s on 1,201 per-test sections, over "
            r"lcov_genhtml_timeout = 1 s; genhtml lcov\.info without per-test views takes seconds",
            line,
        ), line
        assert result.outlines.index(line) < result.outlines.index("LCOV HTML report in htmlcov/index.html")
        assert result.outlines[result.outlines.index(line) - 1].endswith("[100%]")
    args = (pytester.path.parent / "fake_genhtml.py.args").read_text().split()
    at = args.index("--show-details")
    assert args[at : at + 3] == ["--show-details", "--description-file", "lcov.desc"]
    tracefiles = args[at + 3 :]
    if major == 1:
        assert tracefiles == ["lcov.tests.info"]
    else:  # a copy in the shape genhtml 2.x reads fast: 7 pieces of 200 sections (tests/test_html_lcov2.py)
        assert len(tracefiles) == 7 and tracefiles[0].endswith("/tracefile/lcov.tests.info")
        assert all(path.endswith(f"/tracefile/{i}/lcov.tests.info") for i, path in enumerate(tracefiles) if i)
        assert args[at - 2 : at] == ["--rc", "check_data_consistency=0"]  # lcov 2.2+: pieces are partial


def test_missing_genhtml_says_how_to_install_and_keeps_the_exit_status(sample: pytest.Pytester) -> None:
    result = run_pytest(sample, "--lcov", "--lcov-html=htmlcov", "--lcov-genhtml=no-such-genhtml")
    assert result.ret == 0
    assert (sample.path / "lcov.info").exists()
    [line] = [line for line in result.outlines if line.startswith("pytest-lcov: no HTML report")]
    assert line == (
        "pytest-lcov: no HTML report: 'no-such-genhtml' not found: "
        "install lcov (Debian/Ubuntu: apt-get install lcov; macOS: brew install lcov)"
    )


def test_required_html_fails_the_run(sample: pytest.Pytester) -> None:
    sample.makeini(
        "[pytest]\nlcov_html = htmlcov\nlcov_html_required = true\nlcov_genhtml = no-such-genhtml\n"
    )
    result = run_pytest(sample, "--lcov")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (sample.path / "lcov.info").exists()


def test_the_html_reads_as_the_tracefile_says_in_a_browser(
    sample: pytest.Pytester, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chromium = require_chromium()
    run_pytest(sample, "--lcov", "--lcov-branch", "--lcov-html=htmlcov", genhtml_option(lcov, monkeypatch))
    totals = file_totals(sample.path / "lcov.info")
    with serve(sample.path / "htmlcov") as base:
        screenshots = Path(os.environ.get("PYTEST_LCOV_SCREENSHOTS", tmp_path))
        screenshots.mkdir(parents=True, exist_ok=True)
        index = page_text(
            chromium, tmp_path / "profile", f"{base}/index.html", screenshots / f"index-lcov{lcov.major}.png"
        )
        source = page_text(
            chromium,
            tmp_path / "profile",
            f"{base}/app/shapes.py.gcov.html",
            screenshots / f"source-lcov{lcov.major}.png",
        )
    # 1.x heads its table "Hit Total Coverage", 2.x "Coverage Total Hit".
    for metric, hit, found in [
        ("Lines", totals.lines_hit, totals.lines_found),
        ("Functions", totals.functions_hit, totals.functions_found),
        ("Branches", totals.branches_hit, totals.branches_found),
    ]:
        rate = f"{100 * hit / found:.1f} %"
        expected = f"{metric}: {hit} {found} {rate}" if lcov.major == 1 else f"{metric}: {rate} {found} {hit}"
        assert expected in index, metric
    shapes = read_records(sample.path / "lcov.info")["app/shapes.py"].totals()
    rate = f"{100 * shapes.lines_hit / shapes.lines_found:.1f} %"
    expected = (
        f"Lines: {shapes.lines_hit} {shapes.lines_found} {rate}"
        if lcov.major == 1
        else f"Lines: {rate} {shapes.lines_found} {shapes.lines_hit}"
    )
    assert expected in source
    assert "def grow(self):" in source


# --- Existing behaviour kept: versions, flags, complaints, --prefix -------------


def test_the_version_decides_the_flags(lcov: LcovTools, monkeypatch: pytest.MonkeyPatch) -> None:
    genhtml = find_genhtml(genhtml_command(lcov, monkeypatch))
    assert genhtml.major == lcov.major
    args = genhtml_arguments(genhtml, Path("lcov.info"), Path("htmlcov"), "t", Path("lcov.desc"), None)
    branch = ["--rc", "genhtml_branch_coverage=1"] if lcov.major == 1 else ["--branch-coverage"]
    assert " ".join(branch) in " ".join(args)
    assert args[-4:] == ["--show-details", "--description-file", "lcov.desc", "lcov.info"]
    assert "--prefix" not in args


def test_absolute_paths_when_asked_give_genhtml_the_prefix(
    sample: pytest.Pytester, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    option = genhtml_option(lcov, monkeypatch)
    result = run_pytest(sample, "--lcov", "--lcov-paths=absolute", "--lcov-html=htmlcov", option)
    assert result.ret == 0
    assert "LCOV HTML report in htmlcov/index.html" in result.outlines
    # --prefix shortens the absolute paths: the pages sit under app/, not under the whole rootdir.
    assert "def guarded(d):" in (sample.path / "htmlcov/app/flow.py.gcov.html").read_text()
    if lcov.major == 2:
        assert f"--prefix {sample.path} " in (sample.path / "htmlcov/cmd_line").read_text()


# --- 1. Nothing destroyed ---------------------------------------------------


def test_a_missing_or_empty_folder_or_an_earlier_report_may_be_replaced(
    tiny: Path, lcov: LcovTools, tmp_path: Path
) -> None:
    assert html_folder_problem(tmp_path / "not-yet") is None
    (tmp_path / "empty").mkdir()
    assert html_folder_problem(tmp_path / "empty") is None
    lcov.genhtml(tiny / "lcov.info", tmp_path / "earlier", cwd=tiny)
    assert is_genhtml_report(tmp_path / "earlier")
    assert html_folder_problem(tmp_path / "earlier") is None
    (tmp_path / "link").symlink_to(tmp_path / "earlier")
    assert html_folder_problem(tmp_path / "link") is None


@pytest.mark.parametrize("kind", ["file", "sources", "lookalike", "report-with-tracefile"])
def test_a_file_or_a_folder_of_other_things_is_refused_with_one_line(
    tiny: Path, lcov1: LcovTools, kind: str
) -> None:
    reasons = {
        "file": NOT_A_FOLDER,
        "sources": NOT_A_REPORT,
        "lookalike": NOT_A_REPORT,
        "report-with-tracefile": f"holds {tiny / 'html/lcov.info'}, which the report would replace",
    }
    target = {"file": tiny / "lcov.info", "sources": tiny / "pkg"}.get(kind, tiny / "html")
    if kind == "lookalike":  # a project's own index.html and gcov.css, not signed by LCOV
        target.mkdir()
        (target / "index.html").write_text("<title>Our docs</title>")
        (target / "gcov.css").write_text("body {}")
    if kind == "report-with-tracefile":
        lcov1.genhtml(tiny / "lcov.info", target, cwd=tiny)
        (tiny / "lcov.info").rename(target / "lcov.info")
    tracefile = target / "lcov.info" if kind == "report-with-tracefile" else tiny / "lcov.info"
    before = snapshot(target)
    assert html_folder_problem(target, keep=[tiny, tracefile]) == reasons[kind]
    with pytest.raises(HtmlError) as raised:
        write_html(find_genhtml("genhtml"), tracefile, target, tiny, "t")
    assert str(raised.value) == f"{NO_REPORT}{target}: {reasons[kind]}"
    assert snapshot(target) == before
    assert leftovers(target.parent) == []


@pytest.mark.parametrize(
    ("target", "reason"),
    [("app", NOT_A_REPORT), (".", NOT_A_REPORT), ("pyproject.toml", NOT_A_FOLDER)],
    ids=["sources", "rootdir", "file"],
)
def test_a_run_leaves_a_folder_that_is_not_a_report_untouched(
    sample: pytest.Pytester, lcov1: LcovTools, monkeypatch: pytest.MonkeyPatch, target: str, reason: str
) -> None:
    skip = ("lcov.info", "lcov.desc", "__pycache__", "runpytest-0", "stdout", "stderr")  # the run's own
    before = snapshot(sample.path, skip)
    result = run_pytest(sample, "--lcov", f"--lcov-html={target}", genhtml_option(lcov1, monkeypatch))
    assert snapshot(sample.path, skip) == before
    # Refused at start-up (the path as given) or at the end (the path in full): one line either way.
    [line] = [line for line in lcov_lines(result) if "HTML" in line or "refusing" in line]
    assert line.endswith(reason)
    assert no_traceback(result)


def test_an_earlier_report_is_replaced_not_written_over(
    sample: pytest.Pytester, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    option = genhtml_option(lcov, monkeypatch)
    assert run_pytest(sample, "--lcov", "--lcov-html=htmlcov", option).ret == 0
    (sample.path / "htmlcov/app/removed_module.py.gcov.html").write_text("<p>stale</p>")
    result = run_pytest(sample, "--lcov", "--lcov-html=htmlcov", option)
    assert "LCOV HTML report in htmlcov/index.html" in result.outlines
    assert not (sample.path / "htmlcov/app/removed_module.py.gcov.html").exists()
    assert is_genhtml_report(sample.path / "htmlcov")
    assert leftovers(sample.path) == []


# --- 2. Atomic ------------------------------------------------------------------


def test_a_failing_genhtml_leaves_the_earlier_report_as_it_was(tiny: Path, lcov1: LcovTools) -> None:
    out = tiny / "htmlcov"
    write_html(find_genhtml("genhtml"), tiny / "lcov.info", out, tiny, "tiny")
    before = snapshot(out)
    failing = find_genhtml(fake_genhtml(tiny.parent, FAILS))
    with pytest.raises(HtmlError) as raised:
        write_html(failing, tiny / "lcov.info", out, tiny, "tiny")
    assert str(raised.value) == "genhtml failed (exit 1): genhtml: ERROR: no space left on device"
    assert snapshot(out) == before
    assert leftovers(tiny) == []


def test_a_folder_that_cannot_be_made_is_one_line(tiny: Path) -> None:
    out = tiny / "lcov.info" / "htmlcov"  # under a file
    with pytest.raises(HtmlError) as raised:
        write_html(find_genhtml("genhtml"), tiny / "lcov.info", out, tiny, "tiny")
    assert str(raised.value) == f"{NO_REPORT}{out}: cannot be made: {tiny / 'lcov.info'} is a file"


# --- 3. Never a traceback -----------------------------------------------------


def test_genhtml_command_problem_names_what_cannot_be_split() -> None:
    assert genhtml_command_problem("genhtml") is None
    assert genhtml_command_problem("perl '/opt/lcov 2/genhtml' --rc x=1") is None
    assert genhtml_command_problem('genhtml "') == "cannot be split into words: No closing quotation"
    assert genhtml_command_problem("gen\x00html") == "holds a NUL character"
    with pytest.raises(HtmlError) as raised:
        find_genhtml('genhtml "')
    expected = "lcov_genhtml = 'genhtml \"': cannot be split into words: No closing quotation"
    assert str(raised.value) == NO_REPORT + expected


def test_an_unbalanced_quote_in_the_genhtml_command_is_one_line(sample: pytest.Pytester) -> None:
    # Refused at start-up or at the end: either way one line, never a traceback.
    result = run_pytest(sample, "--lcov", "--lcov-html=htmlcov", '--lcov-genhtml=genhtml "')
    [line] = [line for line in lcov_lines(result) if "genhtml" in line]
    assert line.endswith("lcov_genhtml = 'genhtml \"': cannot be split into words: No closing quotation")
    assert no_traceback(result)
    assert not (sample.path / "htmlcov").exists()


def test_bytes_that_are_not_utf8_in_genhtml_output_are_replaced(tiny: Path) -> None:
    odd = find_genhtml(fake_genhtml(tiny.parent, BAD_BYTES))
    complaints = write_html(odd, tiny / "lcov.info", tiny / "htmlcov", tiny, "tiny")
    assert complaints == ["genhtml: WARNING: odd byte \ufffd in a source line"]
    assert is_genhtml_report(tiny / "htmlcov")


def test_a_genhtml_that_cannot_be_executed_is_one_line(tiny: Path) -> None:
    broken = tiny.parent / "genhtml"
    broken.write_bytes(b"\x7fELF garbage")
    broken.chmod(0o755)
    with pytest.raises(HtmlError) as raised:
        find_genhtml(str(broken))
    assert str(raised.value).startswith(f"{NO_REPORT}cannot run {broken}: [Errno 8] Exec format error")


# --- 4. Timeout ------------------------------------------------------------------


def test_a_hanging_genhtml_is_killed_with_its_children_and_changes_nothing(
    tiny: Path, lcov1: LcovTools
) -> None:
    out = tiny / "htmlcov"
    write_html(find_genhtml("genhtml"), tiny / "lcov.info", out, tiny, "tiny")
    before = snapshot(out)
    command = fake_genhtml(tiny.parent, HANGS)
    started = time.monotonic()
    with pytest.raises(HtmlError) as raised:
        write_html(find_genhtml(command), tiny / "lcov.info", out, tiny, "tiny", timeout=2)
    assert time.monotonic() - started < 30
    assert str(raised.value) == f"{NO_REPORT}genhtml timed out after 2 s"
    child = int((tiny.parent / "fake_genhtml.py.child").read_text())
    deadline = time.monotonic() + 10
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(child)
    assert snapshot(out) == before
    assert leftovers(tiny) == []


def test_a_genhtml_that_hangs_on_its_version_is_given_up(tmp_path: Path) -> None:
    command = fake_genhtml(tmp_path, "", on_version="time.sleep(600)")
    started = time.monotonic()
    with pytest.raises(HtmlError) as raised:
        find_genhtml(command, timeout=1)
    assert time.monotonic() - started < 30
    assert str(raised.value) == f"{NO_REPORT}{sys.executable} --version timed out after 1 s"


def test_a_run_with_a_hanging_genhtml_ends_after_its_timeout(sample: pytest.Pytester) -> None:
    command = fake_genhtml(sample.path.parent, HANGS)
    started = time.monotonic()
    result = run_pytest(
        sample, "--lcov", "--lcov-html=htmlcov", f"--lcov-genhtml={command}", "--lcov-genhtml-timeout=2"
    )
    assert time.monotonic() - started < 120
    assert result.ret == 0
    assert f"pytest-lcov: {NO_REPORT}genhtml timed out after 2 s" in lcov_lines(result)
    assert not (sample.path / "htmlcov").exists()
    assert leftovers(sample.path) == []


# --- 5. No absolute paths unless asked for -------------------------------------


@pytest.mark.parametrize(
    "extra",
    [[], ["--lcov-per-test"], ["--lcov-path-prefix=build/", "--lcov-per-test"]],
    ids=["plain", "per-test", "path-prefix"],
)
def test_no_file_of_the_report_names_the_rootdir_or_a_temporary_folder(
    sample: pytest.Pytester, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    option = genhtml_option(lcov, monkeypatch)
    result = run_pytest(sample, "--lcov", "--lcov-branch", "--lcov-html=htmlcov", option, *extra)
    assert "LCOV HTML report in htmlcov/index.html" in result.outlines
    assert "def guarded(d):" in (sample.path / "htmlcov/app/flow.py.gcov.html").read_text()
    forbidden = {os.fsencode(sample.path), os.fsencode(os.path.realpath(sample.path)), WORK_MARK}
    for page in sorted((sample.path / "htmlcov").rglob("*")):
        if page.is_file():
            data = page.read_bytes()
            assert not [text for text in forbidden if text in data], page
    if lcov.major == 2:  # genhtml's own titles, written back relative to the rootdir
        assert (
            'title="Click to go to file app/flow.py"' in (sample.path / "htmlcov/app/index.html").read_text()
        )
        assert "--output-directory htmlcov " in (sample.path / "htmlcov/cmd_line").read_text()
    assert leftovers(sample.path) == []


def test_a_rootdir_reached_through_a_symbolic_link_is_not_named_either(
    tiny: Path, lcov: LcovTools, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(tiny)
    genhtml = find_genhtml(genhtml_command(lcov, monkeypatch))
    (tiny / "lcov.desc").write_text("TN: tiny\nTD: the tiny test\n")
    write_html(
        genhtml, link / "lcov.info", link / "out/html", link, "tiny", link / "lcov.desc", absolute=False
    )
    forbidden = [os.fsencode(link), os.fsencode(tiny), WORK_MARK]
    for page in (tiny / "out/html").rglob("*"):
        if page.is_file():
            assert not [text for text in forbidden if text in page.read_bytes()], page
    assert (tiny / "out/html/pkg/mod.py.gcov.html").exists()


def test_absolute_paths_add_the_prefix_flag() -> None:
    args = genhtml_arguments(Genhtml(("genhtml",), 2), Path("t.info"), Path("o"), "t", None, Path("/r"))
    assert args == [
        "genhtml",
        "--quiet",
        "--title",
        "t",
        "--output-directory",
        "o",
        "--branch-coverage",
        "--function-coverage",
        "--prefix",
        "/r",
        "t.info",
    ]
