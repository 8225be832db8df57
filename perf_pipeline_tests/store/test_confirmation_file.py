"""The confirmation file: a round trip keeps every field; unknown versions are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.store import read_confirmation, write_confirmation
from perf_pipeline_tests.pipeline.test_confirm import NAMES, FakeSource, _confirm, _screen


def test_round_trip_keeps_both_stages(tmp_path: Path) -> None:
    c = _confirm(_screen({NAMES[3]: 1.45}), FakeSource({NAMES[3]: 1.5}))
    path = write_confirmation(tmp_path / "c" / "x.json", c)
    assert read_confirmation(path) == c
    assert read_confirmation(tmp_path / "missing.json") is None


def test_unknown_version_and_broken_files_are_refused(tmp_path: Path) -> None:
    c = _confirm(_screen({}), FakeSource({}))
    path = write_confirmation(tmp_path / "x.json", c)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(InvalidInputError, match="schema_version"):
        read_confirmation(path)
    path.write_text(json.dumps({**data, "status": "maybe"}))
    with pytest.raises(InvalidInputError, match="not a valid confirmation file"):
        read_confirmation(path)
    path.write_text("{")
    with pytest.raises(InvalidInputError, match=r"confirmation file .*x\.json is not valid JSON"):
        read_confirmation(path)


def test_suspects_round_trip_and_older_files_have_none(tmp_path: Path) -> None:
    c = _confirm(_screen({NAMES[3]: 1.45}, unflagged=(1.0, 0.5)), FakeSource({NAMES[3]: 1.5}))
    assert c.suspects
    path = write_confirmation(tmp_path / "x.json", c)
    assert read_confirmation(path) == c
    data = json.loads(path.read_text())
    del data["suspects"]  # written before suspects existed
    path.write_text(json.dumps(data))
    assert read_confirmation(path).suspects == ()
