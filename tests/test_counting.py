"""Instrumented counts equal the settrace reference (tests/counting_reference.py), construct by construct.

The hand-written cases cover each construct the instrumenter treats; random
programs (Hypothesis) mix them.  The import hook keeps tracebacks, source,
line numbers and pickling, and writes no instrumented bytecode.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import json
import pickle
import runpy
import subprocess
import sys
import textwrap
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any

import coverage
import pytest
from hypothesis import assume, given

from pytest_lcov.counting import (
    Counters,
    CountingFinder,
    Uncountable,
    _placeholder_key,
    compile_counted,
    counted_nodes,
    instrument,
    instrument_source,
)
from tests.counting_reference import reference_counts, statement_lines
from tests.programs import generated_programs, program, program_file

PY = sys.version_info[:2]


def _run_code(code: CodeType) -> str | None:
    """Run a program; the name of the exception it ended with, if any."""
    try:
        exec(code, {"__name__": "prog"})
    except BaseException as exc:
        return type(exc).__name__
    return None


def _constants(code: CodeType) -> Iterator[object]:
    """Every constant of `code` and of the code nested in it."""
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _constants(const)
        else:
            yield const


def compare(source: str, filename: str = "<prog>") -> dict[int, int]:
    """Run `source` plainly under the reference and instrumented; every count must be equal.

    A way into a known line is compared with how often the reference saw
    the branch line followed by that line.
    """
    source = textwrap.dedent(source)
    ref = reference_counts(source, filename, _run_code)
    tree = ast.parse(source, filename)
    cmap = instrument(tree)
    unplaced = [
        ast.dump(n) for n in ast.walk(tree) if isinstance(n, ast.stmt | ast.expr) and "lineno" not in vars(n)
    ]
    assert not unplaced, "inserted nodes without a line"
    values = Counters(cmap.nslots)
    code = compile_counted(tree, filename, values)
    assert not [c for c in _constants(code) if _placeholder_key(c)], "a placeholder was left"
    names = {"__name__": "prog"}
    try:
        exec(code, names)
        result = None
    except BaseException as exc:
        result = type(exc).__name__
    assert ref.result == result, "instrumentation changed behaviour"
    got = cmap.line_counts(values)
    bad = {
        line: (ref.lines.get(line, 0), got.get(line, 0))
        for line in sorted(statement_lines(source, filename))
        if ref.lines.get(line, 0) != got.get(line, 0)
    }
    got_funcs = {key: values[slot] for key, slot in cmap.function_keys.items()}
    bad_funcs = {
        key: (ref.functions.get(key, 0), got_funcs.get(key, 0))
        for key in set(ref.functions) | set(got_funcs)
        if ref.functions.get(key, 0) != got_funcs.get(key, 0)
    }
    bad_ways = {
        (line, dest): (ref.transitions[line, dest], taken)
        for line, dest, taken in cmap.way_counts(values)
        if dest is not None and dest != line and ref.transitions[line, dest] != taken
    }
    listing = "\n".join(f"{i:3} {text}" for i, text in enumerate(source.splitlines(), 1))
    assert not bad and not bad_funcs and not bad_ways, (
        f"(reference, instrumented) differ: lines {bad} functions {bad_funcs} ways {bad_ways}\n{listing}"
    )
    return got


CASES: dict[str, str] = {
    "for": "for i in range(3):\n    x = i\ny = 1\n",
    "for_oneline": "for i in range(3): x = i\n",
    "for_break_else": (
        "for i in range(5):\n    if i == 2:\n        break\n    x = i\nelse:\n    z = 1\n"
        "for i in []:\n    pass\nelse:\n    z = 2\n"
    ),
    "for_continue": "for i in range(3):\n    if i == 1:\n        continue\n    x = i\n",
    "for_iter_raises": """
        def g():
            yield 1
            raise KeyError
        try:
            for i in g():
                x = i
        except KeyError:
            pass
        try:
            for i in 1/0:
                pass
        except ZeroDivisionError:
            pass
    """,
    "while": "i = 0\nwhile i < 3:\n    i += 1\nelse:\n    j = 1\n",
    "while_true": "i = 0\nwhile True:\n    i += 1\n    if i > 2:\n        break\n",
    "while_1": "i = 0\nwhile 1:\n    i += 1\n    if i < 2:\n        continue\n    break\n",
    "while_0": "while 0:\n    x = 1\nx = 2\n",
    "if0_debug": (
        "if 0:\n    x = 1\nif __debug__:\n    y = 2\nelse:\n    z = 3\nif False:\n    pass\n"
        "elif 1:\n    pass\n"
    ),
    "elif": (
        "for x in range(5):\n    if x == 1:\n        a = 1\n    elif x == 2:\n        a = 2\n"
        "    elif x == 3:\n        a = 3\n    else:\n        a = 4\n"
    ),
    "try": """
        for k in range(4):
            try:
                x = 1
                if k == 1:
                    raise ValueError
                if k == 2:
                    raise TypeError
                if k == 3:
                    raise KeyError
                y = 2
            except TypeError:
                z = 1
            except (ValueError, OSError) as e:
                z = 2
            except:
                z = 3
            else:
                w = 1
            finally:
                v = 1
    """,
    "try_nested_reraise": """
        def f(k):
            try:
                try:
                    if k:
                        raise ValueError
                finally:
                    a = 1
            except ValueError:
                raise
        for k in range(2):
            try:
                f(k)
            except ValueError:
                pass
    """,
    "continue_in_finally": """
        for i in range(3):
            try:
                if i == 1:
                    continue
                x = i
            finally:
                y = i
    """,
    "with": """
        import contextlib
        with contextlib.nullcontext() as c:
            x = 1
        y = 2
        def f(k):
            with contextlib.nullcontext():
                if k == 0:
                    return 1
                if k == 1:
                    raise ValueError
            return 2
        for k in range(3):
            try:
                f(k)
            except ValueError:
                pass
        for k in range(3):
            with contextlib.suppress(ZeroDivisionError), contextlib.nullcontext():
                if k == 1:
                    break
                1/0
    """,
    "deco": """
        def d(f):
            return f
        @d
        @d
        def g():
            return 1
        g()
        @d
        class C:
            '''doc'''
            a = 1
            def m(self):
                return 2
        C().m()
        def bad(f):
            raise RuntimeError
        try:
            @d
            @bad
            @d
            def h():
                pass
        except RuntimeError:
            pass
        try:
            @d
            @undefined_name
            def h():
                pass
        except NameError:
            pass
    """,
    "gen_never_started": """
        def g():
            yield 1
        def h():
            x = g()
            del x
        for _ in range(3):
            h()
        it = g()
        it.close()
    """,
    "gen": """
        def g():
            x = 1
            yield x
            y = yield 2
            for i in range(2):
                yield i
            z = (yield
                 3)
        for v in g():
            pass
        it = g()
        next(it)
        it.close()
        w = list(g())
    """,
    "comp_lambda": """
        x = [i for i in range(3)]
        y = {i: i for i in range(3) if i}
        z = list(i for i in range(3))
        f = lambda a: a
        f(1); f(2)
        q = [
            j
            for j in range(4)
        ]
    """,
    "multiline": (
        "x = (1 +\n     2)\nif (x and\n    x):\n    pass\ndef f(a,\n      b=2):\n"
        "    return (a +\n            b)\nf(1)\nf(2)\n"
    ),
    "ret": "def f(x):\n    if x:\n        return 1\n    return 2\nf(0); f(1)\n",
    "docstr_global": (
        "'''mod doc'''\ndef f():\n    '''doc'''\n    global q\n    q = 1\n    return 1\nf()\nglobal q\npass\n"
    ),
    "future": "'''doc'''\nfrom __future__ import annotations\nimport os\nx: int = 1\n",
    "async": """
        import types
        @types.coroutine
        def suspend():
            yield
        async def a():
            await suspend()
            return 1
        async def b():
            x = await a()
            for i in range(2):
                await suspend()
            return x
        async def agen():
            yield 1
            await suspend()
            yield 2
        async def c():
            async for v in agen():
                pass
            return [v async for v in agen()]
        for coro in (b(), c()):
            try:
                while True:
                    coro.send(None)
            except StopIteration:
                pass
    """,
    "class_body": """
        class A:
            x = 1
            if x:
                y = 2
            for i in range(2):
                z = i
            class B:
                pass
            def m(self):
                def inner():
                    nonlocal k
                    k = 2
                k = 1
                inner()
                return k
        A().m()
    """,
    "same_line": "x = 1; y = 2\nif x: y = 3\nfor i in range(2): pass\n",
    "assert_del": "x = 1\nassert x\ndel x\ntry:\n    assert 0\nexcept AssertionError:\n    pass\n",
    "recursion": "def f(n):\n    if n:\n        return f(n - 1)\n    return 0\nf(3)\n",
}
CASES["match"] = """
    for x in [1, 2, 3, 4, (1, 2), {'k': 1}, None]:
        match x:
            case 1:
                y = 1
            case 2 | 3 if x > 2:
                y = 2
            case (a, b):
                y = 3
            case {'k': v}:
                y = 4
            case int(q) if q > 3:
                y = 5
            case _:
                y = 6
    match 5:
        case 1: pass
        case 5: pass
