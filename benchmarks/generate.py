"""Generate a large synthetic Python project and its tests, for benchmarking pytest-lcov.

The project is a package ``synthpkg`` of `--modules` modules (about 300 lines each),
split into subpackages of 100 modules.  Modules hold functions, classes with methods,
properties, static and class methods, nested functions, decorators, if/elif/else,
for/else and while/else loops, try/except/else/finally, match, comprehensions and
generators.  The tests (``tests/test_*.py``) call about half of each module's code,
so line coverage comes out near 50%.  Everything is derived from `--seed`: the same
arguments always write the same files.

    python benchmarks/generate.py                          # 2000 modules, 3 tests each
    python benchmarks/generate.py --modules 300 --tests 2000 --out benchmarks/work/synth-pertest
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

PACKAGE = "synthpkg"
MODULES_PER_SUBPACKAGE = 100
TARGET_LINES = 300
DEFAULT_OUT = Path(__file__).resolve().parent / "work" / "synth"
MANIFEST = "synth.json"


@dataclass(frozen=True)
class Params:
    """Everything the generated tree depends on (written to synth.json)."""

    modules: int
    tests_per_module: int
    tests: int | None
    seed: int
    generator_version: int = 1


@dataclass
class Unit:
    """A piece of a module: its source, and the test calls that exercise it."""

    source: str
    calls: list[Callable[[random.Random], str]]


def _unit_compute(n: int, rng: random.Random) -> Unit:
    t1, k1, c0, c1, c2 = rng.randint(3, 9), rng.randint(2, 7), rng.randint(0, 9), rng.randint(1, 50), 7
    m, t2, w = rng.randint(2, 5), rng.randint(20, 60), rng.randint(2, 6)
    source = f'''
def compute_{n}(x: int, items: list[int]) -> int:
    """Branches, a for/else loop and a while loop."""
    total = {c0}
    if x > {t1}:
        total += x * {k1}
    elif x < -{t1}:
        total -= x
    elif x == 0:
        total = -1
    else:
        total = {c1}
    for item in items:
        if item % {m} == 0:
            total += item
            continue
        if item > {t2}:
            break
        total -= 1
    else:
        total += {c2}
    count = 0
    while count < {w} and total > -1000:
        count += 1
        total += count
    return total
'''

    def call(r: random.Random) -> str:
        items = [r.randint(0, 80) for _ in range(r.randint(0, 5))]
        return f"assert isinstance(mod.compute_{n}({r.randint(-12, 12)}, {items}), int)"

    return Unit(source, [call])


def _unit_widget(n: int, rng: random.Random) -> Unit:
    scale, size, big = rng.randint(2, 9), rng.randint(1, 5), rng.randint(10, 40)
    source = f'''
class Widget{n}:
    """A small stateful class."""

    scale = {scale}

    def __init__(self, name: str, size: int = {size}) -> None:
        self.name = name
        self.size = size
        self._history: list[int] = []

    @property
    def area(self) -> int:
        return self.size * self.scale

    def grow(self, by: int) -> int:
        if by <= 0:
            raise ValueError("by must be positive")
        self.size += by
        self._history.append(by)
        return self.size

    def shrink(self, by: int) -> int:
        self.size = max(0, self.size - by)
        if not self.size:
            self._history.clear()
        return self.size

    @staticmethod
    def describe(value: int) -> str:
        if value > {big}:
            return "big"
        elif value > {big // 2}:
            return "medium"
        return "small"

    @classmethod
    def make(cls, count: int) -> list[Widget{n}]:
        return [cls(f"w{{i}}", i) for i in range(count)]

    def summary(self) -> dict[str, int]:
        return {{key: len(key) + self.size for key in (self.name, "total") if key}}
'''

    def call_grow(r: random.Random) -> str:
        return f"assert mod.Widget{n}('w', {r.randint(1, 9)}).grow({r.randint(1, 4)}) > 0"

    def call_describe(r: random.Random) -> str:
        return f"assert mod.Widget{n}.describe({r.randint(0, 50)}) in ('big', 'medium', 'small')"

    def call_make(r: random.Random) -> str:
        return f"assert sum(w.area for w in mod.Widget{n}.make({r.randint(1, 4)})) >= 0"

    return Unit(source, [call_grow, call_describe, call_make])


def _unit_parse(n: int, rng: random.Random) -> Unit:
    default, k, m = rng.randint(0, 9), rng.randint(1, 9), rng.randint(3, 8)
    source = f'''
def _clamped_{n}(func: Callable[..., int]) -> Callable[..., int]:
    """A decorator with a nested wrapper."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        result = func(*args, **kwargs)
        if result < 0:
            return 0
        return result

    return wrapper


