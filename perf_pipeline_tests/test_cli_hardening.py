"""The nine repros of the hardening issue, through ``main([...])``: each is now a clear
error (exit 2 naming the input) or the correct behaviour, and good files beside a bad
one are still ingested.

``G`` is ``data/pytest_benchmark_good.json``; each test puts a copy beside a bad ``a.json``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from rich.console import Console

from perf_pipeline.cli import console as cc
from perf_pipeline.cli import main
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import json_input, load_results
from perf_pipeline.model import RunStatus, SuiteRun
from perf_pipeline.store import HistoryStore

DATA = Path(__file__).resolve().parent / "data"
GOOD = DATA / "pytest_benchmark_good.json"


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL", "PERF_PIPELINE_RESULTS_DIR",
                "PERF_PIPELINE_CONFIG", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "test-results"
    folder.mkdir()
    shutil.copy(GOOD, folder / "good.json")
    return folder


def good_doc() -> dict:
    return json.loads(GOOD.read_text())


def _ingest(results: Path) -> int:
    return main(["ingest", "--results-dir", str(results)])


def _stored(results: Path) -> list[str]:
    with HistoryStore.open(results / "perf_history.db") as store:
        return [r.run_id for r in store.list_runs(status=None)]


def _assert_bad_file_reported(results: Path, capsys: pytest.CaptureFixture[str],
                              *fragments: str) -> str:
    assert _ingest(results) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "a.json" in captured.err
    for fragment in fragments:
        assert fragment in captured.err
    assert "ingested 1 new run(s)" in captured.out  # the good file is not lost
    assert len(_stored(results)) == 1
    return captured.err


# -- 1: a bad file crashed ingest and aborted the folder -------------------------------


def _mutant(kind: str) -> str:
    doc = good_doc()
    bench = doc["benchmarks"][0]
    if kind == "deep":
        return "[" * 100_000
    if kind == "huge_int_sample":  # 1e400 written out as an integer
        bench["stats"]["data"][0] = "HUGE"
        return json.dumps(doc).replace('"HUGE"', "1" + "0" * 400, 1)
    if kind == "commit_time_int":
        doc["commit_info"]["time"] = 123
    elif kind == "datetime_overflow":
        doc["datetime"] = "9999-12-31T23:59:59-01:00"
    elif kind == "rounds_huge":
        del bench["stats"]["data"]
        bench["stats"]["rounds"] = 1e300
    elif kind == "iterations_huge":
        bench["stats"]["iterations"] = 10**30
    elif kind == "surrogate_param":
        bench["params"] = {"\ud800": 1}
    return json.dumps(doc)


@pytest.mark.parametrize("kind, message", [
    ("deep", "nests deeper"),
    ("huge_int_sample", "too large"),
    ("commit_time_int", "commit_info.time"),
    ("datetime_overflow", "datetime"),
    ("rounds_huge", "rounds"),
    ("iterations_huge", "iterations"),
    ("surrogate_param", "not valid Unicode"),
])
def test_1_bad_file_is_named_and_the_rest_is_ingested(results, capsys, kind, message) -> None:
    (results / "a.json").write_text(_mutant(kind), encoding="utf-8", errors="surrogatepass")
    _assert_bad_file_reported(results, capsys, message)


# -- 2: a non-ISO datetime sorted after every real time ---------------------------------


@pytest.mark.parametrize("stamp", ["zzzz", "NaN", "2025-13-45T99:99:99", ""])
def test_2_non_iso_datetime_is_refused(results, capsys, stamp) -> None:
    doc = good_doc()
    doc["datetime"] = stamp
    (results / "a.json").write_text(json.dumps(doc))
    _assert_bad_file_reported(results, capsys, "ISO-8601")


def test_2_times_are_stored_in_utc_and_a_newer_valid_file_is_the_newest(results) -> None:
    doc = good_doc()
    doc["datetime"] = "2030-01-01T12:00:00+05:00"
    doc["commit_info"] = {}
    (results / "newer.json").write_text(json.dumps(doc))
    run = load_results(results / "newer.json")
    assert run.started_at == "2030-01-01T07:00:00+00:00"
    assert _ingest(results) == 0
    with HistoryStore.open(results / "perf_history.db") as store:
        assert store.latest_run(suite="benchmarks").run_id == run.run_id


# -- 3: negative times were accepted (a zero is a real reading below the timer's tick:
# kept, and that benchmark's time left out of judging; measure/test_results.py) ----------


@pytest.mark.parametrize("value, where", [(-1.8e-05, "sample 0"), (-1e-9, "stats.median")])
def test_3_negative_times_are_refused(results, capsys, value, where) -> None:
    doc = good_doc()
    stats = doc["benchmarks"][0]["stats"]
    if where == "sample 0":
        stats["data"][0] = value
    else:
        stats["median"] = value
    (results / "a.json").write_text(json.dumps(doc))
    _assert_bad_file_reported(results, capsys, where, ">= 0")


def test_3_counters_may_be_zero_but_memory_may_not(tmp_path: Path) -> None:
    doc = good_doc()
    figures = doc["benchmarks"][0]["perf_pipeline"]
    figures.update(gc_collections=0, io_read_bytes=0, cpu_system_s=0)
    (tmp_path / "ok.json").write_text(json.dumps(doc))
    assert load_results(tmp_path / "ok.json").benchmarks[0].metric("gc_collections") == 0
    figures["peak_rss_bytes"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match=r"bad\.json.*peak_rss_bytes.*> 0"):
        load_results(tmp_path / "bad.json")


# -- 4: rich markup in untrusted text crashed the CLI -----------------------------------


def test_4_markup_in_a_bad_files_benchmark_name_is_printed_verbatim(results, capsys) -> None:
    doc = good_doc()
    doc["benchmarks"][0]["fullname"] = "tests/t.py::test_x[/tmp/a]"
    doc["benchmarks"][0]["stats"]["data"][0] = "bad"
    (results / "a.json").write_text(json.dumps(doc))
    _assert_bad_file_reported(results, capsys, "test_x[/tmp/a]")


HOSTILE = ["[/]", "[bold red]x[/bold red]", "x[/tmp/a]", "trailing\\", "[link=file:///etc]",
           "\x1b]0;title\x07\x1b[2J", "nul\x00byte", "cr\rlf", "lone\udcff", "[/data/a.csv]",
           ":smile: [[double]]"]


def test_4_run_prints_every_user_controlled_field_safely(results, capsys, monkeypatch) -> None:
    def failed_run(settings, ref, *, suite, store):
        return SuiteRun(run_id="r" + HOSTILE[0], suite=suite, started_at="2024-01-01",
                        status=RunStatus.FAILED, error=" ".join(HOSTILE),
                        raw_path="/raw/" + HOSTILE[2])

    monkeypatch.setattr("perf_pipeline.measure.measure_commit", failed_run)
    for ref in ("x[/]", "[bold]HEAD"):
        assert main(["run", ref, "--results-dir", str(results)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        for text in ("[/]", "x[/tmp/a]", "[/data/a.csv]", "[bold red]x[/bold red]"):
            assert text in err
        assert "\x1b" not in err and "\\x1b" in err


def test_4_plain_survives_every_hostile_value() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, highlight=False, emoji=False)
    for value in HOSTILE:
        console.print(f"[red]error:[/] {cc.plain(value)} {cc.short('f.py::' + value)}")
    text = out.getvalue()
    assert "\x1b]0;" not in text and "\x00" not in text
    assert "[/data/a.csv]" in text and "trailing\\" in text and ":smile:" in text
    assert not cc.out._emoji and not cc.err._emoji  # the CLI's consoles, as tested


def test_4_analyze_prints_hostile_names_and_paths(results, capsys) -> None:
    doc = good_doc()
    for i, bench in enumerate(doc["benchmarks"]):
        bench["fullname"] = f"tests/t.py::test_{i}{HOSTILE[i % len(HOSTILE)]}"
    (results / "good.json").write_text(json.dumps(doc))
    report = results.parent / "[red]x[/]-report.md"
    assert main(["analyze", "--results-dir", str(results), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "[red]x[/]-report.md" in out


# -- 5: concurrent creation: see store/test_concurrent_create.py ------------------------
# -- 6: signals: see measure/test_signals.py --------------------------------------------

# -- 7: a non-Latin-1 token crashed `comment` -------------------------------------------


def test_7_non_latin1_token_is_a_clear_error_and_never_printed(results, capsys,
                                                               monkeypatch) -> None:
    report = results / "r.md"
    report.write_text("# report\n")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_tok€n")
    code = main(["comment", "--report", str(report), "--repo", "o/r", "--pr", "1",
                 "--api-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert "GITHUB_TOKEN" in err and "not printable ASCII" in err
    assert "tok€n" not in err and "Traceback" not in err


# -- 8: memory on large inputs ----------------------------------------------------------


@pytest.mark.slow
def test_8_loading_a_large_file_stays_within_3x_its_size(tmp_path: Path,
                                                         monkeypatch) -> None:
    # Samples as pytest-benchmark writes them: full-precision floats (~20 characters).
    rng = random.Random(8)
    doc = good_doc()
    template = doc["benchmarks"][0]
    doc["benchmarks"] = []
    for i in range(4):
        bench = copy.deepcopy(template)
        bench["fullname"] = f"t.py::test_{i}"
        bench["stats"]["data"] = [rng.uniform(1e-5, 3e-5) for _ in range(60_000)]
        doc["benchmarks"].append(bench)
    path = tmp_path / "large.json"
    path.write_text(json.dumps(doc))
    size = path.stat().st_size
    # Read as a file past FLOAT_ARRAYS_FROM_BYTES is: its samples parsed into arrays.
    monkeypatch.setattr(json_input, "FLOAT_ARRAYS_FROM_BYTES", size)
    tracemalloc.start()
    try:
        run = load_results(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(run.benchmarks[0].samples_s) == 60_000
    # The bytes and the text, each once (2x); the samples never exist as a list of
    # float objects next to the text (that was 2.37x, before ``float_arrays``).
    assert peak <= 2.2 * size, (peak, size)


#: A child that ingests one results file twice (under two run ids) and prints: the
#: peak RSS of the first load + store above the RSS it started from (VmHWM, reset
#: through clear_refs), and the Python heap's peak (tracemalloc) while the second is
#: stored (numpy's buffers count; SQLite's own allocations do not, hence the first).
_INGEST_PEAKS = """
import dataclasses, gc, json, sys, tracemalloc
from pathlib import Path
from perf_pipeline.measure.results import load_results
from perf_pipeline.measure.stress_harness import reset_hwm, rss_bytes, vm_hwm_bytes
from perf_pipeline.store import HistoryStore
path = Path(sys.argv[1])
with HistoryStore.open(Path(sys.argv[2])) as store:
    gc.collect()
    start = rss_bytes()
    if not reset_hwm():
        print(json.dumps(None))
        raise SystemExit(0)
    store.ingest_run(load_results(path))
    whole = vm_hwm_bytes() - start
    run = dataclasses.replace(load_results(path), run_id="again")
    gc.collect()
    tracemalloc.start()
    store.ingest_run(run)
    stored = tracemalloc.get_traced_memory()[1]
