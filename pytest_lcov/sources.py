"""Each Python source read exactly once, as coverage.py reads it.

The bytes read are the ones hashed for the analysis cache, parsed by
coverage.py, and checksummed: a file that changes while the report runs can
therefore never pair one content's analysis with another's key.
"""

from __future__ import annotations

import os

from coverage.exceptions import NoSource, NotPython

from pytest_lcov.coverage_internals import SourceText, decoded_source, zip_bytes


def read_source(filename: str) -> SourceText:
    """Read `filename` (or a module inside a zip file) once, decoded as coverage.py decodes it.

    The steps are those of coverage.py's ``get_python_source``, applied to
    bytes already read, so the text parsed is exactly the text hashed.
    """
    if os.path.exists(filename):
        with open(filename, "rb") as handle:
            raw = handle.read()
    else:
        zipped = zip_bytes(filename)
        if zipped is None:
            raise NoSource(f"No source for code: '{filename}'.")
        raw = zipped
    normalized = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\f", b" ")
    try:
        text = decoded_source(normalized)
    except SyntaxError as exc:  # an unknown coding cookie
        raise NotPython(f"Couldn't parse '{filename}' as Python source: {exc}") from None
    if text and not text.endswith("\n"):
        text += "\n"
    return SourceText(raw, text)
