"""A realistic project to measure: one module per Python construct that trips LCOV writers.

Tests copy it into a pytester folder with `write_sample_project`.  The
expectations in the tests were worked out by hand from these sources.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import PYTEST, session_env

FILES: dict[str, str] = {
    "pyproject.toml": """\
[project]
name = "sample-app"
version = "1.0"

[tool.coverage.run]
source = ["app"]
""",
    "app/__init__.py": "",
    "app/decorators.py": """\
import functools


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@logged
def double(x):
    \"\"\"Twice x.\"\"\"
    return 2 * x


@logged
def never_called(x):
    return x


def one_liner(): return 1


def one_liner_uncalled(): return 2
""",
    "app/shapes.py": """\
class Box:
    def __init__(self, size):
        self._size = size

    @property
    def size(self):
        return self._size

    @size.setter
    def size(self, value):
        if value < 0:
            raise ValueError("negative")
        self._size = value

    def grow(self):
        def step(n):
            return n + 1
        self._size = step(self._size)
        return self


class Unused:
    def method(self):
        return "never"
""",
    "app/flow.py": """\
import asyncio


async def fetch(n):
    await asyncio.sleep(0)
    return n * 3


def evens(limit):
    for i in range(limit):
        if i % 2 == 0:
            yield i


squares = [i * i for i in range(4)]
key = lambda item: -item


def describe(value):
    match value:
        case 0:
            return "zero"
        case int():
            return "int"
        case _:
            return "other"


def guarded(d):
    try:
        result = d["k"]
    except KeyError:
        result = None
    finally:
        d["seen"] = True
    return result


def countdown(n):
    while n > 0:
        n -= 1
    else:
        n = -1
    return n


def lookup(d):
    if d["missing"]:
        return 1
    return 0


def debug_only():  # pragma: no cover
    return "debug"
""",
    "app/legacy.py": b"""\
# -*- coding: latin-1 -*-
GREETING = "caf\xe9"


def greet():
    return GREETING
""".decode("latin-1"),
    "app/my module, v2.py": """\
def spaced():
    return "ok"
""",
    "app/never_imported.py": """\
def orphan():
    return 42
""",
    "conftest.py": """\
import app.decorators
""",
    "tests/test_app.py": """\
import asyncio
import importlib.util
from pathlib import Path

import pytest

from app import decorators, flow, legacy, shapes


def test_decorators():
    assert decorators.double(2) == 4
    assert decorators.one_liner() == 1


def test_shapes():
    box = shapes.Box(1)
    box.size = 2
    assert box.grow().size == 3


def test_flow():
    assert asyncio.run(flow.fetch(2)) == 6
    assert list(flow.evens(3)) == [0, 2]
    assert flow.describe(0) == "zero"
    assert flow.describe(5) == "int"
    assert flow.guarded({}) is None
    assert flow.countdown(2) == -1
    with pytest.raises(KeyError):
        flow.lookup({})


def test_legacy_and_spaced():
    assert legacy.greet() == "caf\\u00e9"
    path = Path(flow.__file__).with_name("my module, v2.py")
    spec = importlib.util.spec_from_file_location("spaced", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.spaced() == "ok"
""",
}


def write_sample_project(root: Path) -> None:
    """Write the project under `root`, latin-1 file as latin-1."""
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        encoding = "latin-1" if name == "app/legacy.py" else "utf-8"
        path.write_text(text, encoding=encoding)


class SampleRuns:
    """Sessions over the sample project that several tests read alike: each command runs once.

    `run` gives a test what its own `run_pytest(sample, *args)` would: the files the
    session wrote, copied into the test's folder (the test may change them freely),
    and its outcome as a `pytest.RunResult`.  Only for sessions whose files do not
    name the folder they ran in (relative paths, no rootdir in the output): the
    sample project's tracefiles with the default `--lcov-paths`.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.runs: dict[tuple[str, ...], tuple[Path, pytest.RunResult]] = {}

    def folder(self, *command: str) -> tuple[Path, pytest.RunResult]:
        """The folder the sample project was measured in by `command` (run now if never run)."""
        if command not in self.runs:
            folder = self.base / f"run{len(self.runs)}"
            write_sample_project(folder)
            result = subprocess.run(
                command, cwd=folder, env=session_env(folder), capture_output=True, text=True, timeout=300
            )
            outcome = pytest.RunResult(
                result.returncode, result.stdout.splitlines(), result.stderr.splitlines(), 0.0
            )
            self.runs[command] = (folder, outcome)
        return self.runs[command]

    def run(self, sample: pytest.Pytester, *args: str) -> pytest.RunResult:
        """`run_pytest(sample, *args)` in a sample project nobody changed yet, its session shared."""
        folder, outcome = self.folder(*PYTEST, *args)
        shutil.copytree(folder, sample.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        return outcome
