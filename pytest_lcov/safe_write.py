"""Writing report files: only over files of ours, and never half a file.

A report path the user gives may already name something: a tracefile from an
earlier run (ours to replace), a test or source file (never ours), a device
or a pipe (written through, never replaced by a regular file).  Each check
happens at start-up, so a mistake stops the run before the tests, and again
just before writing, since the file system may have changed meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from pytest_lcov import PytestLcovError

HEAD_BYTES = 64 * 1024
TRACEFILE_LINE = re.compile(
    r"(TN|SF|KF|VER|FN|FNDA|FNF|FNH|FNL|FNA|BRDA|BRF|BRH|DA|LF|LH|MCDC|MCF|MCH):.*|end_of_record\s*|#.*|\s*"
)
DESCRIPTION_LINE = re.compile(r"(TN|TD):.*|\s*")
# An empty file may be taken for an earlier report, unless its name says it is a source.
PYTHON_SUFFIXES = (".py", ".pyw", ".pyi")


class NotOurs(PytestLcovError, OSError):
    """A report path that names something we must not replace; the message is one line."""


def head_lines(path: Path) -> list[str] | None:
    """The first lines of a file (at most 64 KiB), or None when they are not UTF-8 text."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES + 1)
    if len(head) > HEAD_BYTES:
        head = head[: head.rfind(b"\n") + 1]  # whole lines only
    try:
        return head.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        return None


def holds_only(path: Path, pattern: re.Pattern[str]) -> bool:
    """Whether every line at the head of `path` is a line `pattern` allows, and one at least is a record.

    Comments and blank lines alone prove nothing: a source file that holds only
    a licence header is not a report of ours.
    """
    lines = head_lines(path)
    return (
        lines is not None
        and all(pattern.fullmatch(line) for line in lines)
        and any(line.strip() and not line.lstrip().startswith("#") for line in lines)
    )


def output_problem(path: Path, pattern: re.Pattern[str], what: str) -> str | None:
    """Why writing `what` to `path` could destroy something, or None when it is safe.

    Safe: a path that does not exist yet, an empty file, a file whose every
    line is a line of `what` (an earlier report), a character device or a
    pipe (written through: ``/dev/stdout``, ``/dev/null``).
    """
    try:
        info = os.stat(path)  # follows links: the link's target is what would be written
    except FileNotFoundError:
        if os.path.islink(path):
            return "is a link to nothing"
        return None
    except NotADirectoryError:
        return f"is below {_file_above(path)}, which is not a folder"
    except OSError as exc:
        return f"cannot be checked: {exc.strerror or exc}"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder"
    if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        return "is a special file (not a regular file, device or pipe)"
    try:
        if info.st_size == 0 and path.suffix.lower() in PYTHON_SUFFIXES:
            return "is an empty Python source (an __init__.py): pytest-lcov replaces only its own reports"
        if info.st_size == 0 or holds_only(path, pattern):
            return None
    except OSError as exc:
        return f"cannot be read to check it is {what}: {exc.strerror or exc}"
    return f"exists and is not {what}: pytest-lcov replaces only its own reports"


def _file_above(path: Path) -> str:
    """The nearest parent of `path` that exists and is not a folder, as the user would write it."""
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            return os.path.relpath(parent) if not os.path.relpath(parent).startswith("..") else str(parent)
    return str(path.parent)


def refuse_unless_ours(path: Path, pattern: re.Pattern[str], what: str) -> None:
    """Raise NotOurs naming `path` when writing there could destroy something."""
    problem = output_problem(path, pattern, what)
    if problem is not None:
        raise NotOurs(errno.EEXIST, f"refusing to replace it: it {problem}", str(path))


@contextlib.contextmanager
def atomic_output(
    path: Path, pattern: re.Pattern[str] = TRACEFILE_LINE, what: str = "a tracefile"
) -> Iterator[TextIO]:
    """Open `path` for a report; on success the new text replaces the old at once.

    A regular file is written beside its target and renamed over it, which
    readers see as the old file or the new one, never a mix; on any error the
    old file stays as it was.  A link is followed, so the file it names is
    replaced and the link kept.  A device or pipe is written through.
    """
    refuse_unless_ours(path, pattern, what)
    if path.exists() and not path.is_file():
        with _write_through(path) as out:
            yield out
        return
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Before the rename, check that nothing else appeared there meanwhile.
        with replacing(target, lambda: refuse_unless_ours(target, pattern, what)) as binary:
            out = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
            yield out
            out.flush()
            out.detach()  # the binary file is closed by `replacing`
    except OSError as exc:
        if exc.filename is not None and Path(exc.filename).name.startswith(f".{target.name}."):
            # Name the user's file, not our temporary one.
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


@contextlib.contextmanager
def replacing(
    target: Path, before_rename: Callable[[], None] = lambda: None, sync: bool = True
) -> Iterator[BinaryIO]:
    """A temporary file beside `target` that replaces it once written; on any error it is removed.

    The rename is atomic on one file system, so readers see the old file or
    the new one, never a mix.  `sync` first makes the data durable (a report);
    a cache entry that a crash loses is only parsed again.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            if sync:
                os.fsync(out.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        before_rename()
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def _write_through(path: Path) -> Iterator[TextIO]:
    """Write to a device or pipe in place; a pipe nobody reads is an error, not a hang."""
    flags = os.O_WRONLY | (os.O_NONBLOCK if stat.S_ISFIFO(os.stat(path).st_mode) else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(exc.errno, "a pipe with no reader", str(path)) from None
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.set_blocking(fd, True)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
        yield out
        out.flush()


def _umask() -> int:
    # mkstemp creates 0600 files; a report should get the usual permissions.
    mask = os.umask(0)
    os.umask(mask)
    return mask
