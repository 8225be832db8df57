"""Culprit files: round trip, atomic replace, and broken files named in the error."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Culprit
from perf_pipeline.store import list_culprits, read_culprit, write_culprit


def _culprit(**kw: object) -> Culprit:
    values: dict[str, object] = dict(
        benchmark="tests/t.py::test_x[a|b]", good_sha="a" * 40, bad_sha="b" * 40,
        status="confirmed", created_at="2026-01-02T00:00:00+00:00", sha="c" * 40,
        parent_sha="d" * 40, subject="slow: loop", author="Ann <ann@example.org>",
        step_ratio=1.21, confirmed_ratio=1.19, ci_low=1.1, ci_high=1.3,
        verdict="regression", rounds_used=5, probes=("c" * 40,), suspects=("c" * 40,),
        notes=("n",))
    values.update(kw)
    return Culprit(**values)  # type: ignore[arg-type]


def test_round_trip_and_listing(tmp_path: Path) -> None:
    first = _culprit()
    later = _culprit(created_at="2026-02-01T00:00:00+00:00", status="ambiguous", sha=None,
                     confirmed_ratio=None, ci_low=None, ci_high=None)
    write_culprit(tmp_path / "z.json", first)
    write_culprit(tmp_path / "a.json", later)
    assert read_culprit(tmp_path / "z.json") == first
    assert list_culprits(tmp_path) == (first, later)
    assert read_culprit(tmp_path / "missing.json") is None
    assert list_culprits(tmp_path / "none") == ()


def test_non_finite_ratios_and_intervals_are_written_and_read_back(tmp_path: Path) -> None:
    """An A/B of few rounds has an infinite interval and may have a NaN ratio; writing
    them raised a raw ValueError (strict JSON has no inf/nan) and the result was lost."""
    culprit = _culprit(status="not_confirmed", confirmed_ratio=math.nan, ci_low=-math.inf,
                       ci_high=math.inf, step_ratio=math.inf, verdict="inconclusive")
    path = write_culprit(tmp_path / "c.json", culprit)
    data = json.loads(path.read_text())  # strict JSON: the strings analysis files use
    assert [data[k] for k in ("confirmed_ratio", "ci_low", "ci_high", "step_ratio")] == [
        "nan", "-inf", "inf", "inf"]
    back = read_culprit(path)
    assert back is not None and math.isnan(back.confirmed_ratio)
    assert (back.ci_low, back.ci_high, back.step_ratio) == (-math.inf, math.inf, math.inf)
    assert dataclasses.replace(back, confirmed_ratio=None) == dataclasses.replace(
        culprit, confirmed_ratio=None)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda d: d.update(schema_version=99), "schema_version 99"),
    (lambda d: d.update(status="maybe"), "not a valid culprit file"),
    (lambda d: d.pop("benchmark"), "not a valid culprit file"),
])
def test_broken_files_are_named(tmp_path: Path, edit, match: str) -> None:
    path = write_culprit(tmp_path / "c.json", _culprit())
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInputError, match=match) as info:
        read_culprit(path)
    assert str(path) in str(info.value)


def test_a_culprit_needs_its_sha_unless_ambiguous() -> None:
    with pytest.raises(InvalidInputError, match="needs its sha"):
        _culprit(sha=None)
