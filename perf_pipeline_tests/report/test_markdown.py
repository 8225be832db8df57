"""Markdown report: verdict first, escaping of untrusted text, the GitHub size limit."""

from __future__ import annotations

import dataclasses

import pytest

from perf_pipeline.model import (
    BenchmarkComparison,
    BenchmarkResult,
    Comparison,
    Confirmation,
    ReportData,
    RunStatus,
    SuiteComparison,
    SuiteRun,
    Verdict,
)
from perf_pipeline.report import GITHUB_COMMENT_LIMIT, MARKER, escape_markdown, render_markdown
from perf_pipeline_tests.report.synthetic import (
    XSS_MESSAGE,
    XSS_NAME,
    make_report_data,
    with_memory_regression,
)


def test_marker_then_one_line_verdict_first() -> None:
    lines = render_markdown(make_report_data()).splitlines()
    assert lines[0] == MARKER
    assert lines[1].startswith("❌ 1 significant regression (of 6 benchmarks)")
    assert "vs baseline" in lines[1]
    assert lines[2] == ""


def test_clean_run_says_no_regression() -> None:
    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    results = tuple(r for r in comp.results if r.comparison.verdict != "regression")
    data = dataclasses.replace(data, comparison=dataclasses.replace(comp, results=results))
    text = render_markdown(data)
    assert text.splitlines()[1].startswith("✅ No significant regression")


def test_full_table_names_the_metric_behind_an_icon_time_did_not_earn() -> None:
    data, name = with_memory_regression(make_report_data(hostile=False))
    text = render_markdown(data)
    full = text[text.index("Full metrics"):]
    row = next(line for line in full.splitlines() if escape_markdown(name) in line)
    icon, time_ratio = row.split(" | ")[1], row.split(" | ")[3]
    assert time_ratio.endswith("×") and float(time_ratio.rstrip("×")) < 1
    assert icon == "🔴 peak RSS"  # not a bare red icon beside a time ratio of 0.7
    regressed = next(line for line in full.splitlines() if "test\\_bench\\_000" in line)
    assert regressed.split(" | ")[1] == "🔴"  # time itself regressed: nothing to name


def test_tables_and_sections_present() -> None:
    text = render_markdown(dataclasses.replace(make_report_data(),
                                               report_url="https://ci.example/r.html"))
    assert "### Regressions and improvements" in text
    assert "<details><summary>Full metrics of 6 benchmarks</summary>" in text
    assert "Environment differs" in text and "3.11.10" in text
    assert "Significance level α = 0.01" in text and "holm" in text
    assert "[Interactive HTML report](https://ci.example/r.html)" in text
    assert "MiB" in text and " ms" in text
    assert "test\\_brand\\_new" in text


def test_untrusted_text_is_escaped() -> None:
    data = make_report_data()
    text = render_markdown(data)
    assert XSS_NAME not in text
    assert "test\\_&lt;img src=x onerror=alert(1)&gt;" in text
    assert "test\\_gone\\|x" in text  # a pipe cannot split the row
    cell = escape_markdown(XSS_MESSAGE + "\nsecond line")
    assert "<" not in cell and "`" not in cell and "\n" not in cell and "@" not in cell
    assert "\\|" in cell
    for line in text.splitlines():
        if line.startswith("| ") and "test\\_&lt;img" in line:
            assert line.count(" | ") == line.replace("\\|", "").count(" | ")