"""


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name: str) -> None:
    compare(CASES[name])


@pytest.mark.skipif(PY >= (3, 14), reason="CPython 3.14+ fires a line event for each test of the loop")
def test_known_deviation_single_line_while() -> None:
    """A while with its body on the header line: CPython before 3.14 fires one event fewer than tests run."""
    with pytest.raises(AssertionError, match=r"\{2: \(3, 4\)\}"):
        compare("i = 0\nwhile i < 3: i += 1\n")


@pytest.mark.skipif(PY < (3, 14), reason="before 3.14, see test_known_deviation_single_line_while")
def test_single_line_while_is_counted_exactly() -> None:
    compare("i = 0\nwhile i < 3: i += 1\n")


@generated_programs(50)
@given(program())
def test_random_programs(source: str) -> None:
    compare(source)


def coverage_lines_and_arcs(
    source: str, path: Path, instrumented: bool
) -> tuple[set[int], set[tuple[int, int]]]:
    """What coverage.py records running `source` (as `path`), plain or instrumented."""
    if instrumented:
        code = instrument_source(source, str(path))[0]
    else:
        code = compile(source, str(path), "exec", dont_inherit=True)
    scope: dict[str, object] = {}
    scope["__name__"] = "__measured__"
    cov = coverage.Coverage(data_file=None, branch=True, config_file=False)
    cov.set_option("run:core", "ctrace")  # what the plugin counts with, when it measures branches
    cov.start()
    try:
        with contextlib.suppress(Exception):
            exec(code, scope)
    finally:
        cov.stop()
    data = cov.get_data()
    return set(data.lines(str(path)) or ()), set(data.arcs(str(path)) or ())


NO_CODE_SOURCES = {
    "case body": "g = 0\nfor x in range(3):\n    match x:\n        case 0:\n            global h\n"
    "        case _:\n            g = x\n",
    "if body": "def f(x):\n    if x:\n        'a string'\n        x = 2\n    return x\nf(0)\nf(1)\n",
    "function start": "def f():\n    global q\n    z: int\n    q = 1\n    return q\nf()\n",
    "nonlocal": "def o():\n    n = 0\n    def i(s):\n        if s:\n            nonlocal n\n"
    "            n += 1\n        return n\n    return i\nf = o()\nf(0)\nf(1)\n",
    # Bodies with no code at all: CPython puts the function's code on its first line.
    "only nonlocal": "g = 0\ndef o():\n    n = 0\n    def i():\n        nonlocal n\n    i()\n"
    "    def d(f):\n        return f\n    @d\n    def j():\n        global g\n    j()\n    return n\no()\n",
    "only a docstring": "def f():\n    'doc'\nclass K:\n    def m(self):\n        x: int\nf()\nK().m()\n",
}


def test_a_decorated_def_starting_a_case_body_shows_coverage_no_new_line(tmp_path: Path) -> None:
    """The case's counter goes on the decorator's line, where the body starts: on the def line it
    was a line event before the decorator's, and coverage.py saw the case jump to the def."""
    source = (
        "def deco(f):\n    return f\nfor x in range(3):\n    match x:\n        case 0:\n"
        "            @deco\n            def g():\n                return 1\n"
        "        case _:\n            y = x\n"
    )
    path = tmp_path / "decorated.py"
    path.write_text(source)
    assert coverage_lines_and_arcs(source, path, True) == coverage_lines_and_arcs(source, path, False)
    compare(source)


