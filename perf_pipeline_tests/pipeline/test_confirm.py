"""The two-stage gate's integration: controls, and confirm_regressions on fake rounds.

No subprocess here: the round source is injected, as studies replay recorded rounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from perf_pipeline.analysis import SUITE_SHIFT_NAME, choose_controls
from perf_pipeline.measure.ab import ABSelection
from perf_pipeline.model import (
    TIME_METRIC,
    BenchmarkComparison,
    BenchmarkResult,
    CommitInfo,
    Comparison,
    ReportData,
    RunStatus,
    SuiteComparison,
    SuiteRun,
    Verdict,
)
from perf_pipeline.pipeline import RoundFeed, confirm_regressions
from perf_pipeline.report import render_html, render_markdown

NAMES = tuple(f"tests/test_perf.py::test_{c}" for c in "abcdefgh")
BASE, CANDIDATE = "b" * 40, "c" * 40


def _row(name: str, verdict: Verdict, ratio: float = 1.0, width: float = 0.1,
         metric: str = TIME_METRIC, alpha: float = 0.2, p: float | None = None
         ) -> BenchmarkComparison:
    return BenchmarkComparison(name=name, metric=metric, comparison=Comparison(
        verdict=verdict, ratio=ratio, ci_low=ratio * math.exp(-width / 2),
        ci_high=ratio * math.exp(width / 2), p_value=p if p is not None else
        0.01 if verdict is Verdict.REGRESSION else 0.5,
        significant=verdict is Verdict.REGRESSION, threshold=1.2, alpha=alpha,
        n_baseline=10, n_current=1, method="screen", adjusted_p_value=0.05))


def _screen(flagged: dict[str, float], *, names: tuple[str, ...] = NAMES,
            alpha: float = 0.2, shift: Verdict = Verdict.UNCHANGED,
            unflagged: tuple[float, float] = (0.95, 0.05)) -> SuiteComparison:
    """The unflagged benchmarks' (ratio, p): by default cleared by the screen (5 % faster,
    p 0.05: no suspects), so the A/B decides exactly the flags."""
    rows = [_row(n, Verdict.REGRESSION, flagged[n], alpha=alpha) if n in flagged
            else _row(n, Verdict.INCONCLUSIVE, unflagged[0], width=0.05 + 0.01 * i,
                      alpha=alpha, p=unflagged[1])
            for i, n in enumerate(names)]
    rows.append(_row(SUITE_SHIFT_NAME, shift, 1.3 if shift is Verdict.REGRESSION else 1.0,
                     alpha=alpha))
    rows.append(_row(names[0], Verdict.UNCHANGED, 1.0, metric="peak_rss_bytes", alpha=alpha))
    return SuiteComparison(results=tuple(rows), correction="holm", alpha=alpha)


class FakeSource:
    """Recorded-style rounds: each benchmark's true ratio times log-normal noise, plus a
    per-round factor shared by all benchmarks of the round."""

    def __init__(self, ratios: dict[str, float], *, seed: int = 1, noise: float = 0.03,
                 factor: float = 0.10, stop_after: int | None = None) -> None:
        self.ratios = ratios
        self.rng = np.random.default_rng(seed)
        self.noise, self.factor, self.stop_after = noise, factor, stop_after
        self.selections: list[ABSelection] = []
        self.narrowed: list[tuple[int, tuple[str, ...]]] = []  # (after round, names)
        self.measured: list[tuple[str, ...]] = []  # names of each round
        self.pulled = 0
        self.closed = False

    def _rounds(self, names: tuple[str, ...]) -> Iterator[dict[str, tuple[float, float]]]:
        while self.stop_after is None or self.pulled < self.stop_after:
            self.pulled += 1
            now = self.narrowed[-1][1] if self.narrowed else names
            self.measured.append(tuple(now))
            f = math.exp(self.rng.normal(0, self.factor))
            yield {n: (1e-3, 1e-3 * self.ratios.get(n, 1.0) * f
                       * math.exp(self.rng.normal(0, self.noise))) for n in now}

    def __call__(self, select: ABSelection) -> RoundFeed:
        self.selections.append(select)
        names = select.node_ids or NAMES

        def close() -> None:
            self.closed = True

        def narrow(keep: tuple[str, ...]) -> None:
            self.narrowed.append((self.pulled, keep))

        return RoundFeed(rounds=self._rounds(names), close=close,
                         stopped=lambda: "budget" if self.stop_after else None,
                         narrow=narrow if select.node_ids else None)


def commit_run(rng: np.random.Generator, i: int, sha: str, slow: float = 1.0) -> SuiteRun:
    """Run ``i`` of ``sha``: NAMES at 1 ms with 1 % noise, the first ``slow`` times slower."""
    return SuiteRun(
        run_id=f"run{i}", suite="benchmarks", status=RunStatus.SUCCESS,
        started_at=f"2024-01-{i + 1:02d}T00:00:00+00:00", commit=CommitInfo(sha=sha),
        benchmarks=tuple(BenchmarkResult(name=n, samples_s=tuple(
            1e-3 * (slow if k == 0 else 1.0) * np.exp(rng.normal(0, 0.01, 20))))
            for k, n in enumerate(NAMES)))


def _confirm(screen: SuiteComparison, source, *, base: str | None = BASE,
             max_rounds: int = 20, standing: SuiteComparison | None = None):
    return confirm_regressions(screen, base_sha=base, candidate_sha=CANDIDATE, run_id="r1",
                               created_at="2024-01-01T00:00:00+00:00", rounds=source,
                               threshold=1.1, alpha=0.01,
                               max_rounds=max_rounds, standing=standing)


# --- controls: analysis.choose_controls, as the product calls it --------------------------


def test_controls_fill_the_round_to_five_with_the_most_stable_benchmarks() -> None:
    screen = _screen({NAMES[3]: 1.4})
    controls = choose_controls(screen, (NAMES[3],))
    # Narrowest intervals first (width grows with the index), the flagged one left out.
    assert controls == (NAMES[0], NAMES[1], NAMES[2], NAMES[4])


def test_more_controls_than_targets_when_the_suite_has_them() -> None:
    # Four flagged benchmarks want five controls (a round's median must be an unchanged
    # benchmark's); the suite has four more, and all of them are taken.
    flagged = NAMES[:4]
    controls = choose_controls(_screen(dict.fromkeys(flagged, 1.4)), flagged)
    assert controls == tuple(NAMES[4:])
    assert len(controls) >= 2


def test_controls_are_what_there_is_in_a_small_suite() -> None:
    names = NAMES[:3]
    screen = _screen({names[0]: 1.5}, names=names)
    assert choose_controls(screen, (names[0],)) == names[1:]


def test_a_flagged_suite_shift_measures_every_benchmark() -> None:
    screen = _screen({}, shift=Verdict.REGRESSION)
    assert choose_controls(screen, (SUITE_SHIFT_NAME,)) == NAMES


# --- confirm_regressions ------------------------------------------------------------------


def test_a_decided_benchmark_is_no_longer_measured() -> None:
    quick, slow = NAMES[2], NAMES[3]
    source = FakeSource({quick: 2.0, slow: 1.1}, noise=0.05)
    c = _confirm(_screen({quick: 1.9, slow: 1.2}), source, max_rounds=60)
    decided = dict(c.decided_at)
    assert decided[quick] < decided.get(slow, c.rounds_used)
    after, keep = source.narrowed[0]
    assert after == decided[quick] and quick not in keep and slow in keep
    assert set(c.controls) <= set(keep)
    assert all(quick not in names for names in source.measured[after:])
    assert all(quick in names for names in source.measured[:after])


def test_a_real_slowdown_is_confirmed_with_flagged_and_controls_only() -> None:
    target = NAMES[3]
    source = FakeSource({target: 1.5})
    c = _confirm(_screen({target: 1.45}), source)
    assert c.status == "confirmed"
    assert [r.name for r in c.regressions] == [target]
    assert c.flagged == (target,) and len(c.controls) == 4
    (select,) = source.selections
    assert select.node_ids == (target, *c.controls) and select.keyword is None
    # Lazily pulled: decided well before the maximum, and the feed was closed.
    assert c.rounds_used == source.pulled < 20 and dict(c.decided_at)[target] == c.rounds_used
    assert source.closed and c.stopped == "decided"
    # The final verdict keeps the other metrics and the unflagged rows of `standing`.
    assert {(r.name, r.metric) for r in c.final.results} == {
        (r.name, r.metric) for r in c.screen.results}
    assert c.final.alpha == 0.01


def test_suspects_the_screen_could_not_clear_are_decided_with_the_flags() -> None:
    """One flag: the four unflagged benchmarks the screen saw nearest a slowdown join the
    A/B as suspects; a real slowdown among them is confirmed though the screen missed it."""
    flag, missed = NAMES[3], NAMES[6]
    source = FakeSource({flag: 1.5, missed: 1.3})
    screen = _screen({flag: 1.45}, unflagged=(1.0, 0.5))  # none cleared (z 0)
    # The screen's p is one-sided, in the direction of the change: z +0.25.
    rows = [r if r.name != missed or r.metric != TIME_METRIC else
            _row(missed, Verdict.INCONCLUSIVE, 1.02, p=0.4) for r in screen.results]
    screen = SuiteComparison(results=tuple(rows), correction="none", alpha=0.2)
    c = _confirm(screen, source)
    assert c.flagged == (flag,)
    assert len(c.suspects) == 4 and missed in c.suspects and flag not in c.suspects
    assert c.targets == (flag, *c.suspects)
    (select,) = source.selections
    assert set(select.node_ids) == {flag, *c.suspects, *c.controls}
    assert not set(c.controls) & set(c.targets) and len(c.controls) >= 2
    assert {r.name for r in c.regressions} == {flag, missed}
    data = ReportData(title="t", generated_at="now", comparison=c.final, confirmation=c)
    md = render_markdown(data)
    assert "4 suspect(s)" in md and "(suspect)" in md
    assert "Not flagged, but measured in the A/B too (suspects" in md
    html = render_html(data, inline_js=False)
    assert "(suspect)" in html and "4 suspect(s)" in html


def test_a_false_flag_is_cleared_not_confirmed() -> None:
    target = NAMES[1]
    c = _confirm(_screen({target: 1.3}), FakeSource({}, seed=5))
    assert c.status == "confirmed" and not c.has_regression
    verdict = next(r for r in c.final.results if r.name == target and r.metric == TIME_METRIC)
    assert verdict.comparison.verdict in (Verdict.UNCHANGED, Verdict.INCONCLUSIVE)


def test_nothing_flagged_pulls_no_round() -> None:
    source = FakeSource({})
    c = _confirm(_screen({}), source)
    assert c.status == "nothing_flagged" and c.rounds_used == 0
    assert source.selections == [] and not c.has_regression


def test_without_a_base_commit_the_gate_falls_back_to_the_standing_comparison() -> None:
    target = NAMES[0]
    source = FakeSource({})
    strict = _screen({target: 1.45}, alpha=0.01)
    c = _confirm(_screen({target: 1.45}), source, base=None, standing=strict)
    assert c.status == "not_possible" and source.selections == []
    assert [r.name for r in c.regressions] == [target]  # the one-stage verdict stands
    assert "not possible" in c.notes[0]
    same = _confirm(_screen({target: 1.45}), source, base=CANDIDATE)
    assert same.status == "not_possible" and "candidate itself" in same.notes[0]


def test_what_the_budget_leaves_undecided_is_inconclusive() -> None:
    target = NAMES[2]
    source = FakeSource({target: 1.02}, stop_after=2)  # spent before the first look
    c = _confirm(_screen({target: 1.3}), source)
    assert c.status == "confirmed" and c.rounds_used == 2 and c.stopped == "budget"
    row = next(r for r in c.final.results if r.name == target and r.metric == TIME_METRIC)
    assert row.comparison.verdict is Verdict.INCONCLUSIVE
    assert c.undecided == (target,) and not c.has_regression
    later = FakeSource({target: 1.0}, stop_after=4, noise=0.3)
    c = _confirm(_screen({target: 1.3}), later)
    assert c.stopped == "budget" and c.rounds_used == 4 and not c.has_regression


def test_a_flagged_suite_shift_runs_the_whole_suite() -> None:
    source = FakeSource(dict.fromkeys(NAMES, 1.3), factor=0.01)
    c = _confirm(_screen({}, shift=Verdict.REGRESSION), source)
    (select,) = source.selections
    assert select == ABSelection()
    assert c.flagged == (SUITE_SHIFT_NAME,) and c.controls == NAMES
    assert [r.name for r in c.regressions] == [SUITE_SHIFT_NAME]


def test_both_stages_appear_in_the_reports() -> None:
    target = NAMES[3]
    c = _confirm(_screen({target: 1.45}), FakeSource({target: 1.5}))
    data = ReportData(title="t", generated_at="now", comparison=c.final, confirmation=c)
    md = render_markdown(data)
    assert "### Screen" in md and "### Confirmation" in md
    assert f"**{c.rounds_used} rounds** used of at most 20" in md
    assert "test\\_d" in md and "regression" in md.splitlines()[1].lower()
    html = render_html(data, inline_js=False)
    assert 'id="screen"' in html and 'id="confirmation"' in html
    assert f"{c.rounds_used} rounds</b>" in html
    # What the numbers beside the verdict are: the A/B's ratio is marked, the CI column
    # explained (not "the 99 % interval"), the method line whole.
    [row] = [line for line in md.splitlines() if line.startswith("| 🔴 |") and "time" in line]
    assert "× (A/B)**" in row
    assert "Where the A/B decided (rows marked A/B)" in md and "Where the A/B decided" in html
    assert "alpha spending" in md and "alpha …" not in md
    assert "benchmarks, 10 comparisons)" in md.splitlines()[1]  # counts are per comparison


@pytest.mark.parametrize("bad", ["--collect-only", " -x", "a\nb", ""])
def test_selection_rejects_option_like_and_broken_values(bad: str) -> None:
    from perf_pipeline.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        ABSelection(node_ids=(bad,))
    with pytest.raises(InvalidInputError):
        ABSelection(keyword=bad)


@pytest.mark.parametrize("bad", ["/etc/passwd::x", "../other/test_x.py::t"])
def test_selection_rejects_node_ids_outside_the_project(bad: str) -> None:
    from perf_pipeline.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="inside the project"):
        ABSelection(node_ids=(bad,))


def test_confirm_settings_come_from_the_environment_and_are_checked() -> None:
    from perf_pipeline.config import load_settings
    from perf_pipeline.errors import InvalidInputError

    env = {"PERF_PIPELINE_CONFIRM": "off", "PERF_PIPELINE_CONFIRM_MAX_ROUNDS": "8",
           "PERF_PIPELINE_CONFIRM_BUDGET": "60", "PERF_PIPELINE_CONFIRM_MIN_HISTORY": "5",
           "PERF_PIPELINE_CONFIRM_BASE": "main", "PERF_PIPELINE_AB_PROCESSES": "3"}
    s = load_settings(environ=env, config_file=None)
    assert (s.confirm, s.confirm_max_rounds, s.confirm_budget_s, s.confirm_min_history,
            s.confirm_base, s.ab_processes) == ("off", 8, 60.0, 5, "main", 3)
    assert load_settings(environ={}).confirm == "auto"
    for var, value in (("PERF_PIPELINE_CONFIRM", "maybe"),
                       ("PERF_PIPELINE_CONFIRM_MAX_ROUNDS", "4"),
                       ("PERF_PIPELINE_AB_PROCESSES", "0"),
                       ("PERF_PIPELINE_CONFIRM_BUDGET", "0"),
                       ("PERF_PIPELINE_CONFIRM_BASE", "--upload-pack=x")):
        with pytest.raises(InvalidInputError):
            load_settings(environ={var: value})


def test_the_plan_is_what_the_confirmation_measures_and_weighs() -> None:
    from perf_pipeline.analysis import (
        choose_controls,
        plan_confirmation,
        screen_ratios,
        screen_weights,
        suspects_for_confirmation,
    )

    assert plan_confirmation(_screen({})).targets == ()
    screen = _screen({NAMES[3]: 1.45}, unflagged=(1.0, 0.5))
    plan = plan_confirmation(screen)
    assert plan.flagged == (NAMES[3],)
    assert plan.suspects == suspects_for_confirmation(screen, plan.flagged) != ()
    assert plan.targets == (NAMES[3], *plan.suspects)
    assert plan.controls == choose_controls(screen, plan.targets)
    assert not set(plan.controls) & set(plan.targets)
    assert plan.weights == screen_weights(screen, plan.targets)
    assert plan.expected == screen_ratios(screen, plan.targets)


def test_an_unresolvable_confirm_base_only_matters_when_there_is_something_to_confirm(
        tiny_target, tmp_path) -> None:
    """A PR's merge base the clone lacks must not fail a commit the screen found nothing
    in; when there is a flag to confirm, it is a clear error."""
    from perf_pipeline.analysis import build_baseline
    from perf_pipeline.config import Settings
    from perf_pipeline.errors import InvalidInputError
    from perf_pipeline.pipeline import confirm_run
    from perf_pipeline.workspace import Workspace

    rng = np.random.default_rng(5)

    def run(i: int, sha: str, slow: float = 1.0) -> SuiteRun:
        return commit_run(rng, i, sha, slow)

    base_sha, sha = tiny_target.shas[0], tiny_target.shas[1]
    baseline = build_baseline([run(i, base_sha) for i in range(6)],
                              created_at="2024-02-01T00:00:00+00:00", policy="rolling")
    settings = Settings(repo_path=tiny_target.repo, results_dir=tmp_path / "results",
                        confirm_base="no-such-merge-base", threshold=1.1)
    with Workspace(settings) as ws:
        quiet = confirm_run(ws, run(10, sha), baseline)
        assert quiet.status == "nothing_flagged" and not quiet.has_regression
        with pytest.raises(InvalidInputError, match="no-such-merge-base"):
            confirm_run(ws, run(11, sha, slow=2.0), baseline)


class FailingSource(FakeSource):
    """Rounds until a side fails (a crash or hang in the A/B only)."""

    def __init__(self, ratios: dict[str, float], *, fail_at: int, **kw: object) -> None:
        super().__init__(ratios, **kw)  # type: ignore[arg-type]
        self.fail_at = fail_at

    def _rounds(self, names: tuple[str, ...]) -> Iterator[dict[str, tuple[float, float]]]:
        for rnd in super()._rounds(names):
            if self.pulled >= self.fail_at:
                from perf_pipeline.errors import MeasurementError
                raise MeasurementError("round 3: candidate: pytest exited with code 1")
            yield rnd


def test_a_failed_ab_leaves_the_stored_comparison_to_decide_and_says_why() -> None:
    target = NAMES[2]
    screen = _screen({target: 1.3})
    strict = _screen({target: 1.3}, alpha=0.01)  # the gate's own level: a regression
    source = FailingSource({target: 1.3}, fail_at=3)
    c = _confirm(screen, source, standing=strict)
    assert c.status == "not_possible" and c.stopped == "failed" and c.rounds_used == 2
    assert source.closed
    assert "Confirmation failed after 2 round(s)" in c.notes[0]
    assert "pytest exited with code 1" in c.notes[0]
    assert [r.name for r in c.regressions] == [target]  # the standing verdict, not a pass
    assert "Confirmation failed" in render_markdown(ReportData(
        title="t", generated_at="2024-01-01T00:00:00+00:00", confirmation=c))


class LosingSource(FakeSource):
    """Rounds in which one benchmark is no longer measured from round ``from_round`` on."""

    def __init__(self, ratios: dict[str, float], *, lose: str, from_round: int,
                 **kw: object) -> None:
        super().__init__(ratios, **kw)  # type: ignore[arg-type]
        self.lose, self.from_round = lose, from_round

    def _rounds(self, names: tuple[str, ...]) -> Iterator[dict[str, tuple[float, float]]]:
        for rnd in super()._rounds(names):
            yield {n: v for n, v in rnd.items()
                   if not (n == self.lose and self.pulled >= self.from_round)}


def test_a_flag_lost_before_the_first_look_is_inconclusive_not_left_to_the_screen() -> None:
    """The same flaky skip must not flip the gate by the round it happened in: a flag the
    A/B lost is inconclusive whether it was lost before its first look or after."""
    target = NAMES[2]
    strict = _screen({target: 1.3}, alpha=0.01)  # the stored comparison: a regression
    c = _confirm(_screen({target: 1.3}), LosingSource({target: 1.3}, lose=target,
                                                      from_round=2), standing=strict)
    row = next(r for r in c.final.results if r.name == target and r.metric == TIME_METRIC)
    assert row.comparison.verdict is Verdict.INCONCLUSIVE
    assert "not measured on both sides" in row.comparison.reason
    assert not c.has_regression


def test_a_one_stage_gate_names_what_it_flagged_wherever_it_is_shown(tmp_path) -> None:
    """With ``confirm = "off"`` the stored-baseline comparison is the verdict: the
    regressions it finds are its flags. They were left out, so the backfill line, the
    Markdown and the HTML said "flagged nothing" above the regressions that failed it."""
    from perf_pipeline.analysis import build_baseline
    from perf_pipeline.config import Settings
    from perf_pipeline.demo import describe_stages
    from perf_pipeline.pipeline import confirm_run
    from perf_pipeline.report.markdown_confirmation import screen_block
    from perf_pipeline.workspace import Workspace

    rng = np.random.default_rng(7)
    baseline = build_baseline([commit_run(rng, i, BASE) for i in range(6)],
                              created_at="2024-02-01T00:00:00+00:00", policy="rolling")
    settings = Settings(results_dir=tmp_path / "results", confirm="off", threshold=1.1)
    with Workspace(settings) as ws:
        c = confirm_run(ws, commit_run(rng, 10, CANDIDATE, slow=2.0), baseline)
    assert c.status == "off" and [r.name for r in c.regressions] == [NAMES[0]]
    assert c.flagged == (NAMES[0],)
    assert "flagged nothing" not in describe_stages(c)
    assert "test_a x2." in describe_stages(c)
    block = screen_block(c, "no baseline yet")
    assert "flagged 1:" in "\n".join(block.head)  # type: ignore[union-attr]


class TickingSource(FakeSource):
    """Rounds in which one benchmark's candidate side reads 0.0 s in round ``at`` (every
    sample below the timer's resolution)."""

    def __init__(self, ratios: dict[str, float], *, tick: str, at: int, **kw: object) -> None:
        super().__init__(ratios, **kw)  # type: ignore[arg-type]
        self.tick, self.at = tick, at

    def _rounds(self, names: tuple[str, ...]) -> Iterator[dict[str, tuple[float, float]]]:
        for rnd in super()._rounds(names):
            if self.pulled == self.at and self.tick in rnd:
                rnd[self.tick] = (rnd[self.tick][0], 0.0)
            yield rnd


