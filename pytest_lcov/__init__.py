"""pytest-lcov: measure a pytest run with coverage.py and write an LCOV tracefile."""

__version__ = "0.1.0"


class PytestLcovWarning(UserWarning):
    """Something the user should know about the report (``-W error::pytest_lcov.PytestLcovWarning``)."""


class PytestLcovError(Exception):
    """The base of every error pytest-lcov raises on what it was given (a file, a setting, a tool).

    Each subclass also derives from the built-in error it is a kind of
    (``OSError``, ``ValueError``), so callers can catch either.
    """
