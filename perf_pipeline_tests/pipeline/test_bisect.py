"""pipeline/bisect.py on a real git repo and a real history db, without measuring: runs
are ingested as the measurements would record them, and the A/B's rounds are fed as
recorded rounds (the confirmation's injectable round source)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, MeasurementError
from perf_pipeline.measure.ab import ABSelection
from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun
from perf_pipeline.pipeline.bisect import (
    SearchSpec,
    confirm_culprit,
    confirm_search,
    culprit_actions,
    culprit_path,
    find_culprit,
    open_culprit_searches,
    plan_search,
    read_culprits,
    request_culprit_search,
)
from perf_pipeline.pipeline.confirm import RoundFeed
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.measure.conftest import commit_files, git

STEP = "tests/test_w.py::test_step"
CONTROLS = tuple(f"tests/test_w.py::test_steady_{c}" for c in "abcd")
N_COMMITS = 41
STEP_AT = 21  # the first slower commit (0-based); unmeasured at first
T0 = 1_700_000_000


def make_repo(path: Path, n: int) -> tuple[str, ...]:
    """``n`` commits on main, one minute apart, via fast-import (cheap)."""
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, timeout=30)
    parts = []
    for i in range(n):
        msg = f"change {i}\n".encode()
        body = f"{i}\n".encode()
        who = f"Ann Author <ann@example.org> {T0 + 60 * i} +0000"
        parts.append(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        parts.append(f"author {who}\ncommitter {who}\n".encode())
        parts.append(b"data %d\n%s" % (len(msg), msg))
        if i:
            parts.append(b"from :%d\n" % i)
        parts.append(b"M 644 inline f.txt\ndata %d\n%s\n" % (len(body), body))
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(parts),
                   check=True, timeout=60)
    out = subprocess.run(["git", "-C", str(path), "rev-list", "--reverse", "main"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return tuple(out.split())


def repo_and_settings(tmp_path: Path, n: int, **overrides: object
                      ) -> tuple[Settings, tuple[str, ...]]:
    """``make_repo`` of ``n`` commits in ``tmp_path/repo``, results in ``tmp_path/results``."""
    shas = make_repo(tmp_path / "repo", n)
    return Settings(repo_path=tmp_path / "repo", project_subdir=".",  # type: ignore[arg-type]
                    results_dir=tmp_path / "results", **overrides), shas


def run_at(i: int, sha: str, rng: np.random.Generator, *, step_at: int = STEP_AT,
           ratio: float = 1.25) -> SuiteRun:
    when = datetime.fromtimestamp(T0 + 60 * i, timezone.utc).isoformat()
    benches = []
    for name in (STEP, *CONTROLS):
        level = 1e-3 * (ratio if name == STEP and i >= step_at else 1.0)
        value = level * float(np.exp(rng.normal(0, 0.02)))
        benches.append(BenchmarkResult(name=name, samples_s=tuple(
            value * (1 + 0.001 * k) for k in range(5))))
    return SuiteRun(run_id=f"run-{i:03d}", suite="benchmarks", started_at=when,
                    status=RunStatus.SUCCESS, benchmarks=tuple(benches),
                    commit=CommitInfo(sha=sha, branch="main", message=f"change {i}",
                                      author="Ann Author <ann@example.org>",
                                      committed_at=when))


def recorded_rounds(ratio: float, seed: int = 0):
    rng = np.random.default_rng(seed)

    def source(select: ABSelection) -> RoundFeed:
        assert select.node_ids[0] == STEP and set(select.node_ids[1:]) == set(CONTROLS)

        def rounds():
            while True:
                f = float(np.exp(rng.normal(0, 0.05)))  # the round's machine factor
                yield {n: (1e-3 * float(np.exp(rng.normal(0, 0.02))),
                           1e-3 * f * (ratio if n == STEP else 1.0)
                           * float(np.exp(rng.normal(0, 0.02)))) for n in select.node_ids}
        return RoundFeed(rounds=rounds())

    return source


@pytest.fixture
def history(tmp_path: Path) -> tuple[Settings, tuple[str, ...]]:
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    rng = np.random.default_rng(7)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, N_COMMITS, 2):  # every other commit measured
            store.ingest_run(run_at(i, shas[i], rng))
    return settings, shas


def test_a_change_point_between_measured_commits_starts_a_search_that_ends_confirmed(
        history: tuple[Settings, tuple[str, ...]]) -> None:
    settings, shas = history
    ws = Workspace(settings)
    (action,) = culprit_actions(ws)
    assert (action.kind, action.sha) == ("measure", shas[STEP_AT])
    assert (action.spec.good, action.spec.bad) == (shas[STEP_AT - 1], shas[STEP_AT + 1])
    assert action.spec.benchmark == STEP and action.spec.trigger == "change_point"
    assert culprit_actions(ws) == (action,)  # same plan until the probe is measured
    with HistoryStore.open(settings.db_path) as store:  # the probe's measurement
        store.ingest_run(run_at(STEP_AT, shas[STEP_AT], np.random.default_rng(1)))
    (action,) = culprit_actions(ws)
    assert (action.kind, action.sha) == ("confirm", shas[STEP_AT])
    # An A/B that sees no difference does not confirm it...
    culprit = confirm_search(ws, action.spec, shas[STEP_AT], rounds=recorded_rounds(1.0))
    assert culprit.status == "not_confirmed" and culprit.sha == shas[STEP_AT]
    # ...one that sees the step does; the search is then over.
    culprit = confirm_search(ws, action.spec, shas[STEP_AT],
                             rounds=recorded_rounds(1.25))
    assert culprit.status == "confirmed" and culprit.verdict == "regression"
    assert culprit.subject == f"change {STEP_AT}" and culprit.author.startswith("Ann Author")
    assert culprit.parent_sha == shas[STEP_AT - 1] and culprit.probes == (shas[STEP_AT],)
    assert 1.15 < culprit.confirmed_ratio < 1.35  # type: ignore[operator]
    assert culprit.ci_low <= culprit.confirmed_ratio <= culprit.ci_high  # type: ignore[operator]
    assert culprit_actions(ws) == ()
    assert [c.sha for c in read_culprits(ws)] == [shas[STEP_AT]]


def test_confirming_a_commit_the_search_does_not_name_is_refused(
        history: tuple[Settings, tuple[str, ...]]) -> None:
    settings, shas = history
    ws = Workspace(settings)
    (action,) = culprit_actions(ws)
    with pytest.raises(InvalidInputError, match="is not over"):
        confirm_search(ws, action.spec, shas[STEP_AT], rounds=recorded_rounds(1.25))


@pytest.mark.parametrize("step_at", [1, 17, 40])
def test_find_culprit_bisects_a_range_measured_only_at_its_ends(tmp_path: Path,
                                                                step_at: int) -> None:
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    ws = Workspace(settings)
    rng = np.random.default_rng(step_at)
    with HistoryStore.open(settings.db_path) as store:
        for i in (0, N_COMMITS - 1):
            store.ingest_run(run_at(i, shas[i], rng, step_at=step_at))
    probed: list[int] = []

    def probe(sha: str) -> None:
        probed.append(shas.index(sha))
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(run_at(shas.index(sha), sha, rng, step_at=step_at))

    culprit = find_culprit(ws, shas[0], shas[-1], probe=probe, confirm=False)
    assert culprit.sha == shas[step_at] and culprit.status == "unconfirmed"
    assert culprit.benchmark == STEP  # the one that slowed, chosen without -k
    assert len(probed) <= 6 and tuple(shas[i] for i in probed) == culprit.probes
    (stored,) = read_culprits(ws)
    assert stored == culprit


def test_searching_again_keeps_the_earlier_ab_and_probes(tmp_path: Path) -> None:
    """A re-run (here without an A/B, measuring nothing new) used to replace the
    confirmed result with an "unconfirmed" one with no probes: the evidence was gone."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    ws = Workspace(settings)
    rng = np.random.default_rng(5)
    with HistoryStore.open(settings.db_path) as store:
        for i in (0, N_COMMITS - 1):
            store.ingest_run(run_at(i, shas[i], rng, step_at=17))

    def probe(sha: str) -> None:
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(run_at(shas.index(sha), sha, rng, step_at=17))

    first = find_culprit(ws, shas[0], shas[-1], probe=probe, rounds=recorded_rounds(1.25))
    assert first.status == "confirmed" and first.sha == shas[17] and first.probes
    again = find_culprit(ws, shas[0], shas[-1], probe=probe, confirm=False)
    assert (again.status, again.sha, again.confirmed_ratio, again.probes) == (
        "confirmed", first.sha, first.confirmed_ratio, first.probes)
    assert "without an A/B" in again.notes[-1]
    (stored,) = read_culprits(ws)
    assert stored == again
    # A new A/B is new evidence: it replaces the old one (the probes stay).
    third = find_culprit(ws, shas[0], shas[-1], probe=probe, rounds=recorded_rounds(1.0, 1))
    assert third.status == "not_confirmed" and third.probes == first.probes
    # A broken earlier result is refused before any probe or A/B, and kept.
    (path,) = (settings.results_dir / "culprits").glob("*.json")
    path.write_text("{not json")
    probed: list[str] = []
    with pytest.raises(InvalidInputError, match="move it away"):
        find_culprit(ws, shas[0], shas[-1], probe=probed.append, confirm=False)
    assert probed == [] and path.read_text() == "{not json"


