"""Generated Python programs (Hypothesis): loops, branches, try/finally, with, generators, closures.

The counting tests run each one under the settrace reference and with counters;
the core tests under each coverage.py core.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PY = sys.version_info[:2]
CONDS = ["x % 2 == 0", "x > 2", "x == 1", "x % 3 == 1", "not x", "x < 5"]
SIMPLE = [
    "x = x + 1",
    "x += 2",
    "pass",
    "y = [i for i in range(x % 3)]",
    "y = (lambda a: a + 1)(x)",
    "y = sum(i for i in range(2))",
    "x = (x +\n     1)",
    "y = {i: i for i in range(2)}",
    "assert x >= 0",
    "x -= 1",
    # Statements that compile to nothing, or only to a NOP: no counter may add a line there.
    "global g_unused",
    "'a string statement'",
    "z: int",
]
Lines = list[str]
# On 3.11 these can end a finally block whose last line takes an exception path's events too:
# the reference cannot tell them from a real run (see `counting_reference._phantom`).
FINAL_AMBIGUOUS = ("pass", "global g_unused", "'a string statement'", "z: int")


class Ctx:
    """Where a generated statement goes: in a loop, a function (a closure too), a generator, a finally."""

    def __init__(self, uid: list[int] | None = None) -> None:
        self.loop = self.func = self.gen = self.final = False
        self.uid = uid if uid is not None else [0]

    def but(self, **changes: bool) -> Ctx:
        ctx = Ctx(self.uid)
        ctx.loop, ctx.func, ctx.gen, ctx.final = self.loop, self.func, self.gen, self.final
        for name, value in changes.items():
            setattr(ctx, name, value)
        return ctx

    def fresh(self) -> int:
        self.uid[0] += 1
        return self.uid[0]


def indent(lines: Lines) -> Lines:
    return ["    " + line for line in lines]


@st.composite
def block(draw: st.DrawFn, ctx: Ctx, depth: int) -> Lines:
    out: Lines = []
    for _ in range(draw(st.integers(1, 3))):
        out += draw(statement(ctx, depth))
    return out


def _kinds(ctx: Ctx, depth: int) -> list[str]:
    """The statements that fit here, minus two shapes the reference cannot judge on 3.11.

    On 3.11, code in the exception path's copy of a ``finally`` shares its
    first instruction with the exception clean-up the reference must ignore
    (see `counting_reference._phantom`): a ``pass`` ending a ``finally`` takes
    the line of the RERAISE, and a ``break`` in a loop inside a ``finally``
    starts with the COPY/POP_EXCEPT of the clean-up.  The reference then cannot
    tell a real event from a phantom one; the instrumented count is the true
    one (``scratch/open_3.11_*`` of the prototype; on 3.12+ both agree).
    """
    kinds = ["simple", "simple", "raise"]
    if ctx.loop:
        kinds += ["continue"] if ctx.final and PY < (3, 12) else ["break", "continue"]
    if ctx.func:
        kinds += ["return"]
    if ctx.gen:
        kinds += ["yield"]
    if depth > 0:
        kinds += ["if", "for", "while", "try", "with", "match"]
        if ctx.func:
            kinds += ["closure"]
    return kinds


@st.composite
def statement(draw: st.DrawFn, ctx: Ctx, depth: int) -> Lines:
    kind = draw(st.sampled_from(_kinds(ctx, depth)))
    cond = draw(st.sampled_from(CONDS))
    if kind == "simple":
        simple = [s for s in SIMPLE if s not in FINAL_AMBIGUOUS] if ctx.final and PY < (3, 12) else SIMPLE
        return draw(st.sampled_from(simple)).split("\n")
    if kind == "raise":
        exc = draw(st.sampled_from(["ValueError", "KeyError", "TypeError"]))
        return [f"if {cond}:", f"    raise {exc}(x)"]
    if kind in ("break", "continue", "return"):
        return [f"if {cond}:", f"    {kind}" + (" x" if kind == "return" else "")]
    if kind == "yield":
        return draw(st.sampled_from([["yield x"], ["x = yield x"], ["if x:", "    yield x"]]))
    return draw(compound(kind, ctx, depth, cond))


@st.composite
def compound(draw: st.DrawFn, kind: str, ctx: Ctx, depth: int, cond: str) -> Lines:
    inner = depth - 1
    if kind == "if":
        out = [f"if {cond}:", *indent(draw(block(ctx, inner)))]
        for _ in range(draw(st.integers(0, 2))):
            out += [f"elif {draw(st.sampled_from(CONDS))}:", *indent(draw(block(ctx, inner)))]
    elif kind == "for":
        u = ctx.fresh()
        out = [f"for i{u} in range({draw(st.integers(0, 3))}):", f"    x += i{u}"]
        out += indent(draw(block(ctx.but(loop=True), inner)))
    elif kind == "while":
        u = ctx.fresh()
        header = draw(st.sampled_from([f"while w{u} < {draw(st.integers(0, 3))}:", "while True:"]))
        out = [f"w{u} = 0", header, f"    w{u} += 1", f"    if w{u} > 4:", "        break"]
        out += indent(draw(block(ctx.but(loop=True), inner)))
    elif kind == "try":
        return draw(try_statement(ctx, inner))
    elif kind == "closure":  # `nonlocal` compiles to nothing: its line must stay without a counter
        u = ctx.fresh()
        body = draw(block(ctx.but(func=True, gen=False, loop=False, final=False), inner))
        return [f"def inner{u}():", "    nonlocal x", *indent(body), f"inner{u}()"]
    elif kind == "with":
        manager = draw(
            st.sampled_from(
                [
                    "contextlib.nullcontext()",
                    "contextlib.suppress(KeyError)",
                    "contextlib.nullcontext() as c, contextlib.suppress(ValueError)",
                ]
            )
        )
        return [f"with {manager}:", *indent(draw(block(ctx, inner)))]
    else:
        out = ["match x % 4:"]
        patterns = draw(
            st.lists(
                st.sampled_from(["0", "1 | 2", "int(q) if q > 2", "3"]), min_size=1, max_size=3, unique=True
            )
        )
        wildcard: Lines = ["_"] if draw(st.booleans()) else []
        for pattern in [*patterns, *wildcard]:
            out += [f"    case {pattern}:", *indent(indent(draw(block(ctx, inner))))]
        return out
    if draw(st.booleans()):
        out += ["else:", *indent(draw(block(ctx, inner)))]
    return out


@st.composite
def try_statement(draw: st.DrawFn, ctx: Ctx, depth: int) -> Lines:
    out = ["try:", *indent(draw(block(ctx, depth)))]
    kinds = ["ValueError", "KeyError", "(TypeError, KeyError)", "Exception", ""]
    handlers = draw(st.lists(st.sampled_from(kinds), max_size=2, unique=True))
    handlers.sort(key=lambda handler: handler == "")  # a bare except must be last
    for handler in handlers:
        out += [f"except {handler}:".replace("except :", "except:"), *indent(draw(block(ctx, depth)))]
    with_else: bool = draw(st.booleans())
    with_finally: bool = draw(st.booleans())
    if handlers and with_else:
        out += ["else:", *indent(draw(block(ctx, depth)))]
    if not handlers or with_finally:
        out += ["finally:", *indent(draw(block(ctx.but(final=True), depth)))]
    return out


@st.composite
def program(draw: st.DrawFn) -> str:
    ctx = Ctx()
    function = draw(block(ctx.but(func=True), 2))
    generator = draw(block(ctx.but(func=True, gen=True), 2))
    module = draw(block(ctx, 2))
    lines = ["import contextlib", "x = 0", "def f(a):", "    x = a", *indent(function), "    return x"]
    lines += ["def g(a):", "    x = a", "    yield x", *indent(generator)]
    lines += ["for a in range(4):", "    try:", "        f(a)", "    except Exception:", "        pass"]
    lines += ["    try:", "        list(g(a))", "    except Exception:", "        pass", "x = 3", *module]
    return "\n".join(lines) + "\n"


def generated_programs(max_examples: int) -> settings:
    """Hypothesis settings for tests over `program()`: some examples take a while to run."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextlib.contextmanager
def program_file(source: str) -> Iterator[Path]:
    """`source` in a file of its own, which coverage.py measures by name."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.py"
        path.write_text(source)
        yield path
