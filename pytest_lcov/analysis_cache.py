"""A store of plain-data analysis results, signed so that nobody else can forge one.

Parsing is almost all of a report's time, and between two runs most files have
not changed, so the analysis of each file is kept under a key made of its
source text and everything else the analysis depends on.  What is kept is
plain data (JSON), never code or pickles: reading an entry cannot run anything.

An entry counts only when it carries a valid HMAC made with a secret key that
lives in the user's own cache folder (``$XDG_CACHE_HOME/pytest-lcov/key``,
mode 0600), not in the project: entries planted or edited in the project's
``.pytest_cache`` (which CI systems restore from shared caches) fail the check
and are parsed afresh, so they cannot change a single number.  Each entry also
names the source hash it was made for, so a valid entry moved under another
name is refused too.

This module knows nothing of coverage.py: it stores and checks JSON values.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_lcov import PytestLcovError
from pytest_lcov.safe_write import replacing

ENTRY_MAGIC = b"pytest-lcov analysis 2\n"
KEY_BYTES = 32
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # larger than any real file's analysis
KEEP_UNUSED = 256  # entries this run did not use that may stay, beyond as many as it used
# The only files the store writes: an entry (SHA-256 hex) in the shard named by its first two
# characters, and the temporary file it is written to first.  Nothing else is ever removed.
ENTRY_NAME = re.compile(r"[0-9a-f]{64}")
TEMPORARY_NAME = re.compile(r"\.([0-9a-f]{64})\.[^/]*\.tmp")


def user_key_file() -> Path | None:
    """Where this user's secret key lives, outside any project; None without a home."""
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        folder = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    except RuntimeError:  # no home folder can be found
        return None
    return folder / "pytest-lcov" / "key"


def load_or_create_key(path: Path | None) -> bytes:
    """This user's secret key; a fresh one for this process when none can be trusted.

    A key file is trusted only when it is a regular file of ours that nobody
    else can read or write.  A process-only key still serves one run (the
    parallel parsers' entries) but no later one.
    """
    return load_key(path)[0]


def load_key(path: Path | None) -> tuple[bytes, str | None]:
    """This user's key, or one for this process only and why the one at `path` cannot serve.

    The reason is one line, for the user to act on (None when the key is
    fine, or without a `path`, which asks for a process-only key).
    """
    if path is None:
        return secrets.token_bytes(KEY_BYTES), None
    try:
        return _read_key(path), None
    except FileNotFoundError:
        pass
    except OSError as exc:
        return secrets.token_bytes(KEY_BYTES), _why(path, exc)
    try:
        _create_key(path)
    except FileExistsError:
        pass  # another process made one first: theirs counts
    except OSError as exc:
        return secrets.token_bytes(KEY_BYTES), f"{path} cannot be made: {exc.strerror or exc}"
    try:
        return _read_key(path), None
    except OSError as exc:
        return secrets.token_bytes(KEY_BYTES), _why(path, exc)


def user_key_problem() -> str | None:
    """Why this user's key cannot keep the analysis cache from one run to the next, or None."""
    path = user_key_file()
    if path is None:
        return "no home folder to keep its key in"
    return load_key(path)[1]


class UnusableKey(PytestLcovError, OSError):
    """A key file that exists but cannot be trusted; the message says why, for the user."""


def _why(path: Path, exc: OSError) -> str:
    if isinstance(exc, UnusableKey):
        return f"{path} {exc}"
    if exc.errno == errno.ELOOP:
        return f"{path} is a link: only a file of its own is trusted (delete it for a new one)"
    return f"{path}: {exc.strerror or exc}"


def _read_key(path: Path) -> bytes:
    # Non-blocking: a pipe planted at the key's path would hold the run forever.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnusableKey("is not a regular file (delete it for a new one)")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise UnusableKey("belongs to another user (delete it for a new one)")
        if info.st_mode & 0o077:
            raise UnusableKey("can be read or written by others: chmod 600 it, or delete it for a new one")
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise UnusableKey(f"is not a key ({len(key)} bytes, not {KEY_BYTES}): delete it for a new one")
    return key


def _create_key(path: Path) -> None:
    """Write a new key atomically: a reader sees no key or a whole one.

    Folders are made only inside one that exists: the cache folder
    (``~/.cache``) inside the home folder, ``pytest-lcov`` inside it; a home
    that does not exist is never made.
    """
    base = path.parent.parent
    if not base.is_dir():
        if not base.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, f"{base.parent} does not exist")
        with contextlib.suppress(FileExistsError):
            base.mkdir(mode=0o700)
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
        os.link(tmp, path)  # fails if another process made one first: theirs counts
    finally:
        os.unlink(tmp)


