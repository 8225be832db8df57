"""``perf-pipeline calibrate``: import a recorded raw pairs dir; measure pairs end to end."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.config import Settings
from perf_pipeline.measure.calibrate import ORDERS_FILE
from perf_pipeline.store import HistoryStore, load_noise_corpus, write_noise_corpus
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.measure.test_calibrate import make_raw_dir
from perf_pipeline_tests.pipeline.test_ab_prior import (
    ELSEWHERE,
    HERE,
    calibrated,
    make_corpus,
)


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_RESULTS_DIR", "PERF_PIPELINE_REPO"):
        monkeypatch.delenv(var, raising=False)


def test_import_raw_writes_the_corpus_and_the_profile(tmp_path: Path, capsys) -> None:
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0},
             {"pair": 1, "order": ["b", "a"], "ok": False, "t": 2.0},
             {"pair": 2, "order": ["b", "a"], "ok": True, "t": 3.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("a",), 2: ("a", "b")})
    results = tmp_path / "results"
    code = main(["calibrate", "--import-raw", str(raw), "--results-dir", str(results),
                 "--note", "fixture [bold]pairs[/]"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [corpus_path] = (results / "noise").glob("*.json.gz")
    assert str(corpus_path) in captured.out
    assert "skipped pair 1: marked not ok" in captured.err
    corpus = load_noise_corpus(corpus_path)
    assert len(corpus.pairs) == 2 and corpus.note.startswith("fixture [bold]pairs[/] (2 pair")
    with HistoryStore.open(results / "perf_history.db") as store:
        [(profile, stored_path, _)] = store.noise_profiles()
    assert stored_path == str(corpus_path.resolve())
    assert [b.name for b in profile.benchmarks] == list(corpus.benchmarks)
    assert "test_sort[100]" in captured.out  # the table, names escaped for rich


def test_an_existing_corpus_is_never_overwritten(tmp_path: Path, capsys) -> None:
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0},
             {"pair": 1, "order": ["b", "a"], "ok": True, "t": 2.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("a", "b")})
    kept = tmp_path / "evidence.json.gz"
    kept.write_bytes(b"a recording someone committed")
    code = main(["calibrate", "--import-raw", str(raw), "--out", str(kept),
                 "--results-dir", str(tmp_path / "results")])
    assert code == 2
    assert "is never overwritten" in capsys.readouterr().err
    assert kept.read_bytes() == b"a recording someone committed"


def test_ref_must_agree_with_the_commit_the_raw_files_name(tiny_target, tmp_path: Path,
                                                           capsys) -> None:
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0},
             {"pair": 1, "order": ["b", "a"], "ok": True, "t": 2.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("a", "b")})
    code = main(["calibrate", tiny_target.shas[0], "--import-raw", str(raw), "--repo",
                 str(tiny_target.repo), "--results-dir", str(tmp_path / "results")])
    assert code == 2
    assert "name commit" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["calibrate"], "--pairs is required"),
    (["calibrate", "--pairs", "3", "--import-raw", "x"], "do not also give"),
    (["calibrate", "--import-raw", "no-such-dir"], "does not exist"),
    (["calibrate", "--pairs", "2", "--max-age", "0"], "--max-age must be"),
    (["calibrate", "--pairs", "2", "--max-age", "nan"], "--max-age must be"),
])
def test_bad_usage_exits_2(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    assert main([*argv, "--results-dir", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_calibrate_two_pairs_end_to_end(tiny_target, tmp_path: Path, capsys,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    config = tiny_target.write_config(tmp_path / "perf_pipeline.toml", results_dir=results)
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    head = tiny_target.shas[-1]
    code = main(["calibrate", "--pairs", "2", "--seed", "7"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [raw_dir] = (results / "raw" / "calibrate").iterdir()
    assert raw_dir.name.endswith(head[:12])
    names = sorted(p.name for p in raw_dir.iterdir())
    assert names == [ORDERS_FILE, "pair-0000-a.json", "pair-0000-b.json",
                     "pair-0001-a.json", "pair-0001-b.json"]
    for name in names[1:]:  # raw process outputs are kept read-only
        assert not os.stat(raw_dir / name).st_mode & (stat.S_IWUSR | stat.S_IWGRP)
    orders = [json.loads(line) for line in (raw_dir / ORDERS_FILE).read_text().splitlines()]
    assert [o["ok"] for o in orders] == [True, True]
    # two worktrees of the same commit, one per side
    assert (results / "worktrees" / "calibrate-a" / head).is_dir()
    assert (results / "worktrees" / "calibrate-b" / head).is_dir()
    [corpus_path] = (results / "noise").glob("*.json.gz")
    corpus = load_noise_corpus(corpus_path)
    assert corpus.commit == head and len(corpus.pairs) == 2
    assert [list(p.order) for p in corpus.pairs] == [o["order"] for o in orders]
    assert "seed 7" in corpus.note
    with HistoryStore.open(results / "perf_history.db") as store:
        [(profile, _, _)] = store.noise_profiles()
    assert profile.commit == head and profile.pairs == 2
    assert str(raw_dir) in captured.err  # where the files go is said before measuring
    # A scheduled job keeps the A/B's variance prior current (which recordings count is
    # tested in pipeline/test_ab_prior.py): with a recent, usable recording of this
    # machine (two pairs are too few for 10 rounds; this one has 20), nothing to do.
    from perf_pipeline.config import load_settings
    from perf_pipeline.workspace import Workspace
    from perf_pipeline_tests.pipeline.test_ab_prior import calibrated, make_corpus

    with Workspace(load_settings()) as ws:
        calibrated(ws, replace(make_corpus(names=corpus.benchmarks, pairs=20),
                               recorded_at=corpus.recorded_at), tmp_path / "usable.json.gz")
    assert main(["calibrate", "--pairs", "10", "--max-age", "7"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert len(list((results / "raw" / "calibrate").iterdir())) == 1


def test_import_raw_prints_hostile_names_and_paths_safely(tmp_path: Path, capsys) -> None:
    """Every piece of untrusted text calibrate prints goes through the CLI's escaping."""
    from perf_pipeline_tests.test_cli_hardening import HOSTILE

    names = [HOSTILE[0], HOSTILE[1], HOSTILE[5], HOSTILE[9]]  # markup, terminal escapes
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0},
             {"pair": 1, "order": ["b", "a"], "ok": True, "t": 2.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("a", "b")})
    for path in raw.glob("pair-*.json"):
        doc = json.loads(path.read_text())
        for i, bench in enumerate(doc["benchmarks"]):
            bench["fullname"] = f"tests/t.py::test_{i}{names[i]}"
        doc["perf_pipeline"]["environment"]["cpu_model"] = "cpu[/] \x1b[2J[bold]x"
        path.write_text(json.dumps(doc))
    hostile_dir = tmp_path / "[bold]x[" / "]raw"  # the path reads [bold]x[/]raw
    hostile_dir.parent.mkdir()
    raw.rename(hostile_dir)
    code = main(["calibrate", "--import-raw", str(hostile_dir), "--results-dir",
                 str(tmp_path / "results")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    text = captured.out + captured.err
    assert "Traceback" not in text and "\x1b" not in text
    assert f"raw:      {hostile_dir}" in captured.out
    assert "machine:  cpu[/] \\x1b[2J[bold]x x2" in captured.out
    for i, name in enumerate(names):
        shown = name.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        assert f"test_{i}{shown}" in captured.out


def test_sigterm_during_calibrate_exits_143(tmp_path: Path, capsys,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """calibrate runs suites, so SIGTERM/SIGHUP become ``Interrupted`` as in run and ab."""
    import signal

    def fake_calibrate(*args: object, **kwargs: object) -> None:
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("SIGTERM did not interrupt calibrate")

    monkeypatch.setattr("perf_pipeline.pipeline.calibrate", fake_calibrate)
    code = main(["calibrate", "--pairs", "2", "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 143, err
    assert "interrupted by signal SIGTERM" in err


def test_noise_shows_what_calibrate_stored(tmp_path: Path, capsys) -> None:
    results = tmp_path / "results"
    assert main(["noise", "--results-dir", str(results)]) == 0
    assert "no noise profile" in capsys.readouterr().out
    assert not (results / "perf_history.db").exists()  # asking creates nothing
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0},
             {"pair": 1, "order": ["b", "a"], "ok": True, "t": 2.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("a", "b")})
    assert main(["calibrate", "--import-raw", str(raw), "--results-dir", str(results)]) == 0
    capsys.readouterr()
    assert main(["noise", "--results-dir", str(results)]) == 0
    shown = capsys.readouterr().out
    assert "2 pairs" in shown and "test_sort[100]" in shown and "suite factor per pair" in shown
    assert ".json.gz" in shown


def _real_corpus_of(path: Path, *, benchmarks: int, pairs: int) -> Path:
    """The held-out real recording cut to its first ``benchmarks`` and ``pairs``."""
    real = load_noise_corpus(Path(__file__).parents[1] / "benchmarks" / "data" / "noise"
                             / "example-suite-unpinned.json.gz")
    cut = replace(real, benchmarks=real.benchmarks[:benchmarks], pairs=tuple(
        replace(p, a=p.a[:benchmarks], b=p.b[:benchmarks]) for p in real.pairs[:pairs]))
    return write_noise_corpus(cut, path)


def test_noise_corpus_prints_what_an_adaptive_ab_finds_on_it(tmp_path: Path, capsys) -> None:
    corpus = _real_corpus_of(tmp_path / "three.json.gz", benchmarks=3, pairs=44)
    code = main(["noise", "--corpus", str(corpus), "--results-dir", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "What perf-pipeline ab --adaptive finds on this noise" in captured.out
    assert str(corpus) in captured.out.replace("\n", "")
    for name in ("test_batch_inference_performance", "test_data_generation_performance",
                 "test_encoding_performance"):
        assert name in captured.out
    assert "+5% found in" in captured.out and "smallest change found in 90%" in captured.out
    assert "found in 90% of A/Bs: +5% in " in captured.out
    assert "22 recorded rounds" in captured.out
    assert not (tmp_path / "r" / "perf_history.db").exists()  # a corpus alone needs no db


def test_noise_detectable_needs_a_usable_recording(tmp_path: Path, capsys) -> None:
    results = tmp_path / "results"
    assert main(["noise", "--detectable", "--results-dir", str(results)]) == 2
    assert "no noise profile" in capsys.readouterr().err
    assert main(["noise", "--corpus", str(tmp_path / "gone.json.gz"),
                 "--results-dir", str(results)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    lines = [{"pair": 0, "order": ["a", "b"], "ok": True, "t": 1.0},
             {"pair": 1, "order": ["b", "a"], "ok": True, "t": 2.0}]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("a", "b")})
    assert main(["calibrate", "--import-raw", str(raw), "--results-dir", str(results)]) == 0
    assert "note: no table of detectable changes: the recording holds 2 pairs" in (
        capsys.readouterr().err)
    assert main(["calibrate", "--import-raw", str(raw), "--results-dir", str(results),
                 "--no-detectable", "--out", str(tmp_path / "again.json.gz")]) == 0
    assert "detectable" not in capsys.readouterr().err
    # The fixture's pairs were recorded on another machine: none of this one's to replay.
    assert main(["noise", "--detectable", "--results-dir", str(results)]) == 2
    shown = capsys.readouterr()
    assert "2 pairs" in shown.out and "no noise profile of this machine" in shown.err
    assert "Intel(R) Xeon(R) Processor x2" in shown.err and "--corpus PATH" in shown.err
    # Asked for outright, a recording too short for it is an error, not a note.
    with Workspace(Settings(results_dir=results)) as ws:
        calibrated(ws, make_corpus(HERE, pairs=2), tmp_path / "short.json.gz",
                   "2026-11-05T00:00:00+00:00")
    assert main(["noise", "--detectable", "--results-dir", str(results)]) == 2
    assert "distinct rounds" in capsys.readouterr().err


def test_noise_detectable_replays_this_machines_recording(tmp_path: Path, capsys) -> None:
    """A history shared with other machines (CI runners, a PostgreSQL history): the
    newest recording of *any* machine was replayed, another box's noise as this one's."""
    results = tmp_path / "results"
    with Workspace(Settings(results_dir=results)) as ws:
        calibrated(ws, make_corpus(HERE, pairs=44, names=("test_here_a", "test_here_b")),
                   tmp_path / "here.json.gz", "2026-11-01T00:00:00+00:00")
        calibrated(ws, replace(make_corpus(ELSEWHERE, pairs=44, seed=3,
                                           names=("test_there_a", "test_there_b")),
                               commit="c" * 40),
                   tmp_path / "elsewhere.json.gz", "2026-11-03T00:00:00+00:00")
    assert main(["noise", "--detectable", "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    replay = out[out.index("What perf-pipeline ab --adaptive finds"):]
    flat = replay.replace("\n", "")
    assert "this machine's recording of aaaaaaaaaaaa" in flat and "here.json.gz" in flat
    assert "test_here_a" in replay and "test_there_a" not in replay
    assert "elsewhere.json.gz" not in flat
