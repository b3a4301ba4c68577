"""genhtml, the classic LCOV HTML report, run on the tracefile just written.

Three promises hold whatever genhtml does.  Nothing of the user's is
destroyed: the report replaces only a missing or empty folder or an earlier
genhtml report, so a slip such as ``--lcov-html=src`` is refused, and the
files genhtml did not write in it (``NOTES.md``, ``CNAME``) are kept.  The swap
is atomic: genhtml writes into a fresh folder beside the target, and only a
finished report replaces the old one.  And the report names no folder of
this machine unless absolute paths were asked for: genhtml runs from the
rootdir with relative arguments, and what it still makes absolute is
written back relative afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pytest_lcov import PytestLcovError
from pytest_lcov.annotate import AnnotateError, PendingAnnotations, start_annotations

INSTALL_HINT = "install lcov (Debian/Ubuntu: apt-get install lcov; macOS: brew install lcov)"
NO_REPORT = "no HTML report: "
VERSION_TIMEOUT = 30.0
DEFAULT_GENHTML = "genhtml"  # the command, found on PATH
DEFAULT_GENHTML_TIMEOUT = 600.0  # seconds genhtml may run
# What genhtml 1.x and 2.x write into index.html: its <title> prefix and its footer.
REPORT_SIGNS = (b"<title>LCOV - ", b">LCOV version ")
SIGN_WINDOW = 65536
# Files genhtml writes besides its signed pages (lcov 1.x and 2.x): what a new report replaces.
GENHTML_ASSETS = frozenset(
    {"gcov.css", "amber.png", "emerald.png", "glass.png", "ruby.png", "snow.png", "updown.png", "cmd_line"}
)
# The names of genhtml's pages (index-sort-l.html, mod.py.gcov.html, mod.py.func-sort-c.html, ...)
# and of --frames' thumbnails: a page of that name is genhtml's even when it is stale or edited.
GENHTML_PAGE = re.compile(r"index(-[\w-]+)?\.html|.+\.(gcov|func)([.-][\w-]+)?\.html|.+\.gcov\.png")
# Files the path rewriting leaves alone: genhtml's images hold no paths.
BINARY_SUFFIXES = frozenset({".png", ".gif", ".jpg", ".jpeg", ".ico"})
# Whatever may come right before a path that starts with the rootdir, and right after the bare rootdir.
PATH_START = rb"(?<![\w.~/-])"
PATH_END = rb"(?=[\"'<]|\Z)"


class HtmlError(PytestLcovError):
    """genhtml is missing or failed; the message is one line for the user."""


@dataclass(frozen=True)
class Genhtml:
    """A genhtml found on this machine, and its major version."""

    command: tuple[str, ...]
    major: int
    minor: int = 0


def genhtml_command_problem(command: str) -> str | None:
    """Why `command` (lcov_genhtml) cannot even be tried, or None when it can.

    The plugin calls it at start-up too, so a bad quote stops the run before
    the tests rather than after them.
    """
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return f"cannot be split into words: {exc}"
    if not words:
        return "is empty: name the genhtml to run, or leave the setting out for genhtml on PATH"
    return "holds a NUL character" if "\x00" in command else None


def find_genhtml(command: str = DEFAULT_GENHTML, timeout: float | None = VERSION_TIMEOUT) -> Genhtml:
    """Locate genhtml (`command` may carry arguments) and ask its version.

    The version decides the flags (1.x and 2.x spell branch coverage
    differently); the question gets `timeout` seconds, as a broken genhtml
    must not hold the run.
    """
    if problem := genhtml_command_problem(command):
        raise HtmlError(f"{NO_REPORT}lcov_genhtml = {command!r}: {problem}")
    words = shlex.split(command) or [DEFAULT_GENHTML]
    executable = shutil.which(words[0])
    if executable is None:
        raise HtmlError(f"{NO_REPORT}{words[0]!r} not found: {INSTALL_HINT}")
    _, version = run_command([executable, *words[1:], "--version"], None, timeout, f"{executable} --version")
    match = re.search(r"LCOV version (\d+)\.(\d+)?", version)
    if match is None:
        raise HtmlError(f"{NO_REPORT}{executable} is not lcov's genhtml")
    return Genhtml((executable, *words[1:]), int(match[1]), int(match[2] or 0))


def run_command(args: list[str], cwd: Path | None, timeout: float | None, name: str) -> tuple[int, str]:
    """Run `args` in a session of its own; return its exit status and output (stdout and stderr).

    On timeout the whole process group (perl and all it started) is killed,
    so no orphan keeps the pipe open.  Output is decoded with replacement:
    genhtml echoes source lines, which need not be UTF-8.
    """
    try:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise HtmlError(f"{NO_REPORT}cannot run {args[0]}: {exc}") from None
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise HtmlError(f"{NO_REPORT}{name} timed out after {timeout:g} s") from None
    except BaseException:  # Ctrl-C while waiting: do not leave genhtml running
        _kill_group(process)
        raise
    return process.returncode, output.decode("utf-8", errors="replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill `process` and everything in its session, then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # Windows has no process groups to kill
            process.kill()
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # something left the group and holds the pipe
        if process.stdout is not None:
            process.stdout.close()
        process.wait()


def html_folder_problem(path: Path, keep: Iterable[Path] = ()) -> str | None:
    """Why the report may not replace `path` ("is a file, not a folder"), or None when it may.

    Replacing deletes what was there, so it is allowed only for what holds
    nothing of the user's: no folder yet, an empty one, or an earlier genhtml
    report that holds none of `keep` (the rootdir, the tracefile).  Symbolic
    links are followed: the folder they lead to is what would be replaced.
    """
    folder = Path(os.path.realpath(path))
    try:
        if not folder.exists():
            above = next(parent for parent in folder.parents if parent.exists())
            return None if above.is_dir() else f"cannot be made: {above} is a file"
        if not folder.is_dir():
            return "is a file, not a folder"
        if next(folder.iterdir(), None) is not None and not is_genhtml_report(folder):
            return "is not empty and not an earlier genhtml report: the report would replace what it holds"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    for kept in keep:
        if _within(Path(os.path.realpath(kept)), folder):
            return f"holds {kept}, which the report would replace"
    return None


def refuse_html_folder(path: Path, keep: Iterable[Path] = ()) -> None:
    """Raise HtmlError naming `path` and why, when the report may not replace it."""
    if problem := html_folder_problem(path, keep):
        raise HtmlError(f"{NO_REPORT}{path}: {problem}")


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def is_genhtml_report(folder: Path) -> bool:
    """Whether genhtml (1.x or 2.x) wrote `folder`: its gcov.css beside an index.html it signed.

    Both releases write gcov.css and put "LCOV - " in index.html's title and
    "LCOV version" in its footer; one of the two suffices, as either can be
    changed by genhtml's options.
    """
    index = folder / "index.html"
    if not (index.is_file() and (folder / "gcov.css").is_file()):
        return False
    return _signed(index)


def _signed(page: Path) -> bool:
    """Whether genhtml's title or footer is near the start or the end of the HTML file `page`."""
    with page.open("rb") as handle:
        head = handle.read(SIGN_WINDOW)
        handle.seek(max(handle.seek(0, os.SEEK_END) - SIGN_WINDOW, 0))
        tail = handle.read()
    return any(sign in head or sign in tail for sign in REPORT_SIGNS)


