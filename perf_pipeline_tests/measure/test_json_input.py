"""``read_json_file(float_arrays=...)``: samples as ``array('d')`` (in large files),
every other value as ``json`` reads it.

The hooks put floats back by position, so a slip (a float given to the wrong list, a
null taken for a float, a duplicate key) would silently store wrong samples. The
property test compares the whole document with ``json.loads`` on random documents that
mix floats, nulls, ints and nested containers under and beside ``data`` keys.
"""

from __future__ import annotations

import json
import math
from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import json_input
from perf_pipeline.measure.json_input import read_json_file
from perf_pipeline.measure.results import load_results
from perf_pipeline.model import Samples

KEYS = st.sampled_from(["data", "stats", "x", "params"]) | st.text(max_size=4)
SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5))
DOCS = st.recursive(
    SCALARS,
    lambda children: (st.lists(children, max_size=5)
                      | st.lists(st.floats(allow_nan=False), max_size=6)
                      | st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=30)


def _listed(value: Any) -> Any:
    """The document with each ``array('d')`` back as a list, checking where arrays are."""
    if type(value) is list:
        return [_listed(v) for v in value]
    if type(value) is dict:
        out = {}
        for key, item in value.items():
            if type(item) is array:
                assert key == "data" and item.typecode == "d", (key, item)
                out[key] = item.tolist()
            else:
                out[key] = _listed(item)
        return out
    assert type(value) is not array
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, -0.0 not equal to 0.0, float not equal to int."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                     == math.copysign(1, b))
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCS, indent=st.sampled_from([None, 1]))
def test_float_arrays_read_every_document_as_json_does(tmp_path: Path, doc: Any,
                                                       indent: int | None) -> None:
    text = json.dumps(doc, indent=indent)
    path = tmp_path / "doc.json"
    path.write_text(text)
    got = read_json_file(path, float_arrays={"data"}, arrays_from_bytes=0)
    assert _same(_listed(got.doc), json.loads(text))
    assert got.sha256 == read_json_file(path).sha256


def test_duplicate_keys_and_floats_in_closed_objects_keep_their_places(
        tmp_path: Path) -> None:
    """The last duplicate wins, as in ``json``; floats of an earlier duplicate, of inner
    objects and of a top-level list after an object do not shift the others."""
    text = ('[1.5, {"data": [0.25, 0.5], "data": [2.5, 3.5, 4.5], "y": {"z": 9.5}}, '
            'NaN, [6.5, {"data": [7.5]}], -Infinity, 8]')
    path = tmp_path / "dup.json"
    path.write_text(text)
    doc = read_json_file(path, float_arrays={"data"}, arrays_from_bytes=0).doc
    assert doc[0] == 1.5 and math.isnan(doc[2]) and doc[4] == -math.inf and doc[5] == 8
    assert doc[1]["data"] == array("d", [2.5, 3.5, 4.5]) and doc[1]["y"] == {"z": 9.5}
    assert doc[3] == [6.5, {"data": array("d", [7.5])}]


def test_a_data_list_with_an_int_or_a_null_stays_a_list(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text('{"data": [1, 2.5, null], "more": {"data": [null, 0.5]}}')
    doc = read_json_file(path, float_arrays={"data"}, arrays_from_bytes=0).doc
    assert doc == {"data": [1, 2.5, None], "more": {"data": [None, 0.5]}}
    assert type(doc["data"]) is list


def test_samples_read_as_arrays_are_exact_and_still_checked(tmp_path: Path,
                                                            monkeypatch) -> None:
    """Every bit of every sample survives; a bad sample is still named; a parameter
    holding a ``data`` float list reads as the list, not as an array's repr."""
    monkeypatch.setattr(json_input, "FLOAT_ARRAYS_FROM_BYTES", 0)  # as for a large file
    good = json.loads((Path(__file__).resolve().parents[1] / "data"
                       / "pytest_benchmark_good.json").read_text())
    samples = [1e-9 * (1 + i / 7) for i in range(1000)]
    bench = good["benchmarks"][0]
    bench["stats"]["data"] = samples
    bench["params"] = {"cfg": {"data": [0.5, 1.5]}}
    path = tmp_path / "exact.json"
    path.write_text(json.dumps(good))
    result = load_results(path).benchmarks[0]
    assert result.samples_s == tuple(samples)
    # compact: the parsed float64 array itself, bit for bit, not a tuple of float objects
    assert type(result.samples_s) is Samples
    assert result.samples_s.buffer.tobytes() == array("d", samples).tobytes()
    assert dict(result.params)["cfg"] == "{'data': [0.5, 1.5]}"
    for bad, shown in ((-1.8e-05, "-1.8e-05"), (float("inf"), "inf"), (float("nan"), "nan")):
        bench["stats"]["data"] = [*samples[:3], bad, *samples[3:]]
        path.write_text(json.dumps(good))
        with pytest.raises(InvalidInputError, match=rf"sample 3 is {shown}"):
            load_results(path)


def test_small_files_keep_plain_lists(tmp_path: Path) -> None:
    """Below ``FLOAT_ARRAYS_FROM_BYTES`` the hook is not worth its time: plain ``json``."""
    path = tmp_path / "small.json"
    path.write_text('{"data": [0.5, 1.5]}')
    assert type(read_json_file(path, float_arrays={"data"}).doc["data"]) is list
    assert type(read_json_file(path, float_arrays={"data"},
                               arrays_from_bytes=path.stat().st_size).doc["data"]) is array
