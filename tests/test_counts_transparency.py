"""Execution counts the program cannot see: a project of introspection idioms, run with and without.

Each module of ``idioms/`` leans on something counters could change: its
namespace (registries by ``dir()``, plugin discovery by ``getmembers``, star
imports without ``__all__``), its classes' namespaces (a metaclass
``__prepare__`` that invents values, enums, dataclasses, ``__slots__``,
descriptors), its frames and tracebacks, its exception messages, its code
objects, and the standard library's machinery built on them (doctest,
``typing.get_type_hints``, ``functools.singledispatch``, ``atexit``, weakref
finalizers, contextvars, pickle, copy).  Its own tests (and its doctests) must
give the same outcomes in a real pytest session with ``--lcov-counts=executions``
as in one without, on every supported Python.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import read_records, run_pytest

CONFIG = """\
[tool.pytest.ini_options]
pythonpath = ["."]

[tool.coverage.run]
source = ["idioms"]
branch = true
"""

IDIOMS: dict[str, str] = {
    "__init__.py": "",
    "registry.py": '''\
"""Registries built from the module's own namespace."""

import inspect
import sys


def handle_alpha():
    return "alpha"


def handle_beta():
    return "beta"


def handlers():
    """Every handle_* function, found by dir()."""
    module = sys.modules[__name__]
    return [getattr(module, name)() for name in dir(module) if name.startswith("handle_")]


def routines():
    """Plugin discovery: every routine of the module, by inspect.getmembers."""
    return [name for name, _ in inspect.getmembers(sys.modules[__name__], inspect.isroutine)]


def callables():
    """Every callable global the module holds, imported ones included."""
    return sorted(name for name, value in globals().items() if callable(value))


def typo():
    return handle_alpah()  # noqa: F821


def own_names():
    return sorted(vars(sys.modules[__name__]))


def frame_globals():
    return sorted(sys._getframe().f_globals)
''',
    "star_source.py": """\
import os

ANSWER = 42


def shout(text):
    return text.upper()


class Thing:
    pass


for _i in range(3):
    try:
        if _i:
            continue
    finally:
        pass
""",
    "star_user.py": """\
from idioms.star_source import *  # noqa: F403

IMPORTED = sorted(name for name in dir() if not name.startswith("__"))
""",
    "dsl.py": '''\
"""A metaclass DSL: undefined names in the class body become numbered members."""

import enum
from dataclasses import dataclass, field, fields


class Auto(dict):
    def __init__(self):
        super().__init__()
        self.looked_up = []

    def __missing__(self, key):
        self.looked_up.append(key)
        if key == "__name__":
            raise KeyError(key)
        value = len([name for name in self.looked_up if name != "__name__"])
        self[key] = value
        return value


class AutoMeta(type):
    @classmethod
    def __prepare__(mcs, name, bases, **kwargs):
        return Auto()

    def __new__(mcs, name, bases, namespace, **kwargs):
        cls = super().__new__(mcs, name, bases, dict(namespace))
        cls.looked_up = [key for key in namespace.looked_up if key != "__name__"]
        return cls


class Color(metaclass=AutoMeta):
    RED
    GREEN
    if True:
        BLUE


class Recorded:
    """A descriptor that records the names it is bound to."""

    names = []

    def __set_name__(self, owner, name):
        self.names.append(name)


class Holder:
    first = Recorded()
    for _n in range(2):
        pass
    second = Recorded()


class Shade(enum.Enum):
    LIGHT = 1
    DARK = 2

    def describe(self):
        return self.name.lower()


@dataclass
class Point:
    x: int
    y: int = 0
    tags: list = field(default_factory=list)


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = 1


def point_fields():
    return [f.name for f in fields(Point)]


def class_names(cls):
    return sorted(name for name in vars(cls) if not name.startswith("__"))
''',
    "frames.py": """\
import inspect
import sys
import traceback


def caller_name():
    return sys._getframe(1).f_code.co_name


def who_calls():
    return caller_name()


def local_names(a, b=2):
    c = a + b
    return sorted(sys._getframe().f_locals)


def current_line():
    return inspect.currentframe().f_lineno


def stack_tail():
    return [(f.name, f.lineno) for f in traceback.extract_stack()[-2:]]


def deep(n):
    if n == 0:
        raise ValueError("bottom")
    return deep(n - 1)


def failing():
    items = [1, 2]
    for item in items:
        try:
            if item == 1:
                continue
            return deep(1)
        finally:
            pass


def raise_in_generator():
    def gen():
        yield 1
        raise KeyError("gen")

    total = 0
    for value in gen():
        with open(__file__):
            if value:
                continue
    return total


def loop_over(value):
    for item in value:
        try:
            continue
        finally:
            pass
    return value
""",
    "code_checks.py": '''\