def users_files(folder: Path) -> list[Path]:
    """The files of a folder holding an earlier report that genhtml did not write, relative to it.

    genhtml writes its pages (named as it names them, or signed as
    `is_genhtml_report` reads it), its stylesheet and images, and
    ``cmd_line``; everything else is the
    user's (``NOTES.md``, a ``CNAME`` or ``.nojekyll`` for GitHub Pages, a
    page of their own), and a new report keeps it.  Links count as the user's.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):  # links to folders are listed, not entered
        for name in [*filenames, *(name for name in dirnames if os.path.islink(os.path.join(dirpath, name)))]:
            path = Path(dirpath, name)
            if not _written_by_genhtml(path):
                found.append(path.relative_to(folder))
    return sorted(found)


def _written_by_genhtml(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    name = path.name
    if name in GENHTML_ASSETS or GENHTML_PAGE.fullmatch(name):
        return True
    return name.endswith(".html") and _signed(path)


def _carry_over(old: Path, report: Path) -> None:
    """Copy the user's files of the earlier report `old` into the new `report`, where they were.

    Copied, not moved: until the new report is in place, the old one stays whole.
    """
    try:
        for relative in users_files(old):
            source, copy = old / relative, report / relative
            if os.path.lexists(copy):
                raise HtmlError(
                    f"{NO_REPORT}{source} is not genhtml's, and the new report has a file of that name: "
                    "move it elsewhere"
                )
            copy.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                os.symlink(os.readlink(source), copy)
            else:
                shutil.copy2(source, copy)
    except OSError as exc:
        raise HtmlError(
            f"{NO_REPORT}cannot keep the files of yours in {old}: {exc.strerror or exc}"
        ) from None


def genhtml_arguments(
    genhtml: Genhtml,
    tracefile: Path | Sequence[Path],
    out_dir: Path,
    title: str,
    description_file: Path | None,
    absolute_root: Path | None,
) -> list[str]:
    """The command line for the genhtml found, on one tracefile or the pieces of one (lcov2_pieces).

    Branch and function tables are on; lcov 1.x needs its rc switch for
    branches in older releases, 2.x its own flag.  Per-test data gets the
    detailed views with the tests' descriptions.  lcov 2.2 and later check
    each tracefile's branches against its lines as it is read, which a piece
    fails by design (its branches are those of all tests): with pieces, the
    check is off, as lcov 1.x never makes it.  lcov 2.0 ignores that rc key;
    2.1, which has no such check, refuses it.
    """
    tracefiles = [tracefile] if isinstance(tracefile, Path) else list(tracefile)
    args = [*genhtml.command, "--quiet", "--title", title, "--output-directory", str(out_dir)]
    if genhtml.major < 2:
        args += ["--rc", "genhtml_branch_coverage=1", "--rc", "genhtml_function_coverage=1"]
    else:
        args += ["--branch-coverage", "--function-coverage"]
        if len(tracefiles) > 1 and (genhtml.major, genhtml.minor) != (2, 1):
            args += ["--rc", "check_data_consistency=0"]
    if description_file is not None:
        args += ["--show-details", "--description-file", str(description_file)]
    if absolute_root is not None:
        args += ["--prefix", str(absolute_root)]
    return [*args, *map(str, tracefiles)]


def without_path_prefix(text: str, prefix: str) -> str:
    """The tracefile with `prefix` taken off its SF: paths, so genhtml finds the sources."""
    return "".join(
        "SF:" + line[3 + len(prefix) :] if line.startswith("SF:" + prefix) else line
        for line in text.splitlines(keepends=True)
    )


@dataclass(frozen=True)
class Differential:
    """What genhtml 2.x needs for its differential report: the base's tracefile, the change, annotations.

    `diff` is the change as `differential.genhtml_diff` makes it, with the
    tracefile's names less their path prefix, as genhtml reads them here;
    `annotate` the arguments that give every line its age and owner (none
    outside git).
    """

    baseline: Path
    diff: bytes
    annotate: tuple[str, ...] = ()

    def arguments(self, work: Path, rootdir: Path, path_prefix: str) -> list[str]:
        """genhtml's arguments, with the baseline's and the change's files written into `work`."""
        baseline = (
            _stripped_copy(self.baseline, work / "baseline", path_prefix) if path_prefix else self.baseline
        )
        diff_file = work / "change.diff"
        diff_file.write_bytes(self.diff)
        return [
            "--baseline-file",
            str(_relative(baseline, rootdir)),
            "--diff-file",
            str(_relative(diff_file, rootdir)),
            *self.annotate,
        ]


