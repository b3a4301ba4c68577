"""pytest-lcov: measure a pytest run with coverage.py and write an LCOV tracefile."""

__version__ = "0.1.0"

PREFIX = "pytest-lcov: "


def prefixed(text: str) -> str:
    """`text` under pytest-lcov's name, as every line of its own starts: the one place that adds it."""
    return PREFIX + text


class PytestLcovWarning(UserWarning):
    """Something the user should know about the report (``-W error::pytest_lcov.PytestLcovWarning``)."""


class PytestLcovError(Exception):
    """The base of every error pytest-lcov raises on what it was given (a file, a setting, a tool).

    Each subclass also derives from the built-in error it is a kind of
    (``OSError``, ``ValueError``), so callers can catch either.
    """
