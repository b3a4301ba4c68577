"""Write pytest-lcov's tracefile from an existing coverage.py data file, once.

This is the report step of ``pytest --lcov`` on its own: load the data, then
``pytest_lcov.report.write_report``, exactly as the plugin calls it at session
end.  Run it from the measured project's folder, so coverage.py reads that
project's configuration (``source``, ``omit``, exclusions) as ``coverage lcov`` does.

    python benchmarks/report_once.py .coverage lcov.info
    python -m cProfile -s cumtime benchmarks/report_once.py .coverage lcov.info
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import coverage

from pytest_lcov.report import write_report
from pytest_lcov.settings import Settings


def make_settings(output: Path, branch: bool, test_name: str, per_test: bool) -> Settings:
    """The Settings a plain ``pytest --lcov=OUTPUT`` run would resolve to.

    Settings is the package's frozen dataclass; fields added later with defaults
    keep their defaults, and a new required field stops here with its name.
    """
    wanted: dict[str, Any] = {
        "enabled": True,
        "output": output,
        "source": (),
        "branch": branch,
        "dialect": "compat",
        "test_name": test_name,
        "absolute_paths": False,
        "path_prefix": "",
        "checksums": False,
        "per_test": per_test,
    }
    fields = dataclasses.fields(Settings)
    names = {field.name for field in fields}
    required = {
        field.name
        for field in fields
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    }
    if required - wanted.keys():
        raise SystemExit(f"report_once: Settings has new required fields: {sorted(required - wanted.keys())}")
    return Settings(**{key: value for key, value in wanted.items() if key in names})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_file", type=Path, help="coverage.py data file (.coverage)")
    parser.add_argument("output", type=Path, help="tracefile to write")
    parser.add_argument("--rootdir", type=Path, default=Path.cwd(), help="SF: paths are relative to this")
    parser.add_argument("--test-name", default="synth", help="TN: name (default %(default)s)")
    parser.add_argument("--per-test", action="store_true", help="one section per recorded context")
    args = parser.parse_args(argv)
    if not args.data_file.is_file():
        parser.error(f"no data file {args.data_file}")
    cov = coverage.Coverage(data_file=str(args.data_file))
    cov.load()
    branch = cov.get_data().has_arcs()
    settings = make_settings(args.output.resolve(), branch, args.test_name, args.per_test)
    result = write_report(cov, settings, args.rootdir.resolve())
    print(f"{args.output}: {getattr(result, 'totals', result)}")  # Totals, or a Report holding them
    return 0


if __name__ == "__main__":
    sys.exit(main())
