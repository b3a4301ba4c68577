"""Age and owner of every source line, for genhtml 2.x's ``--annotate-script``.

genhtml 2.x (lcov 2.x) can bin every line of a report by the age of its last
change and by its owner (``--date-bins``, ``--show-owners``); it asks an
annotator for each file's lines.  lcov's own annotator (``gitblame``) runs
``git blame`` inside genhtml, one file after the other, through a shell.
Here `write_annotations` runs ``git blame --porcelain`` once per file
beforehand, several files at a time (threads waiting on git children), and
writes each file's (commit, owner, date) per line into a folder, with a small
Perl module that genhtml loads once and that only reads them back: genhtml
spends no time in git.  `start_annotations` does the same in the background,
so that genhtml can start at once (the module waits for each file's data);
a `cache` file spares the next run the blames of files unchanged at the same
HEAD.  `genhtml_arguments` is what to add to genhtml's command line.

What genhtml expects (lcov 2.3.1, ``bin/genhtml``, ``SourceFile::_load``;
``lib/lcov/lcovutil.pm``, ``configure_callback``): an ``--annotate-script``
ending in ``.pm`` is ``require``-d from its folder, and its package (the file's
base name) gets ``new($script, @arguments)`` once; genhtml then calls
``annotate($path)`` with the real path of each source file, which returns
``(0, [[$text, $owner, $full_name, $when, $commit], ...])``, one entry per
line of the file as genhtml would read it (its text replaces the file's).
``$when`` is W3CDTF (``2024-05-01T10:00:00+02:00``); a ``$commit`` of
``NONE`` means "not under version control": genhtml then shows the owner as
``no.body`` and no tooltip, and a file must be all ``NONE`` or none.  If no
file at all has a commit, genhtml stops with an error.  With one
``--annotate-script`` argument genhtml splits it at commas, so the module and
its folder are passed as two: paths may hold commas and spaces.

Lines not committed are the current user's (``git var GIT_AUTHOR_IDENT``,
else the login name), dated by the file's modification time, under git's
own id for them (forty zeros): lines edited in the working tree, every line
of a file git does not track (untracked, ignored, staged but never committed,
all files of a repository without commits).  So a fresh repository is
annotated, not refused.  Files outside the repository are not under its
version control: the module gives them ``NONE`` with the file's time, as
lcov's gitblame does.  No date is later than now (or ``SOURCE_DATE_EPOCH``,
genhtml's "now" when set): genhtml takes a future date for an error.  In a
shallow clone, lines older than its history are the boundary commit's, as
``git blame`` says.

Two things the module does inside genhtml, for speed and a clean log: when
DateTime::Format::W3CDTF is not installed (genhtml then warns and parses
dates itself), it stands in for it, parsing each date once; and it has
genhtml's ``SourceFile::_computeAge`` (the clock, then a DateTime
difference, for every line: a third of what annotation cost genhtml on
jinja) work out each distinct date's age once, with genhtml's own code.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pytest_lcov import PytestLcovError
from pytest_lcov.diff import (
    GIT_TIMEOUT,
    DiffError,
    filters_off,
    git_complaint,
    git_output,
    repository,
    run_git,
)
from pytest_lcov.tracefile import safe_field

UNCOMMITTED = "0" * 40  # git blame's id for lines not committed
MODULE_NAME = "pytest_lcov_annotate"  # the Perl package: genhtml takes the file's base name for it
INDEX_NAME = "index"
LINES_FOLDER = "lines"
FAILED_NAME = "failed"  # the note a failed blame leaves for the module
DATE_BINS = (7, 30, 180)  # days: genhtml 2.x's own default cut points
FORMAT = "pytest-lcov annotations 1"
REGULAR_MODES = (b"100644", b"100755")  # blobs of files; links and submodules are not blamed


class AnnotateError(PytestLcovError):
    """Lines' ages and owners cannot be known; the message is one line naming the cause."""


@dataclass(frozen=True)
class Owner:
    """Who a line is from: the short name genhtml's tables show, the full one its tooltips show."""

    name: str
    full: str


