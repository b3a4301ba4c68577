"""The analysis cache: the same report with or without it, whatever is planted in it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import coverage
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_lcov import analysis, parser_state
from pytest_lcov.analysis_cache import ENTRY_MAGIC, AnalysisStore, load_or_create_key
from pytest_lcov.coverage_internals import SourceReporter, restored_state
from pytest_lcov.sources import read_source
from tests.helpers import QUIET_PLUGINS, read_records, session_env
from tests.sample_project import write_sample_project

ENTRIES = ".pytest_cache/d/pytest-lcov-analysis"


def run(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """pytest with its cache folder on (pytester's helpers turn it off)."""
    command = [sys.executable, "-m", "pytest", *QUIET_PLUGINS, "--lcov", "--lcov-branch", *args]
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result


def cache_entries(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / ENTRIES).rglob("*") if p.is_file())


def many_files_on_two_cpus(pytester: pytest.Pytester) -> None:
    """A conftest that makes even a small project count as many files on two processors."""
    conftest = pytester.path / "conftest.py"
    old = conftest.read_text() if conftest.exists() else ""
    pytester.makeconftest(
        old + "import pytest_lcov.analysis as analysis\n"
        "analysis.MIN_FILES_PER_PROCESS = 1\n"
        "analysis.available_cpus = lambda: 2\n"
    )


# Session-scoped: some of its tests run ahead of the rest of the module (tests/conftest.py).
@pytest.fixture(scope="session")
def sample_uncached(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample project's tracefile from a run without the cache, for the tests that compare with it."""
    folder = tmp_path_factory.mktemp("uncached")
    write_sample_project(folder)
    run(folder, "--lcov=uncached.info", "--lcov-no-cache", env=session_env(folder))
    return (folder / "uncached.info").read_text()


@pytest.mark.parametrize("mode", [[], ["--lcov-per-test"], ["--lcov-format=lcov2", "--lcov-checksums"]])
def test_cached_report_equals_uncached(
    pytester: pytest.Pytester, mode: list[str], sample_uncached: str
) -> None:
    write_sample_project(pytester.path)
    if mode:
        run(pytester.path, "--lcov=uncached.info", "--lcov-no-cache", *mode)
        uncached = (pytester.path / "uncached.info").read_text()
    else:
        uncached = sample_uncached
    run(pytester.path, "--lcov=cold.info", *mode)
    entries = cache_entries(pytester.path)
    assert len(entries) == 7  # one per measured file
    stamps = [entry.read_bytes() for entry in entries]
    run(pytester.path, "--lcov=warm.info", *mode)
    assert [entry.read_bytes() for entry in cache_entries(pytester.path)] == stamps  # all hits
    assert (pytester.path / "cold.info").read_text() == uncached
    assert (pytester.path / "warm.info").read_text() == uncached


def test_entries_are_plain_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def f(x):\n    if x:\n        return 1\n    return 2\n", test_mod=IMPORT_ONLY)
    run(pytester.path, "--lcov-source=mod")
    [entry] = cache_entries(pytester.path)
    magic, signature, body = entry.read_bytes().split(b"\n", 2)
    assert magic + b"\n" == ENTRY_MAGIC
    assert len(signature) == 64
    state = parser_state.from_plain(json.loads(body)["value"])  # data, nothing to unpickle
    assert state["parser"]["statements"] == {1, 2, 3, 4}


IMPORT_ONLY = "import mod\n\n\ndef test_nothing():\n    pass\n"


class RunsCode:
    """A pickle that runs a command when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_runs_nothing_and_changes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def f():\n    return 1\n", test_mod=IMPORT_ONLY)
    run(pytester.path, "--lcov=first.info")
    marker = pytester.path / "pwned"
    payload = pickle.dumps(RunsCode(marker))
    for entry in cache_entries(pytester.path):
        entry.write_bytes(payload)
    # And where the earlier, pickle-based cache kept its entries.
    old = pytester.path / ".pytest_cache/d/pytest-lcov-analysis/ab/ab"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(payload)
    run(pytester.path, "--lcov=second.info")
    assert not marker.exists()
    assert (pytester.path / "second.info").read_text() == (pytester.path / "first.info").read_text()


def forge(entry: Path, edit: dict[str, object], key: bytes | None = None) -> None:
    """Rewrite an entry's parser state; re-sign it with `key` if given (a key we do not hold)."""
    magic, signature, body = entry.read_bytes().split(b"\n", 2)
    document = json.loads(body)
    state = parser_state.from_plain(document["value"])
    state["parser"].update(edit)
    document["value"] = parser_state.to_plain(state)
    new_body = json.dumps(document).encode()
    if key is not None:
        signature = hmac.new(key, new_body, hashlib.sha256).hexdigest().encode()
    entry.write_bytes(magic + b"\n" + signature + b"\n" + new_body)


GATE = ["--lcov-fail-under-lines=100"]


@pytest.mark.parametrize("signed_by", ["nobody", "another key"])
def test_an_edited_entry_cannot_change_the_numbers(pytester: pytest.Pytester, signed_by: str) -> None:
    pytester.makepyfile(
        mod="def f():\n    return 1\n\n\ndef g():\n    return 2\n",
        test_mod="import mod\n\n\ndef test_f():\n    mod.f()\n",
    )
    run(pytester.path, "--lcov=first.info", "--lcov-source=mod")
    [entry] = cache_entries(pytester.path)
    forge(entry, {"statements": {1, 2, 5}}, key=None if signed_by == "nobody" else b"k" * 32)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *QUIET_PLUGINS,
            "--lcov=second.info",
            "--lcov-source=mod",
            "--lcov-branch",
            *GATE,
        ],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout  # 4 of 5 lines: the gate is not fooled
    assert (pytester.path / "second.info").read_text() == (pytester.path / "first.info").read_text()


