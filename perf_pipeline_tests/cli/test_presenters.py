"""Presenters on hand-made outcomes: what each line says, without measuring anything."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from perf_pipeline.analysis.sequential import SequentialResult
from perf_pipeline.cli.present.ab import ab_json, print_ab
from perf_pipeline.cli.present.backfill import commit_verdict, print_commit_verdict
from perf_pipeline.defs.launch import CommitMaterialization
from perf_pipeline.measure.ab import ABRun
from perf_pipeline.model import (
    BenchmarkComparison,
    CommitAnalysis,
    CommitInfo,
    Comparison,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.pipeline import ABOutcome
from perf_pipeline.report import ReportFiles

SHA = "c" * 40


def _row(name: str, verdict: Verdict, ratio: float) -> BenchmarkComparison:
    return BenchmarkComparison(name, "time", Comparison(
        verdict=verdict, ratio=ratio, ci_low=ratio * 0.9, ci_high=ratio * 1.1, p_value=1e-4,
        significant=verdict != Verdict.UNCHANGED, threshold=1.2, alpha=0.01, n_baseline=8,
        n_current=8, method="test", adjusted_p_value=5e-4))


SUITE = SuiteComparison(results=(_row("t.py::test_slow[x/]", Verdict.REGRESSION, 1.9),
                                 _row("t.py::test_same", Verdict.UNCHANGED, 1.01)),
                        correction="holm", alpha=0.01, new=("t.py::test_new",))


def test_ab_presenter_lines_and_document(tmp_path: Path, capsys) -> None:
    ab = ABRun(ab_id="ab1", base=CommitInfo(sha="b" * 40), candidate=CommitInfo(sha=SHA),
               rounds=(), seed=1, raw_dir=tmp_path)
    outcome = ABOutcome(ab=ab, comparison=SUITE, files=ReportFiles(html=tmp_path / "r.html",
                                                                   pngs=()),
                        sequential=SequentialResult(comparison=SUITE, rounds_used=6,
                                                    looks=(3, 6), stopped="decided",
                                                    decided_at={"t.py::test_slow[x/]": 6}))
    print_ab(outcome, tmp_path / "ab.md")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("regression   x1.900 [1.710, 2.090] p_adj=0.0005")
    assert lines[0].endswith("test_slow[x/]")  # rich markup in a name printed as is
    assert "new          test_new" in out
    assert "adaptive: 6 round(s) used (stopped: decided); 1 of 2 decided" in out
    verdict, doc = ab_json(outcome, tmp_path / "ab.md")
    assert verdict == "regression" and doc["adaptive"]["decided_at"] == {
        "t.py::test_slow[x/]": 6}
    assert doc["comparison"]["new"] == ["t.py::test_new"]


def test_ab_presenter_says_when_the_machine_was_noisier_than_its_recording(
        tmp_path: Path, capsys) -> None:
    ab = ABRun(ab_id="ab1", base=CommitInfo(sha="b" * 40), candidate=CommitInfo(sha=SHA),
               rounds=(), seed=1, raw_dir=tmp_path)
    for ratio, said in ((1.6, False), (3.0, True)):
        seq = SequentialResult(comparison=SUITE, rounds_used=6, looks=(5, 6),
                               stopped="decided", decided_at={}, noise_over_prior=ratio)
        outcome = ABOutcome(ab=ab, comparison=SUITE, sequential=seq,
                            files=ReportFiles(html=tmp_path / "r.html", pngs=()))
        print_ab(outcome, tmp_path / "ab.md")
        out = capsys.readouterr().out
        assert ("3.0x the recorded variance per round (spread x1.7)" in out) is said
        assert ("perf-pipeline calibrate" in out) is said
        _, doc = ab_json(outcome, tmp_path / "ab.md")
        assert doc["adaptive"]["noise_over_prior"] == ratio
        assert (doc["adaptive"]["noise_note"] == seq.stale_prior_note) and (
            (seq.stale_prior_note is not None) is said)


def _analysis(comparison: SuiteComparison | None) -> CommitAnalysis:
    return CommitAnalysis(run_id="r1", sha=SHA, created_at="2026-01-01", threshold=1.2,
                          alpha=0.01, comparison=comparison)


def test_backfill_says_each_commits_verdict(capsys) -> None:
    ok = CommitMaterialization(sha=SHA, success=True)
    gate = CommitMaterialization(sha=SHA, success=False,
                                 failed_checks=("regression_analysis:gate",))
    broken = CommitMaterialization(sha=SHA, success=False, error="suite crashed")
    cases = [
        (commit_verdict(ok, _analysis(None), None), "no_baseline", "no baseline yet"),
        (commit_verdict(ok, _analysis(SUITE), None), "regression", "1 significant"),
        (commit_verdict(gate, _analysis(SUITE), None), "regression", "gate failed"),
        (commit_verdict(broken, None, None), "failed", "suite crashed"),
        (commit_verdict(ok, _analysis(SuiteComparison(results=SUITE.results[1:],
                                                      correction="holm", alpha=0.01)),
                        None), "no_regression", "no significant regression"),
    ]
    for verdict, word, detail in cases:
        assert (verdict.verdict, detail in verdict.detail) == (word, True)
        print_commit_verdict(verdict)
        assert capsys.readouterr().out.startswith(f"{SHA[:10]} {word}")
    doc = cases[1][0].to_json()
    assert doc["verdict"] == "regression" and doc["comparison"]["results"][0]["comparison"][
        "verdict"] == "regression"


def test_backfill_tells_a_commit_without_the_suite_from_a_failure(capsys) -> None:
    """A commit from before the benchmarks existed was "failed" (red), counted among the
    broken commits that make the backfill exit 2."""
    from perf_pipeline.cli.present.backfill import backfill_json, print_backfill
    from perf_pipeline.defs.backfill import BackfillOutcome

    old = CommitMaterialization(sha=SHA, success=True, no_suite="no suite at this commit")
    verdict = commit_verdict(old, None, None)
    assert verdict.verdict == "no_suite" and "no suite at this commit" in verdict.detail
    print_commit_verdict(verdict)
    assert capsys.readouterr().out.startswith(f"{SHA[:10]} no_suite")
    tip = "b" * 40
    result = BackfillOutcome(shas=(SHA, tip), measured=(old,), skipped=(tip,),
                             no_suite=(SHA,))
    assert result.broken == () and not result.tip_without_suite
    word, doc = backfill_json(result, [verdict])
    assert (word, doc["broken"], doc["no_suite"]) == ("no_regression", [], [SHA])
    print_backfill(result)
    # It was counted as measured, and not as without a suite: "1 commit(s) measured".
    assert "0 commit(s) measured, 1 already measured, 1 without a benchmark suite" in (
        capsys.readouterr().out)
    assert result.measured_now == () and doc["measured"] == []
    nothing = BackfillOutcome(shas=(SHA, tip), measured=(), skipped=(SHA, tip),
                              no_suite=(SHA, tip))
    assert nothing.tip_without_suite and backfill_json(nothing, [])[0] == "no_suite"
    print_backfill(nothing)
    assert "0 already measured, 2 without a benchmark suite" in capsys.readouterr().out


def test_backfill_does_not_count_a_commit_it_only_judged_as_measured(capsys) -> None:
    """A commit measured by a backfill stopped before its report is judged and reported by
    the next one, not measured again; that backfill's summary said "3 commit(s) measured,
    1 already measured" of 1 measured, 1 judged, 1 without a suite, 1 skipped."""
    from perf_pipeline.cli.present.backfill import backfill_json, print_backfill
    from perf_pipeline.defs.backfill import BackfillOutcome

    new, cut, done = "d" * 40, "e" * 40, "f" * 40
    result = BackfillOutcome(
        shas=(done, cut, new), measured=(CommitMaterialization(sha=cut, success=True),
                                         CommitMaterialization(sha=new, success=True)),
        skipped=(done,), judged_only=(cut,))
    assert result.measured_now == (new,)
    print_backfill(result)
    said = capsys.readouterr().out
    assert said.startswith("1 commit(s) measured, 1 judged without measuring again "
                           "(measured before, never reported), 1 already measured"), said
    # Its judging may fail again (the confirmation's A/B broke): not "reported" then.
    broken = replace(result, measured=(CommitMaterialization(sha=cut, success=False,
                                                             error="A/B failed"),))
    assert broken.broken == (cut,)
    print_backfill(broken)
    assert "0 commit(s) measured, 1 judged without measuring again (measured before, " \
        "never reported), 1 already measured" in capsys.readouterr().out
    _, doc = backfill_json(result, [])
    assert (doc["measured"], doc["judged_only"], doc["skipped"]) == ([new], [cut], [done])


