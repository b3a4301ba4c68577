"""Exact execution counts for Python source, by AST instrumentation at import.

coverage.py says whether a line ran; this module says how many times.  It
works on ``ast`` and source text only (no coverage.py, no pytest), so what it
counts is defined by the source, and the report checks it against coverage.py.

What a count means (the spec is CPython's ``sys.settrace`` "line" events,
normalised to "statement starts"; the tests hold that reference):

* a statement line: how many times a statement that starts on it began to run;
  a ``for``/``while`` header: once on entry, plus once each time control comes
  back to it (end of the body or ``continue``);
* a function: how many times it was entered (a generator or coroutine: started,
  not resumed);
* a branch way of an ``if``/``while``/``for``: how many times control went into
  the body, or into the ``else`` (an ``else`` with one counter is synthesised
  where the source has none).

How, and why it is exact:

* A counter ``tick_k()`` goes right before every statement that is the
  first on its line: it runs just before the statement starts, so a statement
  that raises still counts and the ones after it do not.  Each counter is the
  ``__next__`` of an ``itertools.count``: one C call, no read-add-store, so
  under the GIL no thread switch loses an increment, and traced code
  (coverage.py's tracer on 3.11 steps through every instruction) pays for a
  few instructions, not the 10 of ``_c[k] += 1``.
* The program cannot see them: ``tick_k`` is a constant of the code object,
  not a name.  The tree calls a placeholder constant (a frozenset no source
  can hold), and `bind` swaps each one in the compiled code's ``co_consts``
  for its counter.  No name is added to a module, looked up in a class body
  (whatever its metaclass's ``__prepare__`` returns), or reachable through
  ``globals()``, ``vars()`` or ``dir()``, so no module can take another's
  counters over.  Only the code objects' own bytecode and constants differ.
* Loop back-edges: a counter at the end of the body (located on no line, so it
  fires no line event) and before each ``continue`` of that loop.  When a
  ``continue`` leaves through ``finally``/``with`` code (which may raise or break
  instead), a ``while`` counts in its test and a ``for`` iterates
  ``map(get, chain((0,), counter), iterable)``: C objects that count every
  ``__next__`` after the first, adding no frame and raising what the plain
  loop raises.  An ``async for`` has no such C helper (a Python wrapper adds
  frames and changes its errors): a file with one runs uncounted (`Uncountable`),
  and the report says so.
* ``except E:`` lines run when their type test runs, matched or not: the counter
  goes into the type expression.  A bare ``except:`` counts at its body start.
* ``case`` lines run when their pattern is tried; a pattern holds no expression,
  so a case's count is derived: subject evaluations minus entries of the cases
  before it.
* Decorators: a counter inside each decorator expression; the ``def``/``class``
  line counts after the last decorator was evaluated.
* Inserted nodes are located on the line they count, so tracebacks, line
  numbers and what coverage.py sees stay those of the source.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import itertools
import operator
import os
import sys
import warnings
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import CodeType, ModuleType
from typing import Any

from pytest_lcov import PytestLcovError

# A placeholder constant, replaced in the compiled code by the object it stands for (see `bind`).
# A frozenset: no source can hold one as a literal, so calling one warns only for ours.
MARK = "\0pytest-lcov placeholder"
TICK, COUNTER, MAP, CHAIN, GET = "tick", "counter", "map", "chain", "get"
PLACEHOLDER_WARNING = r"'frozenset' object is not callable; perhaps you missed a comma\?"
ASYNC_RISKY = (
    "an `async for` loop's `continue` leaves through `finally` or `with` code, "
    "which no counter can follow without changing the loop"
)
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
TRYS: tuple[type[ast.stmt], ...] = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))
COMPOUND = (*DEFS, *LOOPS, *TRYS, ast.If, ast.With, ast.AsyncWith, ast.Match)
Counted = ast.stmt | ast.ExceptHandler | ast.match_case
AMBIGUOUS = -1  # a function slot shared by two functions starting on one line: not counted
_LOAD = ast.Load()
NO_LINE = -1  # the location of code that must not be a line of its own (CPython fires no event for it)


@dataclass(frozen=True)
class Way:
    """A counted way out of a branch line: into `dest` (None: whatever follows the statement)."""

    line: int
    dest: int | None
    slot: int


@dataclass
class CounterMap:
    """What each counter slot of one instrumented source means."""

    nslots: int = 0
    line_slots: dict[int, list[int]] = field(default_factory=dict)  # line -> slots adding up to its count
    derived: dict[int, tuple[int, list[int]]] = field(default_factory=dict)  # case line -> subject, earlier
    function_slots: dict[int, int] = field(default_factory=dict)  # first body line -> entry slot
    function_keys: dict[tuple[int, str], int] = field(default_factory=dict)  # (def line, qualname) -> slot
    ways: list[Way] = field(default_factory=list)

    def new(self) -> int:
        self.nslots += 1
        return self.nslots - 1

    def line_slot(self, line: int) -> int:
        slot = self.new()
        self.line_slots.setdefault(line, []).append(slot)
        return slot

    def line_counts(self, values: Sequence[int]) -> dict[int, int]:
        """Each counted line's count from the slot values."""
        out = {line: sum(values[s] for s in slots) for line, slots in self.line_slots.items()}
        for line, (subject, earlier) in self.derived.items():
            out[line] = values[subject] - sum(values[s] for s in earlier)
        return out

    def function_counts(self, values: Sequence[int]) -> dict[int, int]:
        """Entries of each function, by the line its body starts on (functions sharing one are left out)."""
        return {line: values[s] for line, s in self.function_slots.items() if s != AMBIGUOUS}

    def way_counts(self, values: Sequence[int]) -> list[tuple[int, int | None, int]]:
        """(branch line, destination or None, times taken) of every counted way."""
        return [(way.line, way.dest, values[way.slot]) for way in self.ways]