@dataclass(frozen=True)
class Annotate:
    """Age and owner of every line, from git blame (genhtml 2.x's --annotate-script, annotate.py).

    `cache` keeps each file's blame for the next run at the same HEAD. Lines
    get no hover text: genhtml spends most of annotation's time making it.
    """

    cache: Path | None = None

    def start(
        self, rootdir: Path, names: Iterable[str], folder: Path
    ) -> tuple[PendingAnnotations | None, str | None]:
        """The blames started in the background, or why not; (None, None) when no file is in git."""
        sources = [name if os.path.isabs(name) else str(rootdir / name) for name in names]
        try:
            pending = start_annotations(rootdir, sources, folder, cache=self.cache)
        except AnnotateError as exc:
            return None, str(exc)
        if not pending.files:  # genhtml stops when no file is under version control
            pending.cancel()
            return None, None
        return pending, None


def annotation_problem(pending: PendingAnnotations) -> str | None:
    """Why the annotations failed (one line), or None when every file was annotated."""
    try:
        pending.result()
    except AnnotateError as exc:
        return str(exc)
    return None


def _source_names(tracefile: Path, prefix: str) -> list[str]:
    """The SF: names of a tracefile, without `prefix`, in the order written."""
    names: dict[str, None] = {}
    try:
        with tracefile.open(encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("SF:"):
                    names[line[3:].rstrip("\r\n").removeprefix(prefix)] = None
    except (OSError, UnicodeError):
        return []
    return list(names)


def write_html(
    genhtml: Genhtml,
    tracefile: Path,
    out_dir: Path,
    rootdir: Path,
    title: str,
    description_file: Path | None = None,
    path_prefix: str = "",
    absolute: bool = False,
    timeout: float | None = DEFAULT_GENHTML_TIMEOUT,
    differential: Differential | None = None,
    annotate: Annotate | None = None,
) -> list[str]:
    """Make the report in a fresh folder beside `out_dir`, which it replaces once genhtml succeeded.

    genhtml runs from the rootdir (the SF: paths are relative to it) with
    relative arguments; genhtml 2.x reads per-test data (a `description_file`
    given) from a copy shaped by lcov2_per_test_pieces, makes the
    differential report when given one, and gives every line its age and
    owner with `annotate` (genhtml 2.x only: see Differential and Annotate).
    Returns genhtml's ERROR/WARNING lines; raises HtmlError when `out_dir`
    may not be replaced, or genhtml fails or takes longer than `timeout`
    seconds: the earlier report then stays as it was.
    """
    keep = [rootdir, tracefile, *([description_file] if description_file else [])]
    if differential is not None:
        keep.append(differential.baseline)
    refuse_html_folder(out_dir, keep)
    target = Path(os.path.realpath(out_dir))
    with _work_folder(target) as work:
        report = work / "report"
        if genhtml.major >= 2 and description_file is not None:  # per-test data
            sources = _lcov2_per_test_copy(tracefile, work / "tracefile", path_prefix, lcov2_pieces(genhtml))
        elif path_prefix:
            sources = [_stripped_copy(tracefile, work / "tracefile", path_prefix)]
        else:
            sources = [tracefile]
        description = None if description_file is None else _relative(description_file, rootdir)
        args = genhtml_arguments(
            genhtml,
            [_relative(source, rootdir) for source in sources],
            _relative(report, rootdir),
            title,
            description,
            rootdir if absolute else None,
        )
        extra = []
        if differential is not None and genhtml.major >= 2:
            extra += differential.arguments(work, rootdir, path_prefix)
        pending, problem = None, None
        if annotate is not None and genhtml.major >= 2:
            pending, problem = annotate.start(
                rootdir, _source_names(tracefile, path_prefix), work / "annotate"
            )
        files = args[-len(sources) :]
        options = args[: -len(sources)] + extra
        annotation = pending.genhtml_arguments(tooltips=False) if pending is not None else []
        # First: --show-owners takes an optional value, and a tracefile right after it would be taken for it.
        at = options.index("--quiet")
        try:
            complaints = _run_genhtml(options[:at] + annotation + options[at:] + files, rootdir, timeout)
            problem = problem or (annotation_problem(pending) if pending is not None else None)
        except HtmlError:
            if pending is None or (problem := annotation_problem(pending)) is None:
                raise
            complaints = _run_genhtml(options + files, rootdir, timeout)  # the report, without what failed
        if problem is not None:
            complaints.insert(0, f"no age and owner of lines: {problem}")
        renames = {_relative(report, rootdir): _relative(target, rootdir)}
        for source in sources:
            if source != tracefile:
                renames[_relative(source, rootdir)] = _relative(tracefile, rootdir)
        rewrite_paths(report, renames, None if absolute else rootdir)
        _swap_in(report, out_dir, work / "old", keep)
    return complaints


@contextlib.contextmanager
def _work_folder(target: Path) -> Iterator[Path]:
    """A fresh folder beside `target`, removed whatever happens.

    Beside, so the finished report moves into place by a rename on the same
    file system; named after the target, so a person who sees it knows why.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.pytest-lcov-", dir=target.parent))
    except OSError as exc:
        raise HtmlError(f"{NO_REPORT}cannot make a folder beside {target}: {exc.strerror or exc}") from None
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _relative(path: Path, rootdir: Path) -> Path:
    """`path` as genhtml, started in the rootdir, reaches it.

    Relative, because genhtml 2.x copies its arguments into the report's
    cmd_line file.  Computed between real paths: the kernel resolves ".."
    from the real working folder, not from the path it was given.
    """
    try:
        return Path(os.path.relpath(os.path.realpath(path), os.path.realpath(rootdir)))
    except ValueError:  # another drive on Windows
        return path


BRANCH_RECORDS = ("BRDA:", "BRF:", "BRH:")
BRANCHES_TEST_NAME = "branches_of_all_tests"
# Sections of one source file per piece handed to genhtml 2.x (lcov2_pieces): within a
# piece lcov 2.x's check walks every test read before (s * s / 2 calls for s sections), across
# pieces it merges each section once more (~250 such calls each, measured on click 8.5.1).
LCOV2_PIECE_SECTIONS = 200
# At most this many pieces (open files, genhtml arguments); past them, the last piece takes the rest.
LCOV2_MAX_PIECES = 100


@dataclass
class Lcov2Load:
    """What genhtml 2.x does with the per-test file as the plugin hands it over, counted as it is written.

    The plugin hands genhtml 2.x the per-test sections without their branch
    records, and each file's branches once, in pieces of at most
    LCOV2_PIECE_SECTIONS sections per source file
    (lcov2_per_test_pieces): lcov 2.x ends every section it reads with
    TraceInfo::check_data, a call per test of that file read so far within
    the same tracefile (`walks`: s*(s+1)/2 for a piece of s sections), and
    merges every section of a later piece into what it read before
    (`merges`).  The rest grows with the records read (DA, FN, FNDA) and is
    written out again in the detailed pages.  lcov 1.x has no such check.
    """

    sections: int = 0
    records: int = 0  # DA, FN and FNDA lines of the per-test sections
    walks: int = 0  # check_data's calls on a test's branch data: per file and piece, 1 + 2 + ... + sections
    merges: int = 0  # sections of a file's later pieces, merged into the earlier ones

    # Seconds per unit for genhtml 2.3.1, fitted on benchmarks/run.py --cases d and genhtml_real.py.
    SECONDS_START = 0.8
    SECONDS_PER_RECORD = 6e-6
    SECONDS_PER_WALK = 2e-6
    SECONDS_PER_MERGE = 1.5e-4

    def add_file(self, records: list[int]) -> None:
        """Count one source file's sections, in the order written, by the records each holds."""
        count = len(records)
        self.sections += count
        self.records += sum(records)
        full = min(count // LCOV2_PIECE_SECTIONS, LCOV2_MAX_PIECES - 1)  # the last piece takes the rest
        rest = count - full * LCOV2_PIECE_SECTIONS
        self.walks += full * LCOV2_PIECE_SECTIONS * (LCOV2_PIECE_SECTIONS + 1) // 2 + rest * (rest + 1) // 2
        self.merges += max(count - LCOV2_PIECE_SECTIONS, 0)

    @property
    def seconds(self) -> float:
        """About how long genhtml 2.x takes on the per-test file, reading it and writing the pages."""
        return (
            self.SECONDS_START
            + self.records * self.SECONDS_PER_RECORD
            + self.walks * self.SECONDS_PER_WALK
            + self.merges * self.SECONDS_PER_MERGE
        )


def lcov2_pieces(genhtml: Genhtml) -> int | None:
    """Sections of one source file per tracefile handed to `genhtml` (None: all in one, for lcov 1.x).

    Every 2.x gets pieces: Debian's lcov 2.3.1 says it is "2.0-1", so the
    version cannot tell the releases with the walk (2.1 and later) from 2.0.
    """
    return LCOV2_PIECE_SECTIONS if genhtml.major >= 2 else None


def lcov2_per_test_text(lines: Iterable[str]) -> Iterator[str]:
    """The per-test file's lines in the shape genhtml 2.x reads in linear time, as one tracefile.

    See lcov2_per_test_pieces; here every section is in the one piece.
    """
    return (line for _, line in lcov2_per_test_pieces(lines, None))


def lcov2_per_test_pieces(
    lines: Iterable[str], per_piece: int | None, max_pieces: int = LCOV2_MAX_PIECES
) -> Iterator[tuple[int, str]]:
    """The per-test file's lines in the shape genhtml 2.x reads in linear time: (piece, line).

    lcov 2.x ends every section it reads with TraceInfo::check_data, which
    walks the branch data of every test read so far for that source file
    (lcovutil.pm: ``if (1 || $lcovutil::debug)``, no option turns it off):
    per-test sections that carry branches cost the square of the tests per
    file.  Here every section keeps its lines and functions, and its branch
    records go; at the end of piece 0 come, per source file, the branches of
    all sections added up as ``lcov -a`` adds them, once, under a test name of
    their own.  Last, so no earlier section walks them either.  genhtml 2.x
    lists no test without line data, so its per-test lists are unchanged; its
    totals and source pages are those of the whole file.  What goes is each
    test's own branch count in the detailed view.

    What is left of the walk is one call per test read so far, on its empty
    branch data, which the TraceFile of each tracefile given keeps apart: so
    the sections of a file go `per_piece` to a piece (its first ones to piece
    0, the next to piece 1, ...), each piece a tracefile genhtml reads and then
    merges, section by section, into what it read before (None: all in 0);
    past `max_pieces`, the rest of a file's sections go to the last piece.
    """
    branches: dict[str, dict[str, int | None]] = {}
    names: set[str] = set()
    sections: dict[str, int] = {}
    current: dict[str, int | None] | None = None
    section: list[str] = []
    piece = 0
    for line in lines:
        if line.startswith("TN:"):
            names.add(line[3:].rstrip("\r\n"))
        elif line.startswith("SF:"):
            path = line[3:].rstrip("\r\n")
            current = branches.setdefault(path, {})
            before = sections.get(path, 0)
            sections[path] = before + 1
            piece = 0 if per_piece is None else min(before // per_piece, max_pieces - 1)
        elif line.startswith("BRDA:") and current is not None:
            where, _, taken = line[5:].rstrip("\r\n").rpartition(",")
            before_taken = current.get(where)
            if taken.isdigit():
                current[where] = int(taken) + (before_taken or 0)
            elif where not in current:
                current[where] = None  # "-": never evaluated, adds as nothing
            continue
        if not line.startswith(BRANCH_RECORDS):
            section.append(line if line.endswith("\n") else line + "\n")
        if line.startswith("end_of_record"):
            yield from ((piece, kept) for kept in section)
            section, piece = [], 0
    yield from ((0, kept) for kept in section)  # whatever follows the last section
    name, number = BRANCHES_TEST_NAME, 2
    while name in names:
        name, number = f"{BRANCHES_TEST_NAME}_{number}", number + 1
    for path, found in branches.items():
        if found:
            yield 0, f"TN:{name}\nSF:{path}\n"
            for where, count in found.items():
                yield 0, f"BRDA:{where},{'-' if count is None else count}\n"
            yield 0, f"BRF:{len(found)}\nBRH:{sum(1 for count in found.values() if count)}\nend_of_record\n"


def _lcov2_per_test_copy(tests_file: Path, folder: Path, prefix: str, per_piece: int | None) -> list[Path]:
    """The per-test file shaped for genhtml 2.x in `folder`, in pieces, without `prefix` on its SF: paths.

    Piece 0 is ``folder/<name>``, piece i ``folder/<i>/<name>``: every piece
    keeps the file's name, which the report's cmd_line shows.
    """
    copies: list[Path] = []
    outs: list[TextIO] = []
    try:
        folder.mkdir()
        with contextlib.ExitStack() as stack, tests_file.open(encoding="utf-8") as source:
            lines = (without_path_prefix(line, prefix) for line in source) if prefix else source
            for piece, line in lcov2_per_test_pieces(lines, per_piece):
                while piece >= len(outs):
                    copy = folder / tests_file.name
                    if outs:
                        (folder / str(len(outs))).mkdir()
                        copy = folder / str(len(outs)) / tests_file.name
                    outs.append(stack.enter_context(copy.open("w", encoding="utf-8")))
                    copies.append(copy)
                outs[piece].write(line)
    except (OSError, UnicodeError) as exc:
        raise HtmlError(f"{NO_REPORT}cannot copy {tests_file} for genhtml: {exc}") from None
    return copies


def _stripped_copy(tracefile: Path, folder: Path, prefix: str) -> Path:
    """A copy of the tracefile in `folder` without `prefix` on its SF: paths."""
    copy = folder / tracefile.name
    try:
        text = tracefile.read_text(encoding="utf-8")
        folder.mkdir()
        copy.write_text(without_path_prefix(text, prefix), encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise HtmlError(f"{NO_REPORT}cannot copy {tracefile} for genhtml: {exc}") from None
    return copy


def _run_genhtml(args: list[str], rootdir: Path, timeout: float | None) -> list[str]:
    """Run genhtml; return its ERROR/WARNING lines, or raise HtmlError naming the first when it failed."""
    returncode, output = run_command(args, rootdir, timeout, "genhtml")
    lines = output.splitlines()
    complaints = [line.strip() for line in lines if re.search(r"\b(ERROR|WARNING)\b", line)]
    if returncode != 0:
        detail = complaints[0] if complaints else (lines[-1].strip() if lines else "no output")
        raise HtmlError(f"genhtml failed (exit {returncode}): {detail}")
    return complaints


def rewrite_paths(report: Path, renames: dict[Path, Path], rootdir: Path | None) -> None:
    """Write the paths genhtml put into the report as they should read.

    The temporary folder's names become the final ones (genhtml 2.x's
    cmd_line file holds its arguments).  With `rootdir` given, the rootdir
    prefix is taken off: genhtml 2.x joins its working folder to relative
    SF: paths for the "Click to go to file ..." titles, and no argument
    changes that.
    """
    rewrites = [(re.compile(re.escape(os.fsencode(old))), os.fsencode(new)) for old, new in renames.items()]
    for spelling in _rootdir_spellings(rootdir) if rootdir is not None else []:
        rewrites.append((re.compile(PATH_START + re.escape(spelling) + rb"/"), b""))
        rewrites.append((re.compile(PATH_START + re.escape(spelling) + PATH_END), b"."))
    for page in report.rglob("*"):
        if page.is_file() and page.suffix.lower() not in BINARY_SUFFIXES:
            _rewrite_file(page, rewrites)


def _rootdir_spellings(rootdir: Path) -> list[bytes]:
    """The rootdir as genhtml may write it: real (its working folder) or as given, raw or HTML-escaped.

    Longest first, so a spelling is replaced before a shorter one within it;
    never "/", whose removal would break every URL.
    """
    spellings = set()
    for text in {os.path.realpath(rootdir), os.path.abspath(rootdir)}:
        raw = os.fsencode(text)
        escaped = raw.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
        spellings |= {raw, escaped.replace(b'"', b"&quot;")}
    return sorted((s for s in spellings if s.strip(b"/")), key=len, reverse=True)


def _rewrite_file(page: Path, rewrites: list[tuple[re.Pattern[bytes], bytes]]) -> None:
    data = page.read_bytes()
    new = data
    for pattern, replacement in rewrites:
        new = pattern.sub(replacement, new)
    if new != data:
        page.write_bytes(new)


def _swap_in(report: Path, out_dir: Path, aside: Path, keep: Iterable[Path]) -> None:
    """Put the finished report at `out_dir`; an earlier one moves aside first, and back if that fails.

    The folder is checked again: it may have changed while genhtml ran.
    """
    refuse_html_folder(out_dir, keep)
    target = Path(os.path.realpath(out_dir))
    had_one = os.path.lexists(target)
    if had_one:
        _carry_over(target, report)
    try:
        if had_one:
            os.replace(target, aside)
        try:
            os.replace(report, target)
        except OSError:
            if had_one:
                os.replace(aside, target)
            raise
    except OSError as exc:
        raise HtmlError(f"{NO_REPORT}cannot put the report into {out_dir}: {exc.strerror or exc}") from None
