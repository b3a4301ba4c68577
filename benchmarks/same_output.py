"""Write the tracefiles of the demo and the sample project, for a comparison across versions.

A change that should not change behaviour (a refactoring) must leave every file
this writes byte-identical:

    python benchmarks/same_output.py /tmp/before      # on the old checkout (or its installed plugin)
    python benchmarks/same_output.py /tmp/after       # on the new one
    diff -r /tmp/before /tmp/after

Each project is copied into a fresh folder and run with the Python running this
script, once per set of options below (serial and under pytest-xdist), with
the analysis cache off so each run analyses from scratch.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sample_project import write_sample_project  # noqa: E402

QUIET = ("-q", "-p", "no:randomly", "-p", "no:cacheprovider")
OPTION_SETS = {
    "lines": [],
    "branches": ["--lcov-branch"],
    "per-test": ["--lcov-branch", "--lcov-per-test"],
    "tests": ["--lcov-branch", "--lcov-counts=tests"],
    "executions": ["--lcov-branch", "--lcov-counts=executions"],
    "checksums": ["--lcov-branch", "--lcov-checksums", "--lcov-paths=relative", "--lcov-path-prefix=pkg/"],
    "xdist": ["--lcov-branch", "--lcov-per-test", "-n", "2"],
}


def projects(folder: Path) -> dict[str, Path]:
    """The demo and the sample project, each copied under `folder`."""
    demo = folder / "demo"
    shutil.copytree(ROOT / "examples" / "demo", demo, ignore=shutil.ignore_patterns("htmlcov", "*.info"))
    sample = folder / "sample"
    sample.mkdir()
    write_sample_project(sample)
    return {"demo": demo, "sample": sample}


def write_outputs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="same-output-") as work:
        for name, project in projects(Path(work)).items():
            for label, options in OPTION_SETS.items():
                target = out / f"{name}-{label}.info"
                command = [sys.executable, "-m", "pytest", *QUIET]
                command += [f"--lcov={target}", "--lcov-no-cache", *options]
                result = subprocess.run(command, cwd=project, capture_output=True, text=True)
                if result.returncode != 0:
                    output = result.stdout + result.stderr
                    raise SystemExit(f"{name} {label}: exit {result.returncode}\n{output}")
                print(f"{target.name}: {target.stat().st_size} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder for the tracefiles")
    write_outputs(parser.parse_args().out)


if __name__ == "__main__":
    main()
