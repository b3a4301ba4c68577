"""The measurement lifecycle: one coverage.py tracer per run, started early.

Coverage starts in ``pytest_load_initial_conftests``, before conftest files and
the project are imported, so module-level lines count.  A Coverage that is
already running (``coverage run -m pytest``) is borrowed, never doubled.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import coverage
import pytest

from pytest_lcov.coverage_internals import (
    PROCESS_CONFIG_VARIABLE,
    SYSMON_TOOL_NAME,
    config_file,
    unusable_release,
)
from pytest_lcov.settings import Settings, setting_error


def refuse_unusable_coverage() -> None:
    """Stop at start-up when this coverage.py lacks what any report needs: nothing would be written."""
    problem = unusable_release()
    if problem:
        raise setting_error(problem)


def refuse_pytest_cov(
    options: argparse.Namespace, pytest_cov_registered: bool, cov_from: str = "", lcov_from: str = "--lcov"
) -> None:
    """Stop when pytest-cov's ``--cov`` measures the same run.

    Two tracers would slow every line and each would see the other's noise;
    one of the two has to go.  pytest-cov may have started first and
    rewritten its options, so its registered plugin counts as well.
    `cov_from` says where a ``--cov`` the user did not type came from
    (" (from addopts in pyproject.toml)"); `lcov_from` how pytest-lcov was
    turned on (``--lcov``, or ``lcov_enabled = true``): the way out names both.
    """
    asked = bool(getattr(options, "cov_source", None)) or pytest_cov_registered
    if asked and not getattr(options, "no_cov", False):
        # Not -p no:cov: pytest then refuses the --cov of addopts as an unknown option.
        drop_cov = "add --no-cov to turn pytest-cov off for this run" if cov_from else "drop --cov"
        drop_lcov = "drop --lcov" if lcov_from == "--lcov" else "add --no-lcov"
        raise setting_error(
            f"{lcov_from} and pytest-cov's --cov{cov_from} would trace this run twice: "
            f"{drop_cov} (pytest-lcov measures with coverage.py itself), "
            f"or {drop_lcov} and use --cov-report=lcov"
        )


PACKAGE_DIR = Path(__file__).resolve().parent
SETTRACE_CORES = ("ctrace", "pytrace")  # coverage.py's cores that trace with sys.settrace


class Measurement:
    """The Coverage object of this run, and where children's data goes.

    `running` is true only while a Coverage we started is measuring: a
    borrowed one (``coverage run``) is never stopped by us.  `notices` are
    lines for the user about choices made for them.
    """

    def __init__(
        self,
        cov: coverage.Coverage,
        notices: list[str] | None = None,
        data_dir: Path | None = None,
        track_child_files: bool = False,
    ) -> None:
        self.cov = cov
        self.notices = notices or []
        self.data_dir = data_dir
        self.running = False
        self.started = time.time()
        # sys.monitoring.restart_events when coverage.py measures with it (see switch_test).
        self.rearm_events: Callable[[], None] | None = None
        # A Coverage that `coverage run` started is coverage.py's to close.
        self.borrowed = False
        # Files child processes ran (their executions are not counted): read only when counting.
        self.track_child_files = track_child_files
        self.child_files: set[str] = set()
        # Environment variables set for children while tracing, with their earlier values.
        self.environment_before: dict[str, str | None] = {}

    @classmethod
    def begin(cls, settings: Settings, trace: bool = True) -> Measurement:
        """Borrow the running Coverage, or make one configured as coverage.py is.

        `trace` False makes one that only combines data measured elsewhere
        (pytest-xdist workers): the controller runs no tests.  Any error in
        coverage.py's configuration stops the run with one line.
        """
        try:
            return cls._begin(settings, trace)
        except pytest.UsageError:
            raise
        except Exception as exc:  # a bad regex, an unknown plugin or core, a broken config file
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise setting_error(f"coverage.py cannot measure this run: {message}") from None

    @classmethod
    def _begin(cls, settings: Settings, trace: bool) -> Measurement:
        refuse_executions_without_gil(settings)
        current = coverage.Coverage.current()
        if current is not None:
            return cls._borrow(current, settings)
        cov = _configured_coverage(settings, data_file=None)
        data_dir = None
        if _children_write_data(cov):
            # Children write data files: give them a folder of this run's own, so
            # nothing stale from an earlier run can be combined in, nor left behind.
            data_dir = Path(tempfile.mkdtemp(prefix="pytest-lcov-"))
            cov = _configured_coverage(settings, data_file=str(data_dir / ".coverage"))
        notices = [_choose_core(cov, settings)]
        if trace and _measures_multiprocessing(cov):
            notices.append(refuse_what_multiprocessing_children_cannot_see(settings, cov))
        counting = settings.report.counts_executions
        measurement = cls(
            cov, notices=[n for n in notices if n], data_dir=data_dir, track_child_files=counting
        )
        _check_exclusions(cov)
        if trace:
            measurement.start()
        return measurement

    @classmethod
    def _borrow(cls, current: coverage.Coverage, settings: Settings) -> Measurement:
        """The Coverage that ``coverage run`` started: its configuration decides, so say what it ignores."""
        refuse_executions_without_source(settings, current)
        if counts_need_settrace(settings, current) and _sysmon_is_measuring():
            raise setting_error(
                "execution counts with branches need coverage.py's C tracer, but the running "
                'coverage uses sys.monitoring: set `core = "ctrace"` in [tool.coverage.run]'
            )
        rearm_events = _sysmon_rearm(current)
        sysmon_records_tests = rearm_events is not None and _sysmon_records_tests(current)
        if settings.needs_contexts and sys.gettrace() is None and not sysmon_records_tests:
            raise setting_error(
                "per-test data needs coverage.py's C tracer, but the running "
                'coverage uses another core: set `core = "ctrace"` in [tool.coverage.run]'
            )
        notices = []
        if settings.branch and not current.get_option("run:branch"):
            notices.append(
                "--lcov-branch is ignored under `coverage run`, which measures without "
                "branches: use `coverage run --branch` or branch = true in [tool.coverage.run]"
            )
        if settings.source:
            notices.append(
                "--lcov-source is ignored under `coverage run`: "
                "its own source setting decides what is measured"
            )
        measurement = cls(current, notices=notices, track_child_files=settings.report.counts_executions)
        measurement.rearm_events = rearm_events
        measurement.borrowed = True
        return measurement

    def start(self) -> None:
        """Start tracing (also after the run began, when xdist decided to run tests here after all)."""
        if self.data_dir is not None and _measures_multiprocessing(self.cov):
            # coverage.py's multiprocessing children read their data file's name from
            # COVERAGE_FILE, not from this Coverage: point it into our folder until the end.
            self.environment_before.setdefault("COVERAGE_FILE", os.environ.get("COVERAGE_FILE"))
            os.environ["COVERAGE_FILE"] = str(self.data_dir / ".coverage")
        self.cov.start()
        self.running = True
        self.started = time.time()
        self.rearm_events = _sysmon_rearm(self.cov)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Measure nothing of what runs inside: a test marked ``no_cover``, which pytest-cov pauses too.

        A Coverage that ``coverage run`` started is its own: it keeps measuring.
        """
        if not self.running:
            yield
            return
        self.cov.stop()
        try:
            yield
        finally:
            self.cov.start()
            self.rearm_events = _sysmon_rearm(self.cov)

    def hand_over_to_workers(self) -> None:
        """Stop tracing here: xdist workers run the tests, each measured by its own plugin.

        Our subprocess patch must not reach the workers (they would start a
        second Coverage at interpreter start-up), so its environment goes too.
        """
        if self.running:
            self.cov.stop()
            self.running = False
            os.environ.pop(PROCESS_CONFIG_VARIABLE, None)
        self._restore_environment()

    def switch_test(self, node_id: str | None) -> None:
        """Attribute what runs from now on to the test `node_id` (None: to no test).

        coverage.py's sys.monitoring core hears each line once and then turns
        its event off; re-arming the events makes each test's first run of a
        line heard again, so every test gets its own lines.
        """
        self.cov.switch_context(node_id or "")
        if self.rearm_events is not None:
            self.rearm_events()

    def end(self) -> coverage.Coverage:
        """Stop measuring (if the Coverage is ours), add children's data, return it for reporting."""
        if self.running:
            self.cov.stop()
            self.running = False
        self._restore_environment()
        if self.data_dir is not None and any(self.data_dir.glob(".coverage.*")):
            for data_file in self.data_dir.glob(".coverage.*") if self.track_child_files else ():
                with contextlib.suppress(Exception):  # combine meets the same problem and says it
                    data = coverage.CoverageData(str(data_file))
                    data.read()
                    self.child_files.update(data.measured_files())
            self.cov.combine([str(self.data_dir)])
        return self.cov

    def _restore_environment(self) -> None:
        """Put back the environment variables set for children, as they were before the run."""
        for name, value in self.environment_before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.environment_before.clear()

    def add_data(self, blobs: list[bytes]) -> None:
        """Combine data measured elsewhere (``CoverageData.dumps()``) into ours.

        coverage.py's own combine applies the ``[paths]`` remapping, so data
        from workers on other hosts lands on this host's files.
        """
        if not blobs:
            return
        with tempfile.TemporaryDirectory(prefix="pytest-lcov-") as folder:
            paths = []
            for number, blob in enumerate(blobs):
                data = coverage.CoverageData(basename=os.path.join(folder, f".coverage.{number}"))
                data.loads(blob)
                data.write()
                paths.append(data.data_filename())
            self.cov.combine(paths, keep=True)

    def close(self) -> None:
        """Close the run's data and forget the children's data folder, once the report is written."""
        self.end()
        if not self.borrowed:
            release(self.cov)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None