def test_a_benchmark_that_did_not_slow_cannot_be_searched(
        history: tuple[Settings, tuple[str, ...]]) -> None:
    settings, shas = history
    ws = Workspace(settings)
    with pytest.raises(InvalidInputError, match="is not slower"):
        request_culprit_search(ws, shas[0], shas[40], keyword="steady_a")
    with pytest.raises(InvalidInputError, match="no benchmark matching 'nope'"):
        request_culprit_search(ws, shas[0], shas[40], keyword="nope")
    with pytest.raises(InvalidInputError, match="not an ancestor"):
        request_culprit_search(ws, shas[40], shas[0])
    with pytest.raises(InvalidInputError, match="GOOD and BAD are the same commit"):
        request_culprit_search(ws, shas[4], shas[4])


def test_a_whole_suite_slowdown_is_explained_not_called_unchanged(tmp_path: Path) -> None:
    """Every benchmark 30 % slower: divided out with the machine's load, so no search;
    the message used to quote only the factor-free x1.0, which read as a bug."""
    settings, shas = repo_and_settings(tmp_path, 3)
    rng = np.random.default_rng(2)
    with HistoryStore.open(settings.db_path) as store:
        for i in (0, 2):
            run = run_at(i, shas[i], rng, step_at=99)
            slower = tuple(replace(b, samples_s=tuple(v * (1.3 if i else 1.0)
                                                      for v in b.samples_s))
                           for b in run.benchmarks)
            store.ingest_run(replace(run, benchmarks=slower))
    with pytest.raises(InvalidInputError, match=r"as measured x1\.[23]\d*, but the other "
                                                r"benchmarks slowed alike"):
        request_culprit_search(Workspace(settings), shas[0], shas[2], keyword="test_step")