import inspect

LIMIT = 10


def pure(x):
    return x + 1


def uses_limit(x):
    return min(x, LIMIT)


def _stub():
    pass


def not_yet():
    pass


def done():
    return 1


def is_stub(function):
    """An empty function, told by its bytecode (a stub left to implement)."""
    return function.__code__.co_code == _stub.__code__.co_code


def closure_vars():
    found = inspect.getclosurevars(uses_limit)
    return sorted(found.globals), sorted(found.builtins)


def signature_text():
    return str(inspect.signature(uses_limit))


def docs():
    """The docstring."""
    return docs.__doc__, pure.__doc__


def own_source():
    """Source read back by inspect, as documentation tools and some DSLs read it."""
    return inspect.getsource(done), inspect.getsourcelines(uses_limit)[1]
''',
    "doctests.py": '''\
"""Doctests run by pytest --doctest-modules and by doctest.testmod.

>>> add(2, 3)
5
"""


def add(a, b):
    """Add.

    >>> add(1, 1)
    2
    >>> [add(i, i) for i in range(3)]
    [0, 2, 4]
    """
    return a + b


def parse(text):
    """Parse an int.

    >>> parse("x")
    Traceback (most recent call last):
      ...
    ValueError: invalid literal for int() with base 10: 'x'
    """
    return int(text)


class Box:
    """
    >>> Box(3).double()
    6
    """

    def __init__(self, value):
        self.value = value

    def double(self):
        return self.value * 2