@_clamped_{n}
def parse_{n}(text: str, default: int = {default}) -> int:
    """try/except/else/finally, a nested function and comprehensions."""

    def clean(value: str) -> str:
        return value.strip().lower()

    cleaned = clean(text)
    try:
        number = int(cleaned)
    except ValueError:
        number = default
    except (TypeError, OverflowError):
        return -1
    else:
        number += {k}
    finally:
        cleaned = ""
    squares = [i * i for i in range(number % {m})]
    evens = {{i for i in squares if i % 2 == 0}}
    lookup = {{i: str(i) for i in evens}}
    return number + sum(squares) + len(lookup)
'''

    def call(r: random.Random) -> str:
        text = r.choice([str(r.randint(-5, 40)), "abc", f" {r.randint(0, 9)} "])
        return f"assert mod.parse_{n}({text!r}) >= 0"

    return Unit(source, [call])


def _unit_walk(n: int, rng: random.Random) -> Unit:
    m, m2, k = rng.randint(2, 4), rng.randint(3, 5), rng.randint(3, 12)
    source = f'''
def walk_{n}(limit: int) -> Iterator[int]:
    """A generator with a while/else loop."""
    index = 0
    while index < limit:
        if index % {m} == 0:
            yield index
        elif index % {m2} == 1:
            yield -index
        index += 1
    else:
        yield limit


def gather_{n}(limit: int) -> list[int]:
    values = list(walk_{n}(limit))
    pairs = [(a, b) for a in values for b in values if a < b]
    return [a + b for a, b in pairs][:{k}]
'''

    def call(r: random.Random) -> str:
        return f"assert isinstance(mod.gather_{n}({r.randint(0, 9)}), list)"

    return Unit(source, [call])


def _unit_route(n: int, rng: random.Random) -> Unit:
    offset = rng.randint(1, 9)
    source = f'''
def route_{n}(command: str, value: int) -> int:
    """A match statement and a lambda."""
    adjust: Callable[[int], int] = lambda v: v + {offset}  # noqa: E731
    match command.split():
        case ["add", amount]:
            return adjust(value + int(amount))
        case ["mul", amount]:
            return value * int(amount)
        case ["neg"]:
            return -value
        case [word, *rest] if rest:
            return len(word) + len(rest)
        case _:
            return value
'''

    def call(r: random.Random) -> str:
        command = r.choice(["add 3", "mul 2", "neg", "say a b", "noop"])
        return f"assert isinstance(mod.route_{n}({command!r}, {r.randint(-5, 5)}), int)"

    return Unit(source, [call])


def _unit_ledger(n: int, rng: random.Random) -> Unit:
    limit, fee = rng.randint(50, 500), rng.randint(1, 5)
    source = f'''
class Ledger{n}:
    """Methods with loops, a nested helper and exception handling."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {{}}

    def post(self, account: str, amount: int) -> int:
        if not account:
            raise KeyError("account")
        balance = self.entries.get(account, 0) + amount
        if balance > {limit}:
            balance -= {fee}
        self.entries[account] = balance
        return balance

    def post_many(self, pairs: list[tuple[str, int]]) -> int:
        failures = 0
        for account, amount in pairs:
            try:
                self.post(account, amount)
            except KeyError:
                failures += 1
        return failures

    def report(self) -> list[str]:
        def line(account: str) -> str:
            return f"{{account}}: {{self.entries[account]}}"

        return [line(account) for account in sorted(self.entries)]

    async def settle(self) -> int:
        total = 0
        for value in self.entries.values():
            total += value
        return total
'''

    def call_post(r: random.Random) -> str:
        pairs = [(r.choice(["a", "b", ""]), r.randint(-100, 300)) for _ in range(r.randint(1, 4))]
        return f"assert mod.Ledger{n}().post_many({pairs}) >= 0"

    def call_report(r: random.Random) -> str:
        return (
            f"ledger = mod.Ledger{n}()\n    ledger.post('x', {r.randint(0, 600)})\n    assert ledger.report()"
        )

    return Unit(source, [call_post, call_report])


UNIT_KINDS = (_unit_compute, _unit_widget, _unit_parse, _unit_walk, _unit_route, _unit_ledger)

HEADER = '''"""Synthetic module {name} (generated by benchmarks/generate.py, seed {seed})."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