def test_a_search_on_a_machine_without_runs_measures_here_and_never_mixes(
        tmp_path: Path) -> None:
    """Box C has no runs; box B measured every commit (a step at 5). The search read B's
    history, measured its first probe on C, then read only C's and failed ("no
    successful measurement at" the good commit); before that it mixed machines."""
    settings, shas = repo_and_settings(tmp_path, 21, machine_id="box-c")
    other, here = np.random.default_rng(8), np.random.default_rng(9)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(21):
            store.ingest_run(replace(run_at(i, shas[i], other, step_at=5),
                                     run_id=f"b-{i:03d}", machine_id="box-b"))
    probed: list[int] = []

    def probe(sha: str) -> None:  # measured on this machine, box C: the step is at 13
        probed.append(shas.index(sha))
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(replace(run_at(shas.index(sha), sha, here, step_at=13),
                                     run_id=f"c-{shas.index(sha):03d}", machine_id="box-c"))

    culprit = find_culprit(Workspace(settings), shas[0], shas[20], probe=probe,
                           confirm=False)
    assert culprit.sha == shas[13]  # C's own step, not B's at 5
    assert probed[:2] == [0, 20]  # the ends, measured here first


def test_a_search_reads_only_this_machines_runs(tmp_path: Path) -> None:
    """Another machine measured every commit (its step elsewhere): this machine's search
    still probes its own unmeasured commit, never taking the other's values for its own."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS, machine_id="box-a")
    rng, other = np.random.default_rng(7), np.random.default_rng(8)  # box-a: as `history`
    with HistoryStore.open(settings.db_path) as store:
        for i in range(N_COMMITS):
            if i % 2 == 0:
                store.ingest_run(replace(run_at(i, shas[i], rng), machine_id="box-a"))
            store.ingest_run(replace(run_at(i, shas[i], other, step_at=5),
                                     run_id=f"b-{i:03d}", machine_id="box-b"))
    (action,) = culprit_actions(Workspace(settings))
    assert (action.kind, action.sha) == ("measure", shas[STEP_AT])



def _without_step(run: SuiteRun) -> SuiteRun:
    """``run`` as a suite that ran fine but did not run the searched benchmark there
    (deselected, skipped or renamed at that commit)."""
    return replace(run, benchmarks=tuple(b for b in run.benchmarks if b.name != STEP))


def _ends_measured(tmp_path: Path
                   ) -> tuple[Settings, list[str], Workspace, np.random.Generator]:
    """17 commits, a step at commit 9, only the two ends measured: a search's start."""
    settings, shas = repo_and_settings(tmp_path, 17)
    rng = np.random.default_rng(0)
    with HistoryStore.open(settings.db_path) as store:
        for i in (0, 16):
            store.ingest_run(run_at(i, shas[i], rng, step_at=9))
    return settings, shas, Workspace(settings), rng