def test_a_zero_round_leaves_its_benchmark_out_of_the_confirmation_not_the_gate() -> None:
    """A flagged benchmark whose round 2 read 0.0 s made the whole confirmation raise
    ("values must be finite and > 0"), the gate's other flag (x1.5) with it. It is left
    out of the A/B, inconclusive with the reason; the other flag is confirmed, and a
    control with a zero round only takes no part."""
    real, tick = NAMES[3], NAMES[5]
    screen, strict = _screen({real: 1.45, tick: 1.3}), _screen({real: 1.45, tick: 1.3},
                                                               alpha=0.01)
    c = _confirm(screen, TickingSource({real: 1.5}, tick=tick, at=2), standing=strict)
    assert c.status == "confirmed"
    assert [r.name for r in c.regressions] == [real]
    row = next(r for r in c.final.results if r.name == tick and r.metric == TIME_METRIC)
    assert row.comparison.verdict is Verdict.INCONCLUSIVE
    assert row.comparison.reason.startswith("flagged by the screen, undecided: left out of "
                                            "the A/B: round 2's candidate value is 0.0 s")
    assert any(n.startswith(f"Left out of the A/B (neither judged nor a control): {tick!r}")
               for n in c.notes)
    md = render_markdown(ReportData(title="t", generated_at="now", comparison=c.final,
                                    confirmation=c))
    assert "left out of the A/B: round 2's candidate value is 0.0 s" in md  # Why column
    # A control with a zero round: not a control any more, the flag still confirmed.
    control_tick = _confirm(_screen({real: 1.45}), TickingSource(
        {real: 1.5}, tick=NAMES[0], at=1))
    assert NAMES[0] in control_tick.controls
    assert [r.name for r in control_tick.regressions] == [real]
    assert any(repr(NAMES[0]) in n and "round 1's" in n for n in control_tick.notes)
