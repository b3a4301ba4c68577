"""Which package module may import which, pytest and coverage.py: the layers, read off every module's source.

The layers, from the hooks down: the pytest hooks (plugin) -> measurement
(measure, counting) -> coverage.py's data turned into records (analysis,
records, report ...) -> the model <-> its text (model, tracefile, merge: no
pytest, no coverage.py) -> the command line (cli).  coverage.py beyond its
documented API is reached through coverage_internals alone, so that a release
that moves an internal touches one file; and the modules the ``merge`` command
and the text tools load never load pytest or coverage.py at import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest_lcov

PACKAGE = Path(pytest_lcov.__file__).parent

# coverage.py's documented API: the rest of it is coverage_internals' to import.
PUBLIC_COVERAGE_MODULES = frozenset({"coverage", "coverage.exceptions", "coverage.plugin"})
PUBLIC_COVERAGE_NAMES = frozenset(
    {
        "Coverage",
        "CoverageData",
        "CoverageException",
        "CoveragePlugin",
        "FileReporter",
        "FileTracer",
        "CodeRegion",
        "__version__",
        "version_info",
        "exceptions",
        "plugin",
    }
)


@dataclass(frozen=True)
class May:
    """What one module may import: pytest, coverage.py ("" none, "api", "internals"), package modules."""

    pytest: bool
    coverage: str
    package: frozenset[str] = frozenset()


def may(pytest: bool, coverage: str, *package: str) -> May:
    return May(pytest, coverage, frozenset(package))


TEXT = ("model", "tracefile")
# The package's own __init__ imports nothing: its warning and error classes are every module's.
EVERYONES = frozenset({"__init__"})
TABLE = {
    # the pytest hooks
    "plugin": may(
        True,
        "api",
        "__init__",
        "analysis",
        "analysis_cache",
        "append",
        "counting",
        "coverage_settings",
        "diff",
        "differential",
        "executions",
        "safe_write",
        "html",
        "job_summary",
        "measure",
        "option_table",
        "outcome",
        "report",
        "reported_files",
        "settings",
        "terminal",
        "tracefile",
        "transport",
    ),
    "outcome": may(
        False,
        "api",
        "coverage_settings",
        "diff",
        "differential",
        "executions",
        "html",
        "merge",
        "model",
        "option_table",
        "report",
        "settings",
        "terminal",
        "tracefile",
    ),
    "transport": may(False, ""),
    "settings": may(True, "", "option_table", "tracefile"),
    "option_table": may(False, "", "differential", "html", "tracefile"),
    # measurement
    "measure": may(True, "api", "coverage_internals", "settings"),
    "counting": may(False, ""),
    # coverage.py's data turned into records
    "coverage_internals": may(False, "internals", "__init__", "counting", "parser_state"),
    "parser_state": may(False, ""),
    "analysis_cache": may(False, "", "safe_write"),
    "sources": may(False, "api", "coverage_internals"),
    "analysis": may(False, "api", "analysis_cache", "coverage_internals", "sources"),
    "reported_files": may(False, "api", "analysis", "coverage_internals", "tracefile"),
    "records": may(False, "api", "coverage_internals", "model"),
    "executions": may(False, "", "records", "counting"),
    "report": may(
        False,
        "api",
        "analysis",
        "records",
        "coverage_internals",
        "executions",
        "safe_write",
        "html",
        "model",
        "option_table",
        "reported_files",
        "tracefile",
    ),
    "coverage_settings": may(False, "api", "coverage_internals"),
    "append": may(
        True,  # for a type only: pytest's cache
        "",
        "coverage_internals",
        "safe_write",
        "merge",
        "model",
        "option_table",
        "report",
        "tracefile",
    ),
    "terminal": may(
        False, "", "coverage_internals", "coverage_settings", "differential", "model", "report", "tracefile"
    ),
    "html": may(False, "", "annotate"),
    "diff": may(False, "", *TEXT),
    "job_summary": may(False, "", "diff", "differential", *TEXT),
    "differential": may(False, "", "diff", *TEXT),
    "annotate": may(False, "", "diff", "tracefile"),
    "safe_write": may(False, ""),
    # the model and its text
    "model": may(False, ""),
    "tracefile": may(False, "", "model"),
    "merge": may(False, "", *TEXT),
    # the command line
    "cli": may(
        False,
        "api",
        "coverage_internals",
        "coverage_settings",
        "safe_write",
        "merge",
        "model",
        "option_table",
        "report",
        "tracefile",
    ),
    "__main__": may(False, "", "cli"),
    "__init__": may(False, ""),
}

# Loaded without pytest or coverage.py (imports at module level only, followed through the package):
# the `merge` command, the text tools and what the parsing helpers import first.
LOADS_NEITHER = (
    "cli",
    "merge",
    "tracefile",
    "model",
    "diff",
    "differential",
    "job_summary",
    "parser_state",
    "counting",
)


@dataclass(frozen=True)
class Imports:
    pytest: bool
    coverage: frozenset[str]  # "module" or "module:name"
    package: frozenset[str]
    at_load: frozenset[str]  # package modules imported when the module loads
    loads_outside: frozenset[str]  # pytest / coverage, when the module loads
    private_getattr: frozenset[str]  # getattr(x, "_name"): a private attribute by name


def imports_of(name: str) -> Imports:
    tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    at_load_nodes = {id(node) for node in _module_level(tree.body)}
    pytest_seen = False
    coverage: set[str] = set()
    package: set[str] = set()
    at_load: set[str] = set()
    outside: set[str] = set()
    private: set[str] = set()
    for node in ast.walk(tree):
        pairs: list[tuple[str, str | None]] = []
        if isinstance(node, ast.Import):
            pairs = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            pairs = [(node.module or "", alias.name) for alias in node.names]
        elif _names_coverage(node):
            assert isinstance(node, ast.Attribute)
            coverage.add(f"coverage:{node.attr}")
        else:
            private |= _private_getattr(node)
        for module, imported in pairs:
            top = module.split(".")[0]
            if top in ("pytest", "_pytest"):
                pytest_seen = True
                found = {"pytest"}
            elif top == "coverage":
                coverage.add(module if imported is None else f"{module}:{imported}")
                found = {"coverage"}
            elif top == "pytest_lcov":
                found = set()
                inner = module.partition(".")[2]
                target = inner or (imported if imported in modules else "__init__")
                package.add(target)
                if id(node) in at_load_nodes:
                    at_load.add(target)
            else:
                continue
            if id(node) in at_load_nodes:
                outside |= found
    return Imports(
        pytest_seen,
        frozenset(coverage),
        frozenset(package),
        frozenset(at_load),
        frozenset(outside),
        frozenset(private),
    )


def _names_coverage(node: ast.AST) -> bool:
    """``coverage.something``: a name reached through the imported package."""
    return (
        isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "coverage"
    )


def _private_getattr(node: ast.AST) -> set[str]:
    """The name of ``getattr(obj, "_name")``: a private attribute read by name."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"):
        return set()
    if len(node.args) < 2 or not isinstance(node.args[1], ast.Constant) or _of_python(node.args[0]):
        return set()
    attr = node.args[1].value
    return {attr} if isinstance(attr, str) and attr.startswith("_") and not attr.startswith("__") else set()