CONSTANT = {constant}
TABLE = {{i: i * {factor} for i in range({size})}}
'''


@dataclass
class Module:
    """One generated module: dotted name, source, and calls into its tested half."""

    dotted: str
    source: str
    calls: list[Callable[[random.Random], str]]


def make_module(dotted: str, seed: int) -> Module:
    """About TARGET_LINES lines of varied code; every other unit is called by the tests."""
    rng = random.Random(f"{seed}:{dotted}")
    parts = [
        HEADER.format(
            name=dotted,
            seed=seed,
            constant=rng.randint(0, 999),
            factor=rng.randint(2, 9),
            size=rng.randint(3, 30),
        )
    ]
    calls: list[Callable[[random.Random], str]] = []
    lines = parts[0].count("\n")
    number = 0
    first = rng.randrange(len(UNIT_KINDS))
    while lines < TARGET_LINES - 10:
        kind = UNIT_KINDS[(first + number) % len(UNIT_KINDS)]
        unit = kind(number, rng)
        parts.append(unit.source)
        lines += unit.source.count("\n") + 1
        if number % 2 == 0:  # the tested half
            calls.extend(unit.calls)
        number += 1
    return Module(dotted, "\n".join(parts), calls)


def module_names(count: int) -> list[tuple[str, str]]:
    """(subpackage, module) names: sub000/mod00000 ..., MODULES_PER_SUBPACKAGE per subpackage."""
    return [(f"sub{index // MODULES_PER_SUBPACKAGE:03d}", f"mod{index:05d}") for index in range(count)]


def tests_for(module_index: int, params: Params) -> int:
    """How many tests module `module_index` gets."""
    if params.tests is None:
        return params.tests_per_module
    base, extra = divmod(params.tests, params.modules)
    return base + (1 if module_index < extra else 0)


def make_tests(module: Module, import_line: str, stem: str, count: int, seed: int) -> str:
    """`count` tests that share out the module's tested calls; arguments vary per test."""
    rng = random.Random(f"{seed}:tests:{module.dotted}")
    out = [f'"""Tests for {module.dotted} (generated by benchmarks/generate.py)."""', "", import_line, ""]
    calls = module.calls
    for number in range(count):
        # More tests than calls: each test takes one call, with its own arguments.
        mine = calls[number::count] if count <= len(calls) else [calls[number % len(calls)]]
        out.append("")
        out.append(f"def test_{stem}_{number:03d}() -> None:")
        out.extend("    " + call(rng) for call in mine)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


PYPROJECT = """[project]
name = "synth"
version = "0"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]

[tool.coverage.run]
source = ["{package}"]
"""


def generate(out: Path, params: Params) -> None:
    """Write the project into `out`, replacing what a previous run generated there."""
    if out.exists():
        if not (out / MANIFEST).exists() and any(out.iterdir()):
            raise SystemExit(f"generate: {out} exists and was not made by this script; not touching it")
        shutil.rmtree(out)
    package = out / PACKAGE
    tests = out / "tests"
    tests.mkdir(parents=True)
    package.mkdir()
    (package / "__init__.py").write_text('"""Synthetic package for benchmarks."""\n', encoding="utf-8")
    (out / "pyproject.toml").write_text(PYPROJECT.format(package=PACKAGE), encoding="utf-8")
    made_subpackages: set[str] = set()
    for index, (sub, name) in enumerate(module_names(params.modules)):
        if sub not in made_subpackages:
            (package / sub).mkdir()
            (package / sub / "__init__.py").write_text("", encoding="utf-8")
            made_subpackages.add(sub)
        module = make_module(f"{PACKAGE}.{sub}.{name}", params.seed)
        (package / sub / f"{name}.py").write_text(module.source, encoding="utf-8")
        count = tests_for(index, params)
        if count:
            text = make_tests(module, f"from {PACKAGE}.{sub} import {name} as mod", name, count, params.seed)
            (tests / f"test_{name}.py").write_text(text, encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(asdict(params), indent=2) + "\n", encoding="utf-8")


def is_current(out: Path, params: Params) -> bool:
    """Whether `out` already holds exactly what `params` would generate."""
    try:
        return bool(json.loads((out / MANIFEST).read_text(encoding="utf-8")) == asdict(params))
    except (OSError, ValueError):
        return False


def ensure(out: Path, params: Params) -> bool:
    """Generate unless `out` is current; return whether files were written."""
    if is_current(out, params):
        return False
    generate(out, params)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write (default %(default)s)")
    parser.add_argument("--modules", type=int, default=2000, help="number of modules (default %(default)s)")
    parser.add_argument(
        "--tests-per-module", type=int, default=3, help="tests per module (default %(default)s)"
    )
    parser.add_argument("--tests", type=int, default=None, help="total tests, spread over the modules")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = parser.parse_args(argv)
    if args.modules < 1 or args.tests_per_module < 0 or (args.tests is not None and args.tests < 0):
        parser.error("--modules must be positive, test counts not negative")
    params = Params(args.modules, args.tests_per_module, args.tests, args.seed)
    if args.force:
        generate(args.out, params)
        written = True
    else:
        written = ensure(args.out, params)
    state = "generated" if written else "already up to date"
    print(f"{args.out}: {state} ({params.modules} modules)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
