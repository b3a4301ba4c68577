"""The analysis cache: the same report with or without it, and never a stale entry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import coverage
import pytest

from pytest_lcov import analysis_cache
from pytest_lcov.analysis_cache import AnalysisCache, CachedFileReporter
from tests.helpers import read_records
from tests.sample_project import write_sample_project


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest with its cache folder on (pytester's helpers turn it off)."""
    command = [sys.executable, "-m", "pytest", "--lcov", "--lcov-branch", *args]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


IMPORT_ONLY = "import mod\n\n\ndef test_nothing():\n    pass\n"


def cache_entries(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / ".pytest_cache/d/pytest-lcov-analysis").rglob("*") if p.is_file())


@pytest.mark.parametrize("mode", [[], ["--lcov-per-test"], ["--lcov-format=lcov2", "--lcov-checksums"]])
def test_cached_report_equals_uncached(pytester: pytest.Pytester, mode: list[str]) -> None:
    write_sample_project(pytester.path)
    run(pytester.path, "--lcov=uncached.info", "-p", "no:cacheprovider", *mode)
    run(pytester.path, "--lcov=cold.info", *mode)
    entries = cache_entries(pytester.path)
    assert len(entries) == 7  # one per measured file
    run(pytester.path, "--lcov=warm.info", *mode)
    assert cache_entries(pytester.path) == entries  # all hits: nothing new written
    uncached = (pytester.path / "uncached.info").read_text()
    assert (pytester.path / "cold.info").read_text() == uncached
    assert (pytester.path / "warm.info").read_text() == uncached


def test_an_edited_file_is_analysed_again(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def f():\n    return 1\n", test_mod="import mod\n\ndef test_f():\n    mod.f()\n")
    run(pytester.path)
    pytester.makepyfile(mod="def f():\n    x = 1\n    return x\n")
    run(pytester.path)
    assert read_records(pytester.path / "lcov.info")["mod.py"].lines == {1: 1, 2: 1, 3: 1}


def test_exclusion_settings_are_part_of_the_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        mod="def f():\n    return 1\n\n\ndef g():\n    return 2\n",
        test_mod="import mod\n\n\ndef test_nothing():\n    pass\n",
    )
    run(pytester.path)
    pytester.makepyprojecttoml('[tool.coverage.report]\nexclude_also = ["def g"]\n')
    run(pytester.path)
    assert read_records(pytester.path / "lcov.info")["mod.py"].lines == {1: 1, 2: 0}


def test_a_corrupt_entry_is_a_miss(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def f():\n    return 1\n", test_mod="import mod\n\ndef test_f():\n    mod.f()\n")
    run(pytester.path, "--lcov=first.info")
    for entry in cache_entries(pytester.path):
        entry.write_bytes(b"not a pickle")
    run(pytester.path, "--lcov=second.info")
    assert (pytester.path / "second.info").read_text() == (pytester.path / "first.info").read_text()


def test_no_cache_writes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        mod="def f():\n    return 1\n", test_mod="import mod\n\n\ndef test_nothing():\n    pass\n"
    )
    run(pytester.path, "--lcov-no-cache")
    assert not (pytester.path / ".pytest_cache/d/pytest-lcov-analysis").exists()


def test_parallel_warming_gives_the_same_report(pytester: pytest.Pytester) -> None:
    write_sample_project(pytester.path)
    run(pytester.path, "--lcov=uncached.info", "-p", "no:cacheprovider")
    # Make the sample count as "many files" on two processors.
    pytester.makeconftest(
        (pytester.path / "conftest.py").read_text()
        + "import pytest_lcov.analysis_cache as cache\n"
        + "cache.MIN_FILES_PER_PROCESS = 1\n"
        + "cache.available_cpus = lambda: 2\n"
    )
    run(pytester.path, "--lcov=parallel.info")
    assert len(cache_entries(pytester.path)) == 7
    assert (pytester.path / "parallel.info").read_text() == (pytester.path / "uncached.info").read_text()


def test_warming_processes_fill_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = []
    for index in range(4):
        source = tmp_path / f"m{index}.py"
        source.write_text(f"def f(x):\n    if x:\n        return {index}\n    return -1\n")
        files.append(str(source))
    cov = coverage.Coverage(data_file=None, config_file=False)
    cache = AnalysisCache(tmp_path / "cache", cov)
    monkeypatch.setattr(analysis_cache, "MIN_FILES_PER_PROCESS", 1)
    monkeypatch.setattr(analysis_cache, "available_cpus", lambda: 2)
    analysis_cache.warm(cache, cov, files)
    assert all(cache.has(name) for name in files)
    assert cache.misses == 0  # this process parsed nothing itself
    reporter = CachedFileReporter(files[2], cov, cache)
    assert reporter.lines() == {1, 2, 3, 4}
    assert cache.hits == 1
