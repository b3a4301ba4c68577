"""What coverage.py's configuration asks of a run beyond the tracefile, done with coverage.py's own API.

pytest-cov applies two settings of ``[report]`` and ``[paths]`` that a tracefile
writer might pass over: the ``fail_under`` gate on coverage.py's total (lines
and branches together, rounded to ``precision``), and the ``[paths]``
remapping, which coverage.py applies only when it combines data files (and
pytest-cov always combines).  Both are coverage.py's to compute: the total is
coverage.py's per-file ``Numbers`` added up as ``Coverage.report`` adds them (taken
from the tracefile's own pass, so the files are analysed once), the gate
``coverage.results.should_fail_under``, the
remapping ``Coverage.combine``'s or, for tracefiles, coverage.py's
``PathAliases`` built as ``combine`` builds them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import coverage

from pytest_lcov.coverage_internals import Numbers, PathAliases, display_covered, should_fail_under

T = TypeVar("T")


def remapped(cov: coverage.Coverage, fresh: Callable[[], coverage.Coverage]) -> coverage.Coverage:
    """`cov`'s data with ``[paths]`` applied, as pytest-cov reports it; `cov` itself without ``[paths]``.

    coverage.py remaps paths only while combining data files: this run's data
    is written to a data file and combined into `fresh()`, a Coverage with
    the same settings that never measured (so, like pytest-cov's combining
    Coverage, it adds no unimported source files of its own: those of `cov`
    are in its data already, under their measured paths, and are remapped too).
    A Coverage still running (``coverage run``) is left alone: its data is
    coverage.py's to save.
    """
    paths = cov.get_option("paths")
    if not paths or coverage.Coverage.current() is cov:
        return cov
    data = cov.get_data()  # with the source files no test imported
    target = fresh()
    with tempfile.TemporaryDirectory(prefix="pytest-lcov-") as folder:
        copy = coverage.CoverageData(basename=os.path.join(folder, ".coverage.run"))
        copy.update(data)
        copy.write()
        target.combine([copy.data_filename()])
    return target


def remapped_names(names: Mapping[str, T], cov: coverage.Coverage) -> dict[str, T]:
    """`names` (measured real paths) renamed by ``[paths]`` as combining renamed their data.

    The aliases are built as ``Coverage.combine`` builds them, and map each path
    as it maps a measured file's, so execution counts meet their file again.
    """
    aliases = PathAliases(relative=bool(cov.get_option("run:relative_files")))
    paths = cov.get_option("paths")
    for group in paths.values() if isinstance(paths, dict) else ():
        result, *patterns = group
        for pattern in patterns:
            aliases.add(pattern, result)
    return {os.path.realpath(aliases.map(name)): value for name, value in names.items()}


@dataclass(frozen=True)
class TotalGate:
    """pytest-cov's --cov-fail-under: coverage.py's total against a required percent."""

    required: float
    precision: int
    total: float
    failed: bool

    @property
    def line(self) -> str:
        """pytest-cov's words and numbers.

        'FAIL Required test coverage of 95.0% not reached. Total coverage: 82.05%'
        """
        fail, reached = ("FAIL ", "not reached") if self.failed else ("", "reached")
        return (
            f"{fail}Required test coverage of {self.required}% {reached}. Total coverage: {self.total:.2f}%"
        )

    @property
    def detail(self) -> str:
        """pytest-cov's second line on a failure, with the total rounded as the gate rounds it."""
        return (
            f"Coverage failure: total of {display_covered(self.total, self.precision)} is less than "
            f"fail-under={self.required:.{self.precision}f}"
        )


def required_total(cov: coverage.Coverage, given: float | None) -> float:
    """The total the run must reach: the setting of ours if given, else coverage.py's [report] fail_under."""
    if given is not None:
        return given
    configured = cov.get_option("report:fail_under")  # as set: covdefaults' 100 prints as 100%, not 100.0%
    return configured if isinstance(configured, int | float) else 0.0


def report_precision(cov: coverage.Coverage, given: int | None) -> int:
    """Digits of coverage.py's percentages: --lcov-precision if given, else [report] precision."""
    if given is not None:
        return given
    option = cov.get_option("report:precision")
    return option if isinstance(option, int) else 0


def coverage_total(numbers: Numbers) -> float:
    """coverage.py's total (``Coverage.report``'s) from its numbers; 0 with no file, as pytest-cov has it."""
    return numbers.pc_covered if numbers.n_files else 0.0


def total_gate(total: float, required: float, precision: int) -> TotalGate:
    """Check coverage.py's total as pytest-cov does, by coverage.py's rule."""
    return TotalGate(required, precision, total, should_fail_under(total, required, precision))


def path_aliases(groups: Iterable[list[str]]) -> Callable[[str], str] | None:
    """A path renamer from ``[paths]``-style groups (where the files are, then where else they were).

    Built as ``Coverage.combine`` builds its aliases, but relative (SF: paths
    are) and without checking that the result exists: tracefiles are often
    merged where the sources are not.  A path no pattern matches is kept as is.
    None when there is nothing to remap.
    """
    aliases = PathAliases(relative=True)
    for group in groups:
        result, *patterns = group
        for pattern in patterns:
            aliases.add(pattern, result)
    rules = [regex for _, regex, _ in aliases.aliases]
    if not rules:
        return None

    def rename(path: str) -> str:
        if not any(regex.match(path) for regex in rules):
            return path
        return aliases.map(path, exists=lambda _: True)

    return rename


def configured_path_groups(rcfile: str | None) -> list[list[str]]:
    """The ``[paths]`` groups of coverage.py's configuration: `rcfile`, else where coverage.py looks."""
    cov = coverage.Coverage(data_file=None, config_file=rcfile or True)
    paths = cov.get_option("paths")
    if not isinstance(paths, dict):
        return []
    return [list(group) for group in paths.values() if isinstance(group, list) and len(group) > 1]