def test_a_ratio_with_the_suite_shift_removed_is_not_called_current_over_baseline() -> None:
    """Half a suite 50 % slower: the screen judges each benchmark relative to the shift,
    so a row read "832 µs | 496 µs | 0.40×" (0.60 / 1.49) under "Ratio = current /
    baseline"; the note now says what was divided out, and by how much."""
    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    removed = "run-level prediction interval, moderated t, suite shift removed"
    shift = BenchmarkComparison(name="[suite-wide shift]", metric="time_s", comparison=(
        dataclasses.replace(comp.results[0].comparison, ratio=1.49, method=(
            "suite-wide shift (median over benchmarks) vs baseline runs' machine factors"))))
    results = tuple(dataclasses.replace(r, comparison=dataclasses.replace(
        r.comparison, method=removed)) for r in comp.results)
    shifted = dataclasses.replace(data, comparison=dataclasses.replace(
        comp, results=(*results, shift)))
    notes = render_markdown(shifted).split("### Statistical notes", 1)[1]
    assert "Ratio = current / baseline (> 1 is slower or bigger); where the method says " \
        "suite shift removed, it is that ratio divided by the run's suite-wide shift " \
        "(time per call 1.49×)" in notes
    plain = render_markdown(data).split("### Statistical notes", 1)[1]
    assert "Ratio = current / baseline (> 1 is slower or bigger)." in plain
    assert "divided by" not in plain
    usual = dataclasses.replace(shift, comparison=dataclasses.replace(
        shift.comparison, ratio=1.003))  # a machine's everyday shift: no sentence
    usual_notes = render_markdown(dataclasses.replace(data, comparison=dataclasses.replace(
        comp, results=(*results, usual)))).split("### Statistical notes", 1)[1]
    assert "divided by" not in usual_notes


def test_a_commit_without_a_message_has_no_dangling_dash() -> None:
    """Plain pytest-benchmark files carry no commit message: "| Commit | <sha> on main —  |"."""
    data = make_report_data(hostile=False)
    assert data.current is not None and data.current.commit is not None
    bare = dataclasses.replace(data.current.commit, message="")
    data = dataclasses.replace(data, current=dataclasses.replace(data.current, commit=bare))
    row = next(line for line in render_markdown(data).splitlines() if line.startswith("| Commit"))
    assert row == f"| Commit | {bare.sha[:10]} on main |"


def test_dollars_in_names_and_subjects_are_not_math_on_github() -> None:
    """GitHub typesets text between two ``$`` as a formula: a pytest id
    ``test_tpl[${a}_${b}]`` or a subject "Read ${HOME} once" lost its dollars and braces."""
    name = "tests/test_tpl.py::test_tpl[${a}_${b}]"
    data = make_report_data(hostile=False)
    comp, cur = data.comparison, data.current
    assert comp is not None and cur is not None and cur.commit is not None
    old = comp.results[0].name
    data = dataclasses.replace(
        data,
        comparison=dataclasses.replace(comp, results=tuple(
            dataclasses.replace(r, name=name) if r.name == old else r for r in comp.results)),
        current=dataclasses.replace(
            cur, commit=dataclasses.replace(cur.commit, message="Read ${HOME} once, per ${X}"),
            benchmarks=tuple(dataclasses.replace(b, name=name) if b.name == old else b
                             for b in cur.benchmarks)))
    text = render_markdown(data)
    assert "$" not in text
    assert "test\\_tpl\\[&#36;{a}\\_&#36;{b}\\]" in text
    assert "Read &#36;{HOME} once, per &#36;{X}" in text


@pytest.mark.parametrize("case", ["empty", "one_run", "no_baseline", "failed", "no_commit"])
def test_edge_cases_give_a_clear_report(case: str) -> None:
    if case == "empty":
        data = ReportData(title="t", generated_at="2025-01-01T00:00:00Z")
        expect = "No performance data yet"
    elif case == "one_run":
        data = make_report_data(n_runs=1, n_samples=1)
        expect = "No baseline yet"
    elif case == "no_baseline":
        data = make_report_data(with_baseline=False)
        expect = "No baseline yet"
    elif case == "failed":
        data = dataclasses.replace(make_report_data(), current=SuiteRun(
            run_id="r", suite="benchmarks", started_at="2025-01-01T00:00:00Z",
            status=RunStatus.FAILED, error="boom <b>|\nTraceback"))
        expect = "failed: boom &lt;b&gt;\\|"
    else:
        data = ReportData(title="t", generated_at="2025-01-01T00:00:00Z", current=SuiteRun(
            run_id="foreign", suite="benchmarks", started_at="2025-03-04T05:06:07",
            status=RunStatus.SUCCESS,
            benchmarks=(BenchmarkResult(name="test_x", samples_s=(),
                                        summary=(("median_s", 0.002),)),)))
        expect = "run of 2025-03-04T05:06:07"
    text = render_markdown(data)
    assert text.startswith(MARKER + "\n")
    assert expect in text.splitlines()[1]


