"""pipeline/culprit_search.py: how a change point's search is framed when the change point
is placed late (its good end already on the new level), on a real git repo and history db.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import TIME_METRIC, ChangePoint
from perf_pipeline.pipeline import bisect
from perf_pipeline.pipeline.bisect import (
    culprit_actions,
    culprit_path,
    plan_search,
    request_culprit_search,
)
from perf_pipeline.pipeline.culprit_search import MAX_WIDEN
from perf_pipeline.store import HistoryStore, read_culprit
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_bisect import STEP, repo_and_settings, run_at


class _Quiet:
    """An ``rng`` for ``run_at`` without noise: every level exactly as set."""

    def normal(self, *_args: object) -> float:
        return 0.0


def _placed_at(monkeypatch: pytest.MonkeyPatch, *at: int, shas: Sequence[str]) -> None:
    """The history's change points of the searched benchmark are at commits ``at`` (the
    detector's placement is what is under test here, not the detector)."""

    def change_points_of(name: str, *_args: object, **_kw: object) -> tuple[ChangePoint, ...]:
        if name != STEP:
            return ()
        return tuple(ChangePoint(name=STEP, metric=TIME_METRIC, run_id=shas[i], ratio=1.25)
                     for i in at)

    monkeypatch.setattr(bisect, "change_points_of", change_points_of)


def _drive(ws: Workspace, measure) -> tuple[list[str], list[str], set]:
    """Tick the sensor's logic until no search asks for a probe: the probes measured, the
    commits named for confirmation, the searches' (good, bad) ends."""
    probed: list[str] = []
    named: list[str] = []
    searched: set = set()
    for _ in range(12):
        actions = culprit_actions(ws)
        searched |= {(a.spec.good, a.spec.bad) for a in actions}
        probes = [a.sha for a in actions if a.kind == "measure"]
        named = [a.sha for a in actions if a.kind == "confirm"]
        if not probes:
            break
        for sha in probes:
            measure(sha)
        probed += probes
    return probed, named, searched


def _history(tmp_path: Path, *, step_at: int, n: int = 41):
    settings, shas = repo_and_settings(tmp_path, n)
    quiet = _Quiet()
    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, n, 2):  # every other commit measured
            store.ingest_run(run_at(i, shas[i], quiet, step_at=step_at))  # type: ignore[arg-type]

    def measure(sha: str) -> None:
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(run_at(shas.index(sha), sha, quiet,  # type: ignore[arg-type]
                                    step_at=step_at))

    return shas, Workspace(settings), measure


@pytest.mark.parametrize("late", [1, 2])
def test_a_change_point_placed_late_still_gets_its_culprit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late: int) -> None:
    """The step is at 21 (unmeasured; 22 is the first slow measured commit) but the
    change point is placed at 24 or 26: its good end, 22 or 24, is as slow as its bad end.
    The search was abandoned at once ("not slower")."""
    shas, ws, measure = _history(tmp_path, step_at=21)
    _placed_at(monkeypatch, 22 + 2 * late, shas=shas)
    probed, named, searched = _drive(ws, measure)
    assert named == [shas[21]]
    assert probed == [shas[21]]  # the measured commits between are not measured again
    ((good, bad),) = searched
    assert bad == shas[22 + 2 * late] and shas.index(good) < 21
    assert shas.index(good) >= 22 + 2 * late - 2 * (MAX_WIDEN + 1)