def release(cov: coverage.Coverage) -> None:
    """Close `cov`'s data (its SQLite database, in memory or on disk) now.

    coverage.py closes it at exit, and only for a Coverage that started; a
    connection collected unclosed makes CPython 3.13+ warn (ResourceWarning),
    which a suite's ``filterwarnings = error`` turns into a failed run.
    """
    cov.get_data().close(force=True)


def _children_write_data(cov: coverage.Coverage) -> bool:
    """Whether child processes save data files of their own for this run to combine.

    coverage.py's subprocess patch and its multiprocessing support both do.
    """
    patches = cov.get_option("run:patch")
    return (isinstance(patches, list) and "subprocess" in patches) or _measures_multiprocessing(cov)


def _measures_multiprocessing(cov: coverage.Coverage) -> bool:
    concurrency = cov.get_option("run:concurrency")
    return isinstance(concurrency, list) and "multiprocessing" in concurrency


def refuse_what_multiprocessing_children_cannot_see(settings: Settings, cov: coverage.Coverage) -> str:
    """Check that multiprocessing's children can measure as this process does.

    coverage.py starts them with its configuration file alone, not with the
    options pytest-lcov added: branch data of this process and line data of a
    child cannot be combined, so a ``--lcov-branch`` the file does not say stops
    the run now rather than losing the children at the report.  A
    ``--lcov-source`` the file does not say only widens what children measure:
    say so.  Returns the notice, or "".
    """
    from_file = coverage.Coverage(data_file=None, config_file=config_file(cov) or False)
    where = config_file(cov) or "a configuration file"
    if cov.get_option("run:branch") and not from_file.get_option("run:branch"):
        raise setting_error(
            "concurrency = multiprocessing starts child processes with coverage.py's "
            f"configuration file alone, and {where} does not set branch = true: set it there "
            "(--lcov-branch reaches only this process)"
        )
    if settings.source and cov.get_option("run:source") != from_file.get_option("run:source"):
        return (
            "concurrency = multiprocessing starts child processes with coverage.py's "
            f"configuration file alone: they measure the source {where} names, not --lcov-source"
        )
    return ""