@pytest.mark.parametrize("name", sorted(NO_CODE_SOURCES))
def test_statements_without_code_show_coverage_no_new_line(name: str, tmp_path: Path) -> None:
    """A counter on `global`, `nonlocal` or a bare annotation once showed coverage.py a line the
    source has not, and hid the arc past it (click's decorators.py lost a branch)."""
    source = NO_CODE_SOURCES[name]
    path = tmp_path / "nocode.py"
    path.write_text(source)
    assert coverage_lines_and_arcs(source, path, True) == coverage_lines_and_arcs(source, path, False)
    compare(source)


WITH_ENDING_IN_A_LOOP_THAT_RETURNS = (
    "import contextlib\ndef f(a):\n    x = a\n    with contextlib.nullcontext():\n"
    "        for i1 in range(0):\n            x += i1\n            if x % 2 == 0:\n"
    "                return x\n    return x\nf(1)\n"
)


def with_ending_in_a_returning_loop(source: str) -> bool:
    """Whether `source` has a `with` whose body ends in a loop holding a `return`."""
    return any(
        isinstance(node, ast.With | ast.AsyncWith)
        and isinstance(node.body[-1], ast.For | ast.AsyncFor | ast.While)
        and any(isinstance(inner, ast.Return) for inner in ast.walk(node.body[-1]))
        for node in ast.walk(ast.parse(source))
    )