def test_five_thousand_benchmarks_fit_the_comment_limit() -> None:
    data = make_report_data(n_benchmarks=5000, n_runs=2, n_samples=3,
                            metrics=("time_s",))
    text = render_markdown(data)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    lines = text.splitlines()
    assert lines[0] == MARKER and lines[1].startswith("❌")
    assert "not shown (GitHub comment size limit)" in text
    assert "test\\_bench\\_000\\[case-0\\]" in text  # the regression survives truncation
    assert text.count("<details>") == text.count("</details>")


def test_failed_benchmarks_survive_the_size_limit_before_renamed_ones() -> None:
    """A refactor renamed most of the suite and three benchmarks crashed: rows go from the
    end of the list over the limit, and the failed ones came last (0 of 3 in the comment,
    all 140 new ones listed)."""
    data = make_report_data(n_benchmarks=150, n_runs=3, hostile=False, metrics=("time_s",))
    long = "x_" * 70
    failed = tuple(f"tests/perf/test_io.py::test_crash_{i}" for i in range(3))
    data = dataclasses.replace(data, comparison=dataclasses.replace(
        data.comparison,
        new=tuple(f"tests/perf/test_renamed.py::test_new_{i:03d}[{long}]" for i in range(140)),
        missing=tuple(f"tests/perf/test_old.py::test_old_{i:03d}[{long}]" for i in range(140)),
        failed=failed))
    text = render_markdown(data)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    listed = text.split("### New, missing and failed benchmarks", 1)[1]
    assert "not shown (GitHub comment size limit)" in listed
    for name in failed:
        assert f"- 💥 failed: {escape_markdown(name)}" in listed


def _whole_suite_ab_report() -> str:
    """The comment of a whole-suite A/B of 150 long-named targets, 5 of them (the last
    in name order) confirmed regressions: over the size limit."""
    data = make_report_data(n_benchmarks=150, n_runs=3, hostile=False, metrics=("time_s",))
    assert data.current is not None
    targets = tuple(sorted(b.name.replace("]", "_p" * 60 + "]")
                           for b in data.current.benchmarks))
    regressed = set(targets[-5:])

    def result(name: str) -> BenchmarkComparison:
        bad = name in regressed
        return BenchmarkComparison(name=name, metric="time_s", comparison=Comparison(
            verdict=Verdict.REGRESSION if bad else Verdict.UNCHANGED,
            ratio=1.4 if bad else 1.0, ci_low=1.3 if bad else 0.97,
            ci_high=1.5 if bad else 1.03, p_value=1e-6 if bad else 0.5, significant=bad,
            threshold=1.2, alpha=0.01, n_baseline=10, n_current=10,
            method="sequential interleaved A/B: per-round log-ratios"))

    ab = SuiteComparison(results=tuple(result(n) for n in targets), correction="holm",
                         alpha=0.01)
    data = dataclasses.replace(data, comparison=ab, confirmation=Confirmation(
        sha="a" * 40, run_id=data.current.run_id, created_at="2025-01-21",
        status="confirmed", screen_alpha=0.5, screen=ab, final=ab, ab=ab, base_sha="b" * 40,
        flagged=targets, rounds_used=5, max_rounds=100, stopped="decided",
        decided_at=tuple((n, 5) for n in targets), whole_suite=True))
    return render_markdown(data)


def test_confirmed_regressions_survive_the_size_limit_in_the_confirmation_table() -> None:
    """The Confirmation table lost rows from its end in name order: the 5 confirmed
    regressions (test_bench_145..149) were dropped while 97 cleared targets were listed."""
    text = _whole_suite_ab_report()
    assert len(text) <= GITHUB_COMMENT_LIMIT
    table = text.split("### Confirmation", 1)[1].split("###", 1)[0]
    assert sum(line.startswith("| 🔴 |") for line in table.splitlines()) == 5