def first_line(node: Counted) -> int:
    """The line a statement starts on as settrace and coverage.py see it: a decorator's, if any."""
    if isinstance(node, DEFS) and node.decorator_list:
        return min(d.lineno for d in node.decorator_list)
    if isinstance(node, ast.match_case):
        return node.pattern.lineno
    return node.lineno


def _at(line: int) -> dict[str, int]:
    """The location of an inserted node: all on `line` (compiling needs every node located)."""
    return {"lineno": line, "end_lineno": line, "col_offset": 0, "end_col_offset": 0}


def _item_of(items: list[ast.expr], index: int, where: ast.expr) -> ast.expr:
    """``(*items)[index]``, located at `where`: every item is evaluated, in order, for one's value."""
    items_tuple = ast.copy_location(ast.Tuple(items, ast.Load()), where)
    picked = ast.Subscript(items_tuple, ast.copy_location(ast.Constant(index), where), ast.Load())
    return ast.copy_location(picked, where)


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


class _Instrumenter:
    """Rewrites one module's tree in place, recording each slot in a CounterMap."""

    def __init__(self, cmap: CounterMap, code_lines: frozenset[int]) -> None:
        self.cmap = cmap
        self.code_lines = code_lines  # the lines the uninstrumented code starts instructions on
        self.first_on_line: set[int] = set()  # id() of the first statement of each line
        self.loop_stack: list[int | None] = []  # a while's back-edge slot; None: no counter (for, def)

    def inc_stmt(self, slot: int, line: int) -> ast.stmt:
        """``tick_k()`` on `line`."""
        return ast.Expr(self.inc_expr(slot, line), **_at(line))

    def inc_expr(self, slot: int, line: int) -> ast.expr:
        """``tick_k()``: an increment as an expression (its value is the count before).

        ``tick_k`` is a placeholder constant, replaced by slot k's counter after
        compiling: no name is looked up, so nothing is added to any namespace.
        """
        return ast.Call(placeholder(TICK, slot, line), [], [], **_at(line))

    def before(self, expr: ast.expr, slot: int) -> ast.expr:
        """``(inc, expr)[1]``: count, then evaluate `expr`."""
        return _item_of([self.inc_expr(slot, expr.lineno), expr], 1, expr)

    def after(self, expr: ast.expr, slot: int, line: int) -> ast.expr:
        """``(expr, inc)[0]``: evaluate `expr`, then count."""
        return _item_of([expr, self.inc_expr(slot, line)], 0, expr)

    def run(self, tree: ast.Module) -> None:
        first: dict[int, tuple[tuple[int, int], Counted]] = {}
        for node in counted_nodes(tree):
            key = (first_line(node), getattr(node, "col_offset", 0))
            if key[0] not in first or key < first[key[0]][0]:
                first[key[0]] = (key, node)
        # A statement that compiles to nothing (global, nonlocal, a string or bare annotation in a
        # function, removed code) gets no counter: CPython sees no line there, and a counter would
        # show coverage.py one, with arcs through it instead of the source's.
        self.first_on_line = {
            id(node) for _, node in first.values() if not isinstance(node, ast.stmt) or self.has_code(node)
        }
        tree.body = self.block(tree.body, module=True, docstring=True)

    def has_code(self, node: ast.stmt) -> bool:
        """Whether CPython runs anything on `node`'s own lines (a compound statement's: its header).

        A multi-line statement may have none on its first line, and ``if 0:``
        or ``global x`` have none at all.
        """
        end = node.end_lineno or node.lineno
        body = getattr(node, "body", None)
        if isinstance(node, COMPOUND) and isinstance(body, list) and body:
            end = max(node.lineno, first_line(body[0]) - 1)
        return any(line in self.code_lines for line in range(node.lineno, end + 1))

    def block(
        self,
        body: list[ast.stmt],
        module: bool = False,
        func: tuple[int, str] | None = None,
        qual: str = "",
        docstring: bool = False,
        code_start: int = 0,
    ) -> list[ast.stmt]:
        """A statement list, counted; docstrings and ``__future__`` imports stay first, as they must.

        `code_start` is a function's first line (its first decorator's): where
        CPython puts its code when no body statement has any (``nonlocal x``).
        """
        start = 1 if docstring and body and _is_docstring(body[0]) else 0
        while module and start < len(body) and _is_future(body[start]):
            start += 1
        out = body[:start]
        for node in body[:start]:
            if _is_future(node) and id(node) in self.first_on_line:
                out.append(self.inc_stmt(self.cmap.line_slot(node.lineno), node.lineno))
        if func is not None:
            # On the first line with code: a counter on a `global` line would be a line CPython never shows.
            rest = body[start:] or body[-1:]
            first = next((first_line(node) for node in rest if self.has_code(node)), code_start or func[0])
            out.append(self.inc_stmt(self.function_entry(rest, func), first))
        for node in body[start:]:
            out.extend(self.stmt(node, qual))
        return out

    def function_entry(self, body: list[ast.stmt], key: tuple[int, str]) -> int:
        """A function's entry slot, known by its first body line (where coverage.py starts it).

        A statement that compiles to nothing (a bare annotation ``x: int``,
        ``global``) makes coverage.py start the function at the statement
        after it: each line up to the first with code names the function.
        """
        slot = self.cmap.new()
        self.cmap.function_keys[key] = slot
        for node in body:
            line = first_line(node)
            self.cmap.function_slots[line] = AMBIGUOUS if line in self.cmap.function_slots else slot
            if self.has_code(node):
                break
        return slot

    def stmt(self, node: ast.stmt, qual: str) -> list[ast.stmt]:
        """The statement with its counters, preceded by its line counter if it is first on its line."""
        pre: list[ast.stmt] = []
        counted = id(node) in self.first_on_line
        if isinstance(node, DEFS) and node.decorator_list:
            # Decorator lines run as each expression is evaluated; the def/class line after the last.
            decos = [self.before(d, self.cmap.line_slot(d.lineno)) for d in node.decorator_list]
            if counted:
                decos[-1] = self.after(decos[-1], self.cmap.line_slot(node.lineno), node.lineno)
            node.decorator_list = decos
        elif counted:
            pre.append(self.inc_stmt(self.cmap.line_slot(node.lineno), node.lineno))
        if isinstance(node, FUNCS):
            name = f"{qual}{node.name}"
            self.loop_stack.append(None)
            inner = name + ".<locals>."
            code_start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            node.body = self.block(
                node.body, func=(node.lineno, name), qual=inner, docstring=True, code_start=code_start
            )
            self.loop_stack.pop()
        elif isinstance(node, ast.ClassDef):
            self.loop_stack.append(None)
            node.body = self.block(node.body, qual=f"{qual}{node.name}.", docstring=True)
            self.loop_stack.pop()
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.for_loop(node, qual)
        elif isinstance(node, ast.While):
            self.while_loop(node, pre, qual)
        elif isinstance(node, ast.If):
            self.branch_ways(node, qual)
        elif isinstance(node, ast.Continue):
            back = self.loop_stack[-1] if self.loop_stack else None
            if back is not None:
                pre.append(self.inc_stmt(back, node.lineno))
        elif isinstance(node, TRYS):
            self.try_stmt(node, qual)  # type: ignore[arg-type]
        elif isinstance(node, ast.Match):
            self.match_stmt(node, qual)
        elif isinstance(node, ast.With | ast.AsyncWith):
            node.body = self.block(node.body, qual=qual)
        return [*pre, node]

    def branch_ways(
        self,
        node: ast.If | ast.For | ast.AsyncFor | ast.While,
        qual: str,
        loop: tuple[int | None] | None = None,
    ) -> None:
        """Count the body (one way out of the header) and the else (the other), synthesising an else.

        The synthesised else's counter is located on the header line, the
        line control is on when it leaves that way: no new line is seen.
        A loop's `continue` statements in its body (not its else) count `loop`'s back-edge slot.
        """
        line = node.lineno
        original = list(node.body)
        self.loop_stack.extend(loop or ())
        body = self.block(node.body, qual=qual)
        del self.loop_stack[len(self.loop_stack) - len(loop or ()) :]
        node.body = self.counted_way(line, original, body)
        if node.orelse:
            original = list(node.orelse)
            node.orelse = self.counted_way(line, original, self.block(node.orelse, qual=qual))
        else:
            into_else = self.cmap.new()
            self.cmap.ways.append(Way(line, None, into_else))
            node.orelse = [self.inc_stmt(into_else, line)]

    def counted_way(self, line: int, original: list[ast.stmt], block: list[ast.stmt]) -> list[ast.stmt]:
        """A way from `line` into the block of `original` statements (`block`, counted), counted.

        The way leads to the block's first statement with code (``global``
        and the like compile to nothing).  A simple statement that starts its
        line already has a counter that runs only when control enters this
        block: that one counts the way too.  A block on the header's own line
        is not counted: its way cannot be told apart from the others by line.
        """
        first = next((node for node in original if self.has_code(node)), None)
        if first is None:
            return block  # nothing runs there
        dest = first_line(first)
        if dest == line:
            return block
        if first is original[0] and id(first) in self.first_on_line and not isinstance(first, COMPOUND):
            self.cmap.ways.append(Way(line, dest, _slot_of(block[0])))
            return block
        slot = self.cmap.new()
        self.cmap.ways.append(Way(line, dest, slot))
        return [self.inc_stmt(slot, dest), *block]

    def for_loop(self, node: ast.For | ast.AsyncFor, qual: str) -> None:
        """Back-edges: a counter at the body end and before each continue, or in the iterator when unsafe."""
        if not _risky_continue(node):
            self.loop_back_edges(node, qual)
            return
        if isinstance(node, ast.AsyncFor):
            raise Uncountable(ASYNC_RISKY)
        # A continue leaves through finally/__exit__ code, which may raise or
        # break instead: count every __next__ after the first, in C (no frame,
        # the same errors): ``map(get, chain((0,), counter), iterable)``, where
        # ``get`` is an empty dict's (it returns its second argument).
        back = self.cmap.line_slot(node.lineno)
        where = node.iter
        first: Any = (0,)  # typeshed's Constant takes no tuple (CPython does)
        ticks = ast.Call(
            placeholder(CHAIN, 0, where.lineno),
            [_constant(first, where.lineno), placeholder(COUNTER, back, where.lineno)],
            [],
        )
        helpers = [placeholder(GET, 0, where.lineno), ticks, where]
        call = ast.Call(placeholder(MAP, 0, where.lineno), helpers, [])
        for sub in (call, ticks):
            ast.copy_location(sub, where)
        if sys.version_info < (3, 13):  # where GET_ITER was, as a traceback shows it: the whole statement
            ast.copy_location(call, node)
        node.iter = call
        self.branch_ways(node, qual, loop=(None,))

    def while_loop(self, node: ast.While, pre: list[ast.stmt], qual: str) -> None:
        """Back-edges: a counter at the body's end and before each continue, or in the test when unsafe."""
        if not _risky_continue(node):
            self.loop_back_edges(node, qual)
            return
        # A continue leaves through finally/__exit__ code, which may raise or
        # break instead: count where the test is evaluated (entry included).
        slot = self.cmap.line_slot(node.lineno) if not pre else _slot_of(pre.pop())
        node.test = self.before(node.test, slot)
        self.branch_ways(node, qual, loop=(None,))

    def loop_back_edges(self, node: ast.For | ast.AsyncFor | ast.While, qual: str) -> None:
        """A counter at the end of the body, and one before each ``continue`` of this loop.

        The end-of-body counter has no line (NO_LINE): on any line it would be
        a line event of its own, and on the header line CPython's jump back
        fires the header's event a second time, which coverage.py records as
        a header-to-header arc.  Without a line, the events are the source's.
        """
        back = self.cmap.line_slot(node.lineno)
        self.branch_ways(node, qual, loop=(back,))
        node.body.append(self.inc_stmt(back, NO_LINE))

    def try_stmt(self, node: ast.Try, qual: str) -> None:
        node.body = self.block(node.body, qual=qual)
        for handler in node.handlers:
            body = self.block(handler.body, qual=qual)
            if id(handler) in self.first_on_line:
                slot = self.cmap.line_slot(handler.lineno)
                if handler.type is not None:
                    handler.type = self.before(handler.type, slot)
                else:
                    body.insert(0, self.inc_stmt(slot, handler.lineno))
            handler.body = body
        if node.orelse:
            node.orelse = self.block(node.orelse, qual=qual)
        if node.finalbody:
            node.finalbody = self.block(node.finalbody, qual=qual)

    def match_stmt(self, node: ast.Match, qual: str) -> None:
        """Case lines derived: subject evaluations minus entries of the cases before."""
        subject = self.cmap.new()
        node.subject = self.after(node.subject, subject, node.lineno)
        earlier: list[int] = []
        for case in node.cases:
            first = next((stmt for stmt in case.body if self.has_code(stmt)), None)
            body = self.block(case.body, qual=qual)
            entered = self.cmap.new()
            # A body with no code (``global x``) shows CPython no line: its counter has none either.
            body.insert(0, self.inc_stmt(entered, first_line(first) if first is not None else NO_LINE))
            if first is not None and first_line(first) != case.pattern.lineno:
                self.cmap.ways.append(Way(case.pattern.lineno, first_line(first), entered))
            if id(case) in self.first_on_line:
                self.cmap.derived[case.pattern.lineno] = (subject, list(earlier))
            earlier.append(entered)
            case.body = body


