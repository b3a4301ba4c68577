"""pytest-lcov: measure a pytest run with coverage.py and write an LCOV tracefile."""

__version__ = "0.1.0"


class PytestLcovWarning(UserWarning):
    """Something the user should know about the report (``-W error::pytest_lcov.PytestLcovWarning``)."""