print(json.dumps({"whole": whole, "store": stored}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux /proc only")
def test_8_ingest_of_a_large_file_peaks_at_the_read(tmp_path: Path) -> None:
    """One benchmark of a million samples (a 23 MB file, past FLOAT_ARRAYS_FROM_BYTES).

    Ingest peaks while reading: the bytes and the text (2x the file). Storing adds
    one sorted float64 copy of the samples (0.35x), since they stay one buffer from the
    loader to the BLOB (``Samples``), and SQLite never copies the BLOB (a zeroblob in
    the record's last column, written in pieces). Measured: 2.3x and 0.38x; main before
    this change: 3.0x and 1.0x (a tuple of floats, a sorted list, the packed bytes twice).
    """
    rng = random.Random(8)
    doc = good_doc()
    doc["benchmarks"] = doc["benchmarks"][:1]
    doc["benchmarks"][0]["stats"]["data"] = [rng.uniform(1e-5, 3e-5) for _ in range(1_000_000)]
    path = tmp_path / "large.json"
    path.write_text(json.dumps(doc))
    del doc
    size = path.stat().st_size
    assert size > json_input.FLOAT_ARRAYS_FROM_BYTES
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    out = subprocess.run([sys.executable, "-c", _INGEST_PEAKS, str(path), str(tmp_path / "h.db")],
                         capture_output=True, text=True, check=True, env=env).stdout
    peaks = json.loads(out)
    if peaks is None:
        pytest.skip("VmHWM cannot be reset here (/proc/self/clear_refs)")
    assert peaks["whole"] <= 2.6 * size, (peaks, size)
    assert peaks["store"] <= 0.6 * size, (peaks, size)
    with HistoryStore.open(tmp_path / "h.db") as store:
        runs = store.list_runs()
        assert len(runs) == 2
        stored = [store.get_run(r.run_id).benchmarks[0].samples_s for r in runs]
    assert stored[0] == stored[1] and len(stored[0]) == 1_000_000


# -- 9: missing results dir, symlink loops, FIFOs ---------------------------------------


def test_9_missing_results_dir_is_an_error_and_is_not_created(tmp_path, capsys) -> None:
    missing = tmp_path / "nonexistent"
    assert main(["ingest", "--results-dir", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()
    assert main(["analyze", "--results-dir", str(missing)]) == 2
    assert not missing.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_9_fifo_and_symlink_loop_get_accurate_messages(results, tmp_path, capsys) -> None:
    os.mkfifo(results / "a.json")
    os.symlink("loop.json", results / "loop.json")
    assert _ingest(results) == 2
    err = capsys.readouterr().err
    assert "a.json is a FIFO" in err
    assert "loop.json" in err and "symlink loop" in err
    os.mkfifo(tmp_path / "fifo-dir")
    assert main(["ingest", "--results-dir", str(tmp_path / "fifo-dir")]) == 2
    assert "FIFO" in capsys.readouterr().err
    os.symlink("self", tmp_path / "self")
    assert main(["ingest", "--results-dir", str(tmp_path / "self")]) == 2
    assert "symlink loop" in capsys.readouterr().err


# -- exit 3: an internal error is one line plus a log file ------------------------------


def test_internal_error_exits_3_with_one_line_and_a_log(results, capsys, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom [/]\nsecond line")

    monkeypatch.setattr("perf_pipeline.pipeline.ingest.ingest_results_dir", broken)
    assert _ingest(results) == 3
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert "internal error" in err and "ZeroDivisionError: boom [/]" in err
    assert "second line" not in err
    log = Path(err.rsplit("traceback in ", 1)[1].replace("\n", ""))
    try:
        assert "Traceback" in log.read_text() and "second line" in log.read_text()
    finally:
        log.unlink()


def test_db_integrity_after_a_folder_of_mutants(results) -> None:
    for i, kind in enumerate(["deep", "commit_time_int", "rounds_huge", "surrogate_param"]):
        (results / f"a{i}.json").write_text(_mutant(kind), encoding="utf-8",
                                            errors="surrogatepass")
    assert _ingest(results) == 2
    conn = sqlite3.connect(results / "perf_history.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    finally:
        conn.close()