@pytest.mark.xfail(
    PY >= (3, 14),
    strict=True,
    raises=AssertionError,
    reason="CPython 3.14+: with counters, a `with` whose body ends in a loop holding a `return` "
    "exits through a line event on the `with` line (arcs (5, 4), (4, 9) instead of (5, 9)), so the "
    "loop's exit way reads as not taken in counts mode; found by Hypothesis, not yet fixed",
)
def test_counters_keep_the_exit_arc_of_a_with_ending_in_a_loop(tmp_path: Path) -> None:
    source = WITH_ENDING_IN_A_LOOP_THAT_RETURNS
    assert with_ending_in_a_returning_loop(source)
    path = tmp_path / "with_loop.py"
    path.write_text(source)
    assert coverage_lines_and_arcs(source, path, True) == coverage_lines_and_arcs(source, path, False)


@pytest.mark.skipif(
    PY < (3, 12),
    reason="CPython 3.11 gives the last line of a finally block an event when an exception passes "
    "through it; coverage.py then counts that line as run in plain code but not with counters",
)
@generated_programs(30)
@given(program())
def test_coverage_records_the_same_with_counters(source: str) -> None:
    """The counters must not show coverage.py a line or an arc the source has not (or hide one)."""
    # The one shape where they still do on 3.14+ is pinned by its own test (strict xfail).
    assume(PY < (3, 14) or not with_ending_in_a_returning_loop(source))
    with program_file(source) as path:
        assert coverage_lines_and_arcs(source, path, True) == coverage_lines_and_arcs(source, path, False)


def test_counters_in_counted_code_pickle_as_a_function_by_value_may_be() -> None:
    """cloudpickle pickles a function's code constants, the counters among them; 3.14 pickles no
    itertools.count.  An unpickled copy counts into counters of its own, never the file's."""
    source = "def f(a):\n    return a + 1\n"
    code, _, values = instrument_source(source, "picked.py")
    scope: dict[str, object] = {}
    exec(code, scope)
    assert list(values) == [1, 0, 0]  # the def line ran; f's entry and its return line did not
    function = scope["f"]
    assert isinstance(function, FunctionType)
    consts = [c for c in function.__code__.co_consts if callable(c)]
    assert len(consts) == 2
    for tick in pickle.loads(pickle.dumps(consts, protocol=pickle.HIGHEST_PROTOCOL)):
        tick()
    assert list(values) == [1, 0, 0]


# The import hook --------------------------------------------------------------
MODULE = '''\
"""doc"""


def f(n):
    total = 0
    for i in range(n):
        total += i
    return total


def boom():
    x = 1
    raise ValueError("boom")


class K:
    def m(self):
        return 1
'''