def test_a_backfill_that_skipped_nothing_does_not_suggest_force(capsys) -> None:
    """``backfill --force`` skips nothing (its commits measured again), and its summary
    still ended "0 already measured (use --force to re-measure)"."""
    from perf_pipeline.cli.present.backfill import print_backfill
    from perf_pipeline.defs.backfill import BackfillOutcome

    forced = BackfillOutcome(shas=(SHA,), measured=(CommitMaterialization(sha=SHA,
                                                                          success=True),),
                             skipped=())
    print_backfill(forced)
    assert capsys.readouterr().out == "1 commit(s) measured, 0 already measured\n"
    print_backfill(replace(forced, measured=(), skipped=(SHA,)))
    assert capsys.readouterr().out == ("0 commit(s) measured, 1 already measured "
                                       "(use --force to re-measure)\n")


def test_profile_presenter_prints_signed_deltas_in_their_unit(capsys) -> None:
    from perf_pipeline.cli.present.profile import print_profile
    from perf_pipeline.model import (
        AllocationChange,
        FunctionChange,
        ProfileComparison,
        ProfileDiff,
        Spread,
    )
    from perf_pipeline.pipeline import ProfileOutcome

    def spread(value: float) -> Spread:
        return Spread(median=value, low=value, high=value)

    grew = FunctionChange(key="calc.py:3(slow_helper)", status="changed",
                          base_own=spread(2e-7), candidate_own=spread(9e-7),
                          base_cum=spread(1e-6), candidate_cum=spread(2.5e-5),
                          base_share=spread(0.1), candidate_share=spread(0.4), base_calls=1,
                          candidate_calls=1, beyond_spread=True)
    allocation = AllocationChange(site="calc.py:9", status="changed", base_bytes=spread(0),
                                  candidate_bytes=spread(3072), base_count=0,
                                  candidate_count=1, beyond_spread=True)
    diff = ProfileDiff(benchmark="t.py::test_x", repeats=3, base_total_s=spread(4e-7),
                       candidate_total_s=spread(3e-5), functions=(grew,),
                       allocations=(allocation,))
    print_profile(ProfileOutcome(comparison=ProfileComparison(
        profile_id="p1", base_sha="b" * 40, candidate_sha=SHA, created_at="2026-01-01",
        diffs=(diff,))), top=5)
    out = capsys.readouterr().out
    assert "test_x: 400 ns → 30.0 µs per call (profiled)" in out
    assert "* own    +700 ns  cum   +24.0 µs  calc.py:3(slow_helper)" in out
    assert "memory  +3.00 KiB/call  calc.py:9" in out
    assert "0.000 ms" not in out and "+0.001 ms" not in out
    assert "(* changed beyond the spread of the repeats)" in out
    from dataclasses import replace
    print_profile(ProfileOutcome(comparison=ProfileComparison(
        profile_id="p1", base_sha="b" * 40, candidate_sha=SHA, created_at="2026-01-01",
        diffs=(replace(diff, repeats=1),))), top=5)
    out = capsys.readouterr().out
    assert "one profile per side" in out and "beyond the spread" not in out


