"""End to end through Dagster: stress regressions, each reported on its own commit.

A temp repo whose first commit is clean, whose second makes a request handler keep every
payload (a leak), and whose third makes a step quadratic. ``stress_results`` runs the
repo's stress suite (the ``stress`` fixture of our plugin) at each commit and
``stress_analysis`` judges it against the commit before.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.launch import materialize_commit
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline_tests.measure.conftest import commit_files, git

CLEAN = textwrap.dedent('''
    KEPT = []

    def handle(payload):
        return len(bytes(payload))

    def step(n):
        for _ in range(n * 64):
            pass
''')
LEAKING = CLEAN.replace("return len(bytes(payload))",
                        "KEPT.append(bytes(payload))\n    return len(KEPT[-1])")
QUADRATIC = LEAKING.replace("for _ in range(n * 64):\n        pass",
                            "for _ in range(n):\n        for _ in range(n):\n            pass")
SUITE = textwrap.dedent('''
    import pytest

    import calc

    pytestmark = pytest.mark.stress


    def test_requests_soak(stress):
        stress.soak("requests", lambda: calc.handle(8_000), duration_s=0.25,
                    max_iterations=300)


    def test_step_scaling(stress):
        stress.size_sweep("step", calc.step, base_size=64, doublings=4)
''')
INI = "[pytest]\nmarkers =\n    stress: scaled load\npythonpath = .\n"


@pytest.mark.slow
def test_a_leak_and_a_quadratic_step_each_on_their_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = [commit_files(repo, {"calc.py": CLEAN, "tests/test_stress.py": SUITE,
                                "pytest.ini": INI}, "clean"),
            commit_files(repo, {"calc.py": LEAKING}, "handle: keep every payload"),
            commit_files(repo, {"calc.py": QUADRATIC}, "step: quadratic")]
    monkeypatch.setenv("STRESS_MULTIPLIER", "1")
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    results = tmp_path / "results"
    # Three fresh pairs confirm one flagged figure at alpha 0.15 (2**-3 < 0.15): the
    # fewest processes that still run the whole second stage (the leak and exponent
    # rules do not depend on alpha).
    workspace = WorkspaceResource(repo_path=str(repo), project_subdir=".",
                                  results_dir=str(results), stress_paths=["tests"],
                                  stress_confirm_pairs=3, alpha=0.15)
    found, pairs, warned = {}, {}, {}
    with dg.instance_for_test() as instance:
        for sha in shas:
            outcome = materialize_commit(
                instance=instance, sha=sha, selection=["stress_results", "stress_analysis"],
                workspace=workspace)
            assert outcome.success, outcome.error
            warned[sha] = outcome.warned_checks
            (record,) = [r for r in instance.fetch_materializations(
                dg.AssetKey("stress_analysis"), limit=10).records
                if r.asset_materialization.partition == sha]  # type: ignore[union-attr]
            meta = record.asset_materialization.metadata  # type: ignore[union-attr]
            found[sha] = sorted(meta["regressed_figures"].value)
            pairs[sha] = meta["confirmation_pairs"].value
    assert found == {shas[0]: [], shas[1]: ["requests:leak"], shas[2]: ["step:exponent"]}
    # Each was confirmed by fresh interleaved pairs of runs of both commits.
    assert pairs == {shas[0]: 0, shas[1]: 3, shas[2]: 3}
    check = "stress_analysis:no_confirmed_stress_regressions"  # WARN: the run stays green
    assert [check in w for w in warned.values()] == [False, True, True]
    report = (results / "reports" / "commits" / shas[2] / "stress-report.md").read_text()
    assert "step exponent" in report
    assert "confirmed: worse in 3 of 3 fresh pair(s)" in report
    assert "measured again in 3 fresh interleaved pair(s)" in report
    kept = list((results / "raw" / "stress-confirm").iterdir())
    assert len(kept) == 2 and all((k / "pairs.jsonl").is_file() for k in kept)