def test_a_probe_whose_run_lacks_the_benchmark_is_skipped_not_measured_again(
        tmp_path: Path) -> None:
    """Commit 8's run succeeded without the searched benchmark: it was neither measured
    nor failed, so the search proposed it again and again (40 measurements, then "no
    convergence"; the sensor asked for it with the same run key every tick)."""
    settings, shas, ws, rng = _ends_measured(tmp_path)
    probed: list[int] = []

    def probe(sha: str) -> None:
        i = shas.index(sha)
        probed.append(i)
        run = run_at(i, sha, rng, step_at=9)
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(_without_step(run) if i == 8 else run)

    culprit = find_culprit(ws, shas[0], shas[16], probe=probe, confirm=False)
    assert sorted(set(probed)) == sorted(probed) and probed[0] == 8  # each commit once
    # 8 is passed over like a commit whose suite failed: 8 or 9 carries the step.
    assert culprit.status == "ambiguous" and culprit.suspects == (shas[8], shas[9])


def test_the_sensor_moves_past_a_probe_whose_run_lacks_the_benchmark(
        tmp_path: Path) -> None:
    settings, shas, ws, rng = _ends_measured(tmp_path)
    request_culprit_search(ws, shas[0], shas[16])
    asked: list[str] = []
    for _ in range(3):
        (action,) = culprit_actions(ws, detect=False)
        assert action.kind == "measure" and action.sha not in asked
        asked.append(action.sha)
        run = run_at(shas.index(action.sha), action.sha, rng, step_at=9)
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(replace(_without_step(run), run_id=f"probe-{len(asked)}"))


def test_find_culprit_never_measures_a_commit_twice(tmp_path: Path) -> None:
    """A probe that records nothing (here: a measurement kept elsewhere) leaves the
    search where it was; it used to measure the same commit 40 times before giving up."""
    _, shas, ws, _ = _ends_measured(tmp_path)
    probed: list[str] = []
    with pytest.raises(MeasurementError, match=f"{shas[8][:10]}.*measured once"):
        find_culprit(ws, shas[0], shas[16], probe=probed.append, confirm=False)
    assert probed == [shas[8]]


