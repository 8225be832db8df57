"""corpus_from_raw_pairs: a raw pairs directory (recorded layout) into a NoiseCorpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.calibrate import corpus_from_raw_pairs

DATA = Path(__file__).resolve().parents[1] / "data"
GOOD = DATA / "pytest_benchmark_good.json"
SHA = "d00e200a087a990d17b1e05821d5cb6e29ef2e94"  # the commit the fixture file names


def _side(scale: float, *, commit_info: bool = True) -> bytes:
    doc = json.loads(GOOD.read_text())
    if not commit_info:  # a pytest-benchmark run outside git records no commit
        doc.pop("commit_info", None)
    for bench in doc["benchmarks"]:
        bench["stats"]["data"] = [v * scale for v in bench["stats"]["data"]]
    return json.dumps(doc).encode()


def make_raw_dir(tmp_path: Path, lines: list[dict], sides: dict[int, tuple[str, ...]], *,
                 no_commit: tuple[int, ...] = ()) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    for index, present in sides.items():
        for side in present:
            scale = 1.0 + index / 10 + (0.05 if side == "b" else 0.0)
            (raw / f"pair-{index:04d}-{side}.json").write_bytes(
                _side(scale, commit_info=index not in no_commit))
    (raw / "orders.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return raw


def test_builds_a_corpus_and_skips_failed_and_unfinished_pairs(tmp_path: Path) -> None:
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0},
             {"pair": 1, "order": ["b", "a"], "ok": False, "t": 2.0},
             {"pair": 2, "order": ["b", "a"], "ok": True, "t": 3.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("b",), 2: ("a", "b"),
                                         3: ("a",)})  # pair 3: killed before its b side
    skips: list[tuple[int | None, str]] = []
    corpus = corpus_from_raw_pairs(raw, on_skip=lambda i, why: skips.append((i, why)))
    assert [i for i, _ in skips] == [3, 1]
    assert "2 pair(s)" in corpus.note and "2 skipped" in corpus.note
    assert corpus.commit == SHA and corpus.suite == "benchmarks"
    assert corpus.benchmarks == tuple(sorted(corpus.benchmarks))
    assert len(corpus.benchmarks) == 4
    assert [p.order for p in corpus.pairs] == [("a", "b"), ("b", "a")]
    assert dict(corpus.machine)["cpu_model"] == "Intel(R) Xeon(R) Processor"
    assert dict(corpus.machine)["cpu_count"] == "2"
    good = json.loads(GOOD.read_text())
    fib = next(b for b in good["benchmarks"] if b["fullname"] == "test_fx.py::test_fib")
    i = corpus.benchmarks.index("test_fx.py::test_fib")
    assert corpus.pairs[0].a[i] == pytest.approx(fib["stats"]["data"])
    assert corpus.pairs[1].b[i] == pytest.approx([v * 1.25 for v in fib["stats"]["data"]])


def test_a_torn_last_manifest_line_is_skipped(tmp_path: Path) -> None:
    raw = make_raw_dir(tmp_path, [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1}],
                       {0: ("a", "b"), 1: ("a", "b")})
    with (raw / "orders.jsonl").open("a") as fh:
        fh.write('{"pair": 1, "ord')
    corpus = corpus_from_raw_pairs(raw, note="recorded on a test box")
    assert len(corpus.pairs) == 1
    assert corpus.note.startswith("recorded on a test box (1 pair(s)")


def test_rejects_a_dir_without_usable_pairs(tmp_path: Path) -> None:
    raw = make_raw_dir(tmp_path, [{"pair": 0, "order": ["a", "b"], "ok": False, "t": 1}],
                       {0: ("a", "b")})
    with pytest.raises(InvalidInputError, match="no complete ok pair"):
        corpus_from_raw_pairs(raw)
    with pytest.raises(InvalidInputError, match=r"has no orders\.jsonl"):
        corpus_from_raw_pairs(DATA)


def test_rejects_a_corrupt_file_of_an_ok_pair(tmp_path: Path) -> None:
    raw = make_raw_dir(tmp_path, [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1}],
                       {0: ("a", "b")})
    path = raw / "pair-0000-b.json"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InvalidInputError, match=r"pair-0000-b\.json"):
        corpus_from_raw_pairs(raw)


_TWO_PAIRS = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1},
              {"pair": 1, "order": ["b", "a"], "ok": True, "t": 2}]


def test_commit_names_files_that_record_none_and_must_match_those_that_do(
        tmp_path: Path) -> None:
    bare = make_raw_dir(tmp_path / "bare", _TWO_PAIRS, {0: ("a", "b"), 1: ("a", "b")},
                        no_commit=(0, 1))
    assert corpus_from_raw_pairs(bare, commit="f" * 40).commit == "f" * 40
    with pytest.raises(InvalidInputError, match="do not name one commit"):
        corpus_from_raw_pairs(bare)
    some = make_raw_dir(tmp_path / "some", _TWO_PAIRS, {0: ("a", "b"), 1: ("a", "b")},
                        no_commit=(1,))
    assert corpus_from_raw_pairs(some, commit=SHA).commit == SHA  # pair 1 named by it
    with pytest.raises(InvalidInputError, match="do not name one commit"):
        corpus_from_raw_pairs(some)
    named = make_raw_dir(tmp_path / "named", _TWO_PAIRS, {0: ("a", "b"), 1: ("a", "b")})
    assert corpus_from_raw_pairs(named, commit=SHA).commit == SHA
    with pytest.raises(InvalidInputError, match=f"name commit {SHA[:12]}, not ffffffffffff"):
        corpus_from_raw_pairs(named, commit="f" * 40)


def test_a_failing_side_stops_and_keeps_the_raw_files(target_repo, make_settings) -> None:
    from perf_pipeline.errors import MeasurementError
    from perf_pipeline.measure.calibrate import measure_calibration

    settings = make_settings(target_repo, pytest_args=("--no-such-option",))
    started = []
    with pytest.raises(MeasurementError, match=r"calibration stopped at pair 0") as info:
        measure_calibration(settings, pairs=2, seed=1,
                            on_start=lambda raw, sha: started.append(raw))
    [raw] = started
    assert str(raw) in str(info.value)
    lines = [json.loads(x) for x in (raw / "orders.jsonl").read_text().splitlines()]
    assert [(x["pair"], x["ok"]) for x in lines] == [(0, False)]
    with pytest.raises(InvalidInputError, match="no complete ok pair"):
        corpus_from_raw_pairs(raw)


def test_measuring_uses_owned_temp_dirs_and_sweeps_stale_ones(
        target_repo, make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like run and ab: a SIGKILLed calibration's temp folder is swept at the next start,
    and this calibration's folder carries its pid (so a later start can sweep it)."""
    import os
    import subprocess
    import sys
    import tempfile

    from perf_pipeline.measure import session as session_module
    from perf_pipeline.measure.calibrate import measure_calibration
    from perf_pipeline.measure.runner import SuiteOutcome

    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = temp_root / f"perf-pipeline-calibrate-{int(done.stdout)}-abc123"
    stale.mkdir()
    folders: list[Path] = []

    def fake_run_suite(project_dir: Path, *, json_path: Path, **_: object) -> SuiteOutcome:
        folders.append(json_path.parent)
        json_path.write_bytes(_side(1.0))
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    # calibration runs its processes through session.run_prepared, as every runner does
    monkeypatch.setattr(session_module, "run_suite", fake_run_suite)
    run = measure_calibration(make_settings(target_repo), pairs=2, seed=3)
    assert not stale.exists()
    assert len(folders) == 4 and len(set(folders)) == 1
    assert folders[0].parent == temp_root
    assert folders[0].name.startswith(f"perf-pipeline-calibrate-{os.getpid()}-")
    assert not folders[0].exists()  # removed on the way out
    assert len(corpus_from_raw_pairs(run.raw_dir).pairs) == 2


