"""Coverage of a change: which lines a branch touches, and which of them the tests ran.

`changed_lines` asks git, once per question and never through a shell, which
lines were added or changed since the merge base of a ref and HEAD,
committed or not, plus every line of untracked files.  `diff_coverage`
meets those lines with the tracefile's records.  Neither knows pytest or
coverage.py: they work on the model, so the plugin and the tests can feed
them whatever records they hold.

Where this differs from diff-cover (11, reading the same LCOV file):

- The change is one ``git diff <merge base>``: the working tree against the
  merge base, numbered as the tracefile is.  diff-cover adds three diffs
  (committed, staged, unstaged) whose line numbers count in three versions
  of each file, so an uncommitted edit above a committed one makes it name
  lines that did not change and miss those that did.
- Untracked files count their lines as git does (``\n`` ends a line;
  binary files count none).  diff-cover reads them as UTF-8 text, so a
  Latin-1 source counts no line there and a lone CR ends one.
- A change to any line of a statement that spans lines (a call's arguments,
  a backslash continuation, a closing bracket) counts the statement, whose
  ``DA`` line is its first; diff-cover counts only changed lines that are
  ``DA`` lines, so such a statement that never ran passes its gate there.
- Changed branch lines with a way out never taken are "partly missed";
  diff-cover has no such notion for LCOV input.  Both rates count lines.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from pytest_lcov import PytestLcovError
from pytest_lcov.model import FileRecord, format_ranges, format_spans, line_spans, percent
from pytest_lcov.tracefile import safe_field

GIT_TIMEOUT = 60.0
SHALLOW_HINT = "fetch more history: git fetch --unshallow, or fetch-depth: 0"
# Settings that would change what `git diff` prints, pinned whatever the user's configuration says.
GIT_CONFIG = (
    "core.quotePath=true",  # every byte outside printable ASCII as an octal escape: one way to read names
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.relative=false",
    "color.ui=never",
)
DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",  # a textconv filter would number other lines than the file's own
    "--unified=0",
    "--inter-hunk-context=0",
    "-M",
    "--ignore-submodules=all",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
# A filter driver with an empty clean command and no process is no filter; not required, git goes on.
FILTER_OFF = ("clean=", "process=", "required=false")
BINARY_PROBE = 8000  # git's own rule: a NUL byte in the first 8000 bytes makes a file binary
READ_PIECE = 1 << 20  # untracked files are counted a MiB at a time
PATHS_PER_CALL = 500  # files taken for binary are diffed as text this many per git call
SKIPPED_MODES = (b" 160000", b" 120000")  # submodules and symbolic links: no lines of a file of their own
HUNK = re.compile(rb"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
C_ESCAPES = {
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
    ord("\\"): ord("\\"),
    ord('"'): ord('"'),
}


class DiffError(PytestLcovError):
    """The change cannot be known; the message is one line naming the cause."""


class ChangedLines(Mapping[str, frozenset[int]]):
    """Absolute paths of changed files mapped to their changed lines (numbered as in the working tree).

    A mapping, so that `diff_coverage` takes it as it is; it also keeps where
    the repository is, which ref was asked for and the merge base found.

    A file's content is read only when its lines are asked for, and then in
    pieces: `touched` names every file without reading any, so that only the
    measured ones among them are read (an untracked data set of gigabytes
    is never opened).  Iterating the mapping looks at the head of each file
    (binary ones, by git's own rule of a NUL byte, count no line).
    """

    def __init__(
        self,
        root: str,
        ref: str,
        base: str,
        files: Mapping[str, Collection[int]],
        untracked: Iterable[str] = (),
    ) -> None:
        self.root = root
        self.ref = ref
        self.base = base
        self._diffed = {path: frozenset(lines) for path, lines in files.items() if lines}
        self._untracked = dict.fromkeys(path for path in untracked if path not in self._diffed)
        self._read: dict[str, frozenset[int]] = {}

    def touched(self) -> list[str]:
        """Every file the change may have lines in, without reading one: diffed, then untracked."""
        return [*self._diffed, *self._untracked]

    def lines(self, path: str) -> frozenset[int]:
        """The changed lines of `path` (none for a binary file); KeyError for a file the change misses."""
        if path not in self._read:
            if path in self._diffed:
                self._read[path] = frozenset() if _is_binary(path) else self._diffed[path]
            elif path in self._untracked:
                self._read[path] = frozenset(range(1, _count_lines(path) + 1))
            else:
                raise KeyError(path)
        return self._read[path]

    def __getitem__(self, path: str) -> frozenset[int]:
        lines = self.lines(path)
        if not lines:
            raise KeyError(path)
        return lines

    def __iter__(self) -> Iterator[str]:
        return (path for path in self.touched() if self.lines(path))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def relative(self, path: str) -> str:
        """`path` relative to the repository root with ``/`` separators, as GitHub names files."""
        return repo_relative(path, self.root)


def repo_relative(path: str, root: str) -> str:
    """`path` relative to `root` with ``/`` separators; unchanged when it is elsewhere."""
    try:
        relative = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return path.replace(os.sep, "/")
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return path.replace(os.sep, "/")
    return relative.replace(os.sep, "/")


# --- asking git ---------------------------------------------------------------------------------


def _git_env() -> dict[str, str]:
    """The environment git runs in: C messages (so errors read the same everywhere), no pager, no prompt.

    GIT_OPTIONAL_LOCKS=0 keeps `git diff` from rewriting the index while
    someone else's git runs in the same checkout.
    """
    env = dict(os.environ)
    env.update(LC_ALL="C", GIT_PAGER="cat", PAGER="cat", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    return env


def _run_git(
    args: Iterable[str], cwd: str, timeout: float, settings: Iterable[str] = (), stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run one git command (a list, never a shell) with `settings`, fed `stdin` (else nothing);
    DiffError when git cannot run or hangs."""
    arguments = list(args)
    config = [part for setting in (*GIT_CONFIG, *settings) for part in ("-c", setting)]
    command = ["git", "--no-pager", *config, *arguments]
    given: dict[str, Any] = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    try:
        return subprocess.run(command, cwd=cwd, env=_git_env(), capture_output=True, timeout=timeout, **given)
    except FileNotFoundError:
        raise DiffError("git is not installed (no git command on PATH)") from None
    except subprocess.TimeoutExpired:
        raise DiffError(f"git {arguments[0]} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise DiffError(f"cannot run git in {safe_field(cwd)}: {exc.strerror or exc}") from None


def git_complaint(stderr: bytes) -> str:
    """git's first line of complaint, printable, without its ``fatal:`` prefix."""
    for line in stderr.decode("utf-8", errors="replace").splitlines():
        text = line.strip()
        if text:
            return safe_field(text.removeprefix("fatal: ").removeprefix("error: "))
    return "no message"


def _checked(result: subprocess.CompletedProcess[bytes], what: str) -> bytes:
    """The output of a git command that must succeed; its first stderr line otherwise."""
    if result.returncode != 0:
        raise DiffError(f"{what} failed: {git_complaint(result.stderr)}")
    return result.stdout


def _repository(cwd: str, timeout: float) -> tuple[str, bool]:
    """The repository's root folder and whether it is a shallow clone."""
    result = _run_git(["rev-parse", "--show-toplevel", "--is-shallow-repository"], cwd, timeout)
    if result.returncode != 0:
        reason = git_complaint(result.stderr)
        if "not a git repository" in reason:
            raise DiffError(f"{safe_field(cwd)} is not in a git checkout")
        raise DiffError(f"git rev-parse failed in {safe_field(cwd)}: {reason}")
    root, _, shallow = result.stdout.rstrip(b"\n").rpartition(b"\n")
    return os.fsdecode(root), shallow == b"true"


def _merge_base(ref: str, root: str, shallow: bool, timeout: float) -> str:
    """The commit where HEAD's history left `ref`'s: the change is everything after it.

    A ref starting with ``-`` would be read as an option, so it is refused
    as unknown.  Without a merge base in a shallow clone, the history is
    what is missing, and the message says how to fetch it.
    """
    hint = f" (this is a shallow clone: {SHALLOW_HINT})" if shallow else ""
    shown = safe_field(ref)
    if not ref or ref.startswith("-"):
        raise DiffError(f"unknown git ref {shown!r}")
    result = _run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root, timeout)
    if result.returncode != 0:
        raise DiffError(f"unknown git ref {shown!r}: no commit of that name{hint}")
    commit = result.stdout.strip().decode("ascii")
    result = _run_git(["merge-base", commit, "HEAD"], root, timeout)
    if result.returncode == 1 and not result.stderr.strip():
        if shallow:
            raise DiffError(
                f"the merge base of {shown} and HEAD is not in this shallow clone: {SHALLOW_HINT}"
            )
        raise DiffError(f"{shown} and HEAD have no commit in common")
    return _checked(result, f"git merge-base {shown} HEAD").strip().decode("ascii")


def changed_lines(ref: str, cwd: str | os.PathLike[str], timeout: float = GIT_TIMEOUT) -> ChangedLines:
    """Lines added or changed since the merge base of `ref` and HEAD, committed or not, and untracked files.

    One ``git diff`` of the working tree against the merge base covers
    commits, staged and unstaged edits at once; untracked files that are not
    ignored count with all their lines.  Renamed files count their changed
    lines under the new name; deleted and binary files, submodules and
    symbolic links count nothing.  Raises DiffError, one line, when git is
    missing, `cwd` is not in a checkout, `ref` is unknown, the merge base is
    beyond a shallow clone's history, or git fails otherwise.
    """
    folder = os.fspath(cwd)
    if not os.path.isdir(folder):  # else running git there would fail as if git were missing
        raise DiffError(f"{safe_field(folder)} is not a folder")
    root, shallow = _repository(folder, timeout)
    base = _merge_base(ref, root, shallow, timeout)
    unfiltered = _without_filters(root, timeout)
    diff = _checked(_run_git(["diff", *DIFF_OPTIONS, base, "--"], root, timeout, unfiltered), "git diff")
    files = parse_diff(diff, root)
    files.update(_text_taken_for_binary(base, root, timeout, unfiltered))
    return ChangedLines(root, ref, base, files, _untracked(root, timeout))


def _without_filters(root: str, timeout: float) -> list[str]:
    """Settings that turn off every filter driver configured for this checkout.

    A ``filter=NAME`` attribute, which a committed ``.gitattributes`` can
    set, has git pass each working-tree file through that driver's clean
    command before comparing it: one that drops lines would hide them from
    the change, and one that adds or drops any would shift the numbers
    from the file's own.  The change is read from the files as they are.
    """
    result = _run_git(["config", "-z", "--get-regexp", r"^filter\."], root, timeout)
    names = set()
    for item in result.stdout.split(b"\0"):  # "filter.NAME.VARIABLE\nvalue"; NAME may hold dots
        key = os.fsdecode(item.split(b"\n", 1)[0])
        if key.startswith("filter.") and key.count(".") >= 2:
            names.add(key[len("filter.") : key.rindex(".")])
    return [f"filter.{name}.{variable}" for name in sorted(names) for variable in FILTER_OFF]


def _text_taken_for_binary(
    base: str, root: str, timeout: float, settings: Iterable[str] = ()
) -> dict[str, set[int]]:
    """The changed lines of text files that git took for binary, and so showed no line of.

    ``.gitattributes`` (``*.py -diff``, ``binary``), a diff driver's
    ``binary = true`` or the user's attributes file can make git print
    "Binary files differ" for a source: such a file is diffed again as text.
    Whether it is text is judged as git judges it without attributes (no NUL
    byte in its first 8000 bytes), so a real binary, however large, is never
    diffed as text.  A renamed file is asked for under both names, so it is
    still paired with its old self.
    """
    listing = _checked(
        _run_git(["diff", *DIFF_OPTIONS, "--numstat", "-z", base, "--"], root, timeout, settings),
        "git diff --numstat",
    )
    names: list[bytes] = []
    for old, new in _binary_entries(listing):
        if not _is_binary(_absolute(root, new)) and os.path.lexists(_absolute(root, new)):
            names += [old, new] if old != new else [new]
    files: dict[str, set[int]] = {}
    for start in range(0, len(names), PATHS_PER_CALL):
        pathspecs = [":(literal)" + os.fsdecode(name) for name in names[start : start + PATHS_PER_CALL]]
        result = _run_git(["diff", *DIFF_OPTIONS, "--text", base, "--", *pathspecs], root, timeout, settings)
        files.update(parse_diff(_checked(result, "git diff --text"), root))
    return files


def _binary_entries(numstat: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(old name, new name) of each file ``git diff --numstat -z`` counts as binary (``-`` for its counts).

    A renamed file's entry has no name of its own, and its two names follow.
    """
    fields = iter(numstat.split(b"\0"))
    for entry in fields:
        parts = entry.split(b"\t", 2)  # a name may hold tabs: only the first two end a field
        if len(parts) != 3:
            continue
        added, deleted, name = parts
        if not name:  # a rename: old and new follow
            old, new = next(fields, b""), next(fields, b"")
        else:
            old = new = name
        if added == deleted == b"-" and new:
            yield old, new


def _untracked(root: str, timeout: float) -> list[str]:
    """Untracked files that are not ignored, all of whose lines count: new code not yet added is changed code.

    Only their names: a file's lines are counted only if it turns out to be measured.
    """
    names = _checked(
        _run_git(["ls-files", "--others", "--exclude-standard", "-z"], root, timeout), "git ls-files"
    )
    # "sub/": a repository inside, not a file
    return [_absolute(root, name) for name in names.split(b"\0") if name and not name.endswith(b"/")]


def _absolute(root: str, name: bytes) -> str:
    """A name git printed (relative to the root, ``/`` separators) as this system's absolute path."""
    return os.path.normpath(os.path.join(root, os.fsdecode(name)))


def _count_lines(path: str) -> int:
    """How many lines a text file has, as git counts them; 0 for binary, special or unreadable files.

    Lines end at ``\\n`` only (a CRLF line is one line, a lone CR none),
    and a last line without a newline counts.  Read a piece at a time: memory
    stays the same whatever the file's size.
    """
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return 0
        with open(path, "rb") as handle:
            piece = handle.read(BINARY_PROBE)
            if b"\0" in piece:
                return 0
            count, last = 0, b""
            while piece:
                count += piece.count(b"\n")
                last = piece[-1:]
                piece = handle.read(READ_PIECE)
    except OSError:
        return 0
    return count + (1 if last not in (b"", b"\n") else 0)


def _is_binary(path: str) -> bool:
    """git's own rule, whatever attributes say: a NUL byte in the first 8000 bytes (only they are read)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            return b"\0" in handle.read(BINARY_PROBE)
    except OSError:
        return False


# --- reading `git diff` -------------------------------------------------------------------------


def parse_diff(diff: bytes, root: str) -> dict[str, set[int]]:
    """New-side numbers of the added lines of a zero-context ``git diff``, by absolute path.

    Hunk lines are counted by the hunk's own header, so an added line that
    reads like a header (``+++ b/x``, ``diff --git``) is never taken for
    one.  Files without hunks (binary, pure renames, mode changes) and
    deleted files get nothing.  Submodules and symbolic links are skipped:
    a link's one "line" is its target's name, and matched by real path it
    would pass for line 1 of the file it points to.
    """
    files: dict[str, set[int]] = {}
    current: set[int] | None = None
    skipped = False
    new_line = old_left = new_left = 0
    for raw in diff.split(b"\n"):  # not splitlines(): a CR inside a line is the line's own
        if old_left > 0 or new_left > 0:
            tag = raw[:1]
            if tag == b"+":
                if current is not None:
                    current.add(new_line)
                new_line, new_left = new_line + 1, new_left - 1
            elif tag == b"-":
                old_left -= 1
            elif tag != b"\\":  # context (none with -U0, but diff.suppressBlankEmpty prints it empty)
                new_line, new_left, old_left = new_line + 1, new_left - 1, old_left - 1
            continue
        if raw.startswith(b"diff "):
            current, skipped = None, False
        elif raw.endswith(SKIPPED_MODES) and raw.startswith((b"index ", b"new file mode ", b"new mode ")):
            skipped = True  # these lines come before the file's "+++" line
        elif raw.startswith(b"+++ "):
            name = _header_name(raw[4:])
            if name is not None and not skipped:
                current = files.setdefault(_absolute(root, name), set())
        elif raw.startswith(b"@@"):
            match = HUNK.match(raw)
            if match is None:
                raise DiffError(f"cannot read git diff output: {_excerpt(raw)}")
            old_left = 1 if match[2] is None else int(match[2])
            new_left = 1 if match[4] is None else int(match[4])
            new_line = int(match[3])
    return {path: lines for path, lines in files.items() if lines}


def _header_name(text: bytes) -> bytes | None:
    """The path of a ``+++`` header (without its ``b/``), or None for ``/dev/null`` (a deleted file).

    git C-quotes names with special bytes, and ends a name that holds a
    space with a tab, which is not part of it.
    """
    if text.startswith(b'"'):
        name = _unquote(text)
    else:
        name = text[:-1] if text.endswith(b"\t") else text
        if name == b"/dev/null":
            return None
    if not name.startswith(b"b/"):
        raise DiffError(f"cannot read git diff output: +++ {_excerpt(text)}")
    return name[2:]


def _unquote(text: bytes) -> bytes:
    """A C-quoted name as git writes it (``"b/t\\tab \\303\\251.py"``), back to its bytes."""
    out = bytearray()
    index = 1
    while index < len(text):
        byte = text[index]
        if byte == ord('"'):
            return bytes(out)
        if byte != ord("\\"):
            out.append(byte)
            index += 1
            continue
        escape = text[index + 1 : index + 2]
        if escape.isdigit():
            out.append(int(text[index + 1 : index + 4], 8))
            index += 4
        elif escape and escape[0] in C_ESCAPES:
            out.append(C_ESCAPES[escape[0]])
            index += 2
        else:
            break
    raise DiffError(f"cannot read git diff output: badly quoted name {_excerpt(text)}")


def _excerpt(raw: bytes) -> str:
    text = safe_field(raw.decode("utf-8", errors="replace"))
    return repr(text if len(text) <= 80 else text[:80] + "...")


# --- meeting the change with the tracefile ------------------------------------------------------


@dataclass(frozen=True)
class FileDiffCoverage:
    """One changed file of the measured source: its changed statements and what ran of them.

    `statements` are the changed lines that are statements (the record's
    ``DA`` lines); `missing` those of them that never ran; `partial` the
    changed branch lines that ran but have a way out never taken (a line
    that never ran is missing, not also partial).  `missing_spans` groups
    `missing` as the terminal table does: a range goes on across lines that
    are not statements (blank lines, comments).
    """

    path: str
    name: str
    statements: tuple[int, ...]
    missing: tuple[int, ...]
    partial: tuple[int, ...]
    missing_spans: tuple[tuple[int, int], ...]

    @property
    def covered(self) -> int:
        return len(self.statements) - len(self.missing)

    @property
    def missing_ranges(self) -> str:
        """`missing` as ``4-5,9``."""
        return format_spans(self.missing_spans)


@dataclass(frozen=True)
class DiffCoverage:
    """The change's coverage: per changed file of the measured source, and added up.

    Files are in the order of their shown names.  `ref` is the ref the
    change was measured against, when known.
    """

    files: tuple[FileDiffCoverage, ...]
    ref: str = ""

    @property
    def statements(self) -> int:
        """Changed lines that are measured statements."""
        return sum(len(entry.statements) for entry in self.files)

    @property
    def covered(self) -> int:
        return sum(entry.covered for entry in self.files)

    @property
    def missing(self) -> int:
        """How many changed statements never ran."""
        return sum(len(entry.missing) for entry in self.files)

    @property
    def partial(self) -> int:
        """How many changed branch lines ran with a way out never taken."""
        return sum(len(entry.partial) for entry in self.files)

    @property
    def rate(self) -> float | None:
        """The unrounded percentage of changed statements that ran; None when no statement changed."""
        return self.covered * 100 / self.statements if self.statements else None

    @property
    def percent(self) -> str:
        """The percentage as `lcov --summary` rounds it (never 100.0 with a line missed); "-" for none."""
        return percent(self.covered, self.statements)

    def under(self, threshold: float) -> bool:
        """Whether the change misses a gate of `threshold` percent, compared unrounded.

        A change with no measured statement (documentation, tests only)
        cannot miss it: there is nothing in it to cover.
        """
        return self.covered * 100 < threshold * self.statements

    def missing_by_file(self) -> list[str]:
        """``pkg/mod.py:4-5,9`` for each file with changed lines that never ran."""
        return [f"{entry.name}:{entry.missing_ranges}" for entry in self.files if entry.missing]

    def partial_by_file(self) -> list[str]:
        """``pkg/mod.py:7,12`` for each file with changed branch lines partly missed."""
        return [f"{entry.name}:{format_ranges(entry.partial)}" for entry in self.files if entry.partial]


def diff_coverage(
    changed: Mapping[str, AbstractSet[int]],
    records: Mapping[str, FileRecord],
    name: Callable[[str], str],
    starts: Mapping[str, Mapping[int, int]] | None = None,
) -> DiffCoverage:
    """Meet the changed lines with the records (keyed by absolute source path).

    Changed files that are not in the records (tests, documentation, code
    outside the measured source) are not counted.  A changed path is first
    looked up as it is, then by its real path, since git names files from
    the repository's real root while records may come through a symbolic link.
    `starts` (by the records' keys) maps each line of a statement that spans
    lines to the statement's first line, its ``DA`` line: a change to any of
    its lines is a change to the statement.
    """
    find = _RecordFinder(records)
    entries = []
    # Files are looked up first and read after: only measured ones (ChangedLines reads lazily).
    for path in changed.touched() if isinstance(changed, ChangedLines) else changed:
        key = find(path)
        if key is None:
            continue
        lines = changed.lines(path) if isinstance(changed, ChangedLines) else changed[path]
        if lines:
            first_lines = (starts or {}).get(key, {})
            touched = {first_lines.get(line, line) for line in lines}
            entries.append(_file_coverage(path, name(path), touched, records[key]))
    entries.sort(key=lambda entry: (entry.name, entry.path))
    return DiffCoverage(tuple(entries), changed.ref if isinstance(changed, ChangedLines) else "")


class _RecordFinder:
    """Finds the key of a path's record; the real-path index is built only when a plain lookup misses."""

    def __init__(self, records: Mapping[str, FileRecord]) -> None:
        self.records = records
        self.by_real_path: dict[str, str] | None = None

    def __call__(self, path: str) -> str | None:
        if path in self.records:
            return path
        if self.by_real_path is None:
            self.by_real_path = {_real(key): key for key in self.records}
        return self.by_real_path.get(_real(path))


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _file_coverage(path: str, name: str, lines: AbstractSet[int], record: FileRecord) -> FileDiffCoverage:
    """One file's changed statements, those never run, and changed branch lines partly missed."""
    statements = sorted(line for line in lines if line in record.lines)
    missing = [line for line in statements if not record.lines[line]]
    untaken = {branch.line for branch in record.branches if not branch.taken}
    never_ran = set(missing)
    partial = sorted(line for line in untaken if line in lines and line not in never_ran)
    spans = line_spans(missing, record.lines) if missing else []
    return FileDiffCoverage(path, name, tuple(statements), tuple(missing), tuple(partial), tuple(spans))


# --- ranges and annotations ---------------------------------------------------------------------


MAX_ANNOTATIONS = 10
"""GitHub shows at most 10 warning annotations per step (and 50 per job); more are dropped silently."""


def escape_data(text: str) -> str:
    """A workflow command's message, as actions/toolkit's command.ts escapes it (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,``, which would end it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(result: DiffCoverage, root: str, limit: int = MAX_ANNOTATIONS) -> list[str]:
    """GitHub ``::warning`` commands for the changed lines that never ran, one per range.

    At most `limit` commands: when there are more ranges, the last one is a
    note of how many were left out, since GitHub would drop them unsaid.
    File names are relative to the repository root `root`, ``/``-separated.
    """
    commands = []
    for entry in result.files:
        file = escape_property(repo_relative(entry.path, root))
        for first, last in entry.missing_spans:
            lines = f"line {first}" if first == last else f"lines {first}-{last}"
            message = escape_data(f"{lines} changed but never run by the tests")
            commands.append(f"::warning file={file},line={first},endLine={last},title=Not covered::{message}")
    return capped_annotations(commands, limit, "Not covered", "ranges of changed lines never run")


def capped_annotations(commands: list[str], limit: int, title: str, what: str) -> list[str]:
    """At most `limit` workflow commands; past it, the last says how many `what` were left out."""
    if len(commands) <= limit:
        return commands
    kept = max(limit - 1, 0)
    note = f"::warning title={title}::{len(commands) - kept} more {what} are not annotated"
    return [*commands[:kept], note] if limit > 0 else []


def summary_line(result: DiffCoverage) -> str:
    """One line for the terminal: the change's covered statements, rate and where it was measured from."""
    since = f" since {safe_field(result.ref)}" if result.ref else ""
    if not result.statements:
        return f"diff coverage{since}: no changed line is a measured statement"
    text = f"diff coverage{since}: {result.covered}/{result.statements} changed lines ({result.percent}%)"
    if result.partial:
        text += f"; branch lines partly missed: {result.partial}"
    return text


# --- public plumbing, for the differential report (differential.py) ---------------------------


def run_git(
    args: Iterable[str],
    cwd: str,
    timeout: float = GIT_TIMEOUT,
    settings: Iterable[str] = (),
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run one git command as `changed_lines` does: a list, never a shell, pinned settings, C messages."""
    return _run_git(args, cwd, timeout, settings, stdin)


def git_output(args: Iterable[str], cwd: str, what: str, timeout: float = GIT_TIMEOUT) -> bytes:
    """The output of a git command that must succeed; DiffError with git's first complaint otherwise."""
    return _checked(_run_git(args, cwd, timeout), what)


def repository(cwd: str, timeout: float = GIT_TIMEOUT) -> tuple[str, bool]:
    """The root of the checkout holding `cwd`, and whether it is a shallow clone; DiffError if none."""
    return _repository(cwd, timeout)


def merge_base(ref: str, root: str, shallow: bool, timeout: float = GIT_TIMEOUT) -> str:
    """The merge base of `ref` and HEAD, as `changed_lines` finds it (DiffError, one line, if none)."""
    return _merge_base(ref, root, shallow, timeout)


def filters_off(root: str, timeout: float = GIT_TIMEOUT) -> list[str]:
    """Settings that turn off every filter driver, so that a diff numbers the files' own lines."""
    return _without_filters(root, timeout)


def unquote_name(text: bytes) -> bytes:
    """A name as git C-quotes it (``"a/t\\tab"``) back to its bytes; DiffError if badly quoted."""
    return _unquote(text)
