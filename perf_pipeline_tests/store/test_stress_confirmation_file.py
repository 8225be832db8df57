"""The stress confirmation file: a file written before its reader and writer moved to
store/ (``data/stress_confirmation_v1.json``, by ``pipeline/stress_confirm.py`` at
4c0643d) reads back whole and is written again byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    FigureTally,
    StressConfirmation,
    StressConfirmationRecord,
    Verdict,
)
from perf_pipeline.store import read_stress_confirmation_file, write_stress_confirmation_file

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "stress_confirmation_v1.json"


def test_a_file_of_the_old_writer_reads_back_whole() -> None:
    record = read_stress_confirmation_file(FIXTURE)
    assert record is not None
    assert (record.sha, record.baseline_sha) == ("b" * 40, "a" * 40)
    assert (record.run_id, record.baseline_run_id) == ("run-2", "run-1")
    assert record.created_at == "2026-12-03T09:45:00+00:00"
    assert record.raw_dir == "/results/raw/stress-pairs/bbbb"
    assert record.notes == ('Pairs ended early: été "quoted".',)
    c = record.confirmation
    assert (c.pairs, c.pairs_used, c.alpha, c.level) == (12, 12, 0.05, 0.0125)
    assert [t.verdict for t in c.tallies] == [Verdict.REGRESSION, Verdict.UNCHANGED,
                                              Verdict.UNCHANGED, Verdict.INCONCLUSIVE]
    flood, sweep, _, gone = c.tallies
    assert flood.key == ("tests/test_stress.py::test_flood", "flood", "throughput_ops_s")
    assert len(flood.changes) == 12 and flood.changes[0] == 0.9162907318741551
    assert (flood.margin, flood.p_value, flood.worse_by_margin) == (
        0.26236426446749106, 0.000244140625, 12)
    assert sweep.changes[1] == -0.07000000000000006
    assert (gone.changes, gone.margin, gone.p_value) == ((), None, None)
    assert all(t.screen is None for t in c.tallies)  # the screen's rows are not kept
    assert c.confirmed == (flood,)


def test_the_old_writers_file_is_written_again_byte_for_byte(tmp_path: Path) -> None:
    record = read_stress_confirmation_file(FIXTURE)
    assert record is not None
    path = write_stress_confirmation_file(tmp_path / "confirmation" / "b.stress.json", record)
    assert path.read_bytes() == FIXTURE.read_bytes()
    assert read_stress_confirmation_file(path) == record


def test_a_round_trip_keeps_every_field_but_the_screen_rows(tmp_path: Path) -> None:
    tally = FigureTally(key=("t", "s", "p99_s"), changes=(0.5, -0.25), margin=0.4,
                        p_value=0.25, worse_by_margin=1, verdict=Verdict.INCONCLUSIVE)
    record = StressConfirmationRecord(
        sha="c" * 40, run_id="r2", baseline_run_id="r1", baseline_sha="d" * 40,
        confirmation=StressConfirmation(tallies=(tally,), pairs_used=2, pairs=10,
                                        alpha=0.01, level=0.01),
        created_at="2026-12-03T10:00:00+00:00")
    path = write_stress_confirmation_file(tmp_path / "x.stress.json", record)
    assert read_stress_confirmation_file(path) == record
    assert read_stress_confirmation_file(tmp_path / "missing.stress.json") is None


def test_unknown_version_and_broken_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.stress.json"
    data = json.loads(FIXTURE.read_text())
    path.write_text(json.dumps({**data, "schema_version": 2}))
    with pytest.raises(InvalidInputError, match=r"x\.stress\.json: not a valid stress "
                                                r"confirmation file \(schema_version 2"):
        read_stress_confirmation_file(path)
    path.write_text(json.dumps({**data, "figures": [{"test": "t"}]}))
    with pytest.raises(InvalidInputError, match="not a valid stress confirmation file"):
        read_stress_confirmation_file(path)
    path.write_text("{")
    with pytest.raises(InvalidInputError, match="not a valid stress confirmation file"):
        read_stress_confirmation_file(path)
