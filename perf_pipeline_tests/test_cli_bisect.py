"""``perf-pipeline bisect``: a history measured at every commit needs no probe, so the
command runs without measuring (the measuring path is the Dagster end-to-end test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.cli import main
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.pipeline.test_bisect import STEP, make_repo, run_at


def test_bisect_names_the_culprit_from_the_history(tmp_path: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    shas = make_repo(tmp_path / "repo", 12)
    results = tmp_path / "results"
    rng = np.random.default_rng(3)
    with HistoryStore.open(results / "perf_history.db") as store:
        for i, sha in enumerate(shas):
            store.ingest_run(run_at(i, sha, rng, step_at=7))
    args = ["--repo", str(tmp_path / "repo"), "--results-dir", str(results)]
    assert main(["bisect", shas[2], shas[11], "--no-confirm", *args]) == 0
    out = capsys.readouterr().out
    assert f"culprit (unconfirmed): {shas[7][:10]} change 7" in out
    assert "test_step" in out and "measured 0 commit(s)" in out
    assert STEP.endswith("test_step")
    assert main(["bisect", shas[11], shas[2], *args]) == 2
    assert "not an ancestor" in capsys.readouterr().err
