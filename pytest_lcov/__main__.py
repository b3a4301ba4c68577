"""``python -m pytest_lcov merge ...``: the ``pytest-lcov`` command without its script."""

import sys

from pytest_lcov.cli import main

if __name__ == "__main__":
    sys.exit(main())