def test_the_screens_list_shrinks_before_the_confirmation_table() -> None:
    """The Screen's flagged names (the stage "not trusted alone") were not a table and
    always stayed whole: 150 long names cost the Confirmation table 53 of its rows."""
    text = _whole_suite_ab_report()
    screen = text.split("### Screen", 1)[1].split("###", 1)[0]
    table = text.split("### Confirmation", 1)[1].split("###", 1)[0]
    assert "not shown (GitHub comment size limit)" in screen
    assert sum(line.startswith(("| 🔴 |", "| ⚪ |")) for line in table.splitlines()) == 150


def test_tiny_limit_still_returns_text() -> None:
    text = render_markdown(make_report_data(), max_chars=300)
    assert len(text) <= 300
    assert text.startswith(MARKER)


@pytest.mark.parametrize(("alpha", "level"), [(0.05, "95 %"), (0.01, "99 %"),
                                               (0.005, "99.5 %"), (0.001, "99.9 %"),
                                               (0.0001, "99.99 %"), (0.1, "90 %")])
def test_the_ci_level_is_printed_exactly(alpha: float, level: str) -> None:
    """``{1 - alpha:.0%}`` called the 99.5 % and 99.9 % intervals "100%": in the
    Markdown's statistical notes and the HTML's."""
    from perf_pipeline.model import AB_CORRECTION_NOTE, SuiteComparison
    from perf_pipeline.report import render_html
    from perf_pipeline.report.markdown import ci_meaning

    for correction in ("holm", "sequential-bonferroni", f"holm; {AB_CORRECTION_NOTE}"):
        text = ci_meaning(SuiteComparison(results=(), correction=correction, alpha=alpha))
        assert level in text and "100%" not in text and "100 %" not in text
    data = make_report_data()
    assert data.comparison is not None
    data = dataclasses.replace(data, comparison=dataclasses.replace(data.comparison,
                                                                    alpha=alpha))
    assert f"CI is the {level} interval of the ratio" in render_markdown(data)
    assert f"CI is the {level} interval of the ratio" in render_html(data, inline_js=False)


def test_the_ci_column_is_explained_for_each_kind_of_comparison() -> None:
    from perf_pipeline.model import AB_CORRECTION_NOTE, SuiteComparison
    from perf_pipeline.report.markdown import ci_meaning

    def meaning(correction: str) -> str:
        return ci_meaning(SuiteComparison(results=(), correction=correction, alpha=0.01))

    assert meaning("holm") == "CI is the 99 % interval of the ratio."
    assert meaning("sequential-bonferroni").startswith("Every row is the A/B's")
    both = meaning(f"holm; {AB_CORRECTION_NOTE}")
    assert "where the stored-baseline comparison decides" in both and "rows marked A/B" in both


def test_without_a_baseline_the_confirmation_does_not_claim_a_screen_ran() -> None:
    # The first commit: the Screen says no comparison was made; the Confirmation must not
    # go on to say "the screen flagged nothing", in either format.
    from perf_pipeline.model import Confirmation
    from perf_pipeline.report import render_html

    data = make_report_data(with_baseline=False, with_comparison=False, hostile=False)
    assert data.current is not None
    confirmation = Confirmation(sha=None, run_id=data.current.run_id, created_at="2025-01-21",
                                status="nothing_flagged", screen_alpha=0.5, screen=None,
                                final=None)
    data = dataclasses.replace(data, confirmation=confirmation)
    md = render_markdown(data)
    page = render_html(data, inline_js=False)
    for text in (md, page):
        assert "No stored-baseline comparison (no baseline yet)." in text
        assert "screen flagged nothing" not in text
        assert "Not needed: no baseline yet, so nothing was screened." in text


def test_a_baseline_that_cannot_judge_the_run_is_not_called_no_baseline() -> None:
    # A rolling baseline all of other hardware (a CPU swap under a kept machine_id), or
    # a pinned one of another machine: the Summary names it, and the Screen and the
    # Confirmation said "no baseline yet" under it.
    from perf_pipeline.model import Confirmation
    from perf_pipeline.report import render_html

    data = make_report_data(with_baseline=True, with_comparison=False, hostile=False)
    assert data.current is not None and data.baseline is not None
    confirmation = Confirmation(sha=None, run_id=data.current.run_id, created_at="2025-01-21",
                                status="nothing_flagged", screen_alpha=0.5, screen=None,
                                final=None, notes=("Not judged: other hardware.",))
    data = dataclasses.replace(data, confirmation=confirmation)
    for text in (render_markdown(data), render_html(data, inline_js=False)):
        assert "no baseline yet" not in text
        assert "No stored-baseline comparison (the baseline cannot judge this run)." in text
        assert "Not needed: the baseline cannot judge this run, so nothing was screened." \
            in text


