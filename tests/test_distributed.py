"""Beyond one process: pytest-xdist workers and measured child processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import read_records, run_pytest, run_session, summary_line
from tests.sample_project import write_sample_project


@pytest.fixture
def sample(pytester: pytest.Pytester) -> pytest.Pytester:
    pytest.importorskip("xdist")
    write_sample_project(pytester.path)
    return pytester


# A serial run's tracefile, descriptions and summary numbers.
Serial = tuple[str, str | None, str]


@pytest.fixture(scope="session")  # once, whichever tests of other modules run between its tests
def serial_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[tuple[str, ...]], Serial]:
    """The serial run of the sample project with `mode`, run once for the three ways xdist shares it."""
    runs: dict[tuple[str, ...], Serial] = {}

    def serial(mode: tuple[str, ...]) -> Serial:
        if mode not in runs:
            folder = tmp_path_factory.mktemp("serial")
            write_sample_project(folder)
            result = run_session(folder, "--lcov=serial.info", "--lcov-branch", *mode)
            assert result.returncode == 0, result.stdout + result.stderr
            [line] = [line for line in result.stdout.splitlines() if line.startswith("LCOV written to ")]
            desc = folder / "serial.desc"
            runs[mode] = (
                (folder / "serial.info").read_text(),
                desc.read_text() if desc.exists() else None,
                line.split(":", 1)[1],
            )
        return runs[mode]

    return serial


@pytest.mark.parametrize("dist", ["load", "loadfile", "worksteal"])
@pytest.mark.parametrize("mode", [[], ["--lcov-per-test"]], ids=["run", "per-test"])
def test_xdist_writes_what_a_serial_run_writes(
    sample: pytest.Pytester, serial_run: Callable[[tuple[str, ...]], Serial], dist: str, mode: list[str]
) -> None:
    serial_info, serial_desc, serial_numbers = serial_run(tuple(mode))
    parallel = run_pytest(sample, "--lcov=parallel.info", "--lcov-branch", "-n", "2", f"--dist={dist}", *mode)
    assert parallel.ret == 0
    assert (sample.path / "parallel.info").read_text() == serial_info
    if mode:
        assert (sample.path / "parallel.desc").read_text() == serial_desc
    assert summary_line(parallel).split(":", 1)[1] == serial_numbers


TWO_FUNCTIONS = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"


def test_a_crash_on_one_worker_keeps_the_others(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        mod=TWO_FUNCTIONS,
        test_ok="import mod\n\ndef test_a():\n    assert mod.a() == 1\n",
        test_bad="import os\nimport mod\n\ndef test_crash():\n    mod.b()\n    os._exit(3)\n",
    )
    result = run_pytest(
        pytester, "--lcov", "--lcov-source=mod", "-n", "2", "--dist=loadfile", "--max-worker-restart=0"
    )
    result.assert_outcomes(passed=1, failed=1)
    assert any(line.startswith("pytest-lcov: no coverage data from worker gw") for line in result.outlines)
    # test_a's worker finished: its lines are there; the crashed worker's b() is lost.
    assert read_records(pytester.path / "lcov.info")["mod.py"].lines == {1: 1, 2: 1, 5: 1, 6: 0}


CHILDREN = {
    "child": """\
import sys


def main():
    if len(sys.argv) > 1:
        return "arg"
    return "none"


print(main())
""",
    "worker": "def cube(x):\n    return x ** 3\n\n\ndef square(x):\n    return x * x\n",
    "test_children": """
        import multiprocessing
        import subprocess
        import sys

        import worker


        def test_subprocess():
            out = subprocess.run([sys.executable, "child.py", "x"], capture_output=True, text=True)
            assert out.stdout.strip() == "arg"


        def test_spawned_pool():
            pool = multiprocessing.get_context("spawn").Pool(1)
            assert pool.map(worker.square, [3]) == [9]
            pool.close()
            pool.join()


        def test_forked_process():
            process = multiprocessing.get_context("fork").Process(target=worker.cube, args=(2,))
            process.start()
            process.join()
            assert process.exitcode == 0
    """,
}


def test_child_processes_are_measured_and_nothing_is_left_behind(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(**CHILDREN)
    pytester.makepyprojecttoml("""
        [tool.coverage.run]
        patch = ["subprocess", "fork", "_exit"]
        source = ["."]
    """)
    # Stale data from an earlier run of the child, with the other branch taken.
    assert pytester.run(sys.executable, "-m", "coverage", "run", "-p", "child.py").ret == 0
    stale = sorted(p.name for p in pytester.path.glob(".coverage*"))
    assert stale
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    pytester._monkeypatch.setenv("TMPDIR", str(private_tmp))
    result = run_pytest(pytester, "--lcov")
    result.assert_outcomes(passed=3)
    records = read_records(pytester.path / "lcov.info")
    # By hand: the child ran with an argument, so `return "none"` (line 7) never ran.
    assert records["child.py"].lines == {1: 1, 4: 1, 5: 1, 6: 1, 7: 0, 10: 1}
    assert {f.name: f.hits for f in records["worker.py"].functions} == {"cube": 1, "square": 1}
    assert sorted(p.name for p in pytester.path.glob(".coverage*")) == stale  # untouched, not combined
    # multiprocessing keeps its own pymp-* folders here for a moment; ours must be gone.
    assert not list(private_tmp.glob("pytest-lcov-*"))


def test_without_the_patch_children_are_not_measured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**CHILDREN)
    run_pytest(pytester, "--lcov", "--lcov-source=.", "-k", "subprocess")
    assert read_records(pytester.path / "lcov.info")["child.py"].lines[6] == 0
    assert os.listdir(pytester.path).count(".coverage") == 0


def test_multiprocessing_concurrency_measures_spawned_and_forked_children(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """coverage.py's older multiprocessing support: its children's data lands in our folder too."""
    pytester.makepyfile(**CHILDREN)
    pytester.makepyprojecttoml('[tool.coverage.run]\nconcurrency = ["multiprocessing"]\nsource = ["."]\n')
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    pytester._monkeypatch.setenv("TMPDIR", str(private_tmp))
    pytester._monkeypatch.setenv("COVERAGE_FILE", str(tmp_path / "users-own-data-file"))
    result = run_pytest(pytester, "--lcov", "-k", "pool or forked")
    result.assert_outcomes(passed=2)
    assert "concurrency = multiprocessing" not in result.stdout.str()
    records = read_records(pytester.path / "lcov.info")
    # By hand: square() ran only in the spawned pool's worker, cube() only in the forked child.
    assert {f.name: f.hits for f in records["worker.py"].functions} == {"cube": 1, "square": 1}
    assert records["worker.py"].lines == {1: 1, 2: 1, 5: 1, 6: 1}
    assert not list(pytester.path.glob(".coverage*"))
    assert not list(tmp_path.glob("users-own-data-file*"))  # the user's COVERAGE_FILE is not written to
    assert not list(private_tmp.glob("pytest-lcov-*"))