def test_calibrate_presenter_compares_with_the_previous_recording(tmp_path: Path,
                                                                  capsys) -> None:
    from perf_pipeline.analysis import SpreadChange
    from perf_pipeline.cli.present.calibrate import print_calibration
    from perf_pipeline.config import Settings
    from perf_pipeline.model import BenchmarkNoise, NoiseCorpus, NoisePair, NoiseProfile
    from perf_pipeline.pipeline import CalibrationOutcome

    profile = NoiseProfile(
        suite="benchmarks", commit=SHA, machine=(("cpu_count", "2"),),
        recorded_at="2026-12-02T06:33:00+00:00", pairs=20, suite_factor_log_sd=0.1,
        benchmarks=(BenchmarkNoise(name="t.py::test_a", median_s=1e-3, unpaired_log_sd=0.2,
                                   paired_log_sd=0.2, paired_residual_log_sd=0.06),))
    previous = replace(profile, commit="e" * 40, recorded_at="2026-12-01T03:08:35+00:00")
    corpus = NoiseCorpus(suite="benchmarks", commit=SHA, recorded_at=profile.recorded_at,
                         machine=profile.machine, note="", benchmarks=("t.py::test_a",),
                         pairs=(NoisePair(order=("a", "b"), started_at=profile.recorded_at,
                                          a=((1e-3,),), b=((1e-3,),)),))
    settings = Settings(results_dir=tmp_path)
    for ratio, word in ((3.0, "noisier"), (1.1, "about as noisy"), (0.5, "quieter")):
        outcome = CalibrationOutcome(corpus=corpus, profile=profile, profile_id="p1",
                                     corpus_path=tmp_path / "c.json.gz", raw_dir=tmp_path,
                                     skipped=(), previous=previous,
                                     change=SpreadChange(ratio=ratio, benchmarks=9))
        print_calibration(outcome, settings)
        out = capsys.readouterr().out
        assert ("against this machine's previous recording, of 2026-12-01T03:08:35+00:00 "
                "(eeeeeeeeeeee)") in out
        assert f"x{ratio:.2f} (median over 9 benchmarks): {word}" in out
        assert ("than then" in out) is (word != "about as noisy")
    print_calibration(replace(outcome, previous=None, change=None), settings)
    assert "previous recording" not in capsys.readouterr().out


