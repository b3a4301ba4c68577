"""A pytest plugin for annotate_in_run.py: how long pytest-lcov's steps after the tests take, in-process.

Loaded with ``-p benchsteps`` (this folder on PYTHONPATH), it times the
tracefile's writing (``LcovReport._write``) and the HTML step (``html_lines``)
and prints one line, ``STEPS html=<s> write=<s>``, at the end.  pytest-lcov
runs unchanged otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest_lcov.plugin as plugin

spent: dict[str, float] = {}


def _timed(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

    return wrapper


plugin.LcovReport._write = _timed("write", plugin.LcovReport._write)  # type: ignore[method-assign]
plugin.html_lines = _timed("html", plugin.html_lines)  # type: ignore[attr-defined]


def pytest_unconfigure() -> None:
    print("\nSTEPS " + " ".join(f"{name}={seconds:.3f}" for name, seconds in sorted(spent.items())))
