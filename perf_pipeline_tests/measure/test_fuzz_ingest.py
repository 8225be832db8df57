"""Fuzzing the results loader and ingest with mutants of a real pytest-benchmark file.

Each example puts a valid file and one mutant (a field replaced by a hostile value, a
key deleted, the bytes truncated or flipped) into a fresh results dir and asserts:

- ``load_results`` returns a run or raises ``PerfPipelineError``, nothing else;
- ``ingest_results_dir`` raises nothing, stores the valid file, and stores the mutant
  exactly when it loads;
- the db passes ``PRAGMA integrity_check`` and holds no garbage: every time in UTC
  ISO-8601, every timing >= 0 (a round below the timer's resolution reads 0.0), every
  figure finite and within its metric's range.

``PERF_PIPELINE_FUZZ_EXAMPLES`` sets the number of examples (default 200, derandomized
so CI is repeatable; set it, e.g. to 1000, for a manual run with fresh random examples).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perf_pipeline.errors import PerfPipelineError
from perf_pipeline.measure import ingest_results_dir, json_input, load_results
from perf_pipeline.model import METRICS, SuiteRun
from perf_pipeline.store import HistoryStore

GOOD = Path(__file__).resolve().parents[1] / "data" / "pytest_benchmark_good.json"
GOOD_TEXT = GOOD.read_text()
#: The valid neighbour: another commit, so the rule "a commit keeps one run per suite"
#: can never make a mutant replace it.
NEIGHBOUR_TEXT = GOOD_TEXT.replace("d00e200a087a990d17b1e05821d5cb6e29ef2e94", "e" * 40)
EXAMPLES = int(os.environ.get("PERF_PIPELINE_FUZZ_EXAMPLES", "200"))
MANUAL = "PERF_PIPELINE_FUZZ_EXAMPLES" in os.environ

HOSTILE_TEXT = st.sampled_from([
    "", "zzzz", "NaN", "2025-13-45T99:99:99", "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00", "2024-02-30", "[/]", "x[/tmp/a]", "\ud800", "\x00",
    "\x1b[2J", "a" * 10_000, "-1", "1e400", "../../etc/passwd", "ÿ€😀",
]) | st.text(max_size=30)
NUMBERS = st.sampled_from([0, -0.0, -1.8e-05, 1e-300, 1e300, 10**30, 10**400, 2**63,
                           2**63 - 1, -(2**63), float("nan"), float("inf"), -float("inf"),
                           True, False, 0.5, 7]) | st.integers() | st.floats()
VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(HOSTILE_TEXT, children, max_size=3),
    max_leaves=8,
) | st.sampled_from(["DEEP"])


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every JSON path into ``node`` (skipping most samples: they all look alike)."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            out += _paths(value, (*prefix, i))
    return out


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple) -> Any:
    if not path:
        return doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return doc


PATHS = _paths(json.loads(GOOD_TEXT))


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    doc = json.loads(GOOD_TEXT)
    operations = draw(st.integers(min_value=1, max_value=3))
    for _ in range(operations):
        kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "truncate",
                                     "flip"]))
        if kind in ("truncate", "flip"):
            raw = json.dumps(doc).encode()
            at = draw(st.integers(min_value=0, max_value=len(raw) - 1))
            if kind == "truncate":
                return raw[:at]
            return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:]
        path = draw(st.sampled_from(PATHS))
        try:
            if kind == "delete":
                doc = _delete(doc, path)
            else:
                value = draw(VALUES)
                if value == "DEEP":
                    return json.dumps(doc).replace('"data": [', '"data": ' + "[" * 50_000, 1
                                                   ).encode()
                doc = _set(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # the path went away with an earlier mutation
    text = json.dumps(doc, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def _assert_no_garbage(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for started, sort_at, committed in conn.execute(
                "SELECT started_at, started_utc, committed_at FROM runs"):
            for stamp in (started, committed):
                if stamp is not None:
                    assert datetime.fromisoformat(stamp).utcoffset().total_seconds() == 0
            assert sort_at.endswith("Z")
        for metric, value, n in conn.execute("SELECT metric, value, n FROM results"):
            assert math.isfinite(value)
            zero_ok = METRICS[metric].zero_ok or METRICS[metric].unit == "s"  # timings
            assert value > 0 or (value == 0 and zero_ok), (metric, value)
            assert 0 <= n < 2**63
        for (iterations,) in conn.execute("SELECT iterations FROM benchmarks"):
            assert 1 <= iterations < 2**63
    finally:
        conn.close()


def check_one_mutant(raw: bytes) -> tuple[bool, bool]:
    """Run the assertions on one mutant; (it loaded, it was stored)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp) / "results"
        folder.mkdir()
        (folder / "good.json").write_text(NEIGHBOUR_TEXT)
        good_id = load_results(folder / "good.json").run_id
        (folder / "mutant.json").write_bytes(raw)
        try:
            mutant_id = load_results(folder / "mutant.json").run_id
        except PerfPipelineError:
            mutant_id = None
        db = folder / "perf_history.db"
        with HistoryStore.open(db) as store:
            summary = ingest_results_dir(folder, store)
            stored = {r.run_id for r in store.list_runs(status=None)}
        assert good_id in stored, summary
        if mutant_id is not None:
            assert mutant_id in stored, summary
        else:
            assert [p for p, _ in summary.errors] == [str(folder / "mutant.json")]
        _assert_no_garbage(db)
        return mutant_id is not None, mutant_id in stored


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not MANUAL, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutants())
def test_fuzzed_files_never_crash_never_store_garbage_never_lose_valid_runs(raw: bytes) -> None:
    check_one_mutant(raw)


def _load_or_error(path: Path) -> SuiteRun | None:
    try:
        return load_results(path)
    except PerfPipelineError:
        return None


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not MANUAL, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutants())
def test_large_file_reading_agrees_with_plain_json_on_every_mutant(raw: bytes) -> None:
    """Files past ``FLOAT_ARRAYS_FROM_BYTES`` have their samples parsed into arrays:
    the same mutant must load to the same run, or fail, either way."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        path = Path(tmp) / "mutant.json"
        path.write_bytes(raw)
        plain = _load_or_error(path)
        with mock.patch.object(json_input, "FLOAT_ARRAYS_FROM_BYTES", 0):
            arrays = _load_or_error(path)
    assert arrays == plain