STATEMENT_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_statement_fields: dict[type[ast.AST], tuple[str, ...]] = {}


def counted_nodes(tree: ast.Module) -> list[Counted]:
    """Every statement, ``except`` clause and ``case`` of `tree`, in `ast.walk`'s order.

    Only the fields that hold those are followed: no expression holds a
    statement, and the tree's expressions are most of its nodes (this runs
    at import, where coverage.py's tracer slows every line of Python).
    """
    out: list[Counted] = []
    todo: list[ast.AST] = list(tree.body)
    for node in todo:  # breadth first, as ast.walk: the list grows while it is read
        out.append(node)  # type: ignore[arg-type]  # only statement fields are followed
        kind = type(node)
        fields = _statement_fields.get(kind)
        if fields is None:
            fields = _statement_fields[kind] = tuple(f for f in kind._fields if f in STATEMENT_FIELDS)
        for name in fields:
            todo.extend(getattr(node, name))
    return out


def code_lines(tree: ast.Module, optimize: int = -1, filename: str | None = None) -> frozenset[int]:
    """The lines on which the compiled (uninstrumented) module starts instructions, nested code too.

    Given the source's `filename`, this compile gives the source's own
    warnings, as a plain import does (`instrument_source` then compiles the
    counted code quietly); without one, it warns nothing.
    """
    if filename is not None:
        todo = [compile(tree, filename, "exec", dont_inherit=True, optimize=optimize)]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            todo = [compile(tree, "<lines>", "exec", dont_inherit=True, optimize=optimize)]
    lines: set[int | None] = set()
    for code in todo:  # C iterators: at import, coverage.py's tracer slows every line of Python
        lines.update(map(_third, code.co_lines()))
        nested = map(isinstance, code.co_consts, itertools.repeat(CodeType))
        todo.extend(itertools.compress(code.co_consts, nested))
    lines.discard(None)
    return frozenset(lines)  # type: ignore[arg-type]  # None removed