def test_files_saved_without_raw_samples_are_named(tmp_path: Path) -> None:
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b")})
    doc = json.loads((raw / "pair-0000-b.json").read_text())
    for bench in doc["benchmarks"]:
        del bench["stats"]["data"]  # as pytest-benchmark saves without --benchmark-save-data
    (raw / "pair-0000-b.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match=r"pair-0000-b\.json: benchmark .* no raw "
                                                r"samples \(pytest-benchmark saves them"):
        corpus_from_raw_pairs(raw)


def test_a_full_disk_when_keeping_a_pair_is_an_error_naming_the_file(
        target_repo, make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while keeping a measured pair ended ``calibrate`` as an internal error
    (exit 3, "a bug in perf_pipeline") with a bare OSError."""
    import errno

    from perf_pipeline.errors import StoreError
    from perf_pipeline.measure import calibrate as calibrate_module
    from perf_pipeline.measure import session as session_module
    from perf_pipeline.measure.runner import SuiteOutcome

    def fake_run_suite(project_dir: Path, *, json_path: Path, **_: object) -> SuiteOutcome:
        json_path.write_bytes(_side(1.0))
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    def full(path: Path, data: bytes, **_: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(session_module, "run_suite", fake_run_suite)
    monkeypatch.setattr(calibrate_module, "write_atomic", full)
    with pytest.raises(StoreError, match=r"calibration raw file .*pair-0000-[ab]\.json: "
                                         r"cannot write it: No space left on device"):
        calibrate_module.measure_calibration(make_settings(target_repo), pairs=2, seed=3)


def test_calibrations_of_new_commits_keep_one_worktree_per_side(
        target_repo, make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each side's worktrees live in a folder of their own (``worktrees/calibrate-a``),
    which the pruning of runs never looks into: every calibrated commit left two
    checkouts (and their locks) for ever."""
    from perf_pipeline.measure import session as session_module
    from perf_pipeline.measure.calibrate import measure_calibration
    from perf_pipeline.measure.runner import SuiteOutcome

    def fake_run_suite(project_dir: Path, *, json_path: Path, **_: object) -> SuiteOutcome:
        json_path.write_bytes(_side(1.0))
        return SuiteOutcome(returncode=0, timed_out=False, duration_s=0.1, stdout_tail="",
                            stderr_tail="", json_path=json_path)

    monkeypatch.setattr(session_module, "run_suite", fake_run_suite)
    settings = make_settings(target_repo)
    for ref in ("HEAD~2", "HEAD~1", "HEAD"):
        last = measure_calibration(settings, pairs=2, seed=3, ref=ref)
    for side in ("a", "b"):
        root = settings.worktrees_dir / f"calibrate-{side}"
        assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == [last.sha]
        assert [p.name for p in (root / ".locks").iterdir()] == [f"{last.sha}.lock"]