def test_the_good_end_is_not_moved_past_the_previous_change_point(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shas, ws, measure = _history(tmp_path, step_at=21)
    _placed_at(monkeypatch, 18, 24, shas=shas)
    _probed, named, searched = _drive(ws, measure)
    assert searched == {(shas[18], shas[24])} and named == [shas[21]]


def test_a_change_point_with_no_step_near_it_is_still_abandoned_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No measured commit within ``MAX_WIDEN`` before the change point is faster than
    its own: the search is abandoned, once, and the widening does not go on."""
    shas, ws, _measure = _history(tmp_path, step_at=21)
    _placed_at(monkeypatch, 22 + 2 * (MAX_WIDEN + 1), shas=shas)
    for _ in range(3):
        assert culprit_actions(ws) == ()
    (spec,) = bisect._read_specs(ws)
    assert (spec.good, spec.bad) == (shas[20 + 2 * (MAX_WIDEN + 1)],
                                     shas[22 + 2 * (MAX_WIDEN + 1)])
    result = read_culprit(culprit_path(ws, spec))
    assert result is not None and result.status == "abandoned"
    assert "not slower" in result.notes[0]


@pytest.mark.parametrize("seed", [2, 15])
def test_a_noisy_history_s_late_change_point_is_searched_to_its_step(
        tmp_path: Path, seed: int) -> None:
    """Synthetic histories (2 % noise per run, x1.06 from commit 41, every other commit
    measured) in which the detector places the change point two measured commits late:
    both searches were abandoned at once."""
    n, step_at = 81, 41
    settings, shas = repo_and_settings(tmp_path, n)
    rng = np.random.default_rng(seed)

    def run(i: int):
        return run_at(i, shas[i], rng, step_at=step_at, ratio=1.06)

    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, n, 2):
            store.ingest_run(run(i))

    def measure(sha: str) -> None:
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(run(shas.index(sha)))

    probed, named, searched = _drive(Workspace(settings), measure)
    assert named == [shas[step_at]]
    assert len(set(probed)) == len(probed)
    assert all(shas.index(bad) > step_at + 1 for _good, bad in searched)  # placed late


def test_a_search_is_not_abandoned_when_its_own_probe_moves_the_suite_factors(
        tmp_path: Path) -> None:
    """The values a search reads are divided by each run's suite-wide factor, estimated
    against every benchmark's usual level over the whole history; the search's probe
    moved those levels, its ends' ratio fell from x1.021 to x1.0199, under the x1.02 a
    search needs, and the search was abandoned after its first probe (2 % noise, x1.10
    from commit 41, every other commit measured, seed 20)."""
    n, step_at = 81, 41
    settings, shas = repo_and_settings(tmp_path, n)
    rng = np.random.default_rng(20)

    def run(i: int):
        return run_at(i, shas[i], rng, step_at=step_at, ratio=1.10)

    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, n, 2):
            store.ingest_run(run(i))
    ws = Workspace(settings)
    spec = request_culprit_search(ws, shas[38], shas[40], keyword="test_step")
    search = plan_search(ws, spec)
    assert 1.02 < search.step_ratio < 1.021 and search.step.probe == shas[39]
    with HistoryStore.open(settings.db_path) as store:
        store.ingest_run(run(39))
    with pytest.raises(InvalidInputError, match=r"x1\.020;"):  # the probe moved the ends:
        # a search starting now, with 39 measured before it, would not start
        plan_search(ws, replace(spec, measured_before=(*spec.measured_before, shas[39])))
    (action,) = culprit_actions(ws, detect=False)
    assert (action.kind, action.sha) == ("confirm", shas[40])
    assert read_culprit(culprit_path(ws, spec)) is None  # not abandoned


def test_a_change_point_s_probes_are_classified_against_its_levels_not_its_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old level 1.00 ms, new level 1.25 ms from commit 21; the bad end (22) measured
    high, at 1.40, and the probe (21, slow) low, at 1.15. Against the midpoint of the two
    ends (1.18) the probe looked fast and the search named 22; against the midpoint of
    the change point's two levels (1.12) it is slow."""
    settings, shas = repo_and_settings(tmp_path, 41)
    quiet = _Quiet()

    def run(i: int):
        r = run_at(i, shas[i], quiet, step_at=21)  # type: ignore[arg-type]
        value = {22: 1.40e-3, 21: 1.15e-3}.get(i)
        return r if value is None else replace(r, benchmarks=tuple(
            replace(b, samples_s=(value,) * 5) if b.name == STEP else b
            for b in r.benchmarks))

    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, 41, 2):
            store.ingest_run(run(i))
    _placed_at(monkeypatch, 22, shas=shas)
    ws = Workspace(settings)

    def measure(sha: str) -> None:
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(run(shas.index(sha)))

    probed, named, searched = _drive(ws, measure)
    assert searched == {(shas[20], shas[22])} and probed == [shas[21]]
    assert named == [shas[21]]
    (spec,) = bisect._read_specs(ws)  # the levels are kept with the search's definition
    assert spec.levels == pytest.approx((1e-3, 1.25e-3), rel=1e-2)
    assert plan_search(ws, spec).step_ratio == pytest.approx(1.25, rel=1e-3)


def test_a_late_change_point_is_not_widened_over_a_search_of_its_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search of the step (20..22) is under way when the change point is placed late,
    at 24: widened back over 20..22, its search would be a second one of the same step,
    with an A/B of its own."""
    shas, ws, _measure = _history(tmp_path, step_at=21)
    requested = request_culprit_search(ws, shas[20], shas[22], keyword="test_step")
    _placed_at(monkeypatch, 24, shas=shas)
    assert [(a.kind, a.sha, a.spec) for a in culprit_actions(ws)] == [
        ("measure", shas[21], requested)]
    assert bisect._read_specs(ws) == (requested,)