_third = operator.itemgetter(2)
_next_of = operator.attrgetter("__next__")


def placeholder(kind: str, slot: int, line: int) -> ast.Constant:
    """The constant that stands for slot `slot`'s `kind` (a tick, a counter) or a helper, until `bind`."""
    value: Any = frozenset({(MARK, kind, slot)})  # typeshed's Constant takes no frozenset (CPython does)
    return _constant(value, line)


def _constant(value: Any, line: int) -> ast.Constant:
    """A constant located on `line` (see `_at`)."""
    return ast.Constant(value, lineno=line, end_lineno=line, col_offset=0, end_col_offset=0)


def _placeholder_key(value: object) -> tuple[str, int] | None:
    """(kind, slot) of a placeholder constant; None for any other constant."""
    if type(value) is frozenset and len(value) == 1:
        (item,) = value
        if type(item) is tuple and len(item) == 3 and item[0] == MARK:
            return item[1], item[2]
    return None


def _slot_of(counter: ast.stmt) -> int:
    """The slot an increment made by `inc_stmt` counts."""
    assert isinstance(counter, ast.Expr) and isinstance(counter.value, ast.Call)
    key = _placeholder_key(getattr(counter.value.func, "value", None))
    assert key is not None and key[0] == TICK
    return key[1]


