"""The culprit A/B's controls (pipeline/culprit_confirm.py): benchmarks that changed in
the step being confirmed are not controls. On a real git repo and history db; the A/B's
rounds are simulated from the benchmarks' real changes (recorded rounds)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.measure.ab import ABSelection
from perf_pipeline.model import BenchmarkResult, CommitInfo, Culprit, RunStatus, SuiteRun
from perf_pipeline.pipeline.bisect import SearchSpec, confirm_culprit, plan_search
from perf_pipeline.pipeline.confirm import RoundFeed
from perf_pipeline.pipeline.culprit_confirm import N_CONTROLS, _control_notes, _controls
from perf_pipeline.pipeline.culprit_history import SearchHistory
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_bisect import T0, repo_and_settings

TARGET = "tests/test_t.py::test_encode"
TOKENIZE, BATCH = "tests/test_t.py::test_tokenize", "tests/test_t.py::test_batch"
#: A shared tokenizer got slower: four of seven benchmarks slowed in one commit, each by
#: its share of time in it (the target x3.6, one x10, one x9, one x1.2); three did not.
STEPS = {TARGET: 3.6, TOKENIZE: 10.0, BATCH: 9.0, "tests/test_t.py::test_decode": 1.2,
         "tests/test_u.py::test_sort": 1.0, "tests/test_u.py::test_hash": 1.0,
         "tests/test_u.py::test_parse": 1.0}
N_COMMITS, STEP_AT = 13, 7


def _run(i: int, sha: str, rng: np.random.Generator, steps: dict[str, float]) -> SuiteRun:
    """The run of commit ``i``: the benchmarks that slow are the steadiest of the history
    (1 % noise, the others 3 %), and the run has a machine factor of its own."""
    when = datetime.fromtimestamp(T0 + 60 * i, timezone.utc).isoformat()
    mood = float(np.exp(rng.normal(0, 0.02)))
    benches = []
    for name, step in steps.items():
        value = 1e-3 * (step if i >= STEP_AT else 1.0) * mood * float(
            np.exp(rng.normal(0, 0.01 if step != 1.0 else 0.03)))
        benches.append(BenchmarkResult(name=name, samples_s=tuple(
            value * (1 + 0.001 * k) for k in range(5))))
    return SuiteRun(run_id=f"run-{i:03d}", suite="benchmarks", started_at=when,
                    status=RunStatus.SUCCESS, benchmarks=tuple(benches),
                    commit=CommitInfo(sha=sha, branch="main", message=f"change {i}",
                                      author="Ann Author <ann@example.org>",
                                      committed_at=when))


def _rounds(selected: list[ABSelection], steps: dict[str, float], seed: int = 0):
    """Rounds of the culprit against its parent: each benchmark changes by its real step,
    each round has a machine factor of its own."""
    rng = np.random.default_rng(seed)

    def source(select: ABSelection) -> RoundFeed:
        selected.append(select)

        def rounds():
            while True:
                f = float(np.exp(rng.normal(0, 0.05)))
                yield {n: (1e-3 * float(np.exp(rng.normal(0, 0.02))),
                           1e-3 * f * steps[n] * float(np.exp(rng.normal(0, 0.02))))
                       for n in select.node_ids}
        return RoundFeed(rounds=rounds())

    return source


def _confirmed(tmp_path: Path, steps: dict[str, float]
               ) -> tuple[Culprit, ABSelection, float]:
    """The search of ``steps``' history (every commit measured), and its A/B: the result,
    what the A/B measured, and the step as the search saw it."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    ws = Workspace(settings)
    rng = np.random.default_rng(11)
    with HistoryStore.open(settings.db_path) as store:
        for i, sha in enumerate(shas):
            store.ingest_run(_run(i, sha, rng, steps))
    search = plan_search(ws, SearchSpec(good=shas[0], bad=shas[-1], benchmark=TARGET))
    assert search.step.culprit == shas[STEP_AT]
    selected: list[ABSelection] = []
    culprit = confirm_culprit(ws, search, rounds=_rounds(selected, steps))
    assert culprit.sha == shas[STEP_AT]
    (select,) = selected
    return culprit, select, search.step_ratio


def test_benchmarks_that_slowed_in_the_culprit_are_not_its_controls(tmp_path: Path) -> None:
    """A shared code path slowed 4 of 7 benchmarks in one commit. The A/B's controls were
    the four steadiest other benchmarks, three of them slowed with the target (two by
    more): the round's factor divided the target's step out, a x3 step (as the search
    measured it) came out x1.1 and the culprit "not_confirmed". Benchmarks that moved
    across the step are no controls."""
    culprit, select, step_ratio = _confirmed(tmp_path, STEPS)
    assert step_ratio > 2.5
    assert not {TOKENIZE, BATCH} & set(select.node_ids)
    assert len(select.node_ids) == 1 + N_CONTROLS  # the other four: a suite factor
    assert culprit.status == "confirmed" and culprit.confirmed_ratio is not None
    assert abs(math.log(culprit.confirmed_ratio / STEPS[TARGET])) < math.log(1.15)
    assert any(TOKENIZE in note and "no controls" in note for note in culprit.notes)


def test_with_too_few_unchanged_benchmarks_the_ab_has_no_suite_factor(
        tmp_path: Path) -> None:
    """Three benchmarks, two of them slowed: the old controls were the other two, and the
    factor (their median) took half the tokenizer's x10. One unchanged benchmark is too
    few for a factor: the A/B measures the target alone, and says so."""
    steps = {TARGET: 3.6, TOKENIZE: 10.0, "tests/test_u.py::test_sort": 1.0}
    culprit, select, _ = _confirmed(tmp_path, steps)
    assert select.node_ids == (TARGET,)
    assert culprit.status == "confirmed" and culprit.confirmed_ratio is not None
    assert abs(math.log(culprit.confirmed_ratio / steps[TARGET])) < math.log(1.15)
    assert any("without one" in note for note in culprit.notes)


