"""performance_baseline.json: round trip, atomic replacement, history, strict reading."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import Baseline, BaselineEntry
from perf_pipeline.store import read_baseline, write_baseline

from .conftest import ENV


def make_baseline(created_at: str = "2024-03-01T12:00:00+00:00", *,
                  scale: float = 1.0) -> Baseline:
    return Baseline(
        policy="rolling", created_at=created_at,
        source_run_ids=("run-1", "run-2"), source_commits=("a" * 40, "b" * 40),
        entries=(
            BaselineEntry(name="test_ünïcode['x']", metric="time_s",
                          run_values=(0.1 * scale, 0.30000000000000004 * scale),
                          samples=(1e-9, 2.5e-3)),
            BaselineEntry(name="test_b", metric="peak_rss_bytes", run_values=(1e6,),
                          runs=(1,)),
        ),
        environment=ENV)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "baseline" / "performance_baseline.json"
    baseline = make_baseline()
    assert write_baseline(path, baseline) == path
    assert read_baseline(path) == baseline
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1
    assert read_baseline(path).environment.fingerprint == ENV.fingerprint
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_file_written_before_run_indexes_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "performance_baseline.json"
    write_baseline(path, make_baseline())
    data = json.loads(path.read_text())
    assert data["entries"][1]["runs"] == [1] and "runs" not in data["entries"][0]
    del data["entries"][1]["runs"]
    path.write_text(json.dumps(data))
    assert read_baseline(path).entries[1].runs == ()  # the newest runs, as before


def test_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert read_baseline(tmp_path / "nope.json") is None


def test_replacing_keeps_every_previous_baseline(tmp_path: Path) -> None:
    path = tmp_path / "performance_baseline.json"
    first = make_baseline("2024-03-01T12:00:00+00:00")
    second = make_baseline("2024-03-02T12:00:00+00:00", scale=2)
    third = make_baseline("2024-03-03T12:00:00+00:00", scale=3)
    write_baseline(path, first)
    first_bytes = path.read_bytes()
    write_baseline(path, second)
    write_baseline(path, third)
    current = read_baseline(path)
    assert current is not None
    assert current.previous == ("2024-03-01T12:00:00+00:00", "2024-03-02T12:00:00+00:00")
    assert dataclasses.replace(current, previous=()) == third
    archived = sorted((tmp_path / "history").iterdir())
    assert [p.name for p in archived] == [
        "performance_baseline-2024-03-01T12-00-00-00-00.json",
        "performance_baseline-2024-03-02T12-00-00-00-00.json"]
    assert archived[0].read_bytes() == first_bytes
    assert read_baseline(archived[1]).entries == second.entries


def test_same_created_at_twice_never_overwrites_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "performance_baseline.json"
    stamp = "2024-03-01T12:00:00+00:00"
    write_baseline(path, make_baseline(stamp, scale=1))
    write_baseline(path, make_baseline("2024-03-09T00:00:00Z", scale=2))
    write_baseline(path, make_baseline(stamp, scale=3))  # e.g. a clock reset
    write_baseline(path, make_baseline("2024-03-10T00:00:00Z", scale=4))
    scales = sorted(read_baseline(p).entries[0].run_values[0]
                    for p in (tmp_path / "history").iterdir())
    assert scales == pytest.approx([0.1, 0.2, 0.3])
    write_baseline(path, make_baseline("2024-03-10T00:00:00Z", scale=4))  # identical: no copy
    assert len(list((tmp_path / "history").iterdir())) == 3


def test_an_unreadable_old_baseline_is_archived_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "performance_baseline.json"
    path.write_text('{"schema_version": 1, "entr')
    write_baseline(path, make_baseline())
    (archived,) = (tmp_path / "history").iterdir()
    assert archived.read_text() == '{"schema_version": 1, "entr'
    assert "unreadable" in archived.name
    assert read_baseline(path) == make_baseline()


def test_a_failed_write_leaves_the_old_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "performance_baseline.json"
    write_baseline(path, make_baseline())
    before = path.read_bytes()

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(Exception, match="simulated") as info:
        write_baseline(path, make_baseline("2024-04-01T00:00:00Z", scale=5))
    assert type(info.value).__name__ == "StoreError" and str(path) in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_archive_write_leaves_no_half_archive(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while the old baseline is archived: the archive was written in place,
    so a truncated copy stayed under its name for ever (the next write archived the good
    copy as ``-2``). An archive is now complete or absent."""
    path = tmp_path / "performance_baseline.json"
    write_baseline(path, make_baseline())
    before = path.read_bytes()
    real_fsync = os.fsync

    def disk_full(fd: int) -> None:  # half the data reached the disk, then ENOSPC
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        raise OSError(errno.ENOSPC, "No space left on device (simulated)")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StoreError, match="simulated"):
        write_baseline(path, make_baseline("2024-04-01T00:00:00Z", scale=5))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before
    assert list((tmp_path / "history").iterdir()) == []  # no half copy, no temp file
    write_baseline(path, make_baseline("2024-04-01T00:00:00Z", scale=5))
    (archived,) = (tmp_path / "history").iterdir()
    assert archived.name == "performance_baseline-2024-03-01T12-00-00-00-00.json"
    assert archived.read_bytes() == before