def test_import_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the chosen file is instrumented, and nothing about it looks different from outside."""
    package = tmp_path / "hookpkg_x"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(MODULE)
    (package / "other.py").write_text("y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    target = str(package / "mod.py")
    finder = CountingFinder(frozenset([target]))
    finder.install()
    try:
        mod = importlib.import_module("hookpkg_x.mod")
        other = importlib.import_module("hookpkg_x.other")
        assert finder.imported_before() == []
        assert mod.f(3) == 3
        assert mod.f.__code__.co_firstlineno == 4
        assert inspect.getsource(mod.f).startswith("def f(n):")
        with pytest.raises(ValueError) as raised:
            mod.boom()
        frame = traceback.extract_tb(raised.value.__traceback__)[-1]
        assert (frame.filename, frame.lineno, frame.line) == (target, 13, 'raise ValueError("boom")')
        assert pickle.loads(pickle.dumps(mod.K())).m() == 1
    finally:
        finder.uninstall()
        for name in ("hookpkg_x", "hookpkg_x.mod", "hookpkg_x.other"):
            sys.modules.pop(name, None)
    loaders: list[object] = [mod.__loader__, other.__loader__]
    assert [type(loader) for loader in loaders] == [importlib.machinery.SourceFileLoader] * 2
    assert mod.__spec__ is not None and mod.__spec__.loader is loaders[0]
    assert not [name for name in dir(mod) if "lcov" in name]
    counted = finder.files[target]
    counts = counted.cmap.line_counts(counted.values)
    # 5: once; the for header: entry + 3 returns; its body 3 times; 8 once; def line once at import.
    assert (counts[4], counts[5], counts[6], counts[7], counts[8]) == (1, 1, 4, 3, 1)
    assert counted.cmap.function_counts(counted.values)[5] == 1  # f entered once (its body starts on 5)
    cache = package / "__pycache__"
    written = sorted(path.name for path in cache.iterdir()) if cache.exists() else []
    assert not any(name.startswith("mod.") for name in written), written


class MappingFinder(importlib.abc.MetaPathFinder):
    """A finder like an editable install's: a module name mapped to a file off sys.path."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path)


def test_import_hook_counts_a_module_that_another_finder_finds(tmp_path: Path) -> None:
    """The spec comes from the finders after the hook: a module is counted wherever it is found."""
    target = tmp_path / "elsewhere" / "mapped_mod_x.py"
    target.parent.mkdir()
    target.write_text("def f():\n    return 1\n")
    mapping = MappingFinder("mapped_mod_x", target)
    finder = CountingFinder(frozenset([str(target)]))
    sys.meta_path.append(mapping)
    finder.install()
    try:
        module = importlib.import_module("mapped_mod_x")
    finally:
        finder.uninstall()
        sys.meta_path.remove(mapping)
        sys.modules.pop("mapped_mod_x", None)
    assert module.f() == 1
    counted = finder.files[str(target)]
    assert counted.cmap.line_counts(counted.values) == {1: 1, 2: 1}


def test_a_continue_in_a_loops_else_belongs_to_the_outer_loop() -> None:
    """Found by the random programs: the inner loop's back-edge must not count it."""
    compare(
        "for i in range(3):\n"
        "    w = 0\n"
        "    while w < 1:\n"
        "        w += 1\n"
        "    else:\n"
        "        if i % 2 == 0:\n"
        "            continue\n"
        "    x = i\n"
    )


@contextlib.contextmanager
def counting_import(
    folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str
) -> Iterator[tuple[CountingFinder, Path]]:
    """Module `name` of `source` in `folder`, importable and counted while the block runs (then forgotten)."""
    target = folder / f"{name}.py"
    target.write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    finder = CountingFinder(frozenset([str(target)]))
    finder.install()
    try:
        yield finder, target
    finally:
        finder.uninstall()
        sys.modules.pop(name, None)


def test_a_reloaded_module_adds_to_its_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """importlib.reload runs the module again: its counts add up; from changed source, they are marked."""
    with counting_import(tmp_path, monkeypatch, "reloaded_mod_x", "x = 1\n") as (finder, target):
        module = importlib.import_module("reloaded_mod_x")
        importlib.reload(module)
        counted = finder.files[str(target)]
        assert counted.cmap.line_counts(counted.values) == {1: 2}
        assert not counted.reloaded_changed
        target.write_text("x = 2\n\n")
        importlib.reload(module)
        assert finder.files[str(target)].reloaded_changed