def _check_exclusions(cov: coverage.Coverage) -> None:
    """Compile the exclusion patterns now, so a bad one stops the run at start-up, not at the report."""
    for option in (
        "report:exclude_lines",
        "report:exclude_also",
        "report:partial_branches",
        "report:partial_also",
    ):
        patterns = cov.get_option(option)
        for pattern in patterns if isinstance(patterns, list) else []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise setting_error(
                    f"[report] {option.split(':')[1]}: bad pattern {pattern!r}: {exc}"
                ) from None


def _configured_coverage(settings: Settings, data_file: str | None) -> coverage.Coverage:
    """A Coverage that reads coverage.py's configuration, with our options on top."""
    cov = coverage.Coverage(
        data_file=data_file,  # None: in memory, nothing left behind, nothing stale read
        config_file=str(settings.coverage_config) if settings.coverage_config else True,  # --lcov-config
        source=list(settings.source) or None,
        branch=True if settings.branch else None,
    )
    refuse_executions_without_source(settings, cov)
    if not (
        cov.get_option("run:source") or cov.get_option("run:source_pkgs") or cov.get_option("run:include")
    ):
        # coverage.py's own rule decides, as under pytest-cov's bare --cov: whatever ran outside
        # the standard library and installed packages.  pytest-lcov itself, a plugin of the run
        # (outside them only as an editable install), is never part of the project's report.
        omit = cov.get_option("run:omit")
        cov.set_option("run:omit", [*(omit if isinstance(omit, list) else []), str(PACKAGE_DIR / "*")])
    # As pytest-cov reports: a source file coverage.py cannot parse is left out with a warning,
    # not the end of the report.
    cov.set_option("report:ignore_errors", True)
    return cov