def _history(steps: dict[str, float], n: int = 40, at: int = 20, seed: int = 3
             ) -> tuple[SearchHistory, tuple[str, ...]]:
    """A factor-free history of ``n`` commits, every one measured: each benchmark at 1.0,
    from commit ``at`` on at its ``steps`` value; 2 % noise, 0.5 % for those that step
    (the steadiest: the first the old rule took)."""
    rng = np.random.default_rng(seed)
    shas = tuple(f"{i:040x}" for i in range(n))
    values = {name: {sha: (step ** (i >= at) * float(np.exp(rng.normal(
        0, 0.02 if step == 1.0 else 0.005))),)
                     for i, sha in enumerate(shas)} for name, step in steps.items()}
    series = {name: (shas, tuple(v[sha][0] for sha in shas)) for name, v in values.items()}
    return SearchHistory(values=values, failed=frozenset(), series=series,
                         succeeded=frozenset(shas)), shas


def test_controls_that_stepped_with_the_target_are_left_out() -> None:
    """Two of the steadiest others slowed with the target: they were two of its four
    controls (the factor, a median of four, took half their step). Now the four are
    unchanged ones, and the two are named."""
    steps = {TARGET: 2.0, "a_moved": 1.8, "b_moved": 1.6,
             **{f"c_still_{k}": 1.0 for k in range(5)}}
    history, shas = _history(steps)
    picked = _controls(history, TARGET, at=(shas[20], shas[19]), before=shas[19::-1],
                       after=shas[20:], step_ratio=2.0)
    assert len(picked.chosen) == N_CONTROLS
    assert all(name.startswith("c_still_") for name in picked.chosen)
    assert set(picked.changed) == {"a_moved", "b_moved"}
    notes = _control_notes(picked)
    assert len(notes) == 1 and "a_moved" in notes[0] and "b_moved" in notes[0]


def test_with_fewer_than_two_unchanged_benchmarks_there_are_no_controls() -> None:
    steps = {TARGET: 2.0, "a_moved": 1.8, "b_moved": 1.6, "c_still": 1.0}
    history, shas = _history(steps)
    picked = _controls(history, TARGET, at=(shas[20], shas[19]), before=shas[19::-1],
                       after=shas[20:], step_ratio=2.0)
    assert picked.chosen == () and picked.unchanged == 1
    assert "without one" in _control_notes(picked)[-1]


def test_a_change_elsewhere_in_the_range_does_not_count() -> None:
    """Only the measured commits nearest the step say where a benchmark stood: one that
    moved three commits before the culprit stayed put across it."""
    steps = {TARGET: 2.0, **{f"c_still_{k}": 1.0 for k in range(4)}}
    history, shas = _history(steps)
    early, _ = _history({"d_early": 1.5}, at=17, seed=4)
    history = SearchHistory(values={**history.values, **early.values}, failed=frozenset(),
                            series={**history.series, **early.series},
                            succeeded=history.succeeded)
    picked = _controls(history, TARGET, at=(shas[20], shas[19]), before=shas[19::-1],
                       after=shas[20:], step_ratio=2.0)
    assert picked.changed == () and picked.unchanged == 5


def _ticking(source, tick: str | None, at: int):  # type: ignore[no-untyped-def]
    """``source`` whose round ``at`` reads 0.0 s on the candidate side for ``tick`` (None:
    the first control), every sample below the timer's resolution."""

    def wrapped(select: ABSelection) -> RoundFeed:
        name = tick or next(n for n in select.node_ids if n != TARGET)
        feed = source(select)

        def rounds():  # type: ignore[no-untyped-def]
            for k, rnd in enumerate(feed.rounds, start=1):
                yield {**rnd, name: (rnd[name][0], 0.0)} if k == at else rnd
        return replace(feed, rounds=rounds())

    return wrapped


@pytest.mark.parametrize("tick", [None, TARGET])
def test_a_zero_round_leaves_its_benchmark_out_of_the_culprits_ab(
        tmp_path: Path, tick: str | None) -> None:
    """A control whose round 2 read 0.0 s made the culprit's A/B raise, which was taken
    for a short run: the x3.6 culprit came out "not_confirmed: the A/B stopped (no more
    rounds) after 2 round(s), before its first look". The control is left out, named in
    the notes; with the culprit's own benchmark left out it is not confirmed, and says
    why."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    ws = Workspace(settings)
    rng = np.random.default_rng(11)
    steps = {n: s for n, s in STEPS.items() if n not in (TOKENIZE, BATCH)}
    with HistoryStore.open(settings.db_path) as store:
        for i, sha in enumerate(shas):
            store.ingest_run(_run(i, sha, rng, steps))
    search = plan_search(ws, SearchSpec(good=shas[0], bad=shas[-1], benchmark=TARGET))
    selected: list[ABSelection] = []
    culprit = confirm_culprit(ws, search, rounds=_ticking(_rounds(selected, steps), tick, 2))
    (select,) = selected
    left = tick or select.node_ids[1]
    if tick is None:
        assert culprit.status == "confirmed", culprit.notes
        assert any(n.startswith(f"Left out of the A/B (neither judged nor a control): "
                                f"{left!r}: round 2's candidate") for n in culprit.notes)
    else:
        assert culprit.status == "not_confirmed" and culprit.confirmed_ratio is None
        assert culprit.notes[0].startswith(f"the A/B could not judge {left!r}: round 2's "
                                           "candidate value is 0.0 s")
