"""The spec of execution counts: sys.settrace 'line' events, normalised to statement starts.

CPython fires line events that are not statement starts (a ``with`` line
again at ``__exit__``, decorator and def lines twice, a multi-line condition
going back to its first line on 3.11, comprehension lines once per item on
3.12+, and on 3.11 phantom events on a ``finally``'s last line when an
exception passes through).  `reference_counts` counts an event on line L
(the first line of statement S) only if L is a loop header, or if it is the
first event on L since control entered S's span.  See pytest_lcov.counting.
"""

from __future__ import annotations

import ast
import dis
import itertools
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from coverage.parser import PythonParser

from pytest_lcov.counting import DEFS, FUNCS, LOOPS, first_line

TraceFunction = Callable[[FrameType, str, Any], Any]
_RERAISE = dis.opmap["RERAISE"]
_COPY = dis.opmap["COPY"]
_POP_EXCEPT = dis.opmap["POP_EXCEPT"]
_YIELD = dis.opmap["YIELD_VALUE"]
_RESUME = dis.opmap["RESUME"]
_RESUMABLE = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
_EXPR_CODE = {"<lambda>", "<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"}
Span = tuple[int, int]


def statement_lines(source: str, filename: str = "<src>") -> set[int]:
    """coverage.py's statements: the lines whose counts are compared."""
    parser = PythonParser(text=source, filename=filename)
    parser.parse_source()
    return set(parser.statements)


def _phantom(co_code: bytes, index: int) -> int:
    """3.11 gives RERAISE and exception clean-up (COPY 3; POP_EXCEPT; RERAISE 1) the line before.

    2: an exception clean-up block, never a statement; 1: a RERAISE, a
    statement only when the line holds code-less ``pass``; 0: neither.
    """
    op = co_code[index]
    if op == _COPY and co_code[index + 2] == _POP_EXCEPT:
        return 2
    return 1 if op == _RERAISE else 0


def _model(tree: ast.Module) -> tuple[dict[int, tuple[Span, bool]], dict[int, Span]]:
    """line -> (span of the statement starting there, loop header?); def/class first line -> its head."""
    info: dict[int, tuple[Span, bool]] = {}
    heads: dict[int, Span] = {}
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.stmt | ast.ExceptHandler | ast.match_case)]
    nodes.sort(key=lambda n: (first_line(n), getattr(n, "col_offset", 0)))
    for node in nodes:
        first = first_line(node)
        if isinstance(node, DEFS):
            heads[first] = (first, node.body[0].lineno - 1)
            span = (first, node.end_lineno or first)
            for decorator in node.decorator_list:
                info.setdefault(decorator.lineno, (span, False))
            info.setdefault(node.lineno, (span, False))
        elif isinstance(node, ast.match_case):
            span = (first, node.body[-1].end_lineno or first)
        else:
            span = (first, node.end_lineno or first)
        info.setdefault(first, (span, isinstance(node, LOOPS)))
    return info, heads


def _header_end(node: ast.stmt | ast.ExceptHandler | ast.match_case) -> int:
    """The last line of a statement's own part: a compound's header, a simple statement's whole."""
    if isinstance(node, ast.Match):
        return node.cases[0].pattern.lineno - 1
    if isinstance(node, ast.match_case):
        return node.body[0].lineno - 1
    body = getattr(node, "body", None)
    if isinstance(body, list) and body:
        return int(first_line(body[0])) - 1
    return node.end_lineno or node.lineno


def _continuation_lines(tree: ast.Module, info: dict[int, tuple[Span, bool]]) -> dict[int, int]:
    """Lines inside a statement's own part that start no statement -> the line it starts on."""
    lines: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt | ast.ExceptHandler | ast.match_case):
            start = node.pattern.lineno if isinstance(node, ast.match_case) else node.lineno
            for line in range(start + 1, _header_end(node) + 1):
                if line not in info:
                    lines.setdefault(line, start)
    return lines


def _statement_starts(tree: ast.Module) -> dict[int, int]:
    """A later line of a statement's own part (a multi-line condition, say) -> its first line."""
    start: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            body = node.cases[0].pattern if isinstance(node, ast.Match) else getattr(node, "body", None)
            body = body[0] if isinstance(body, list) and body else body
            last = body.lineno - 1 if isinstance(body, ast.stmt | ast.pattern) else node.end_lineno
            for line in range(node.lineno + 1, (last or node.lineno) + 1):
                start.setdefault(line, node.lineno)
    return start


def _suspends(code: CodeType, offset: int) -> bool:
    """Whether a 'return' event is a generator or coroutine suspending at a yield (or an await).

    The frame stands on the YIELD_VALUE (3.11, 3.12) or on the RESUME after
    it (3.13), whose argument says where it resumes from (0: the start).
    """
    if not code.co_flags & _RESUMABLE or not 0 <= offset < len(code.co_code) - 1:
        return False
    op, arg = code.co_code[offset], code.co_code[offset + 1]
    return op == _YIELD or (op == _RESUME and arg & 3 != 0)


def _first_since_entered(history: list[int], line: int, low: int, high: int) -> bool:
    """Whether control entered the statement on `line` (span low..high) since its last event there."""
    for previous in reversed(history):
        if abs(previous) == line:
            return False
        if not low <= abs(previous) <= high:
            return True
    return True


