"""The real LCOV tools the tests check our files with: lcov 1.16 and lcov 2.3.1.

lcov 1.x is the machine's ``genhtml``/``lcov`` on PATH; lcov 2.x is the
unpacked Debian package that ``.ci/install-lcov`` puts in ``$LCOV2_ROOT``.
A missing tool skips the test with the command that installs it, except
under ``CI=true``, where a skip would hide a failure: there it fails.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import missing_tool

INSTALL_HINT = "run `bash .ci/install-lcov` to install lcov 1.16 and 2.3.1"
# Read at import: pytester points HOME at a temporary folder while a test runs.
LCOV2_ROOT = Path(os.environ.get("LCOV2_ROOT", Path.home() / ".cache/pytest-lcov/lcov2"))


@dataclass(frozen=True)
class LcovTools:
    """One lcov release: how to run its genhtml and lcov."""

    major: int
    bin_dir: Path
    env: dict[str, str]

    def run(self, tool: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["perl", str(self.bin_dir / tool), *map(str, args)],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def genhtml(self, tracefile: Path, out_dir: Path, *extra: str, cwd: Path) -> str:
        """Run genhtml with branch and function coverage on; return its output.

        Fails the test on a non-zero exit or any ERROR or WARNING line.
        """
        flags = ["--branch-coverage", "--function-coverage"]  # both releases spell these alike
        result = self.run("genhtml", *flags, *extra, "-o", out_dir, tracefile, cwd=cwd)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"genhtml {self.major}.x failed:\n{output}"
        bad = [line for line in output.splitlines() if re.search(r"\b(ERROR|WARNING)\b", line, re.I)]
        assert not bad, f"genhtml {self.major}.x complained:\n" + "\n".join(bad)
        return output

    def summary(self, tracefile: Path, cwd: Path) -> dict[str, str]:
        """`lcov --summary` percentages by metric ("lines", "functions", "branches")."""
        branch = ["--rc", "lcov_branch_coverage=1"] if self.major == 1 else ["--branch-coverage"]
        result = self.run("lcov", "--summary", tracefile, *branch, cwd=cwd)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        return {
            m[1]: m[2] for m in re.finditer(r"^\s+(lines|functions|branches)\.+: ([\d.]+)%", output, re.M)
        }


def _lcov1() -> LcovTools | None:
    genhtml = shutil.which("genhtml")
    if genhtml is None:
        return None
    if "version 1." not in _version(genhtml):
        return None
    return LcovTools(1, Path(genhtml).parent, dict(os.environ))


@functools.cache
def _version(genhtml: str) -> str:
    """`genhtml --version`, asked once per genhtml: a Perl start for each test that needs lcov 1.x."""
    return subprocess.run(["perl", genhtml, "--version"], capture_output=True, text=True).stdout


def _lcov2() -> LcovTools | None:
    root = LCOV2_ROOT / "root/usr"
    if not (root / "bin/genhtml").exists():
        return None
    env = dict(os.environ, PERL5LIB=str(root / "lib/lcov"))
    return LcovTools(2, root / "bin", env)


def require(major: int) -> LcovTools:
    """The tools of lcov `major`, or skip (fail under CI) with how to get them."""
    tools = _lcov1() if major == 1 else _lcov2()
    if tools is None:
        missing_tool(f"lcov {major}.x not found: {INSTALL_HINT}")
    return tools