def _history_framed_by(settings: Settings, shas: tuple[str, ...], good: str) -> None:
    """The ``history`` fixture's runs, with the measured commit before the step
    recorded at ``good`` instead."""
    rng = np.random.default_rng(7)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, N_COMMITS, 2):
            run = run_at(i, shas[i], rng)
            if i == STEP_AT - 1:
                run = replace(run, commit=replace(run.commit, sha=good))
            store.ingest_run(run)


def test_a_change_point_after_a_commit_the_repo_no_longer_has_is_searched_from_the_one_before(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Main was force-pushed: the measured commit before the step is gone from the
    repo. Listing the commits between raised MeasurementError on every tick, so no
    culprit search anywhere made progress; then the step got no search at all."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    gone = "1234567890abcdef" * 2 + "12345678"
    _history_framed_by(settings, shas, gone)
    ws = Workspace(settings)
    with caplog.at_level("INFO", logger="perf_pipeline.pipeline.bisect"):
        (action,) = culprit_actions(ws)
    assert (action.kind, action.sha) == ("measure", shas[STEP_AT - 1])
    assert (action.spec.good, action.spec.bad) == (shas[STEP_AT - 3], shas[STEP_AT + 1])
    assert gone[:10] in caplog.text and "not an ancestor" in caplog.text


def test_a_change_point_inside_a_requested_search_is_left_to_it(tmp_path: Path) -> None:
    """A search requested over the whole range finds the step: a second one defined for
    its change point would run a second A/B of the same culprit."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    _history_framed_by(settings, shas, shas[STEP_AT - 1])
    ws = Workspace(settings)
    requested = request_culprit_search(ws, shas[0], shas[40])
    assert [a.spec for a in culprit_actions(ws)] == [requested]


def test_a_change_point_after_a_commit_of_another_branch_is_searched_from_main(
        tmp_path: Path) -> None:
    """The measured commit before the step is a pull request's (branched at commit 10,
    measured where main's commit 20 would be): no range to search from it. A search was
    once defined from it, only to be abandoned on the next tick; then none at all, so
    the step went unsearched although main's commit 18, measured before it, frames it."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    side = git(settings.repo_path, "commit-tree", "-p", shas[10], "-m", "side",
               f"{shas[10]}^{{tree}}")
    _history_framed_by(settings, shas, side)
    ws = Workspace(settings)
    (spec,) = open_culprit_searches(ws)
    assert (spec.good, spec.bad) == (shas[STEP_AT - 3], shas[STEP_AT + 1])
    assert spec.measured_before == (shas[STEP_AT - 3], shas[STEP_AT + 1])
    (action,) = culprit_actions(ws)
    assert (action.kind, action.sha) == ("measure", shas[STEP_AT - 1])
    assert read_culprits(ws) == ()