''',
    "stdlib.py": """\
from __future__ import annotations

import atexit
import contextvars
import copy
import functools
import pickle
import typing
import weakref

REQUEST = contextvars.ContextVar("request", default="none")
FINALIZED = []


class Node:
    value: int
    children: typing.List[Node]

    def __init__(self, value: int) -> None:
        self.value = value
        self.children = []

    def __eq__(self, other):
        return isinstance(other, Node) and (self.value, self.children) == (other.value, other.children)


def typed(a: int, b: Node | None = None) -> list[Node]:
    return []


def hints():
    return typing.get_type_hints(typed), typing.get_type_hints(Node)


@functools.singledispatch
def show(value):
    return "object"


@show.register
def _(value: int):
    return "int"


@show.register(list)
def _show_list(value):
    return "list:" + ",".join(show(v) for v in value)


def on_exit():
    FINALIZED.append("exit")


def register_and_unregister():
    before = atexit._ncallbacks()
    atexit.register(on_exit)
    during = atexit._ncallbacks()
    atexit.unregister(on_exit)
    return during - before


def finalize():
    node = Node(1)
    weakref.finalize(node, FINALIZED.append, "node")
    del node
    return list(FINALIZED)


def in_context(value):
    def read():
        return REQUEST.get()

    ctx = contextvars.copy_context()
    ctx.run(REQUEST.set, value)
    return ctx.run(read), REQUEST.get()


def round_trips():
    node = Node(2)
    node.children.append(Node(3))
    same = pickle.loads(pickle.dumps(node)) == node
    deep = copy.deepcopy(node) == node
    function = pickle.loads(pickle.dumps(typed)) is typed
    return same, deep, function, copy.copy(show) is show
""",
    "data.txt": "some data\n",
    "fails_at_import.py": """\
VALUE = 1
raise RuntimeError("at import")
""",
    "aio.py": """\
import asyncio


async def over(items):
    seen = []
    async for item in items:
        seen.append(item)
    return seen


class Ticker:
    def __init__(self, n):
        self.n = n

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.n == 0:
            raise StopAsyncIteration
        self.n -= 1
        return self.n


def run(items):
    return asyncio.run(over(items))
""",
    "aio_guarded.py": """\
import asyncio


async def guarded(items):
    seen = []
    async for item in items:
        try:
            if item:
                continue
            seen.append(item)
        finally:
            seen.append("f")
    return seen


def run(items):
    return asyncio.run(guarded(items))
""",
}

TESTS = """\
import atexit
import copy
import doctest
import importlib.resources
import pkgutil
import pickle
import sys
import traceback
from importlib.machinery import SourceFileLoader

import pytest

from idioms import aio, aio_guarded, code_checks, doctests, dsl, frames, registry, stdlib, star_user
from idioms.stdlib import Node

FUNCTIONS = [
    "callables", "frame_globals", "handle_alpha", "handle_beta", "handlers", "own_names", "routines", "typo"
]
MODULE_DUNDERS = ["__builtins__", "__doc__", "__file__", "__loader__", "__name__", "__package__", "__spec__"]
MODULE_DUNDERS += ["__cached__"] if sys.version_info < (3, 15) else []


def test_registry_by_dir():
    assert registry.handlers() == ["alpha", "beta"]


def test_plugin_discovery_by_getmembers():
    assert registry.routines() == FUNCTIONS


def test_callable_globals():
    assert registry.callables() == FUNCTIONS


def test_module_namespace():
    names = MODULE_DUNDERS + FUNCTIONS + ["inspect", "sys"]
    assert registry.own_names() == sorted(names)
    assert registry.frame_globals() == sorted(names)
    assert sorted(dir(registry)) == sorted(names)


def test_taking_over_a_namespace():
    taken = {}
    taken.update(vars(registry))
    assert sorted(taken) == registry.own_names()


def test_name_error_suggestion():
    with pytest.raises(NameError) as raised:
        registry.typo()
    message = traceback.format_exception(raised.value)[-1]
    # The traceback module suggests names since 3.12; the globals counters once were are not among them.
    assert message.rstrip().endswith("Did you mean: 'handle_alpha'?") or sys.version_info < (3, 12)


def test_star_import_without_all():
    assert star_user.IMPORTED == ["ANSWER", "Thing", "os", "shout"]


def test_metaclass_dsl_invents_members():
    assert (dsl.Color.RED, dsl.Color.GREEN, dsl.Color.BLUE) == (1, 2, 3)
    assert dsl.Color.looked_up == ["RED", "GREEN", "BLUE"]


def test_class_namespaces():
    assert dsl.Recorded.names == ["first", "second"]
    assert dsl.class_names(dsl.Holder) == ["_n", "first", "second"]
    assert dsl.class_names(dsl.Color) == ["BLUE", "GREEN", "RED", "looked_up"]


def test_enum():
    assert [shade.name for shade in dsl.Shade] == ["LIGHT", "DARK"]
    assert dsl.Shade.DARK.describe() == "dark"
    assert list(dsl.Shade.__members__) == ["LIGHT", "DARK"]


def test_dataclass_and_slots():
    assert dsl.point_fields() == ["x", "y", "tags"]
    assert dsl.Point(1) == dsl.Point(1, 0, [])
    assert dsl.Slotted.__slots__ == ("a", "b")
    with pytest.raises(AttributeError):
        dsl.Slotted().c = 1
    assert copy.deepcopy(dsl.Point(2, 3)) == dsl.Point(2, 3)
    assert pickle.loads(pickle.dumps(dsl.Shade.LIGHT)) is dsl.Shade.LIGHT


def test_frames():
    assert frames.who_calls() == "who_calls"
    assert frames.local_names(1) == ["a", "b", "c"]
    assert frames.current_line() == 20
    line = sys._getframe().f_lineno
    assert frames.stack_tail() == [("test_frames", line + 1), ("stack_tail", 24)]


def test_traceback_of_a_loop_counted_in_its_iterator():
    with pytest.raises(ValueError, match="bottom") as raised:
        frames.failing()
    summary = [(f.name, f.lineno, f.line) for f in traceback.extract_tb(raised.value.__traceback__)]
    assert summary[1:] == [
        ("failing", 39, "return deep(1)"),
        ("deep", 30, "return deep(n - 1)"),
        ("deep", 29, 'raise ValueError("bottom")'),
    ]


def test_traceback_through_a_generator():
    with pytest.raises(KeyError) as raised:
        frames.raise_in_generator()
    summary = [(f.name, f.lineno) for f in traceback.extract_tb(raised.value.__traceback__)]
    assert summary[1:] == [("raise_in_generator", 50), ("gen", 47)]


def test_not_iterable_message():
    with pytest.raises(TypeError, match="^'int' object is not iterable$") as raised:
        frames.loop_over(5)
    assert [f.name for f in traceback.extract_tb(raised.value.__traceback__)][1:] == ["loop_over"]


def test_loader_and_resources():
    for module in (registry, dsl, aio_guarded):
        assert type(module.__loader__) is SourceFileLoader
        assert module.__spec__.loader is module.__loader__
    assert importlib.resources.files("idioms").joinpath("data.txt").read_text() == "some data\\n"
    assert pkgutil.get_data("idioms", "data.txt") == b"some data\\n"


def test_an_import_error_shows_the_module_frame_only():
    with pytest.raises(RuntimeError, match="at import") as raised:
        import idioms.fails_at_import  # noqa: F401
    frames = [(f.name, f.lineno) for f in traceback.extract_tb(raised.value.__traceback__)]
    assert frames[1:] == [("<module>", 2)]


def test_code_object_checks():
    assert code_checks.pure.__code__.co_names == ()
    assert code_checks.is_stub(code_checks.not_yet)
    assert not code_checks.is_stub(code_checks.done)
    assert code_checks.closure_vars() == (["LIMIT"], ["min"])
    assert code_checks.signature_text() == "(x)"
    assert code_checks.docs() == ("The docstring.", None)
    source, first_line = code_checks.own_source()
    assert source == "def done():\\n    return 1\\n"
    assert first_line == code_checks.uses_limit.__code__.co_firstlineno


def test_doctest_testmod():
    result = doctest.testmod(doctests)
    assert (result.failed, result.attempted) == (0, 5)


def test_get_type_hints():
    function_hints, class_hints = stdlib.hints()
    assert function_hints == {"a": int, "b": Node | None, "return": list[Node]}
    assert list(class_hints) == ["value", "children"]


def test_singledispatch():
    assert [stdlib.show("x"), stdlib.show(1), stdlib.show([1, "a"])] == ["object", "int", "list:int,object"]
    assert sorted(t.__name__ for t in stdlib.show.registry) == ["int", "list", "object"]


def test_atexit_weakref_contextvars():
    assert stdlib.register_and_unregister() == 1
    assert stdlib.finalize()[-1] == "node"
    assert stdlib.in_context("r1") == ("r1", "none")


def test_pickle_and_copy():
    assert stdlib.round_trips() == (True, True, True, True)


def test_async_for_over_a_list_says_what_cpython_says():
    with pytest.raises(TypeError, match="'async for' requires an object with __aiter__ method, got list"):
        aio.run([1, 2])
    assert aio.run(aio.Ticker(3)) == [2, 1, 0]


def test_async_for_with_a_guarded_continue():
    with pytest.raises(TypeError, match="'async for' requires an object with __aiter__ method, got list"):
        aio_guarded.run([1, 2])
    assert aio_guarded.run(aio.Ticker(3)) == ["f", "f", 0, "f"]
"""


@pytest.fixture
def idioms(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=CONFIG)
    (pytester.path / "idioms").mkdir()
    for name, text in IDIOMS.items():
        (pytester.path / "idioms" / name).write_text(text)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests/test_idioms.py").write_text(TESTS)
    return pytester


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each test's outcome, by its node id (doctests included)."""
    found = {}
    for line in result.outlines:
        match = re.match(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


def test_the_idioms_behave_the_same_with_counts(idioms: pytest.Pytester) -> None:
    args = ["tests", "idioms", "--doctest-modules", "--ignore=idioms/fails_at_import.py", "-rA"]
    args += ["-p", "no:randomly"]
    plain = run_pytest(idioms, *args)
    counted = run_pytest(idioms, *args, "--lcov=counts.info", "--lcov-counts=executions")
    plain_outcomes, counted_outcomes = outcomes(plain), outcomes(counted)
    assert plain.ret == 0, plain.stdout.str()
    assert len(plain_outcomes) >= 25
    assert counted_outcomes == plain_outcomes, counted.stdout.str()
    assert counted.ret == 0
    # Counted indeed, exactly: every idiom's file but the one no counter can follow.
    notices = [line for line in counted.outlines if line.startswith("pytest-lcov:")]
    assert notices == [
        "pytest-lcov: counts are 0/1, not executions, in idioms/aio_guarded.py: an `async for` loop's "
        "`continue` leaves through `finally` or `with` code, which no counter can follow without "
        "changing the loop"
    ]
    records = read_records(idioms.path / "counts.info")
    assert records["idioms/star_source.py"].lines[14] == 4  # the guarded loop's header: 1 + 3 returns
    assert records["idioms/doctests.py"].lines[16] > 1