class AnalysisStore:
    """Signed JSON entries in one folder, with the names of those this run used."""

    def __init__(self, folder: Path, key: bytes, salt: str) -> None:
        self.folder = folder
        self.key = key
        self.salt = salt
        self.used: set[str] = set()

    def entry_name(self, source_hash: str) -> str:
        """An entry's name: the source and every setting the analysis depends on."""
        return hashlib.sha256(f"{self.salt}\0{source_hash}".encode()).hexdigest()

    def _path(self, name: str) -> Path:
        return self.folder / name[:2] / name

    def _shard(self, name: str) -> Path | None:
        """The shard folder for entry `name`, made if missing; None unless it is a real folder of ours."""
        shard = self.folder / name[:2]
        if not os.path.lexists(self.folder):
            self.folder.mkdir(parents=True, exist_ok=True)
        if not own_folder(self.folder):
            return None
        with contextlib.suppress(FileExistsError):
            shard.mkdir(mode=0o700)
        return shard if own_folder(shard) else None

    def _signature(self, body: bytes) -> bytes:
        return hmac.new(self.key, body, hashlib.sha256).hexdigest().encode("ascii")

    def has(self, source_hash: str) -> bool:
        """Whether an entry exists for `source_hash` (unchecked: `get` checks it)."""
        return self._path(self.entry_name(source_hash)).is_file()

    def get(self, source_hash: str) -> Any:
        """The value stored for `source_hash`, or None when absent, unsigned or not ours."""
        name = self.entry_name(source_hash)
        path = self._path(name)
        blob = _read_regular_file(path, MAX_ENTRY_BYTES)
        if blob is None:
            return None
        magic, signature, body = _split_entry(blob)
        if magic != ENTRY_MAGIC or not hmac.compare_digest(signature, self._signature(body)):
            return None
        try:
            entry = json.loads(body)
        except ValueError:
            return None
        if not isinstance(entry, dict) or entry.get("name") != name or "value" not in entry:
            return None
        self.used.add(name)
        with contextlib.suppress(OSError):
            os.utime(path)  # last use, for pruning
        return entry["value"]

    def put(self, source_hash: str, value: Any) -> None:
        """Store `value` (JSON data) atomically; a store that cannot be written is only slower."""
        name = self.entry_name(source_hash)
        body = json.dumps({"name": name, "value": value}, separators=(",", ":")).encode()
        path = self._path(name)
        with contextlib.suppress(OSError):
            if self._shard(name) is None:
                return  # a link or someone else's folder: nothing is written through it
            with replacing(path, sync=False) as out:
                out.write(ENTRY_MAGIC + self._signature(body) + b"\n" + body)
            self.used.add(name)

    def prune(self) -> None:
        """Bound the store: keep what this run used, and only a few others, newest first.

        Only the store's own files are ever removed (entry names in their
        shard), and only in real folders of this user, never through a link:
        whatever else the folder holds, or turns out to be, stays.
        """
        if not own_folder(self.folder):
            return
        others = [entry for entry in _entries(self.folder) if entry[1].name not in self.used]
        allowed = len(self.used) + KEEP_UNUSED
        if len(others) <= allowed:
            return
        others.sort(key=lambda entry: entry[0], reverse=True)
        for _, path in others[allowed:]:
            with contextlib.suppress(OSError):
                path.unlink()


def _read_regular_file(path: Path, limit: int) -> bytes | None:
    """The first `limit` bytes of a regular file; None for anything else (a planted pipe would hang)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read(limit + 1)


def _split_entry(blob: bytes) -> tuple[bytes, bytes, bytes]:
    magic_end = len(ENTRY_MAGIC)
    signature_end = blob.find(b"\n", magic_end)
    if signature_end < 0:
        return b"", b"", b""
    return blob[:magic_end], blob[magic_end:signature_end], blob[signature_end + 1 :]


def own_folder(path: Path) -> bool:
    """Whether `path` itself is a folder of this user: not a link to one, nor someone else's."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and mine


def is_entry_file(shard: str, name: str) -> bool:
    """Whether `name` in the shard folder `shard` is a file the store writes there."""
    if ENTRY_NAME.fullmatch(name):
        return name[:2] == shard
    temporary = TEMPORARY_NAME.fullmatch(name)
    return temporary is not None and temporary[1][:2] == shard


def _entries(folder: Path) -> Iterable[tuple[float, Path]]:
    """Every entry file (and stale temporary file) with its last-use time; nothing else."""
    with contextlib.suppress(OSError):
        for shard in folder.iterdir():
            if not re.fullmatch(r"[0-9a-f]{2}", shard.name) or not own_folder(shard):
                continue
            with contextlib.suppress(OSError):
                for path in shard.iterdir():
                    with contextlib.suppress(OSError):
                        info = path.lstat()
                        if is_entry_file(shard.name, path.name) and stat.S_ISREG(info.st_mode):
                            yield info.st_mtime, path