class _Tracer:
    """Counts normalised line events and function entries of one file's frames."""

    def __init__(self, source: str, filename: str) -> None:
        self.filename = filename
        tree = ast.parse(source, filename)
        self.tree = tree
        self.info, self.heads = _model(tree)
        self.continuation = _continuation_lines(tree, self.info)
        # Statements compiled to no code: their line lands on the next
        # instruction (on 3.11 possibly a RERAISE), so that event is genuine.
        self.nocode = {
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        }
        self.lines: Counter[int] = Counter()
        self.funcs: Counter[tuple[int, str]] = Counter()
        # By id(frame): a frame's id is unique until its final return, when
        # its history goes into `pairs` (no frame is kept alive: a whole test
        # suite can be traced without changing what it keeps in memory).
        self.history: dict[int, list[int]] = {}
        self.pairs: Counter[tuple[int, int]] = Counter()
        self.raising: set[int] = set()  # frames whose last event was an exception
        self.unentered: set[int] = set()  # function frames called whose body has not started
        self.statement_start = _statement_starts(tree)

    def __call__(self, frame: FrameType, event: str, arg: Any) -> TraceFunction | None:
        code = frame.f_code
        if code.co_filename != self.filename or code.co_name in _EXPR_CODE:
            return None
        if event == "call":
            stale = self.history.get(id(frame))
            if stale is None or not code.co_flags & _RESUMABLE:  # not a generator or coroutine resuming
                if stale is not None:  # a frame that never returned had this id
                    self.pairs.update(self._pairs(stale))
                self.history[id(frame)] = []
                if code.co_flags & 0x1:  # CO_OPTIMIZED: functions, not class bodies
                    self.unentered.add(id(frame))
        elif event == "line":
            self.raising.discard(id(frame))
            if id(frame) in self.unentered:
                # Entered when its body starts: 3.11 also gives a generator closed
                # before it started a 'call' event, with no line run.
                self.unentered.discard(id(frame))
                self.funcs[code.co_firstlineno, code.co_qualname] += 1
            self.line(frame, code)
        elif event == "exception":
            self.raising.add(id(frame))
        # An exception leaving a yield (close() throws GeneratorExit there) ends the frame too.
        elif event == "return" and (id(frame) in self.raising or not _suspends(code, frame.f_lasti)):
            self.raising.discard(id(frame))
            self.unentered.discard(id(frame))
            self.pairs.update(self._pairs(self.history.pop(id(frame), [])))
        return self

    def line(self, frame: FrameType, code: CodeType) -> None:
        line = frame.f_lineno
        phantom = _phantom(code.co_code, frame.f_lasti) if sys.version_info < (3, 12) else 0
        if phantom == 2 or (phantom == 1 and line not in self.nocode):
            return
        if code.co_name != "<module>" and code.co_firstlineno in self.heads:
            low, high = self.heads[code.co_firstlineno]
            if low <= line <= high:
                return
        history = self.history[id(frame)]
        if line not in self.info and line in self.continuation:
            self.continued(self.continuation[line], history)
            return
        if line in self.info:
            (low, high), is_loop = self.info[line]
            if is_loop:  # every return, unless this is its own condition coming back (3.11)
                count = not history or history[-1] != -line
            else:
                count = _first_since_entered(history, line, low, high)
            if count:
                self.lines[line] += 1
        history.append(line)

    def continued(self, start: int, history: list[int]) -> None:
        """An event on a later line of the statement starting on `start` (coverage.py reports it there).

        It counts when control was elsewhere just before: a loop header whose
        condition starts on a later line comes back to that line only.
        """
        (low, high), is_loop = self.info[start]
        if is_loop:
            count = not history or abs(history[-1]) != start
        else:
            count = _first_since_entered(history, start, low, high)
        if count:
            self.lines[start] += 1
        history.append(-start)  # negative: on a later line of that statement

    def _pairs(self, history: list[int]) -> Iterator[tuple[int, int]]:
        lines = [self.statement_start.get(abs(line), abs(line)) for line in history]
        return ((a, b) for a, b in itertools.pairwise(lines) if a != b)

    def transitions(self) -> Counter[tuple[int, int]]:
        """How often an event on one statement was followed by one on another, in the same frame.

        Lines are read as the first line of their statement (of a compound
        statement's header): 3.12+ leaves a multi-line condition on its last line.
        """
        pairs = Counter(self.pairs)
        for history in self.history.values():  # frames that have not returned
            pairs.update(self._pairs(history))
        return pairs

    def function_counts(self) -> dict[tuple[int, str], int]:
        """Entries by (def line, qualname): co_firstlineno is the first decorator's line."""
        def_lines = {first_line(n): n.lineno for n in ast.walk(self.tree) if isinstance(n, FUNCS)}
        return {(def_lines.get(line, line), name): n for (line, name), n in self.funcs.items()}


@dataclass(frozen=True)
class Reference:
    """What the reference counted, and what the program's `run` returned."""

    lines: dict[int, int]
    functions: dict[tuple[int, str], int]  # by (def line, qualname)
    transitions: Counter[tuple[int, int]]  # (line, next line in the same frame) -> times
    result: Any


def reference_counts(source: str, filename: str, run: Callable[[CodeType], Any]) -> Reference:
    """Run ``run(code)`` on the plain compiled source under sys.settrace."""
    tracer = _Tracer(source, filename)
    code = compile(source, filename, "exec", dont_inherit=True)
    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = run(code)
    finally:
        sys.settrace(old)
    return Reference(dict(tracer.lines), tracer.function_counts(), tracer.transitions(), result)