def test_backfill_json_tells_the_first_run_on_new_hardware_from_no_baseline(
        tmp_path: Path) -> None:
    """Both are "not judged" and keep the verdict word ``no_baseline``; ``not_judged``
    says which, read back from the analysis file as backfill reads it. Both said
    "no baseline yet", and a script could not tell a machine's first run from the first
    run after its CPU was replaced under the same machine_id."""
    from perf_pipeline.pipeline.baseline import baseline_for_run
    from perf_pipeline.pipeline.regression import analyze_run
    from perf_pipeline.store import read_analysis, write_analysis
    from perf_pipeline.workspace import Workspace
    from perf_pipeline_tests.pipeline.test_hardware_mix import _history

    settings = _history(tmp_path, new_runs=1)  # 6 runs on the old CPU, 1 on the new
    ok = CommitMaterialization(sha=SHA, success=True)
    docs = {}
    with Workspace(settings) as ws:
        first = ws.store.get_run("run-01-bench-a")
        newest = ws.store.latest_run(suite="benchmarks")
        assert newest is not None
        for label, analysis in (("first", analyze_run(first, None, settings)),
                                ("new_cpu", analyze_run(newest, baseline_for_run(ws, newest),
                                                        settings))):
            path = write_analysis(tmp_path / f"{label}.json", analysis)
            read = read_analysis(path)
            docs[label] = commit_verdict(ok, read, None).to_json()
    assert docs["first"]["verdict"] == docs["new_cpu"]["verdict"] == "no_baseline"
    assert docs["first"]["not_judged"] == "no_baseline"
    assert docs["first"]["detail"] == "no baseline yet"
    assert docs["new_cpu"]["not_judged"] == "other_hardware"
    assert "other hardware" in docs["new_cpu"]["detail"]
    # An analysis file written before the reason was kept: still "no_baseline".
    assert commit_verdict(ok, _analysis(None), None).to_json()["not_judged"] == "no_baseline"
    assert commit_verdict(ok, _analysis(SUITE), None).to_json()["not_judged"] is None


def test_analyze_says_not_judged_when_the_baseline_is_of_other_hardware(
        tmp_path: Path) -> None:
    """The first run on a new CPU under the same machine_id: stdout said "no comparison
    (no baseline before this run)" beside a note that the baseline's runs were all of
    other hardware."""
    from perf_pipeline.cli.present.analyze import verdict_line
    from perf_pipeline.pipeline.analyze import analyze_results_dir
    from perf_pipeline.workspace import Workspace
    from perf_pipeline_tests.pipeline.test_hardware_mix import _history

    settings = _history(tmp_path, new_runs=1)  # 6 runs on the old CPU, 1 on the new
    outcome = analyze_results_dir(Workspace(settings), report_path=tmp_path / "a.md")
    assert outcome.verdict is None and not outcome.baseline_created
    assert verdict_line(outcome) == ("verdict: not judged (the baseline was measured on "
                                     "other hardware: see the note)")
    first = replace(outcome, analysis=_analysis(None))  # a machine's very first run
    assert verdict_line(first) == "verdict: no comparison (no baseline before this run)"