def refuse_executions_without_source(settings: Settings, cov: coverage.Coverage) -> None:
    """Execution counts instrument the files under `source`: without it, nothing says which."""
    if settings.report.counts_executions and not (
        cov.get_option("run:source") or cov.get_option("run:source_pkgs")
    ):
        raise setting_error(
            "lcov_counts = executions needs coverage.py's `source` (or --lcov-source): "
            "the files whose executions are counted"
        )


def refuse_executions_without_gil(settings: Settings) -> None:
    """Execution counters add up exactly only under the GIL: a free-threaded run would lose counts.

    Lines, branches and per-test data are coverage.py's, as with the GIL.
    """
    gil_enabled = getattr(sys, "_is_gil_enabled", None)  # CPython 3.13+
    if settings.report.counts_executions and gil_enabled is not None and not gil_enabled():
        raise setting_error(
            "lcov_counts = executions needs the GIL, and this free-threaded Python runs "
            "without it: counters run by several threads at once would lose counts (PYTHON_GIL=1 turns it on)"
        )


SYSMON_CONCURRENCY = ("thread",)  # what coverage.py's sys.monitoring core measures


def _sysmon_can_measure(cov: coverage.Coverage) -> bool:
    """Whether coverage.py's sys.monitoring core can measure this run as configured.

    It needs ``sys.monitoring`` (CPython 3.12+), and for branches its
    BRANCH_LEFT/BRANCH_RIGHT events (3.14+); it records neither dynamic
    contexts, nor file tracer plugins, nor concurrency other than threads.
    Any configured plugin counts: which ones trace files is known only once
    coverage.py has loaded them, after the core is chosen.
    Where it can, it gives the data of the C tracer at a fraction of its cost
    (coverage.py makes it the default from 3.14).
    """
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return False
    concurrency = cov.get_option("run:concurrency") or []
    return (
        (not cov.get_option("run:branch") or hasattr(monitoring.events, "BRANCH_LEFT"))
        and not cov.get_option("run:timid")
        and not cov.get_option("run:dynamic_context")  # coverage.py's sys.monitoring core refuses it
        and not cov.get_option("run:plugins")
        and not (isinstance(concurrency, list) and not set(concurrency) <= set(SYSMON_CONCURRENCY))
    )


SYSMON_TOOL_IDS = 6  # sys.monitoring's tool ids 0-5