def _merged_side_branch(tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    """main A-B-C-M-D, where M merges the side branch A-F1-F2."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    sha = {"A": commit_files(repo, {"a.txt": "A\n"}, "A")}
    git(repo, "checkout", "-q", "-b", "feature")
    sha["F1"] = commit_files(repo, {"f.txt": "1\n"}, "F1")
    sha["F2"] = commit_files(repo, {"f.txt": "2\n"}, "F2")
    git(repo, "checkout", "-q", "main")
    sha["B"] = commit_files(repo, {"a.txt": "B\n"}, "B")
    sha["C"] = commit_files(repo, {"a.txt": "C\n"}, "C")
    git(repo, "merge", "-q", "--no-ff", "-m", "M", "feature")
    sha["M"] = git(repo, "rev-parse", "HEAD")
    sha["D"] = commit_files(repo, {"a.txt": "D\n"}, "D")
    return Settings(repo_path=repo, project_subdir=".",  # type: ignore[arg-type]
                    results_dir=tmp_path / "results"), sha


def test_a_good_commit_on_a_merged_side_branch_is_refused(tmp_path: Path) -> None:
    """GOOD=F2 (merged at M), BAD=D: the range was F2, B, C, M, D, though B and C do
    not contain F2, and B, the slow one, was named and A/B'd against F2, not its
    parent A."""
    settings, sha = _merged_side_branch(tmp_path)
    ws = Workspace(settings)
    name = {s: n for n, s in sha.items()}
    rng = np.random.default_rng(3)

    def probe(s: str) -> None:  # B brought the slowdown to main
        run = run_at(0, s, rng, step_at=0 if s in (sha["B"], sha["C"], sha["M"], sha["D"])
                     else 1)
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(replace(run, run_id=f"run-{name[s]}"))

    probe(sha["F2"])
    probe(sha["D"])
    probed: list[str] = []
    for search in (lambda: request_culprit_search(ws, sha["F2"], sha["D"]),
                   lambda: find_culprit(ws, sha["F2"], sha["D"], probe=probed.append,
                                        confirm=False)):
        with pytest.raises(InvalidInputError, match=r"not on the first-parent chain"):
            search()
    assert probed == []
    probe(sha["A"])  # A, on main, is a good commit to start from: B is named, A its parent
    culprit = find_culprit(ws, sha["A"], sha["D"], probe=probe, confirm=False)
    assert (culprit.sha, culprit.parent_sha) == (sha["B"], sha["A"])


def test_the_culprit_is_ab_tested_against_its_parent_from_git(tmp_path: Path) -> None:
    """Even a search whose planned good end is not the culprit's parent (a range an
    older version accepted) A/Bs the culprit against its real parent."""
    settings, shas = repo_and_settings(tmp_path, 9)
    ws = Workspace(settings)
    rng = np.random.default_rng(4)
    with HistoryStore.open(settings.db_path) as store:
        for i in (0, 4, 8):
            store.ingest_run(run_at(i, shas[i], rng, step_at=8))
    spec = SearchSpec(good=shas[0], bad=shas[8], benchmark=STEP)
    commits = (shas[0], shas[4], shas[8])  # as if 4 were 8's parent
    search = plan_search(ws, spec, commits=commits)
    assert (search.step.good, search.step.culprit) == (shas[4], shas[8])
    culprit = confirm_culprit(ws, search, rounds=recorded_rounds(1.25))
    assert culprit.sha == shas[8] and culprit.parent_sha == shas[7]
    assert shas[7][:10] in culprit.notes[0]


def test_one_noisy_measurement_before_the_step_is_outvoted_and_named(
        tmp_path: Path) -> None:
    """Commit 3 was measured once on the new level (noise), 5, 6 and 7 on the old one;
    the step is at 12. The search used to trust 3 and name a commit at or before it."""
    settings, shas = repo_and_settings(tmp_path, 17)
    ws = Workspace(settings)
    rng = np.random.default_rng(6)
    with HistoryStore.open(settings.db_path) as store:
        for i in (0, 3, 5, 6, 7, 16):
            store.ingest_run(run_at(i, shas[i], rng, step_at=3 if i == 3 else 12))

    def probe(sha: str) -> None:
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(run_at(shas.index(sha), sha, rng, step_at=12))

    culprit = find_culprit(ws, shas[0], shas[16], probe=probe, confirm=False)
    assert culprit.sha == shas[12] and culprit.parent_sha == shas[11]
    assert shas[3][:10] in culprit.notes[-1] and "noisy" in culprit.notes[-1]


def test_a_search_git_cannot_plan_this_tick_waits_and_the_others_go_on(
        history: tuple[Settings, tuple[str, ...]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A transient failure (git timed out) planning one search raised out of
    ``culprit_actions``, so the sensor skipped the tick for every search; nor must it
    close that search, as bad input does."""
    import perf_pipeline.pipeline.bisect as bisect

    settings, shas = history
    ws = Workspace(settings)
    (step_action,) = culprit_actions(ws)
    other = request_culprit_search(ws, shas[0], shas[40])
    real_plan = bisect.plan_search

    def flaky_plan(ws_: Workspace, spec: SearchSpec, **kwargs: object) -> object:
        if spec == step_action.spec:
            raise MeasurementError("git rev-list timed out after 60 s")
        return real_plan(ws_, spec, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bisect, "plan_search", flaky_plan)
    held: list[tuple[SearchSpec, str]] = []
    actions = culprit_actions(ws, on_error=lambda spec, exc: held.append((spec, str(exc))))
    assert [a.spec for a in actions] == [other]  # the other search moves
    assert held == [(step_action.spec, "git rev-list timed out after 60 s")]
    assert read_culprits(ws) == ()  # nothing closed: the held search is still open
    monkeypatch.setattr(bisect, "plan_search", real_plan)
    assert {a.spec for a in culprit_actions(ws)} == {step_action.spec, other}