def test_real_code_counts_equal_the_reference() -> None:
    """markdown-it-py's parser, run on one document: every statement and function of every file it ran."""
    pytest.importorskip("markdown_it", reason="markdown-it-py (in the test extra) is the real code counted")
    root = Path(__file__).parent.parent

    def counts(mode: str) -> dict[str, list[dict[str, int]]]:
        command = [sys.executable, "-m", "tests.counting_real", mode]
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
        loaded: dict[str, list[dict[str, int]]] = json.loads(result.stdout)
        return loaded

    reference, instrumented = counts("ref"), counts("inst")
    assert len(instrumented) > 30
    for name, (lines, functions) in instrumented.items():
        ref_lines, ref_functions = reference[name]
        statements = statement_lines(Path(name).read_text(encoding="utf-8"), name)
        got = {line: lines.get(str(line), 0) for line in statements}
        assert got == {line: ref_lines.get(str(line), 0) for line in statements}, name
        assert {line: n for line, n in functions.items() if n} == ref_functions, name
    assert any(count > 1 for lines, _ in instrumented.values() for count in lines.values())


def test_a_function_starting_with_a_bare_annotation_is_known_by_the_next_line_too() -> None:
    """``x: int`` compiles to nothing in a function: coverage.py starts the function on line 3."""
    code, cmap, values = instrument_source(
        "def f():\n    x: int\n    x = 1\n    return x\nf()\nf()\n", "<prog>"
    )
    exec(code, {})
    assert cmap.function_counts(values) == {2: 2, 3: 2}