class Uncountable(PytestLcovError):
    """A source whose executions cannot be counted exactly without changing what it does (the reason)."""


def _risky_continue(loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    """Whether a continue of this loop sits in a ``try`` with ``finally``, or in a ``with``."""

    def walk(nodes: Iterable[ast.AST], guarded: bool) -> bool:
        for node in nodes:
            if isinstance(node, (*DEFS, ast.Lambda)):
                continue
            if isinstance(node, ast.Continue):
                if guarded:
                    return True
                continue
            if isinstance(node, LOOPS):
                if walk(node.orelse, guarded):
                    return True
                continue  # continues in the body belong to the inner loop
            inner = guarded or isinstance(node, ast.With | ast.AsyncWith)
            inner = inner or (isinstance(node, TRYS) and bool(getattr(node, "finalbody", None)))
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                sub = getattr(node, name, None)
                if sub and walk(sub, inner if name != "finalbody" else guarded):
                    return True
        return False

    return walk(loop.body, False)


def instrument(tree: ast.Module, optimize: int = -1, filename: str | None = None) -> CounterMap:
    """Rewrite `tree` in place; compile it with `compile_counted` and read the counters with the map.

    `optimize` is the level the result will be compiled at: it decides which
    statements compile to code (``assert`` under ``-O``), and only those are counted.
    Given the source's `filename`, the source's own compiler warnings are given here (see `code_lines`).
    """
    cmap = CounterMap()
    _Instrumenter(cmap, code_lines(tree, optimize, filename)).run(tree)
    return cmap


class Counter(itertools.count):  # type: ignore[type-arg]  # not subscriptable at run time
    """An ``itertools.count`` that pickles (as a new one), as counted code's constants may be.

    cloudpickle and the like pickle a function's code by value, its
    counters among its constants; CPython 3.14 no longer pickles ``itertools.count``.
    """

    def __reduce__(self) -> tuple[type[Counter], tuple[()]]:
        return Counter, ()


class Counters(Sequence[int]):
    """One module's counters: ``counters[k]`` is how many times slot k was counted.

    ``ticks[k]`` counts once when called.  ``itertools.count`` shows its value
    only in its repr (``Counter(5)``), which is read only when counts are read.
    """

    def __init__(self, nslots: int) -> None:
        self.counters = tuple(map(Counter, itertools.repeat(0, nslots)))  # C loops: see `bind`
        self.ticks = tuple(map(_next_of, self.counters))
        self.left_out = [0] * nslots  # counted while measuring was paused (a no_cover test)

    def __len__(self) -> int:
        return len(self.counters)

    def __getitem__(self, slot: int) -> int:  # type: ignore[override]
        return int(repr(self.counters[slot])[len("Counter(") : -1]) - self.left_out[slot]

    def __iter__(self) -> Iterator[int]:
        return iter(self.snapshot())

    def snapshot(self) -> list[int]:
        """Every slot's count, read at once (``counters[k]`` reads one)."""
        start, texts = len("Counter("), map(repr, self.counters)
        return [int(text[start:-1]) - left for text, left in zip(texts, self.left_out, strict=True)]

    def leave_out_since(self, before: Sequence[int]) -> None:
        """Take back what was counted since `before` (this file's counts then; empty: not yet imported)."""
        now = self.snapshot()
        for slot in range(len(self.counters)):
            self.left_out[slot] += now[slot] - (before[slot] if slot < len(before) else 0)


_BINDABLE = frozenset({CodeType, frozenset, tuple})  # the constant types that may hold a placeholder


def bind(code: CodeType, counts: Counters) -> CodeType:
    """`code` with each placeholder constant replaced by what it stands for, nested code too.

    Only constants of a type that may hold a placeholder are looked at, picked
    in C: at import, coverage.py's tracer slows every line of Python.
    """
    helpers: dict[str, Any] = {MAP: map, CHAIN: itertools.chain, GET: {}.get}
    slots: dict[str, tuple[Any, ...]] = {TICK: counts.ticks, COUNTER: counts.counters}

    def value(const: Any) -> Any:
        kind = type(const)
        if kind is CodeType:
            return bound(const)
        if kind is tuple:
            if _BINDABLE.isdisjoint(map(type, const)):
                return const
            items = tuple(map(value, const))
            return const if all(map(operator.is_, items, const)) else items
        key = _placeholder_key(const)
        if key is None:
            return const
        stands_for = slots.get(key[0])
        return helpers[key[0]] if stands_for is None else stands_for[key[1]]

    def bound(code: CodeType) -> CodeType:
        old = code.co_consts
        consts = list(old)
        for at in itertools.compress(range(len(old)), map(_BINDABLE.__contains__, map(type, old))):
            consts[at] = value(old[at])
        return code if all(map(operator.is_, consts, old)) else code.replace(co_consts=tuple(consts))

    return bound(code)


def compile_counted(
    tree: ast.Module, filename: str, counts: Counters, optimize: int = -1, quiet: bool = False
) -> CodeType:
    """Compile an instrumented `tree` and bind its placeholders to `counts`.

    Calling a constant makes the compiler warn ("perhaps you missed a
    comma?"); only that warning about a frozenset, which only a placeholder
    can be, is silenced: the source's own warnings are given as a plain import gives them.
    `quiet`: they were given already (`instrument` with the file name), and none is given here.
    """
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        else:
            warnings.filterwarnings("ignore", PLACEHOLDER_WARNING, SyntaxWarning)
        try:
            code = compile(tree, filename, "exec", dont_inherit=True, optimize=optimize)
        except TypeError:  # a node inserted without a line (the tests check none is): take its parent's
            code = compile(
                ast.fix_missing_locations(tree), filename, "exec", dont_inherit=True, optimize=optimize
            )
    return bind(code, counts)


def instrument_source(
    source: str | bytes, filename: str, optimize: int = -1, counts: Counters | None = None
) -> tuple[CodeType, CounterMap, Counters]:
    """Compile `source` instrumented, under its own file name (tracebacks and coverage.py see that file).

    Its counters are `counts` (a module run again from the same source), or
    new ones.  Raises `Uncountable` for a source that cannot be counted exactly.
    The source's own warnings come from compiling it uninstrumented, as a plain import's do.
    """
    tree = ast.parse(source, filename)
    cmap = instrument(tree, optimize, filename)
    counts = Counters(cmap.nslots) if counts is None else counts
    return compile_counted(tree, filename, counts, optimize, quiet=True), cmap, counts


def source_digest(raw: bytes) -> str:
    """The digest of the bytes a module was compiled from: the report compares it with the bytes it read."""
    return hashlib.sha256(raw).hexdigest()


@dataclass
class CountedFile:
    """One instrumented module's counters, and the digest of the bytes compiled."""

    cmap: CounterMap
    values: Counters
    digest: str
    reloaded_changed: bool = False  # executed again from other source: the counts mix two versions
    not_counted: str | None = None  # why it runs without counters (`Uncountable`), if it does


class CountingLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose `get_code` is the module instrumented, compiled from its source.

    Every run of that code (an import, a reload, ``runpy.run_module``) adds
    to the file's counters, as long as its source is the same.  The import
    itself is the plain loader's, so tracebacks show no frame of ours.
    Instrumented bytecode never goes to ``__pycache__``, where the next plain
    ``python`` would run it: it is compiled in memory and never cached, and
    `set_data` writes nothing.
    """

    def __init__(
        self,
        fullname: str,
        path: str,
        files: dict[str, CountedFile],
        counted_code: weakref.WeakSet[CodeType] | None = None,
    ) -> None:
        super().__init__(fullname, path)
        self.files = files
        self.counted_code = counted_code  # the module code it gave out, told from other runs of the file

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
        """Never write bytecode."""

    def get_code(self, fullname: str) -> CodeType:
        """The module's code, counted: run again from the same source, it adds to the same counters."""
        path = self.get_filename(fullname)
        data = self.get_data(path)
        digest = source_digest(data)
        key = os.path.abspath(path)
        earlier = self.files.get(key)
        same = earlier is not None and earlier.digest == digest and earlier.not_counted is None
        changed = earlier is not None and (earlier.reloaded_changed or earlier.digest != digest)
        counts = earlier.values if earlier is not None and same else None
        self._hand_over(fullname, path)
        try:
            code, cmap, counts = instrument_source(importlib.util.decode_source(data), path, counts=counts)
        except Uncountable as why:
            self.files[key] = CountedFile(CounterMap(), Counters(0), digest, changed, str(why))
            with warnings.catch_warnings():  # the source's own warnings were given (`instrument`)
                warnings.simplefilter("ignore")
                return self.source_to_code(data, path)
        self.files[key] = CountedFile(cmap, counts, digest, changed)
        if self.counted_code is not None:
            self.counted_code.add(code)
        return code

    def _hand_over(self, fullname: str, path: str) -> None:
        """The module being run gets the plain loader as its ``__loader__`` and its spec's.

        Nothing the module reaches by name is then ours: its loader is the one
        it has without counts (a reload or ``runpy.run_module`` finds the
        module again, through us).
        """
        module = sys.modules.get(fullname)
        if module is None or getattr(module, "__loader__", None) is not self:
            return
        plain: Any = importlib.machinery.SourceFileLoader(fullname, path)  # typeshed's loader types vary
        module.__loader__ = plain
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = plain


_WATCHING: list[CountingFinder] = []  # the installed finders, told of every exec of a code object
_HOOKED: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """An audit hook (it stays for the process): an ``exec`` of a code object, shown to the finders."""
    if event == "exec" and _WATCHING:
        for finder in tuple(_WATCHING):
            finder.saw_exec(args[0])


class CountingFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: instruments the modules whose file is in `paths`; passes the rest on.

    The spec comes from the finders after it (the path finder, an editable
    install's finder), so a module is found where it would be anyway; only a
    plain source loader is replaced.  Any other loader (pytest's
    assertion-rewriting hook, a zip importer) keeps the module.  Names that
    cannot be one of our files are passed on without a search.
    """

    def __init__(self, paths: frozenset[str]) -> None:
        self.paths = paths
        self.files: dict[str, CountedFile] = {}
        self.early: set[str] = set()  # files of modules imported before: what they ran is not counted
        folders = {os.path.dirname(path) for path in paths}
        self.folders = frozenset(folders)
        # A top-level import of ours names a file's stem or one of its folders.
        stems = {os.path.splitext(os.path.basename(path))[0] for path in paths}
        self.top_names = frozenset(stems | {os.path.basename(folder) for folder in folders})
        self.searching: set[str] = set()
        self.counted_code: weakref.WeakSet[CodeType] = weakref.WeakSet()
        self.ran_uncounted: set[str] = set()  # files also run from code without counters (runpy.run_path)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Count nothing of what runs inside, as coverage.py measures nothing of it (a no_cover test).

        The counters cannot stop: what they count inside is taken back after.
        """
        before = {path: (counted.values, list(counted.values)) for path, counted in self.files.items()}
        try:
            yield
        finally:
            for path, counted in self.files.items():
                values, then = before.get(path, (None, []))
                counted.values.leave_out_since(then if values is counted.values else ())

    def might_be_ours(self, fullname: str, path: Sequence[str] | None) -> bool:
        if path is None:
            return fullname in self.top_names
        return any(isinstance(entry, str) and os.path.abspath(entry) in self.folders for entry in path)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in self.searching or not self.might_be_ours(fullname, path):
            return None
        self.searching.add(fullname)
        try:
            spec = self._others_spec(fullname, path, target)
        finally:
            self.searching.discard(fullname)
        origin = spec.origin if spec is not None else None
        if spec is None or not origin or os.path.abspath(origin) not in self.paths:
            return None
        if type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return None
        spec.loader = CountingLoader(fullname, origin, self.files, self.counted_code)
        return spec

    def _others_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec the import system would get without us."""
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                return spec  # type: ignore[no-any-return]
        return None

    def install(self) -> None:
        sys.meta_path.insert(0, self)
        _WATCHING.append(self)
        if not _HOOKED:
            sys.addaudithook(_audit)
            _HOOKED.append(True)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if self in _WATCHING:
            _WATCHING.remove(self)

    def saw_exec(self, code: object) -> None:
        """Note a file of ours run from code that is not the counted code (``runpy.run_path``, ``exec``).

        Its counts would lack that run: if it also ran counted, it falls back.
        """
        if not isinstance(code, CodeType):
            return
        name = code.co_filename
        if name not in self.paths:
            name = os.path.abspath(name)
            if name not in self.paths:
                return
        if code not in self.counted_code:
            self.ran_uncounted.add(name)

    def imported_before(self) -> list[str]:
        """Modules of our files already imported by something else: they are not counted (see `early`)."""
        names = []
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None)
            ours = isinstance(filename, str) and os.path.abspath(filename) in self.paths
            if ours and os.path.abspath(str(filename)) not in self.files:
                names.append(name)
                self.early.add(os.path.abspath(str(filename)))
        return sorted(names)