@pytest.mark.parametrize(("content", "match"), [
    ('{"schema_version": 1, "policy": "rolling", "crea', "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"schema_version": 99, "policy": "rolling"}', "schema_version 99"),
    ('{"policy": "rolling"}', "schema_version None"),
    ('{"schema_version": 1, "policy": "rolling"}', "incomplete"),
    ('{"schema_version": 1, "policy": "weekly", "created_at": "x", "source_run_ids": [],'
     ' "source_commits": [], "entries": []}', "weekly"),
    ('{"schema_version": 1, "policy": "rolling", "created_at": "x", "source_run_ids": [],'
     ' "source_commits": [], "entries": [{"name": "a", "metric": "time_s",'
     ' "run_values": ["fast"]}]}', "incomplete"),
    ('{"schema_version": 1, "kind": "perf_pipeline.run", "policy": "rolling"}', "not a baseline"),
    # Which run each value came from: integers, one per value, within the source runs.
    ('{"schema_version": 1, "policy": "rolling", "created_at": "x", "source_run_ids": ["r"],'
     ' "source_commits": [], "entries": [{"name": "a", "metric": "time_s",'
     ' "run_values": [1.0], "runs": [1]}]}', "beyond its 1 source runs"),
    ('{"schema_version": 1, "policy": "rolling", "created_at": "x", "source_run_ids": ["r"],'
     ' "source_commits": [], "entries": [{"name": "a", "metric": "time_s",'
     ' "run_values": [1.0], "runs": [0.0]}]}', "not an integer"),
    ('{"schema_version": 1, "policy": "rolling", "created_at": "x", "source_run_ids": ["r", "s"],'
     ' "source_commits": [], "entries": [{"name": "a", "metric": "time_s",'
     ' "run_values": [1.0, 2.0], "runs": [1, 0]}]}', "increasing run indexes"),
])
def test_rejects_corrupt_or_unknown_files(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "performance_baseline.json"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=match) as info:
        read_baseline(path)
    assert str(path) in str(info.value)


def test_two_writers_at_once_lose_no_baseline(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes replacing the baseline at once (two ``analyze --update-baseline``,
    Dagster's ``performance_baseline`` beside a CLI ``analyze``): both read and archived
    the same old file, then the second write replaced the first one's baseline, which
    was never archived (60 writes from two processes kept 50)."""
    import threading
    import time

    from perf_pipeline.store import baseline_file

    path = tmp_path / "baseline" / "performance_baseline.json"
    write_baseline(path, make_baseline("2024-03-01T00:00:00+00:00"))
    real = baseline_file.write_atomic
    first_inside = threading.Event()

    def slow_first_write(target: Path, data: bytes, **kwargs: object) -> Path:
        if not first_inside.is_set():  # writer A, between its archive and its write
            first_inside.set()
            time.sleep(0.5)
        return real(target, data, **kwargs)

    monkeypatch.setattr(baseline_file, "write_atomic", slow_first_write)
    a = threading.Thread(target=write_baseline,
                         args=(path, make_baseline("2024-03-02T00:00:00+00:00", scale=2)))
    a.start()
    assert first_inside.wait(5)
    write_baseline(path, make_baseline("2024-03-03T00:00:00+00:00", scale=3))  # writer B
    a.join()
    kept = {read_baseline(f).created_at  # type: ignore[union-attr]
            for f in (path, *(path.parent / "history").glob("*.json"))}
    assert kept == {"2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00",
                    "2024-03-03T00:00:00+00:00"}