def test_a_valid_entry_moved_to_another_name_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        a="def f():\n    return 1\n",
        b="def f():\n    x = 1\n    y = 2\n    return x + y\n",
        test_mod="import a, b\n\n\ndef test_nothing():\n    pass\n",
    )
    run(pytester.path, "--lcov=first.info", "--lcov-source=a", "--lcov-source=b")
    first, second = cache_entries(pytester.path)
    first.write_bytes(second.read_bytes())
    run(pytester.path, "--lcov=second.info", "--lcov-source=a", "--lcov-source=b")
    assert (pytester.path / "second.info").read_text() == (pytester.path / "first.info").read_text()


def test_the_parse_is_of_the_bytes_read(tmp_path: Path) -> None:
    """The key and the parse come from one read: content saved afterwards is not parsed."""
    source = tmp_path / "mod.py"
    source.write_text("a = 1\nb = 2\n")
    text = read_source(str(source))
    source.write_text("a = 1\n\n\n\nb = 2\nc = 3\n")
    cov = coverage.Coverage(data_file=None, config_file=False)
    reporter = SourceReporter(str(source), cov, text, state=None)
    assert reporter.lines() == {1, 2}


@pytest.mark.parametrize(
    "content",
    [
        b"a = 1\r\nif a:\r\n    b = 2\r\n",
        b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n",
        b"a = 1\n\x0cb = 2",
        b"\xef\xbb\xbfa = 1\n",
        b"a = 1\rb = 2\r",
    ],
    ids=["crlf", "latin-1", "form-feed-no-final-newline", "bom", "cr"],
)
def test_source_text_is_what_coverage_reads(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "mod.py"
    source.write_bytes(content)
    assert read_source(str(source)).text == coverage.python.get_python_source(str(source))


def test_an_edited_file_is_analysed_again(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def f():\n    return 1\n", test_mod="import mod\n\ndef test_f():\n    mod.f()\n")
    run(pytester.path)
    pytester.makepyfile(mod="def f():\n    x = 1\n    return x\n")
    run(pytester.path)
    assert read_records(pytester.path / "lcov.info")["mod.py"].lines == {1: 1, 2: 1, 3: 1}


def test_exclusion_settings_are_part_of_the_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        mod="def f():\n    return 1\n\n\ndef g():\n    return 2\n",
        test_mod=IMPORT_ONLY,
    )
    run(pytester.path)
    pytester.makepyprojecttoml('[tool.coverage.report]\nexclude_also = ["def g"]\n')
    run(pytester.path)
    assert read_records(pytester.path / "lcov.info")["mod.py"].lines == {1: 1, 2: 0}


def test_no_cache_writes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def f():\n    return 1\n", test_mod=IMPORT_ONLY)
    run(pytester.path, "--lcov-no-cache")
    assert not (pytester.path / ENTRIES).exists()


def test_parallel_parsing_gives_the_same_report(pytester: pytest.Pytester, sample_uncached: str) -> None:
    write_sample_project(pytester.path)
    many_files_on_two_cpus(pytester)
    run(pytester.path, "--lcov=parallel.info")
    assert len(cache_entries(pytester.path)) == 7
    run(pytester.path, "--lcov=parallel-no-cache.info", "--lcov-no-cache")
    serial = sample_uncached
    assert (pytester.path / "parallel.info").read_text() == serial
    assert (pytester.path / "parallel-no-cache.info").read_text() == serial


def test_parsing_processes_import_nothing_from_the_project(pytester: pytest.Pytester) -> None:
    """A project module named like a standard one (random.py) is never run by our processes."""
    pytester.makepyfile(
        random="import sys\nopen('imported-by.txt', 'a').write(repr(sys.argv) + '\\n')\n",
        mod="def f():\n    return 1\n",
        other="def g():\n    return 2\n",
        test_mod="import mod, other\n\n\ndef test_nothing():\n    pass\n",
    )
    many_files_on_two_cpus(pytester)
    # -P: the test run itself must not import random.py from the current folder either.
    command = [sys.executable, "-P", "-m", "pytest", *QUIET_PLUGINS, "--lcov", "--lcov-source=."]
    result = subprocess.run(command, cwd=pytester.path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(cache_entries(pytester.path)) >= 2  # the parsing processes ran
    marker = pytester.path / "imported-by.txt"
    assert not marker.exists() or "-c" not in marker.read_text()


def test_a_module_in_a_zip_file_is_reported(pytester: pytest.Pytester) -> None:
    pytester.mkdir("libs")
    with zipfile.ZipFile(pytester.path / "libs/bundle.zip", "w") as bundle:
        bundle.writestr("zmod.py", "def f(x):\n    if x:\n        return 1\n    return 2\n")
    pytester.makepyfile(
        test_z="import sys\nsys.path.insert(0, 'libs/bundle.zip')\nimport zmod\n\n\ndef test_z():\n"
        "    assert zmod.f(1) == 1\n"
    )
    pytester.makepyprojecttoml('[tool.coverage.run]\nsource = ["."]\n')
    run(pytester.path, "--lcov=cached.info")
    run(pytester.path, "--lcov=uncached.info", "--lcov-no-cache")
    records = read_records(pytester.path / "cached.info")
    assert records["libs/bundle.zip/zmod.py"].lines == {1: 1, 2: 1, 3: 1, 4: 0}
    assert (pytester.path / "cached.info").read_text() == (pytester.path / "uncached.info").read_text()


def test_the_cache_stays_bounded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mod=IMPORT_ONLY)
    pytester.makeconftest("import pytest_lcov.analysis_cache as store\nstore.KEEP_UNUSED = 1\n")
    for version in range(5):
        pytester.makepyfile(mod=f"def f():\n    return {version}\n")
        run(pytester.path, "--lcov-source=mod")
    # The entry this run used, and as many others plus one.
    assert len(cache_entries(pytester.path)) == 3


def test_a_planted_pipe_is_a_miss_not_a_hang(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mod="def f():\n    return 1\n", test_mod=IMPORT_ONLY)
    run(pytester.path, "--lcov=first.info", "--lcov-source=mod")
    [entry] = cache_entries(pytester.path)
    entry.unlink()
    os.mkfifo(entry)
    run(pytester.path, "--lcov=second.info", "--lcov-source=mod")
    assert (pytester.path / "second.info").read_text() == (pytester.path / "first.info").read_text()


def test_a_key_file_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    first = load_or_create_key(key_file)
    assert load_or_create_key(key_file) == first
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_file.chmod(0o666)
    assert load_or_create_key(key_file) != first  # a key for this process only


def test_store_round_trip_and_refusals(tmp_path: Path) -> None:
    store = AnalysisStore(tmp_path, b"k" * 32, "salt")
    store.put("abc", {"x": [1, 2]})
    assert store.get("abc") == {"x": [1, 2]}
    assert AnalysisStore(tmp_path, b"j" * 32, "salt").get("abc") is None  # another key
    assert AnalysisStore(tmp_path, b"k" * 32, "other salt").get("abc") is None  # other settings


def test_one_parse_gives_the_same_regions_as_coverage(tmp_path: Path) -> None:
    """Regions come from the parser's own syntax tree: they must equal coverage.py's own parse."""
    write_sample_project(tmp_path)
    cov = coverage.Coverage(data_file=None, config_file=False)
    sources = sorted(tmp_path.rglob("*.py"))
    assert len(sources) > 5
    for path in sources:
        text = read_source(str(path))
        reporter = SourceReporter(str(path), cov, text, state=None)
        try:
            reporter.lines()
        except coverage.exceptions.NotPython:
            continue  # the sample's deliberately broken file
        assert list(reporter.code_regions()) == coverage.regions.code_regions(text.text), path


def test_a_restored_analysis_describes_every_arc_as_coverage_does(tmp_path: Path) -> None:
    """Branch lines' arc descriptions are stored; any other arc's is parsed afresh, never guessed."""
    write_sample_project(tmp_path)
    cov = coverage.Coverage(data_file=None, config_file=False)
    store = AnalysisStore(tmp_path / "store", b"k" * 32, "salt")
    analyser = analysis.Analyser(cov, store)
    checked = branch_arcs = 0
    for path in sorted(tmp_path.rglob("*.py")):
        fresh = SourceReporter(str(path), cov, read_source(str(path)), state=None)
        try:
            arcs = sorted(fresh.arcs())
        except coverage.exceptions.NotPython:
            continue
        analyser.reporter(str(path), has_arcs=True)  # cold: stores the analysis
        exits = fresh.exit_counts()
        branch_arcs += sum(exits.get(start, 0) > 1 for start, _ in arcs)
        for arc in arcs:  # branch arcs first, then one that is not stored
            restored = analyser.reporter(str(path), has_arcs=True)
            assert restored._state is not None, path  # warm
            assert restored.arc_description(*arc) == fresh.arc_description(*arc), (path, arc)
            checked += 1
    assert checked > branch_arcs > 10


@pytest.mark.parametrize(
    "regions",
    [
        [["function", "f"]],  # no start line
        [["function", "f", "1"]],  # a start that is not a number
        [["function", "f", 1, 2, "3"]],  # a line that is not a number
        [["function", 7, 1, 2]],  # a name that is not text
        [("function", "f", 1)],  # not a list
    ],
)
def test_a_stored_analysis_with_odd_regions_is_refused(tmp_path: Path, regions: list[object]) -> None:
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    if f:\n        return 1\n")
    cov = coverage.Coverage(data_file=None, config_file=False)
    plain = SourceReporter(str(source), cov, read_source(str(source)), state=None).plain_state(True)
    assert restored_state(json.loads(json.dumps(plain))) is not None
    state = parser_state.from_plain(json.loads(json.dumps(plain)))
    state["regions"] = regions
    assert restored_state(json.loads(json.dumps(parser_state.to_plain(state)))) is None


BACKGROUND_TEST = """
import pathlib
import time


def test_the_sources_are_parsed_while_the_tests_run():
    # Parsing started with the session: its entries appear before this test ends.
    entries = pathlib.Path(".pytest_cache/d/pytest-lcov-analysis")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len([p for p in entries.rglob("*") if p.is_file() and not p.name.startswith(".")]) >= 3:
            return
        time.sleep(0.05)
    raise AssertionError("nothing was parsed while the tests ran")
"""


def test_sources_are_parsed_beside_the_tests(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("pkg")
    for index in range(3):
        pytester.path.joinpath(f"pkg/m{index}.py").write_text(
            f"def f(x):\n    if x:\n        return {index}\n"
        )
    pytester.makepyfile(test_bg=BACKGROUND_TEST)
    many_files_on_two_cpus(pytester)
    run(pytester.path, "--lcov=background.info", "--lcov-source=pkg")
    run(pytester.path, "--lcov=plain.info", "--lcov-source=pkg", "-p", "no:cacheprovider")
    assert (pytester.path / "background.info").read_text() == (pytester.path / "plain.info").read_text()


def test_parsing_beside_the_tests_without_a_cache_gives_the_same_report(
    pytester: pytest.Pytester, sample_uncached: str
) -> None:
    write_sample_project(pytester.path)
    many_files_on_two_cpus(pytester)
    run(pytester.path, "--lcov=background.info", "--lcov-no-cache")
    run(pytester.path, "--lcov=background-xdist.info", "--lcov-no-cache", "-n", "2")
    serial = sample_uncached
    assert (pytester.path / "background.info").read_text() == serial
    assert (pytester.path / "background-xdist.info").read_text() == serial
    assert not (pytester.path / ENTRIES).exists()


PRIMITIVES = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
LINE_PAIRS = st.tuples(st.integers(), st.integers())
PLAIN_VALUES = st.recursive(
    PRIMITIVES
    | st.sets(st.integers())
    | st.sets(LINE_PAIRS)
    | st.dictionaries(st.integers(), st.integers())
    | st.dictionaries(LINE_PAIRS, st.lists(st.tuples(PRIMITIVES, PRIMITIVES)))
    | st.dictionaries(LINE_PAIRS, st.text(max_size=5))
    | st.lists(st.lists(PRIMITIVES)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(LINE_PAIRS, inner, max_size=4)
    ),
    max_leaves=20,
)


@given(PLAIN_VALUES)
def test_plain_data_comes_back_as_it_was(value: object) -> None:
    """Every shape the parser's state takes survives the store's JSON, types included."""
    restored = parser_state.from_plain(json.loads(json.dumps(parser_state.to_plain(value))))
    assert restored == value
    assert_same_types(restored, value)


def assert_same_types(restored: object, value: object) -> None:
    """Sets stay sets, tuples tuples, bools bools, all the way down (== alone would not tell)."""
    assert type(restored) is type(value)
    if isinstance(value, dict):
        assert isinstance(restored, dict)
        for key, item in value.items():
            [twin] = [k for k in restored if k == key]
            assert_same_types(twin, key)
            assert_same_types(restored[key], item)
    elif isinstance(value, list | tuple):
        assert isinstance(restored, list | tuple)
        for twin, item in zip(restored, value, strict=True):
            assert_same_types(twin, item)
    elif isinstance(value, set):
        assert isinstance(restored, set)
        for item in value:
            [twin] = [r for r in restored if r == item]
            assert_same_types(twin, item)


@pytest.mark.parametrize(
    "planted",
    [
        {"tv": "abc"},
        {"si": "not base64!"},
        {"si": "AAAAAAA="},
        {"lt": "AAAA"},
        {"dii": "AAAAAAAAAAAAAAAA"[:-4]},
        {"dps": [[1, 2, 3, 4], ["a", 1]]},
        {"dps": [[1, 2, 3], ["a"]]},
    ],
)
def test_packed_numbers_are_checked(planted: object) -> None:
    """Only number runs are packed, and a packed run must be whole int32s (and, for pairs, pairs)."""
    with pytest.raises(parser_state.NotPlainData):
        parser_state.from_plain(planted)
