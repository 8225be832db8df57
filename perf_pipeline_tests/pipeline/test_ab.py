"""Interleaved A/B runs on a real tiny git repo: paired verdicts, kept raw files, errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.config import load_settings
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure import HistoryStep
from perf_pipeline.measure.ab import AB_MANIFEST, ABRound, ABRun, ABSelection
from perf_pipeline.model import CommitInfo
from perf_pipeline.pipeline import run_ab
from perf_pipeline.pipeline.ab import (
    _no_factor,
    _targets_beside_controls,
    min_rounds,
    paired_round_values,
)
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_ab_prior import calibrated, make_corpus
from perf_pipeline_tests.store.conftest import make_run


def _settings(target, results: Path, **kw):
    return load_settings(repo_path=target.repo, project_subdir=".", results_dir=results,
                         benchmark_paths=["tests"], pytest_args=target.pytest_args, **kw)


@pytest.mark.slow
def test_ab_flags_the_real_slowdown_only_and_keeps_every_round(tiny_target,
                                                                tmp_path: Path) -> None:
    # 6 benchmarks + the suite-wide factor = 7 hypotheses. 7 rounds that all agree give
    # the signed-rank test p = 1/128, under Holm's 0.1/7; so alpha 0.1 here. Threshold 1.5
    # so that only a large change counts: the slowdown commit makes mean_abs ~4x slower.
    # One process per side: this is about the fixed design (``measure`` tests check
    # several processes per side; the adaptive tests below run the default two).
    settings = _settings(tiny_target, tmp_path / "results", alpha=0.1, threshold=1.5,
                         ab_processes=1)
    neutral, slow = tiny_target.shas[1], tiny_target.shas[2]
    report = tmp_path / "ab.md"
    seen: list[int] = []
    outcome = run_ab(Workspace(settings), neutral, slow, rounds=7, seed=3, report_path=report,
                     on_round=lambda done, total: seen.append(done))
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    regressions = [r.name.split("::")[-1] for r in outcome.comparison.regressions]
    assert regressions == [tiny_target.slowed]
    (mean_abs,) = (r for r in outcome.comparison.results if r.name.endswith("test_mean_abs"))
    assert mean_abs.comparison.ratio > 2
    assert mean_abs.comparison.n_baseline == mean_abs.comparison.n_current == 7
    # Every round's JSON is kept, read-only, with a manifest of the random orders.
    raw = outcome.ab.raw_dir
    assert raw.parent == settings.raw_dir / "ab"
    assert len(list(raw.glob("round-*-base.json.gz"))) == 7
    assert len(list(raw.glob("round-*-candidate.json.gz"))) == 7
    manifest = json.loads((raw / AB_MANIFEST).read_text())
    assert manifest["seed"] == 3 and manifest["rounds_done"] == 7 and manifest["error"] is None
    assert {tuple(o) for o in manifest["orders"]} == {("base", "candidate"),
                                                      ("candidate", "base")}
    assert not (raw / AB_MANIFEST).stat().st_mode & 0o222
    # The same seed gives the same orders; per-round values are aligned by round, and a
    # side's value is its fastest sample, as in the adaptive design (not its median).
    base, candidate = paired_round_values(outcome.ab)
    assert set(base) == set(candidate) and all(len(v) == 7 for v in base.values())
    for name, values in candidate.items():
        for rnd, value in zip(outcome.ab.rounds, values, strict=True):
            bench = rnd.candidate.benchmark(name)
            assert bench is not None and value == min(bench.samples_s)
    # The report says how it was decided; an A/B run never enters the history.
    text = report.read_text()
    assert "Interleaved A/B run: 7 rounds" in text and r"test\_mean\_abs" in text
    assert outcome.files.html is not None and outcome.files.html.is_file()
    assert not settings.db_path.exists()


def test_ab_rejects_bad_input_before_measuring(tiny_target, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--repo", str(tiny_target.repo), "--results-dir", str(tmp_path / "r")]
    sha = tiny_target.shas[0]
    assert main(["ab", sha, sha, *common]) == 2
    assert "same commit" in capsys.readouterr().err
    assert main(["ab", *common, "--", "--output=x", sha]) == 2
    assert "must not start with '-'" in capsys.readouterr().err
    assert main(["ab", sha, "no-such-ref", *common]) == 2
    assert "no-such-ref" in capsys.readouterr().err
    assert main(["ab", sha, tiny_target.shas[1], "--rounds", "1", *common]) == 2
    assert "at least 2 rounds" in capsys.readouterr().err
    assert main(["ab", sha, sha, "--json", *common]) == 2  # stdout: the error document
    doc = json.loads(capsys.readouterr().out)
    assert (doc["command"], doc["verdict"], doc["exit_code"]) == ("ab", "error", 2)
    assert "same commit" in doc["error"]["message"]
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.json"))


def _break_fib(root: Path) -> None:
    calc = root / "calc.py"
    calc.write_text(calc.read_text().replace("        a, b = b, a + b\n",
                                             "        a, b = b, a + b + 1\n"))


@pytest.mark.slow
def test_a_failing_side_stops_the_ab_run_and_keeps_what_it_measured(tiny_target_factory,
                                                                    tmp_path: Path) -> None:
    target = tiny_target_factory(extra=(HistoryStep("Break fib", _break_fib),))
    settings = _settings(target, tmp_path / "results")
    with pytest.raises(MeasurementError, match="round 1, candidate") as info:
        run_ab(Workspace(settings), target.shas[2], target.shas[3], rounds=3, seed=0)
    assert "test_fib" in str(info.value)  # the suite's own output says what failed
    (raw,) = (settings.raw_dir / "ab").iterdir()
    manifest = json.loads((raw / AB_MANIFEST).read_text())
    assert manifest["rounds_done"] == 0 and "round 1, candidate" in manifest["error"]


@pytest.mark.parametrize(("benchmarks", "alpha"), [(1, 0.01), (6, 0.1), (9, 0.01), (11, 0.01),
                                                   (50, 0.01), (1000, 0.05)])
def test_min_rounds_is_where_the_signed_rank_test_can_first_pass_holm(benchmarks: int,
                                                                      alpha: float) -> None:
    from scipy import stats

    n = min_rounds(benchmarks, alpha)

    def best_p(rounds: int) -> float:  # every round agrees: the most extreme outcome
        diffs = [0.1 + 0.01 * i for i in range(rounds)]
        return float(stats.wilcoxon(diffs, alternative="greater").pvalue)

    assert best_p(n) <= alpha / benchmarks < best_p(n - 1)


def _cli_config(tiny_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at the tiny target through a config file alone; the results dir."""
    results = tmp_path / "results"
    config = tiny_target.write_config(tmp_path / "perf_pipeline.toml", results_dir=results)
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    for var in ("PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL", "PERF_PIPELINE_RESULTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    return results


@pytest.mark.slow
def test_adaptive_ab_measures_only_the_selection_and_stops_early(
        tiny_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    results = _cli_config(tiny_target, tmp_path, monkeypatch)
    neutral, slow = tiny_target.shas[1], tiny_target.shas[2]
    code = main(["ab", "--adaptive", "-k", "not word_index", "--max-rounds", "10",
                 "--threshold", "1.5", "--seed", "2", "--report", str(tmp_path / "ab.md"),
                 "--processes", "2", "--json", neutral, slow])
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    doc = json.loads(captured.out)  # all of stdout is the document
    assert (doc["verdict"], doc["base"], doc["candidate"]) == ("regression", neutral, slow)
    regressions = [r["name"].split("::")[-1] for r in doc["comparison"]["results"]
                   if r["comparison"]["verdict"] == "regression"]
    assert regressions == [tiny_target.slowed]
    assert 5 <= doc["adaptive"]["rounds_used"] == doc["rounds"] <= 10
    (raw,) = (results / "raw" / "ab").iterdir()
    manifest = json.loads((raw / AB_MANIFEST).read_text())
    assert manifest["selection"] == {"node_ids": [], "keyword": "not word_index",
                                     "controls": []}
    assert 5 <= manifest["rounds_done"] <= 10
    # Two processes per side (the default; the config file of these tests says 1), both
    # kept.
    assert manifest["processes_per_side"] == 2
    for name in ("round-001-base.json.gz", "round-001-base-2.json.gz"):
        first = json.loads(gzip.decompress((raw / name).read_bytes()))
        names = {b["name"].split("::")[-1] for b in first["benchmarks"]}
        assert "test_word_index" not in names and "test_mean_abs" in names
    text = (tmp_path / "ab.md").read_text()
    assert "Adaptive interleaved A/B run" in text and "in 2 pytest processes each" in text
    # Nothing calibrated on this machine: the rounds' own spread, and how to do better.
    prior = doc["adaptive"]["variance_prior"]
    assert prior["used"] is False and "no noise profile of this machine" in prior["note"]
    assert "no noise profile of this machine" in text
    assert doc["adaptive"]["noise_over_prior"] is None
    assert doc["adaptive"]["noise_note"] is None


@pytest.mark.slow
def test_adaptive_ab_tests_only_its_targets_beside_named_controls(
        tiny_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    results = _cli_config(tiny_target, tmp_path, monkeypatch)
    neutral, slow = tiny_target.shas[1], tiny_target.shas[2]
    target = f"tests/test_perf.py::{tiny_target.slowed}"
    controls = ["tests/test_perf.py::test_checksum", "tests/test_perf.py::test_sorted_words",
                "tests/test_perf.py::test_joined"]
    args = ["ab", "--adaptive", "--max-rounds", "8", "--threshold", "1.5", "--seed", "3",
            "--report", str(tmp_path / "ab.md"), "--json", neutral, slow,
            "--node-id", target, *(x for c in controls for x in ("--control", c))]
    # This machine was calibrated: the A/B's t borrows the recorded spread.
    with Workspace(load_settings()) as ws:
        calibrated(ws, make_corpus(names=tuple(sorted((target, *controls))), pairs=20,
                                   noise=0.05),
                   tmp_path / "noise.json.gz")
    code = main(args)
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    doc = json.loads(captured.out)
    prior = doc["adaptive"]["variance_prior"]
    assert prior["used"] is True and prior["rounds"] == 20 and prior["df"] == 4
    assert prior["note"].startswith("variance prior: ")
    assert "moderated" in doc["comparison"]["results"][0]["comparison"]["method"]
    # Only the target is judged (no controls, no suite-wide shift) and it is the regression.
    assert [(r["name"], r["comparison"]["verdict"]) for r in doc["comparison"]["results"]] \
        == [(target, "regression")]
    (raw,) = (results / "raw" / "ab").iterdir()
    manifest = json.loads((raw / AB_MANIFEST).read_text())
    assert manifest["selection"]["controls"] == controls
    assert manifest["processes_per_side"] == 1
    first = json.loads(gzip.decompress((raw / "round-001-base.json.gz").read_bytes()))
    assert sorted(b["fullname"] for b in first["benchmarks"]) == sorted([target, *controls])
    text = (tmp_path / "ab.md").read_text()
    assert "Controls, measured but not tested" in text
    assert doc["no_factor"] is None
    # How the machine compared with its recording; the report says so when much noisier.
    k = doc["adaptive"]["noise_over_prior"]
    assert k > 0
    assert ("noisier in this A/B than in its noise recording" in text) is (k >= 2.0)
    assert (doc["adaptive"]["noise_note"] is not None) is (k >= 2.0)

    # Refused before measuring anything: without --adaptive, and beside -k.
    for bad in (["--control", controls[0]],
                ["--adaptive", "-k", "mean", "--control", controls[0]]):
        assert main(["ab", neutral, slow, *bad]) == 2
        assert "control" in capsys.readouterr().err
    assert len(list((results / "raw" / "ab").iterdir())) == 1


def test_targets_beside_controls_are_checked_on_the_first_round() -> None:
    first = {"t.py::a": (1.0, 1.0), "t.py::b": (1.0, 1.0), "t.py::C::c": (1.0, 1.0),
             "t.py::d[1]": (1.0, 1.0)}
    select = ABSelection(node_ids=("t.py::a",), controls=("t.py::C", "t.py::d"))
    assert _targets_beside_controls(first, select) == ("t.py::a", "t.py::b")
    with pytest.raises(InvalidInputError, match=r"'t\.py::e' matched no benchmark"):
        _targets_beside_controls(first, ABSelection(controls=("t.py::C", "t.py::e")))
    with pytest.raises(InvalidInputError, match="matched 1 benchmark"):
        _targets_beside_controls(first, ABSelection(controls=("t.py::C",)))
    with pytest.raises(InvalidInputError, match="nothing to test"):
        _targets_beside_controls({"t.py::a": (1.0, 1.0), "t.py::b": (1.0, 1.0)},
                                 ABSelection(controls=("t.py::a", "t.py::b")))


@pytest.mark.parametrize(("names", "controls", "warned"), [
    (("tests/t.py::a",), (), True),
    (("tests/t.py::a", "tests/t.py::b", "tests/t.py::c"), (), True),
    (("tests/t.py::a", "tests/t.py::b", "tests/t.py::c"), ("tests/t.py::b", "tests/t.py::c"),
     False),
    (tuple(f"tests/t.py::b{i}" for i in range(5)), (), False),
])
def test_rounds_too_narrow_for_a_suite_factor_are_warned_about(
        names: tuple[str, ...], controls: tuple[str, ...], warned: bool) -> None:
    rnd = ABRound(index=1, order=("base", "candidate"), base=make_run(1, names=names),
                  candidate=make_run(2, names=names))
    ab = ABRun(ab_id="x", base=CommitInfo(sha="1" * 40), candidate=CommitInfo(sha="2" * 40),
               rounds=(rnd,), seed=1, raw_dir=Path("raw"))
    warning = _no_factor(ab, controls)
    assert (warning is not None) is warned
    if warned:
        assert f"Only {len(names)} benchmark(s) per round" in warning
        assert "--control" in warning


@pytest.mark.parametrize(("args", "message"), [
    (["--adaptive", "--rounds", "8"], "--rounds sets the fixed-round design"),
    (["--max-rounds", "8"], "--max-rounds needs --adaptive"),
    (["--prior", "off"], "--prior needs --adaptive"),
    (["--adaptive", "--max-rounds", "3"], "--max-rounds must be in 5..1000"),
    (["--adaptive", "--max-rounds", "0"], "--max-rounds must be in 5..1000"),
    (["--adaptive", "--max-rounds", "1001"], "--max-rounds must be in 5..1000"),
    (["--report", "."], "is a directory"),
    (["--report", "pyproject.toml/report.md"], "is not a directory"),
])
def test_ab_refuses_what_it_would_ignore_or_fail_on_before_measuring(
        tiny_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    results = _cli_config(tiny_target, tmp_path, monkeypatch)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # has a pyproject.toml file
    code = main(["ab", *args, tiny_target.shas[0], tiny_target.shas[1]])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (results / "raw").exists()  # nothing was measured


@pytest.mark.slow
def test_a_budget_spent_before_the_first_look_still_reports_what_it_measured(
        tiny_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _cli_config(tiny_target, tmp_path, monkeypatch)
    monkeypatch.setenv("PERF_PIPELINE_CONFIRM_BUDGET", "0.5")  # one round, then out
    code = main(["ab", "--adaptive", "-k", "mean_abs or checksum", "--seed", "4",
                 "--report", str(tmp_path / "ab.md"), "--json", *tiny_target.shas[1:3]])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    doc = json.loads(captured.out)
    assert doc["verdict"] == "inconclusive"
    assert doc["adaptive"]["stopped"] == "budget" and doc["rounds"] == 1
    assert "before the adaptive design's first look" in doc["too_few_rounds"]
    assert {r["comparison"]["verdict"] for r in doc["comparison"]["results"]} == {
        "inconclusive"}
    assert "before the adaptive design's first look" in (tmp_path / "ab.md").read_text()
    assert doc["adaptive"]["variance_prior"] is None  # judged without the sequential test


def test_a_benchmark_lost_after_round_1_is_counted_out_of_the_factor_warning() -> None:
    """Five benchmarks in round 1, four from round 2 on: the adaptive design judges the
    four without a factor, and the warning said nothing (it read round 1's width)."""
    names = tuple(f"tests/t.py::b{i}" for i in range(5))
    rounds = tuple(ABRound(index=i, order=("base", "candidate"),
                           base=make_run(1, names=names if i == 1 else names[:4]),
                           candidate=make_run(2, names=names if i == 1 else names[:4]))
                   for i in (1, 2))
    ab = ABRun(ab_id="x", base=CommitInfo(sha="1" * 40), candidate=CommitInfo(sha="2" * 40),
               rounds=rounds, seed=1, raw_dir=Path("raw"))
    warning = _no_factor(ab, ())
    assert warning is not None and "Only 4 benchmark(s) per round" in warning


def test_the_notes_do_not_claim_a_suite_factor_was_removed_when_none_was() -> None:
    # Two benchmarks per round: no factor can be removed, and a note says so; the first
    # note said "with each round's suite-wide factor removed" all the same.
    from perf_pipeline.analysis.sequential_result import SequentialResult
    from perf_pipeline.config import Settings
    from perf_pipeline.model import SuiteComparison
    from perf_pipeline.pipeline.ab import _notes, _sequential_notes

    def ab_of(names: tuple[str, ...]) -> ABRun:
        rnd = ABRound(index=1, order=("base", "candidate"), base=make_run(1, names=names),
                      candidate=make_run(2, names=names))
        return ABRun(ab_id="x", base=CommitInfo(sha="1" * 40),
                     candidate=CommitInfo(sha="2" * 40), rounds=(rnd,), seed=1,
                     raw_dir=Path("raw"))

    comparison = SuiteComparison(results=(), correction="holm", alpha=0.01)
    result = SequentialResult(comparison=comparison, rounds_used=1, looks=(), decided_at={},
                              stopped="max_rounds")
    for names in (("tests/t.py::a", "tests/t.py::b"),
                  tuple(f"tests/t.py::b{i}" for i in range(5))):
        ab = ab_of(names)
        no_factor = _no_factor(ab, ())
        for notes in (_notes(ab, Settings(), comparison, None, no_factor),
                      _sequential_notes(ab, Settings(), result, 5, None, (), no_factor)):
            text = " ".join(notes)
            removed = "factor removed" in text or "after removing each round's" in text
            assert removed is (no_factor is None), text
            assert ("left in" in notes[0]) is (no_factor is not None)


TICK_TEST = '''
def test_tick(benchmark):
    # A timer too coarse for this benchmark: every round reads 0.0 s.
    benchmark._timer = lambda: 0.0
    assert benchmark.pedantic(sum, args=([1, 2, 3],), rounds=5, iterations=1) == 6
'''


def _add_tick(root: Path) -> None:
    (root / "tests" / "test_tick.py").write_text(TICK_TEST)


def _add_readme(root: Path) -> None:
    (root / "README.md").write_text("Tiny numeric helpers.\n")


@pytest.mark.slow
def test_a_benchmark_whose_rounds_read_zero_is_left_out_of_the_ab_and_the_rest_judged(
        tiny_target_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A benchmark below the timer's resolution (its rounds read 0.0 s, kept at ingest)
    made `perf-pipeline ab` exit 2 after measuring every round ("a zero time has no
    log-ratio"; --adaptive: "values must be finite and > 0" at round 1), the other six
    benchmarks' verdicts lost. It is left out, said in stdout, --json and the report;
    the rest is judged. With nothing else to judge the A/B exits 2 saying so."""
    target = tiny_target_factory(extra=(HistoryStep("Add a benchmark below the timer",
                                                    _add_tick), HistoryStep("Docs", _add_readme)))
    _cli_config(target, tmp_path, monkeypatch)
    base, cand = target.shas[3], target.shas[4]
    tick = "tests/test_tick.py::test_tick"
    report = tmp_path / "ab.md"
    code = main(["ab", "--rounds", "2", "--seed", "1", "--report", str(report), "--json",
                 base, cand])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    doc = json.loads(captured.out)
    assert [(lo["name"], lo["round"], lo["base"], lo["candidate"]) for lo in doc["left_out"]
            ] == [(tick, 1, 0.0, 0.0)]
    assert "round 1's base and candidate values are 0.0 s" in doc["left_out"][0]["why"]
    judged = {r["name"].split("::")[-1] for r in doc["comparison"]["results"]}
    assert judged == {"test_mean_abs", "test_checksum", "test_sorted_words",
                      "test_word_index", "test_joined", "test_fib", "[suite-wide shift]"}
    assert tick not in doc["partial"] + doc["comparison"]["new"] + doc["comparison"]["missing"]
    assert doc["no_factor"] is None
    text = report.read_text()
    assert "Left out of the A/B (neither judged nor a control)" in text and "test\\_tick" in text
    # The same, as text.
    code = main(["ab", "--rounds", "2", "--seed", "1", "--report", str(report), base, cand])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "left out     test_tick (round 1's base and candidate values are 0.0 s" in \
        captured.out.replace("\n", " ")
    # Nothing else to judge: refused as unusable input, not a traceback.
    for args in (["--rounds", "2", "-k", "tick"],
                 ["--adaptive", "--node-id", tick, "--control",
                  "tests/test_perf.py::test_checksum", "--control",
                  "tests/test_perf.py::test_joined"]):
        assert main(["ab", *args, "--report", str(report), base, cand]) == 2
        err = capsys.readouterr().err.replace("\n", " ")
        assert "error: nothing left to judge in this A/B: 'tests/test_tick.py::test_tick': " \
               "round 1's base and candidate values are 0.0 s" in err