def _sysmon_is_measuring() -> bool:
    """Whether coverage.py's sys.monitoring core holds a tool id (it takes the first one free)."""
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(
        monitoring.get_tool(tool_id) == SYSMON_TOOL_NAME for tool_id in range(SYSMON_TOOL_IDS)
    )


def _sysmon_rearm(cov: coverage.Coverage) -> Callable[[], None] | None:
    """What re-arms coverage.py's sys.monitoring events between tests; None under another core.

    coverage.py then warns that a switched context's lines may be missing:
    re-arming is what makes them complete, so that warning is silenced.
    """
    monitoring = getattr(sys, "monitoring", None)  # CPython 3.12+
    if monitoring is None or not _sysmon_is_measuring():
        return None
    silenced = cov.get_option("run:disable_warnings") or []
    if isinstance(silenced, list) and "no-sysmon-context" not in silenced:
        cov.set_option("run:disable_warnings", [*silenced, "no-sysmon-context"])
    restart: Callable[[], None] = monitoring.restart_events
    return restart


def _choose_core(cov: coverage.Coverage, settings: Settings) -> str | None:
    """Pick coverage.py's core for what this run records; a notice when the configured one is replaced."""
    if counts_need_settrace(settings, cov):
        return _choose_settrace_core(cov, "execution counts with branches")
    if settings.needs_contexts:
        return _choose_context_core(cov)
    _choose_fast_core(cov)
    return None


def counts_need_settrace(settings: Settings, cov: coverage.Coverage) -> bool:
    """Whether this run's execution counts need a ``sys.settrace`` core.

    coverage.py's sys.monitoring core infers branch arcs from the order of
    line events, in which the counters' calls take part: with branches, it
    would record arcs the source does not have.  Its lines are unaffected.
    """
    return settings.report.counts_executions and bool(cov.get_option("run:branch"))


def _choose_fast_core(cov: coverage.Coverage) -> None:
    """Use coverage.py's sys.monitoring core wherever it can measure the run.

    A core chosen in the configuration or in COVERAGE_CORE is left alone.
    """
    if not os.environ.get("COVERAGE_CORE") and not cov.get_option("run:core") and _sysmon_can_measure(cov):
        cov.set_option("run:core", "sysmon")


def _choose_context_core(cov: coverage.Coverage) -> str | None:
    """A core that records per-test contexts: sys.monitoring for lines where it can, else the C tracer.

    A core the user's configuration (or COVERAGE_CORE) asked for that cannot
    record tests is overridden with one line.
    """
    configured = cov.get_option("run:core")
    if configured in (None, "sysmon") and _sysmon_records_tests(cov):
        cov.set_option("run:core", "sysmon")
        return None
    return _choose_settrace_core(
        cov, "per-test data" + (" with branches" if cov.get_option("run:branch") else "")
    )


def _sysmon_records_tests(cov: coverage.Coverage) -> bool:
    """Whether coverage.py's sys.monitoring core records each test's data as the C tracer does.

    For lines, yes, when its events are re-armed at each test switch
    (Measurement.switch_test).  Not with branches: it joins a line to the
    line heard before it in the same code object, and a frame that ended by
    an exception leaves that line behind, so a later test's first line in
    that code gets an arc (and a line) from it that the test did not run;
    and it resolves a failed ``assert``'s jump to the line after it.
    Forgetting those lines at each switch was tried: the second remains
    (tests/test_cores.py, test_why_per_test_branches_keep_the_c_tracer).
    """
    return _sysmon_can_measure(cov) and not cov.get_option("run:branch")


def _choose_settrace_core(cov: coverage.Coverage, needed_by: str) -> str | None:
    """The C tracer, unless the configuration chose the other ``sys.settrace`` core.

    See counts_need_settrace and _choose_context_core for who needs it.
    """
    configured = cov.get_option("run:core")
    if configured in SETTRACE_CORES:
        return None
    cov.set_option("run:core", "ctrace")
    if configured:
        return f"{needed_by} needs coverage.py's C tracer: using core = ctrace, not {configured}"
    return None