@dataclass(frozen=True)
class Annotations:
    """What `write_annotations` wrote: the folder, the module genhtml loads, and counts.

    `files` source files annotated from git (committed or not); `outside`
    those not in the repository (annotated ``NONE`` by the module).  With no
    file in the repository genhtml would stop ("did not find any
    revision-controlled files"): do not annotate then.
    `shallow`: the repository is a shallow clone, so lines older than its
    history are dated by its boundary commit.
    """

    folder: str
    module: str
    root: str
    files: int
    outside: int
    committed_lines: int
    uncommitted_lines: int
    shallow: bool

    def genhtml_arguments(
        self, date_bins: Sequence[int] = DATE_BINS, owners: bool = True, tooltips: bool = True
    ) -> list[str]:
        return genhtml_arguments(self.folder, date_bins, owners, tooltips)


def genhtml_arguments(
    folder: str | os.PathLike[str],
    date_bins: Sequence[int] = DATE_BINS,
    owners: bool = True,
    tooltips: bool = True,
) -> list[str]:
    """genhtml 2.x arguments that annotate the report from `folder` (written by `write_annotations`).

    The module and its folder are two ``--annotate-script`` arguments, so
    that genhtml never splits them at a comma of their paths; `date_bins`
    are the age cut points in days; `owners` adds ``--show-owners``.
    Without `tooltips`, lines get no hover text (commit, date, full name):
    genhtml fills it with seven regular expressions per line, which on jinja
    is 40 % of what annotation adds to genhtml's time.
    """
    where = os.path.abspath(os.fspath(folder))
    arguments = ["--annotate-script", os.path.join(where, MODULE_NAME + ".pm"), "--annotate-script", where]
    if date_bins:
        if any(days <= 0 for days in date_bins):
            raise AnnotateError(f"date bins are positive numbers of days, not {list(date_bins)}")
        arguments += ["--date-bins", ",".join(str(days) for days in sorted(set(date_bins)))]
    if owners:
        arguments.append("--show-owners")
    if not tooltips:
        arguments += ["--rc", "genhtml_annotate_tooltip="]
    return arguments


def write_annotations(
    root: str | os.PathLike[str],
    sources: Iterable[str],
    folder: str | os.PathLike[str],
    *,
    workers: int | None = None,
    timeout: float = GIT_TIMEOUT,
    cache: str | os.PathLike[str] | None = None,
) -> Annotations:
    """Blame every source file (absolute paths, as the tracefile names them) and write the result in `folder`.

    `root` is any folder of the git checkout.  Files run `workers` at a time
    (default: one per CPU, at most 8).  Missing files and folders are
    skipped (genhtml reports them itself).  `cache`, a file, keeps each
    blame for the next run, keyed by HEAD, the blame settings, the path and
    the file's content: a file blamed at the same HEAD with the same content
    is not blamed again (the file keeps only this run's files; an unreadable
    one is ignored).  Raises AnnotateError, one line, when git is missing,
    `root` is not in a checkout, a ``git blame`` fails or hangs beyond
    `timeout` seconds, or the folder cannot be written.
    """
    return start_annotations(root, sources, folder, workers=workers, timeout=timeout, cache=cache).result()