def test_counts_of_every_thread_add_up() -> None:
    """Threads share a module's counters; each increment is one C call, so none is lost under the GIL."""
    source = "def work(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
    code, cmap, values = instrument_source(source, "<threads>")
    names: dict[str, Any] = {}
    exec(code, names)
    threads, rounds = 8, 20_000
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch as often as CPython allows
    try:
        workers = [threading.Thread(target=names["work"], args=(rounds,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    lines = cmap.line_counts(values)
    assert lines == {1: 1, 2: threads, 3: threads * (rounds + 1), 4: threads * rounds, 5: threads}
    assert cmap.function_counts(values) == {2: threads}


def test_counted_code_names_nothing_and_warns_only_the_sources_warnings() -> None:
    """Counters are constants of the code: no name in any namespace, and no compiler warning of
    ours (a call of a constant warns), while the source's own warnings stay."""
    source = (
        "def f(x):\n    for i in x:\n        try:\n            continue\n        finally:\n"
        "            pass\n    return x is 1\nclass K:\n    a = 1\n"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, values = instrument_source(source, "quiet.py")
    with warnings.catch_warnings(record=True) as plain:
        warnings.simplefilter("always")
        compile(source, "quiet.py", "exec")
    assert [(w.category, str(w.message), w.lineno) for w in caught] == [
        (w.category, str(w.message), w.lineno) for w in plain
    ]
    assert len(plain) == 1
    scope: dict[str, Any] = {}
    exec(code, scope)
    assert sorted(scope) == ["K", "__builtins__", "f"]
    assert scope["f"].__code__.co_names == ()
    assert sorted(name for name in vars(scope["K"]) if not name.startswith("__")) == ["a"]
    assert scope["f"]([1, 2]) is False
    assert values[0] == 1


def test_the_counted_nodes_are_ast_walks_statements_in_its_order() -> None:
    """The instrumenter follows only statement fields (fast at import): the nodes, and their order
    (which of two on a line counts), are those of a full ast.walk."""
    sources = [path.read_text() for path in sorted(Path(ast.__file__).parent.glob("[a-p]*.py"))[:60]]
    sources.append(
        textwrap.dedent(
            """
            @d
            class K(B, metaclass=M):
                def f(self, x=lambda: 1):
                    try:
                        pass
                    except E as e:
                        for i in x:
                            if i: continue
                            else: break
                        else:
                            while 0: pass
                    else:
                        with a: pass
                    finally:
                        match x:
                            case [1, *_] if x: y = 1
                            case _: pass
            """
        )
    )
    kinds = ast.stmt | ast.ExceptHandler | ast.match_case
    for source in sources:
        tree = ast.parse(source)
        assert counted_nodes(tree) == [node for node in ast.walk(tree) if isinstance(node, kinds)]


def test_counters_read_at_once_equal_each_read_alone() -> None:
    values = Counters(5)
    for slot, times in enumerate([0, 3, 1, 0, 7]):
        for _ in range(times):
            values.ticks[slot]()
    values.leave_out_since([0, 1, 1, 0])
    assert values.snapshot() == list(values) == [values[slot] for slot in range(5)] == [0, 1, 1, 0, 0]


def test_a_loop_counted_in_its_iterator_raises_what_the_plain_loop_raises() -> None:
    """A for loop whose continue leaves through finally is counted by a C iterator: no frame of
    ours, the same error for what is not iterable, and a generator's own traceback."""
    source = textwrap.dedent(
        """
        def loop(items):
            n = 0
            for item in items:
                try:
                    if item:
                        continue
                    n += 1
                finally:
                    pass
            return n

        def gen():
            yield 0
            raise KeyError("in gen")
        """
    )
    code, cmap, values = instrument_source(source, "risky.py")
    plain = compile(source, "risky.py", "exec")
    results = []
    for compiled in (plain, code):
        scope: dict[str, Any] = {}
        exec(compiled, scope)
        outcome: list[object] = [scope["loop"]([0, 1, 0])]
        for bad in (5, scope["gen"]()):
            with pytest.raises(Exception) as raised:
                scope["loop"](bad)
            summary = traceback.extract_tb(raised.value.__traceback__)[1:]
            frames = [(f.name, f.lineno, f.end_lineno, f.colno, f.end_colno) for f in summary]
            outcome += [type(raised.value), str(raised.value), frames]
        results.append(outcome)
    assert results[0] == results[1]
    assert cmap.line_counts(values)[4] == (1 + 3) + 1 + (1 + 1)  # entries and returns to the header
    compare(source + "loop([0, 1, 0])\nloop([])\ntry:\n    loop(gen())\nexcept KeyError:\n    pass\n")


def test_an_async_for_whose_continue_leaves_through_finally_runs_uncounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No C wrapper counts an async iterator, and a Python one adds frames and changes the errors:
    such a file runs plain, and says why it has no counts."""
    source = (
        "async def f(items):\n    async for x in items:\n        try:\n            continue\n"
        "        finally:\n            pass\n"
        "def g(x):\n    return x is 1\n"
    )
    with pytest.raises(Uncountable), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instrument_source(source, "async_risky.py")
    with (
        counting_import(tmp_path, monkeypatch, "async_risky_x", source) as (finder, target),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        module = importlib.import_module("async_risky_x")
    assert [(w.category, w.lineno) for w in caught] == [(SyntaxWarning, 8)]  # once, as a plain import
    with pytest.raises(TypeError, match="'async for' requires an object with __aiter__ method, got list"):
        module.f([1]).send(None)
    assert finder.files[str(target)].not_counted is not None


def test_a_module_run_by_runpy_adds_to_its_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """runpy.run_module of a module not imported finds it through us: the counted code runs.  Once
    imported, its spec has the plain loader (nothing of ours is reachable): that run is seen."""
    source = "x = 1\nif __name__ == '__main__':\n    y = 2\n"
    with counting_import(tmp_path, monkeypatch, "run_me_x", source) as (finder, target):
        runpy.run_module("run_me_x", run_name="__main__")
        importlib.import_module("run_me_x")
        counted = finder.files[str(target)]
        assert counted.cmap.line_counts(counted.values) == {1: 2, 2: 2, 3: 1}
        assert finder.ran_uncounted == set()
        runpy.run_module("run_me_x", run_name="__main__")
        assert finder.ran_uncounted == {str(target)}


def test_a_module_also_run_outside_the_import_system_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """runpy.run_path compiles the file itself: that run has no counters, so the counts would be low."""
    other = tmp_path / "not_ours_x.py"
    other.write_text("y = 1\n")
    with counting_import(tmp_path, monkeypatch, "run_path_x", "x = 1\n") as (finder, target):
        importlib.import_module("run_path_x")
        assert finder.ran_uncounted == set()
        runpy.run_path(str(other))
        assert finder.ran_uncounted == set()
        runpy.run_path(str(target))
        assert finder.ran_uncounted == {str(target)}
    runpy.run_path(str(target))  # an uninstalled finder hears of nothing