def _of_python(node: ast.expr) -> bool:
    """An attribute of Python's own (``sys._is_gil_enabled``), not of coverage.py's objects."""
    return isinstance(node, ast.Name) and node.id in ("sys", "os")


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run when the module loads: not in functions, classes' methods or ``if TYPE_CHECKING:``."""
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        found.append(node)
        if isinstance(node, ast.If) and not _is_type_checking(node.test):
            found += _module_level(node.body) + _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            found += _module_level(node.body)
            for handler in node.handlers:
                found += _module_level(handler.body)
        elif isinstance(node, ast.ClassDef):
            found += _module_level(node.body)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return any(isinstance(node, ast.Name) and node.id == "TYPE_CHECKING" for node in ast.walk(test))


def test_every_module_imports_only_what_its_layer_may() -> None:
    modules = sorted(path.stem for path in PACKAGE.glob("*.py"))
    assert set(modules) <= set(TABLE), "a new module: give it a row of TABLE"
    problems = []
    for name in modules:
        rule, found = TABLE[name], imports_of(name)
        if found.pytest and not rule.pytest:
            problems.append(f"{name} imports pytest")
        for item in sorted(found.coverage):
            module, _, imported = item.partition(":")
            public = module in PUBLIC_COVERAGE_MODULES and (
                not imported or module == "coverage.exceptions" or imported in PUBLIC_COVERAGE_NAMES
            )
            if not rule.coverage or (not public and rule.coverage != "internals"):
                problems.append(f"{name} uses coverage.py's {item}")
        if found.private_getattr and rule.coverage != "internals":
            problems.append(f"{name} reads private attributes {sorted(found.private_getattr)}")
        beyond = found.package - rule.package - EVERYONES
        if beyond:
            problems.append(f"{name} imports {sorted(beyond)}")
    assert problems == []
    assert [name for name, rule in TABLE.items() if rule.coverage == "internals"] == ["coverage_internals"]


def test_the_merge_command_and_the_text_tools_load_neither_pytest_nor_coverage() -> None:
    for name in LOADS_NEITHER:
        seen: set[str] = set()
        outside: set[str] = set()
        todo = [name]
        while todo:
            module = todo.pop()
            if module in seen or not (PACKAGE / f"{module}.py").exists():
                continue
            seen.add(module)
            found = imports_of(module)
            outside |= found.loads_outside
            todo += sorted(found.at_load)
        assert outside == set(), (name, sorted(seen))


def test_so_they_do_when_imported() -> None:
    """The same, by importing them in a fresh interpreter: nothing a reading of the sources could miss."""
    code = (
        f"import sys, {', '.join(f'pytest_lcov.{name}' for name in LOADS_NEITHER)}; "
        "print(sorted({'coverage', 'pytest', '_pytest'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_every_error_of_the_package_has_one_base() -> None:
    """A caller can catch whatever pytest-lcov raises on its input with one class."""
    import importlib
    import inspect
    import pkgutil

    import pytest_lcov
    from pytest_lcov import PytestLcovError

    errors = {}
    for info in pkgutil.iter_modules(pytest_lcov.__path__):
        module = importlib.import_module(f"pytest_lcov.{info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, Exception)
                and value.__module__ == module.__name__
            ):
                errors[f"{info.name}.{name}"] = value
    assert len(errors) >= 11  # the walk found them
    assert [name for name, error in errors.items() if not issubclass(error, PytestLcovError)] == []