def test_long_names_that_differ_at_the_end_stay_apart() -> None:
    # Parametrized ids differ at the end; cut from the end, a regression and an
    # improvement read as the same benchmark in the table.
    from perf_pipeline.report.markdown import escape_name

    data = make_report_data(hostile=False)
    assert data.current is not None and data.comparison is not None
    param = "dataset=" + "large_parquet_partitioned_by_day_" * 5
    rename = {b.name: f"tests/perf/test_io.py::test_read[{param}-{i}]"
              for i, b in enumerate(data.current.benchmarks)}
    data = dataclasses.replace(
        data, current=dataclasses.replace(data.current, benchmarks=tuple(
            dataclasses.replace(b, name=rename[b.name]) for b in data.current.benchmarks)),
        comparison=dataclasses.replace(data.comparison, results=tuple(
            dataclasses.replace(r, name=rename.get(r.name, r.name))
            for r in data.comparison.results)))
    md = render_markdown(data)
    changed = [line.split(" | ")[1] for line in md.splitlines()
               if line.startswith(("| 🔴", "| 🟢"))]
    assert len(changed) == 2 and len(set(changed)) == 2
    assert changed[0].startswith("tests/perf/test\\_io.py") and changed[0].endswith("-0\\]")
    assert len(escape_name("x" * 500)) == 160 and escape_name("short_name") == "short\\_name"


def test_the_history_line_counts_stress_runs_apart() -> None:
    """"History | 15 run(s)" counted the nightly stress runs among the benchmark runs
    the trends are drawn from."""
    data = make_report_data(hostile=False)
    assert data.runs
    runs = (*data.runs, dataclasses.replace(data.runs[-1], run_id="s1", suite="stress"))
    text = render_markdown(dataclasses.replace(data, runs=runs))
    assert (f"| History | {len(data.runs)} benchmark run(s) and 1 stress run(s) from"
            in text)
    assert f"| History | {len(data.runs)} run(s) from" in render_markdown(data)


def test_the_timed_samples_are_called_a_calls_time_not_a_rounds() -> None:
    # pytest-benchmark divides each round by its iterations (cattrs' fast benchmarks run
    # 18 calls a round): the report's "time per round 267 ns" was the time of one call.
    data = make_report_data(hostile=False)
    assert data.current is not None and all(b.iterations > 1 for b in data.current.benchmarks)
    text = render_markdown(data)
    assert "time per call ×1.2" in text
    assert "time per round" not in text


def test_inconclusive_row_keeps_the_whole_reason() -> None:
    """The "Why" cell of an inconclusive row is the reason the comparison could not
    decide, and its end is what a reader needs: a cut at 80 characters left PR comments
    reading "cannot decide at threshold 1.…" or "(raw ratio 1.0…", and dropped the
    "flagged anyway: its own ratio is 3.9" that explains a flag."""
    reason = ("5 baseline runs; judged relative to the suite-wide shift +185.5% (raw ratio "
              "3.095); ratio 1.073 with interval [0.845, 1.36] cannot decide at threshold "
              "1.2 (p=0.42); about 13 more runs of this commit would decide; flagged anyway: "
              "its own ratio is 3.907, beyond the threshold 1.2: part of the suite-wide shift "
              "it is judged against may be its own change")
    data = make_report_data(hostile=False)
    comp = data.comparison
    assert comp is not None
    results = tuple(
        dataclasses.replace(r, comparison=dataclasses.replace(r.comparison, reason=reason))
        if r.comparison.verdict == Verdict.INCONCLUSIVE else r for r in comp.results)
    assert any(r.comparison.reason == reason for r in results)
    text = render_markdown(dataclasses.replace(
        data, comparison=dataclasses.replace(comp, results=results)))
    assert escape_markdown(reason, max_len=len(reason)) in text