def start_annotations(
    root: str | os.PathLike[str],
    sources: Iterable[str],
    folder: str | os.PathLike[str],
    *,
    workers: int | None = None,
    timeout: float = GIT_TIMEOUT,
    cache: str | os.PathLike[str] | None = None,
) -> PendingAnnotations:
    """`write_annotations` in the background: genhtml may start at once, while git blame runs.

    What can be checked at once is (the checkout, HEAD, the folder), raising
    AnnotateError here; the module and the index are written before this
    returns, and each file's data as soon as it is blamed.  The module waits
    for the data of each file genhtml asks for, so genhtml's start (reading
    the tracefile) and its first pages overlap the blames.  A blame that
    fails leaves a note the module stops genhtml with (an error of genhtml
    naming it), and `PendingAnnotations.result` raises the same
    AnnotateError: then run genhtml again without the annotation arguments.
    """
    start = os.fspath(root)
    if not os.path.isdir(start):
        raise AnnotateError(f"{safe_field(start)} is not a folder")
    now = _now()
    try:
        top, shallow = repository(start, timeout)
        top = os.path.realpath(top)
        settings = filters_off(top, timeout)
        head, tracked = _tracked(top, timeout)
        user = _current_user(top, timeout)
        blame_settings = run_git(["config", "-z", "--get-regexp", r"^blame\."], top, timeout).stdout
    except DiffError as exc:
        raise AnnotateError(str(exc)) from None
    inside: dict[str, str] = {}  # real path -> path relative to the root, "/"-separated
    outside = 0
    for path in dict.fromkeys(sources):
        real = os.path.realpath(path)
        if real in inside or not os.path.isfile(real):
            continue
        relative = os.path.relpath(real, top)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep) or os.path.isabs(relative):
            outside += 1
            continue
        inside[real] = relative.replace(os.sep, "/")
    where = os.path.abspath(os.fspath(folder))
    module = os.path.join(where, MODULE_NAME + ".pm")
    count = max(1, workers if workers is not None else min(8, os.cpu_count() or 1))
    data_files = {
        real: os.path.join(where, LINES_FOLDER, f"{number}.txt") for number, real in enumerate(inside)
    }
    # genhtml waits for a file at most as long as all blames could take one after the other
    wait = timeout * (len(inside) // count + 1) + 60
    try:
        _prepare(where, module, data_files, wait)
    except OSError as exc:
        raise _unwritable(where, exc) from None

    cache_file = os.fspath(cache) if cache is not None else None
    cached = _read_cache(cache_file) if cache_file else {}
    context = b"\0".join([FORMAT.encode(), head.encode(), b"shallow" if shallow else b"", blame_settings])
    kept: dict[str, object] = {}

    def blame(real: str) -> _FileLines:
        relative = inside[real]
        uncommitted = (UNCOMMITTED, user.name, user.full, _w3cdtf(min(_mtime(real), now)))
        if relative not in tracked:
            return _FileLines(real, [uncommitted], [0] * _count_lines(real))
        key = _cache_key(context, relative, real) if cache_file else ""
        if key:
            hit = _from_cache(cached.get(key), real, uncommitted)
            if hit is not None:
                kept[key] = cached[key]
                return hit
        result = run_git(["blame", "--porcelain", "--", relative], top, timeout, settings)
        if result.returncode != 0:
            raise AnnotateError(f"git blame {safe_field(relative)} failed: {git_complaint(result.stderr)}")
        lines = _parse_blame(real, result.stdout, uncommitted, now)
        if key:
            kept[key] = {"entries": lines.entries[1:], "lines": lines.lines}
        return lines

    def annotate(real: str) -> _FileLines:
        try:
            try:
                lines = blame(real)
            except DiffError as exc:
                raise AnnotateError(str(exc)) from None
            try:
                _write_lines(data_files[real], lines)
            except OSError as exc:
                raise _unwritable(where, exc) from None
        except AnnotateError as exc:
            _note_failure(where, str(exc))
            raise
        except BaseException:
            _note_failure(where, "interrupted")
            raise
        return lines

    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="pytest-lcov-blame")
    futures = [pool.submit(annotate, real) for real in sorted(inside)]
    pool.shutdown(wait=False)  # the threads end with their work; no new work comes

    def finish() -> Annotations:
        try:
            results = [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        committed = sum(1 for one in results for index in one.lines if one.entries[index][0] != UNCOMMITTED)
        total = sum(len(one.lines) for one in results)
        if cache_file:
            _write_cache(cache_file, kept)
        return Annotations(where, module, top, len(results), outside, committed, total - committed, shallow)

    return PendingAnnotations(where, module, len(inside), finish, futures)


class PendingAnnotations:
    """Annotations being written by `start_annotations`: where, and the result once every file is blamed.

    `files` is how many sources are in the repository: with none, genhtml
    would stop ("did not find any revision-controlled files"), so do not
    annotate.
    """

    def __init__(
        self,
        folder: str,
        module: str,
        files: int,
        finish: Callable[[], Annotations],
        futures: Sequence[Future[Any]],
    ) -> None:
        self.folder = folder
        self.module = module
        self.files = files
        self._finish = finish
        self._futures = futures
        self._result: Annotations | None = None

    def genhtml_arguments(
        self, date_bins: Sequence[int] = DATE_BINS, owners: bool = True, tooltips: bool = True
    ) -> list[str]:
        return genhtml_arguments(self.folder, date_bins, owners, tooltips)

    def result(self) -> Annotations:
        """Wait for every file; AnnotateError, one line, if one could not be blamed or written."""
        if self._result is None:
            self._result = self._finish()
        return self._result

    def cancel(self) -> None:
        """Blame no file not yet started (those running finish)."""
        for future in self._futures:
            future.cancel()


def _unwritable(folder: str, exc: OSError) -> AnnotateError:
    return AnnotateError(f"cannot write annotations in {safe_field(folder)}: {exc.strerror or exc}")


# --- asking git ---------------------------------------------------------------------------------


def _tracked(root: str, timeout: float) -> tuple[str, frozenset[str]]:
    """HEAD's commit id and every regular file of it, relative to the root ("" and none without commits)."""
    head = run_git(["rev-parse", "--quiet", "--verify", "HEAD^{commit}"], root, timeout)
    if head.returncode != 0:
        return "", frozenset()
    listing = git_output(["ls-tree", "-r", "-z", "--full-tree", "HEAD"], root, "git ls-tree", timeout)
    names = set()
    for entry in listing.split(b"\0"):
        info, _, name = entry.partition(b"\t")  # "mode type id\tname"
        if name and info.startswith(REGULAR_MODES):
            names.add(os.fsdecode(name))
    return head.stdout.strip().decode("ascii", errors="replace"), frozenset(names)


def _current_user(root: str, timeout: float) -> Owner:
    """Who uncommitted lines are from: git's author identity here, else the login name."""
    result = run_git(["var", "GIT_AUTHOR_IDENT"], root, timeout)
    ident = result.stdout.decode("utf-8", errors="replace").strip() if result.returncode == 0 else ""
    person = ident.rsplit(" ", 2)[0] if ident.count(" ") >= 2 else ""
    name, _, mail = person.partition(" <")
    name = _clean(name)
    if not name:  # no full identity (no e-mail address set): the name alone, if set
        config = run_git(["config", "--get", "user.name"], root, timeout)
        name = _clean(config.stdout.decode("utf-8", errors="replace")) if config.returncode == 0 else ""
    if name:
        return Owner(name, _clean(f"{name} <{mail}") if mail else name)
    try:
        login = _clean(getpass.getuser())
    except (OSError, KeyError, ImportError):  # no login name, no passwd entry
        login = ""
    return Owner(login or "unknown", login or "unknown")


# --- the cache of blames between runs -------------------------------------------------------------


def _cache_key(context: bytes, relative: str, path: str) -> str:
    """What a blame depends on: HEAD, shallowness, blame settings, the path and the file's content."""
    digest = hashlib.sha256(context + b"\0" + relative.encode("utf-8", errors="surrogateescape") + b"\0")
    try:
        with open(path, "rb") as handle:
            while piece := handle.read(1 << 20):
                digest.update(piece)
    except OSError:
        return ""
    return digest.hexdigest()


def _read_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == FORMAT else {}


def _from_cache(value: object, path: str, uncommitted: Entry) -> _FileLines | None:
    """A cached blame, with this run's uncommitted entry; None when it is not one."""
    if not isinstance(value, dict):
        return None
    try:
        entries: list[Entry] = [uncommitted]
        for entry in value["entries"]:
            commit, short, full, when = (str(field) for field in entry)
            entries.append((commit, short, full, when))
        lines = [int(index) for index in value["lines"]]
    except (KeyError, TypeError, ValueError):
        return None
    if any(not 0 <= index < len(entries) for index in lines):
        return None
    return _FileLines(path, entries, lines)


def _write_cache(path: str, kept: dict[str, object]) -> None:
    """This run's blames, replacing the file at once; a cache that cannot be written is left as it is."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"format": FORMAT, **kept}, handle, ensure_ascii=False)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temporary)


# --- reading `git blame --porcelain` ------------------------------------------------------------

Entry = tuple[str, str, str, str]  # commit, owner's short name, full name, W3CDTF date


@dataclass
class _FileLines:
    """One file's entries (0: its uncommitted lines) and, per line, the index of its entry."""

    path: str
    entries: list[Entry]
    lines: list[int]


def _parse_blame(path: str, output: bytes, uncommitted: Entry, now: float) -> _FileLines:
    """Each line's entry from ``git blame --porcelain``: a commit's headers come once, at its first line.

    A group starts with ``<id> <old line> <new line>[ <count>]``, then headers
    (``author``, ``author-mail``, ``author-time``, ``author-tz`` ...), then the
    line's text after a tab; the next line starts the next group.
    """
    entries: list[Entry] = [uncommitted]
    index_of: dict[str, int] = {UNCOMMITTED: 0}
    headers: dict[str, dict[bytes, bytes]] = {}
    lines: dict[int, str] = {}
    commit = ""
    expect_group = True
    for raw in output.split(b"\n"):
        if expect_group:
            if not raw:
                continue
            parts = raw.split(b" ")
            if len(parts) < 3 or not parts[2].isdigit():
                raise AnnotateError(f"cannot read git blame output for {safe_field(path)}: {raw[:80]!r}")
            commit = parts[0].decode("ascii", errors="replace")
            lines[int(parts[2])] = commit
            headers.setdefault(commit, {})
            expect_group = False
        elif raw.startswith(b"\t"):
            expect_group = True
        else:
            key, _, value = raw.partition(b" ")
            headers[commit].setdefault(key, value)
    for commit, fields in headers.items():
        if commit not in index_of:
            index_of[commit] = len(entries)
            entries.append(_entry(commit, fields, now))
    count = max(lines, default=0)
    return _FileLines(
        path, entries, [index_of[lines[number]] if number in lines else 0 for number in range(1, count + 1)]
    )


def _entry(commit: str, fields: dict[bytes, bytes], now: float) -> Entry:
    name = _clean(fields.get(b"author", b"").decode("utf-8", errors="replace"))
    mail = _clean(fields.get(b"author-mail", b"").decode("utf-8", errors="replace"))
    when = _int(fields.get(b"author-time", b"0"))
    tz = fields.get(b"author-tz", b"+0000").decode("ascii", errors="replace")
    short = name or mail.strip("<>") or "unknown"
    full = f"{name} {mail}".strip() or short
    return (commit, short, full, _w3cdtf(min(when, now), tz))


def _int(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        return 0


def _clean(text: str) -> str:
    """One field of the data file: no tab or line break, printable."""
    return safe_field(" ".join(text.replace("\t", " ").split()))


def _w3cdtf(seconds: float, tz: str = "") -> str:
    """`seconds` since the epoch as W3CDTF (``2024-05-01T10:00:00+02:00``), in offset `tz` or local time."""
    try:
        if len(tz) == 5 and tz[0] in "+-" and tz[1:].isdigit():
            minutes = int(tz[1:3]) * 60 + int(tz[3:])
            zone = timezone(timedelta(minutes=-minutes if tz[0] == "-" else minutes))
            moment = datetime.fromtimestamp(int(seconds), zone)
        else:
            moment = datetime.fromtimestamp(int(seconds), UTC).astimezone()
    except (OverflowError, OSError, ValueError):  # beyond what the platform's time handles
        moment = datetime.fromtimestamp(0, UTC)
    return moment.isoformat(timespec="seconds")


def _now() -> float:
    """genhtml's "now": ``SOURCE_DATE_EPOCH`` when set, else the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return float(epoch) if epoch.isdigit() else time.time()


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _count_lines(path: str) -> int:
    """Lines as genhtml (Perl's ``<>``) reads them: ``\\n`` ends one; a last line without one counts."""
    count, last = 0, b""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return 0
        with open(path, "rb") as handle:
            while piece := handle.read(1 << 20):
                count += piece.count(b"\n")
                last = piece[-1:]
    except OSError:
        return 0
    return count + (1 if last not in (b"", b"\n") else 0)


# --- the folder genhtml reads -------------------------------------------------------------------


def _prepare(folder: str, module: str, data_files: dict[str, str], wait: float) -> None:
    """The module and the index, and no data of an earlier run (the module waits for each file's).

    The index: its format, how long genhtml may wait for a file's data, then
    each real path and its data file's name, all NUL-separated.
    """
    lines_folder = os.path.join(folder, LINES_FOLDER)
    os.makedirs(lines_folder, exist_ok=True)
    for name in os.listdir(lines_folder):
        if name.endswith(".txt") or name.endswith(".tmp"):
            os.remove(os.path.join(lines_folder, name))
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(folder, FAILED_NAME))
    index = bytearray(FORMAT.encode() + b"\0" + str(int(wait)).encode() + b"\0")
    for real, data_file in data_files.items():
        index += os.fsencode(real) + b"\0" + os.fsencode(os.path.relpath(data_file, folder)) + b"\0"
    with open(module, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(PERL_MODULE)
    with open(os.path.join(folder, INDEX_NAME), "wb") as handle:
        handle.write(bytes(index))


def _write_lines(path: str, result: _FileLines) -> None:
    """One file's data, whole or not at all (the module reads it as soon as it is there).

    Its format line, its number of entries, one entry per line (commit,
    owner, full name, date, tab-separated), then each source line's entry
    number, space-separated, on one line.
    """
    text = [FORMAT, str(len(result.entries)), *("\t".join(entry) for entry in result.entries)]
    text.append(" ".join(map(str, result.lines)))
    temporary = path[: -len(".txt")] + ".tmp"
    with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(text) + "\n")
    os.replace(temporary, path)


def _note_failure(folder: str, message: str) -> None:
    """Tell the module waiting in genhtml that no more data comes, and why (the first failure says)."""
    with (
        contextlib.suppress(OSError),
        open(os.path.join(folder, FAILED_NAME), "x", encoding="utf-8") as handle,
    ):
        handle.write(safe_field(message) + "\n")


PERL_MODULE = r"""# Written by pytest-lcov: genhtml 2.x's --annotate-script, reading what pytest-lcov's
# `git blame` runs wrote beside this file.  genhtml calls new($script, $folder) once and
# annotate($real_path) per source file.
package pytest_lcov_annotate;

use strict;
use POSIX qw(strftime);

# genhtml parses each line's date with DateTime::Format::W3CDTF, and warns when it is not
# installed before falling back to its own parser.  Without it, this parser (the same
# formats, each date parsed once) stands in for it.
BEGIN {
    unless (eval { require DateTime::Format::W3CDTF; 1 }) {
        require DateTime;
        my %parsed;
        no strict 'refs';
        *{'DateTime::Format::W3CDTF::import'} = sub { };
        *{'DateTime::Format::W3CDTF::parse_datetime'} = sub {
            my ($class, $text) = @_;
            return $parsed{$text} if exists($parsed{$text});
            $text =~ /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[-+]\d\d:\d\d)?)?$/
                or die("Invalid W3CDTF date format: $text\n");
            my $ns = defined($7) ? substr($7 . '000000000', 0, 9) : 0;
            return $parsed{$text} = DateTime->new(
                year => $1, month => $2, day => $3, hour => $4 // 0, minute => $5 // 0,
                second => $6 // 0, nanosecond => $ns, time_zone => $8 // 'UTC');
        };
        $INC{'DateTime/Format/W3CDTF.pm'} = __FILE__;
    }
}

# genhtml works out each line's age (SourceFile::_computeAge: the clock, then a DateTime
# difference) for every line: a third of what annotation costs it.  Lines share few dates, so
# each date's age is worked out once, by genhtml's own code.  Dates here are never in the
# future, the one case where it warns (once per file).
our $age_once;

sub _age_once_per_date
{
    return if $age_once || !defined(&SourceFile::_computeAge);
    $age_once = 1;
    my $compute = \&SourceFile::_computeAge;
    my %age;
    no warnings 'redefine';
    *SourceFile::_computeAge = sub {
        my ($when, $path) = @_;
        return $compute->(@_) if ref($when);    # a DateTime: the lines genhtml synthesizes
        return $age{$when} //= $compute->(@_);
    };
}

sub new
{
    my ($class, $script, $folder) = @_;
    die("usage: --annotate-script $script --annotate-script FOLDER\n") unless defined($folder);
    open(my $handle, '<:raw', "$folder/index") or die("cannot read '$folder/index': $!\n");
    my $data = do { local $/; <$handle> };
    close($handle);
    my ($format, $wait, @fields) = split(/\0/, $data);
    die("'$folder/index' is not pytest-lcov's annotation index\n")
        unless defined($format) && $format eq 'pytest-lcov annotations 1';
    my %files;
    for (my $i = 0; $i + 1 < @fields; $i += 2) {
        $files{$fields[$i]} = "$folder/$fields[$i + 1]";
    }
    my $now = (defined($ENV{SOURCE_DATE_EPOCH}) && $ENV{SOURCE_DATE_EPOCH} =~ /^\d+$/) ?
        $ENV{SOURCE_DATE_EPOCH} : time();
    _age_once_per_date();
    return bless {files => \%files, now => $now, folder => $folder, wait => $wait}, $class;
}

# pytest-lcov may still be blaming: wait for the file's data, or the note of a failure.
sub _wait_for
{
    my ($self, $file) = @_;
    my $deadline = time() + $self->{wait};
    until (-e $file) {
        if (open(my $note, '<', "$self->{folder}/failed")) {
            my $why = <$note> // "failed\n";
            die("pytest-lcov: $why");
        }
        die("pytest-lcov: no annotation data for '$file' after $self->{wait} s\n") if time() > $deadline;
        select(undef, undef, undef, 0.005);
    }
}

sub annotate
{
    my ($self, $path) = @_;
    open(my $source, '<', $path) or die("cannot read '$path': $!\n");
    my @text;
    while (my $line = <$source>) {
        chomp($line);
        $line =~ s/\r//g;    # as genhtml reads a source
        push(@text, $line);
    }
    close($source);
    my $file = $self->{files}->{$path};
    my @lines;
    if (!defined($file)) {
        # not in the repository: not under its version control, as lcov's gitblame says
        my $mtime = (stat($path))[9];
        $mtime = $self->{now} if $mtime > $self->{now};
        my $tz = strftime('%z', localtime($mtime));
        $tz =~ s/(\d\d)$/:$1/;
        my $when = strftime('%Y-%m-%dT%H:%M:%S', localtime($mtime)) . $tz;
        push(@lines, [$_, 'no.body', undef, $when, 'NONE']) foreach @text;
        return (0, \@lines);
    }
    $self->_wait_for($file);
    open(my $handle, '<:raw', $file) or die("cannot read '$file': $!\n");
    my $format = <$handle>;
    die("'$file' is not pytest-lcov's annotation data\n") unless $format =~ /^pytest-lcov annotations 1$/;
    my $count = <$handle>;
    my @entries;
    for (1 .. $count) {
        my $entry = <$handle>;
        chomp($entry);
        push(@entries, [split(/\t/, $entry, -1)]);
    }
    my $numbers = <$handle>;
    close($handle);
    chomp($numbers);
    my @index = split(/ /, $numbers);
    for (my $i = 0; $i < @text; ++$i) {
        # a line the file did not have when blamed is uncommitted (entry 0)
        my $entry = $entries[$index[$i] // 0];
        push(@lines, [$text[$i], $entry->[1], $entry->[2], $entry->[3], $entry->[0]]);
    }
    return (0, \@lines);
}

1;
"""
