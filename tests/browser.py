"""Headless Chromium, to look at the HTML report as a person would."""

from __future__ import annotations

import contextlib
import functools
import html
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.helpers import missing_tool

# Without the background-networking switches Chromium keeps dialling out; as root it needs --no-sandbox.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> str:
    """Chromium's path, or skip (fail under CI) with how to install it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        missing_tool("chromium not found: apt-get install chromium")
    return path


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on a free localhost port; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def page_text(chromium: str, profile: Path, url: str, png: Path | None = None) -> str:
    """The page's text after Chromium rendered it, white space folded; with `png`, a screenshot too.

    One launch of Chromium does both: starting it is most of the time a page takes.
    """
    shot: list[str] = []
    if png is not None:
        png.unlink(missing_ok=True)  # a picture of an earlier run must not pass for this one's
        shot = [f"--screenshot={png}", "--window-size=1280,1600"]
    result = _run(chromium, profile, "--dump-dom", *shot, url)
    assert result.returncode == 0, result.stderr
    if png is not None:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = html.unescape(re.sub(r"<[^>]+>", " ", result.stdout))
    return re.sub(r"\s+", " ", text)