def test_a_benchmark_renamed_before_the_culprit_is_no_control_of_its_ab(
        tmp_path: Path) -> None:
    """A benchmark of the early history, renamed before the slowdown, was the steadiest
    of all and was picked as an A/B control: pytest found no such test at the culprit or
    its parent ("ERROR: not found"), exited 4, and `perf-pipeline bisect` stopped with
    exit 2 at the A/B's first round. Controls are benchmarks both sides have."""
    gone = "tests/test_w.py::test_renamed_away"
    settings, shas = repo_and_settings(tmp_path, 9)
    ws = Workspace(settings)
    rng = np.random.default_rng(5)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(9):
            run = run_at(i, shas[i], rng, step_at=6)
            if i < 4:  # renamed at commit 4, long before the step at 6
                run = replace(run, benchmarks=(*run.benchmarks, BenchmarkResult(
                    name=gone, samples_s=(2e-3, 2e-3, 2e-3, 2e-3, 2e-3))))
            store.ingest_run(run)
    search = plan_search(ws, SearchSpec(good=shas[0], bad=shas[8], benchmark=STEP))
    assert search.step.culprit == shas[6]
    culprit = confirm_culprit(ws, search, rounds=recorded_rounds(1.25))
    assert culprit.status == "confirmed" and culprit.sha == shas[6]


@pytest.mark.parametrize("step_at", [63, 61])  # the first probe (62) good, then bad
def test_a_search_s_own_probe_does_not_start_a_second_search_of_its_step(
        tmp_path: Path, step_at: int) -> None:
    """Every 4th commit measured, the step between 60 and 64: the search probes 62. A
    good 62 became the measured commit before the step, a bad one the step's new first
    commit, and either way the sensor saw a change point framed anew and defined a
    second search of the same step (60..64 and 62..64, or 60..62), which asked for a
    second A/B of the same culprit."""
    n = 121
    settings, shas = repo_and_settings(tmp_path, n)
    ws = Workspace(settings)
    rng = np.random.default_rng(7)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, n, 4):
            store.ingest_run(run_at(i, shas[i], rng, step_at=step_at))
    searched = set()
    for _ in range(4):
        actions = culprit_actions(ws)
        searched |= {(a.spec.good, a.spec.bad) for a in actions}
        probes = {a.sha for a in actions if a.kind == "measure"}
        if not probes:
            break
        with HistoryStore.open(settings.db_path) as store:
            for sha in probes:
                store.ingest_run(run_at(shas.index(sha), sha, rng, step_at=step_at))
    assert searched == {(shas[60], shas[64])}
    assert [(a.kind, a.sha) for a in actions] == [("confirm", shas[step_at])]


def test_a_broken_result_file_holds_up_only_its_own_search(
        history: tuple[Settings, tuple[str, ...]]) -> None:
    """One search's result file is broken (it is never replaced: it may be the only
    record of an A/B). Reading it raised out of culprit_actions, so the sensor skipped
    every tick and every other open search waited with it."""
    settings, shas = history
    ws = Workspace(settings)
    (action,) = culprit_actions(ws)
    other = request_culprit_search(ws, shas[0], shas[40])
    culprit_path(ws, other).parent.mkdir(parents=True, exist_ok=True)
    culprit_path(ws, other).write_text("{not json", encoding="utf-8")
    held: list[str] = []
    assert culprit_actions(ws, on_error=lambda spec, exc: held.append(spec.key)) == (action,)
    assert held == [other.key]
    assert culprit_path(ws, other).read_text(encoding="utf-8") == "{not json"
