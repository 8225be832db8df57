"""ab_variance_prior: an A/B borrows this machine's newest calibrate recording, or says why not."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.analysis import build_baseline, noise_profile, spread_change
from perf_pipeline.config import Settings
from perf_pipeline.measure.fingerprint import environment_fingerprint
from perf_pipeline.model import (
    NoiseCorpus,
    NoisePair,
    SuiteRun,
)
from perf_pipeline.pipeline import confirm_run
from perf_pipeline.pipeline.ab_prior import (
    ab_variance_prior,
    fresh_profile_here,
    previous_profile_here,
)
from perf_pipeline.store import write_noise_corpus
from perf_pipeline.workspace import Workspace

from .test_confirm import NAMES, FakeSource, commit_run

HERE = environment_fingerprint(packages=()).noise_machine
ELSEWHERE = (("arch", "riscv64"), ("cpu_count", "128"), ("cpu_model", "Elsewhere 9000"),
             ("os", "Linux"), ("python", "CPython 3.11.7"))


def make_corpus(machine: tuple[tuple[str, str], ...] = HERE, *, pairs: int = 40,
                noise: float = 0.08, seed: int = 1,
                names: tuple[str, ...] = NAMES) -> NoiseCorpus:
    """Pairs of one commit: each process its own factor, each benchmark its own noise."""
    rng = np.random.default_rng(seed)

    def process() -> tuple[tuple[float, ...], ...]:
        factor = rng.normal(0, 0.1)
        return tuple(tuple(1e-3 * np.exp(factor + rng.normal(0, noise) + rng.normal(0, 0.01, 5)))
                     for _ in names)

    return NoiseCorpus(
        suite="benchmarks", commit="a" * 40, recorded_at="2026-11-30T09:00:00+00:00",
        machine=machine, note="test", benchmarks=names,
        pairs=tuple(NoisePair(order=("a", "b"), started_at=f"2026-11-30T09:{i % 60:02d}:00+00:00",
                              a=process(), b=process()) for i in range(pairs)))


def calibrated(ws: Workspace, corpus: NoiseCorpus, path: Path,
               created_at: str = "2026-11-01T00:00:00+00:00") -> Path:
    """``corpus`` written and profiled as ``perf-pipeline calibrate`` leaves it."""
    write_noise_corpus(corpus, path)
    ws.store.record_noise_profile(noise_profile(corpus), corpus_path=str(path),
                                  created_at=created_at)
    return path


def test_the_newest_profile_of_this_machine_lends_its_rounds(tmp_path: Path) -> None:
    with Workspace(Settings(results_dir=tmp_path / "r")) as ws:
        calibrated(ws, make_corpus(HERE, pairs=40), tmp_path / "old.json.gz",
                    "2026-11-01T00:00:00+00:00")
        calibrated(ws, replace(make_corpus(HERE, pairs=60, seed=2), commit="b" * 40),
                    tmp_path / "new.json.gz", "2026-11-02T00:00:00+00:00")
        calibrated(ws, replace(make_corpus(ELSEWHERE, seed=3), commit="c" * 40),
                    tmp_path / "other.json.gz", "2026-11-03T00:00:00+00:00")
        choice = ab_variance_prior(ws, processes=2)
    assert choice.prior is not None
    assert choice.prior.names == tuple(sorted(NAMES)) and choice.prior.rounds == 30
    assert "bbbbbbbbbbbb" in choice.note and "30 rounds of 2 processes" in choice.note
    assert choice.prior.log_variance(NAMES[0], NAMES) is not None


def test_no_prior_without_a_profile_of_this_machine_and_the_note_says_how(tmp_path: Path
                                                                         ) -> None:
    with Workspace(Settings(results_dir=tmp_path / "r")) as ws:
        assert ab_variance_prior(ws, processes=2).prior is None  # no history at all
        calibrated(ws, make_corpus(ELSEWHERE), tmp_path / "c.json.gz", "2026-11-01T00:00:00+00:00")
        choice = ab_variance_prior(ws, processes=2)
    assert choice.prior is None
    assert "no noise profile of this machine" in choice.note
    assert "perf-pipeline calibrate" in choice.note


@pytest.mark.parametrize("damage", ["missing", "corrupt", "too_short"])
def test_an_unusable_corpus_gives_no_prior_and_loses_nothing(tmp_path: Path, damage: str
                                                            ) -> None:
    with Workspace(Settings(results_dir=tmp_path / "r")) as ws:
        path = calibrated(ws, make_corpus(HERE, pairs=12 if damage == "too_short" else 40),
                           tmp_path / "c.json.gz", "2026-11-01T00:00:00+00:00")
        before = path.read_bytes()
        if damage == "missing":
            path.unlink()
        elif damage == "corrupt":
            path.write_bytes(before[: len(before) // 2])
        choice = ab_variance_prior(ws, processes=2)
        assert choice.prior is None and "unusable" in choice.note
        if damage == "too_short":  # 12 pairs make 6 rounds of 2 processes per side
            assert "fewer than the 20" in choice.note and path.read_bytes() == before
        assert len(ws.store.noise_profiles()) == 1  # the profile is kept as it was


def test_ab_prior_off_is_honoured_from_the_environment(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from perf_pipeline.config import load_settings
    from perf_pipeline.errors import InvalidInputError

    monkeypatch.setenv("PERF_PIPELINE_AB_PRIOR", "off")
    with Workspace(load_settings(results_dir=tmp_path / "r")) as ws:
        calibrated(ws, make_corpus(HERE), tmp_path / "c.json.gz", "2026-11-01T00:00:00+00:00")
        choice = ab_variance_prior(ws, processes=2)
    assert choice.prior is None and "ab_prior = off" in choice.note
    monkeypatch.setenv("PERF_PIPELINE_AB_PRIOR", "sometimes")
    with pytest.raises(InvalidInputError, match="ab_prior"):
        load_settings()


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_a_confirmation_on_this_machine_uses_its_prior_and_says_so(
        tiny_target, tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(5)

    def run(i: int, sha: str, slow: float = 1.0) -> SuiteRun:
        return commit_run(rng, i, sha, slow)

    base_sha, sha = tiny_target.shas[0], tiny_target.shas[1]
    baseline = build_baseline([run(i, base_sha) for i in range(6)],
                              created_at="2024-02-01T00:00:00+00:00", policy="rolling")
    settings = Settings(repo_path=tiny_target.repo, results_dir=tmp_path / "results",
                        threshold=1.1, ab_prior=mode)
    with Workspace(settings) as ws:
        calibrated(ws, make_corpus(HERE), tmp_path / "c.json.gz", "2026-11-01T00:00:00+00:00")
        confirmation = confirm_run(ws, run(10, sha, slow=2.0), baseline,
                                   rounds=FakeSource({NAMES[0]: 2.0}, noise=0.08, seed=3))
    assert confirmation.status == "confirmed" and confirmation.has_regression
    [row] = [r for r in confirmation.ab.results if r.name == NAMES[0]]
    used = mode == "auto"
    assert ("moderated" in row.comparison.method) is used
    assert any("variance prior" in note for note in confirmation.notes) is used


@pytest.mark.parametrize("recorded_noise, noisier", [(0.08, False), (0.02, True)],
                         ids=["as recorded", "noisier than recorded"])
def test_a_confirmation_says_when_the_machine_was_noisier_than_its_recording(
        tiny_target, tmp_path: Path, recorded_noise: float, noisier: bool) -> None:
    """A recording of a quieter day: the confirmation still decides (its prior scaled
    up), and its notes, which the report shows, say the recording may be out of date."""
    rng = np.random.default_rng(6)
    base_sha, sha = tiny_target.shas[0], tiny_target.shas[1]
    baseline = build_baseline([commit_run(rng, i, base_sha, 1.0) for i in range(6)],
                              created_at="2024-02-01T00:00:00+00:00", policy="rolling")
    settings = Settings(repo_path=tiny_target.repo, results_dir=tmp_path / "results",
                        threshold=1.1)
    with Workspace(settings) as ws:
        calibrated(ws, make_corpus(HERE, noise=recorded_noise), tmp_path / "c.json.gz")
        confirmation = confirm_run(ws, commit_run(rng, 10, sha, 2.0), baseline,
                                   rounds=FakeSource({NAMES[0]: 2.0}, noise=0.08, seed=4))
    assert confirmation.status == "confirmed" and confirmation.has_regression
    assert any("noisier in this A/B than in its noise recording" in note
               for note in confirmation.notes) is noisier


def test_a_profile_is_fresh_only_for_this_machine_and_within_its_age(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 11, 5, tzinfo=timezone.utc)
    with Workspace(Settings(results_dir=tmp_path / "r")) as ws:
        def fresh(days: float, at: datetime = now, processes: int = 2) -> bool:
            return fresh_profile_here(ws, max_age_days=days, processes=processes,
                                      now=at) is not None

        assert not fresh(7)  # no history
        calibrated(ws, replace(make_corpus(ELSEWHERE), recorded_at="2026-11-04T00:00:00+00:00"),
                   tmp_path / "other.json.gz")
        assert not fresh(7)  # not this machine
        path = calibrated(ws, replace(make_corpus(HERE),
                                      recorded_at="2026-11-03T00:00:00+00:00"),
                          tmp_path / "here.json.gz")
        assert fresh(7)  # 2 days old
        later = datetime(2026, 11, 11, tzinfo=timezone.utc)  # 8 days old
        assert not fresh(7, later) and fresh(8.5, later)
        # Recent but of no use to the A/B: too few pairs for its rounds, or gone.
        assert not fresh(7, processes=5)  # 40 pairs: 8 rounds of 5 processes per side
        path.unlink()
        assert not fresh(7)


def test_noise_marks_the_profile_this_machines_ab_borrows(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from perf_pipeline.cli import main

    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_RESULTS_DIR", "PERF_PIPELINE_AB_PRIOR"):
        monkeypatch.delenv(var, raising=False)
    results = tmp_path / "results"
    with Workspace(Settings(results_dir=results)) as ws:
        # One benchmark: NaN spreads (no suite factor), which must not hide the mark.
        calibrated(ws, make_corpus(HERE, names=NAMES[:1]), tmp_path / "here.json.gz")
        calibrated(ws, replace(make_corpus(ELSEWHERE), commit="c" * 40),
                   tmp_path / "other.json.gz", created_at="2026-11-02T00:00:00+00:00")
    assert main(["noise", "--results-dir", str(results)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "pairs ·" in ln]
    assert len(lines) == 2
    assert lines[0].startswith("cccccccccccc") and "variance prior" not in lines[0]
    assert lines[1].startswith("aaaaaaaaaaaa") and "A/B variance prior" in lines[1]


def test_an_unreadable_history_gives_no_prior_not_a_failed_ab(tmp_path: Path) -> None:
    results = tmp_path / "r"
    results.mkdir()
    (results / "perf_history.db").write_bytes(b"not a database at all" * 100)
    with Workspace(Settings(results_dir=results)) as ws:
        choice = ab_variance_prior(ws, processes=2)
    assert choice.prior is None and "no noise profile of this machine" in choice.note


def test_the_newest_usable_recording_is_used_and_the_unusable_one_named(tmp_path: Path
                                                                       ) -> None:
    with Workspace(Settings(results_dir=tmp_path / "r")) as ws:
        # Imported today from an old raw directory: older noise, stored last.
        calibrated(ws, replace(make_corpus(HERE, seed=4), commit="d" * 40,
                               recorded_at="2026-10-01T00:00:00+00:00"),
                   tmp_path / "old.json.gz", "2026-11-09T00:00:00+00:00")
        usable = calibrated(ws, replace(make_corpus(HERE, seed=5), commit="e" * 40,
                                        recorded_at="2026-11-02T00:00:00+00:00"),
                            tmp_path / "mid.json.gz", "2026-11-02T00:00:00+00:00")
        broken = calibrated(ws, replace(make_corpus(HERE, seed=6), commit="f" * 40,
                                        recorded_at="2026-11-05T00:00:00+00:00"),
                            tmp_path / "new.json.gz", "2026-11-05T00:00:00+00:00")
        broken.unlink()
        choice = ab_variance_prior(ws, processes=2)
        assert choice.prior is not None and choice.profile.commit == "e" * 40
        assert "ffffffffffff" in choice.note and "unusable" in choice.note
        usable.unlink()  # then the oldest recording is the one left
        assert ab_variance_prior(ws, processes=2).profile.commit == "d" * 40


def test_a_new_recording_is_compared_with_this_machines_newest_earlier_one(
        tmp_path: Path) -> None:
    """``calibrate`` tells the user how the machine changed since its last recording
    (the A/Bs' prior changes with it); the same recording imported again, or another
    machine's, has nothing here to be compared with."""
    quiet = make_corpus(HERE, noise=0.02, seed=1)
    noisy = replace(make_corpus(HERE, noise=0.06, seed=2),
                    recorded_at="2026-12-02T06:33:00+00:00")
    with Workspace(Settings(results_dir=tmp_path / "results")) as ws:
        assert previous_profile_here(ws, noise_profile(noisy)) is None  # nothing recorded yet
        calibrated(ws, quiet, tmp_path / "quiet.json.gz")
        assert previous_profile_here(ws, noise_profile(quiet)) is None  # itself, imported again
        previous = previous_profile_here(ws, noise_profile(noisy))
        assert previous is not None and previous.recorded_at == quiet.recorded_at
        change = spread_change(noise_profile(noisy), previous)
        assert change is not None and 2.0 < change.ratio < 4.5  # about 3
        elsewhere = replace(noisy, machine=ELSEWHERE)
        assert previous_profile_here(ws, noise_profile(elsewhere)) is None
        # An import of pairs recorded before every stored one has no previous recording.
        older = replace(noisy, recorded_at="2026-10-01T00:00:00+00:00")
        assert previous_profile_here(ws, noise_profile(older)) is None


def test_a_fleet_machine_never_takes_another_machines_recording_of_the_same_hardware(
        tmp_path: Path) -> None:
    """bench-a and bench-b, two boxes of one instance type, share a history (their
    hardware ids are equal). bench-a's recording was bench-b's prior, its fresh
    recording for ``calibrate --max-age`` and its "previous recording"; a recording
    that names no machine (stored before recordings named one) is still anyone's of
    this hardware."""
    from perf_pipeline.pipeline.ab_prior import MACHINE_ID_KEY, profiles_here

    history = tmp_path / "shared.db"
    on_a = Settings(results_dir=tmp_path / "a", history_url=str(history), machine_id="bench-a")
    on_b = replace(on_a, results_dir=tmp_path / "b", machine_id="bench-b")
    of_a = replace(make_corpus(HERE), machine=(*HERE, (MACHINE_ID_KEY, "bench-a")),
                   recorded_at="2026-11-03T00:00:00+00:00")
    with Workspace(on_a) as ws:
        calibrated(ws, of_a, tmp_path / "a.json.gz")
        assert [p.commit for p, _ in profiles_here(ws)] == [of_a.commit]
        assert ab_variance_prior(ws, processes=2).prior is not None
    with Workspace(on_b) as ws:
        assert profiles_here(ws) == []
        assert ab_variance_prior(ws, processes=2).prior is None
        assert fresh_profile_here(ws, max_age_days=7, processes=2,
                                  now=datetime(2026, 11, 4, tzinfo=timezone.utc)) is None
        later = replace(of_a, machine=(*HERE, (MACHINE_ID_KEY, "bench-b")),
                        recorded_at="2026-11-05T00:00:00+00:00")
        assert previous_profile_here(ws, noise_profile(later)) is None
        legacy = replace(make_corpus(HERE, seed=2), commit="d" * 40)  # no machine named
        calibrated(ws, legacy, tmp_path / "legacy.json.gz")
        assert [p.commit for p, _ in profiles_here(ws)] == ["d" * 40]


def test_calibrate_names_the_machine_that_measured_the_recording(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from perf_pipeline.measure.calibrate import CalibrationRun
    from perf_pipeline.pipeline import calibrate
    from perf_pipeline_tests.measure.test_calibrate import SHA, make_raw_dir

    lines = [{"pair": i, "order": ["a", "b"], "ok": True, "t": float(i)} for i in range(2)]
    raw = make_raw_dir(tmp_path, lines, {0: ("a", "b"), 1: ("a", "b")})
    monkeypatch.setattr("perf_pipeline.pipeline.calibration.measure_calibration",
                        lambda *a, **k: CalibrationRun(raw_dir=raw, sha=SHA, pairs=2, seed=1))
    monkeypatch.setenv("PERF_PIPELINE_MACHINE_ID", "bench-a")
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_RESULTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    with Workspace(Settings(results_dir=tmp_path / "r", machine_id="bench-a")) as ws:
        outcome = calibrate(ws, pairs=2)
        (stored, _, _), = ws.store.noise_profiles()
    assert dict(outcome.corpus.machine)["machine_id"] == "bench-a"
    assert dict(stored.machine)["machine_id"] == "bench-a"
    from perf_pipeline.cli import main  # `noise` tells the fleet's recordings apart

    assert main(["noise", "--results-dir", str(tmp_path / "r")]) == 0
    assert "machine bench-a, " in capsys.readouterr().out
