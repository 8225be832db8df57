"""Per-commit steps: a library error becomes the step's Failure, naming the commit once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.defs.analysis import regression_analysis
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import InvalidInputError

SHA = "a" * 40


def test_a_failed_commit_step_names_the_commit_once(tmp_path: Path) -> None:
    """The analysis of a commit never measured: "commit X: commit X: no successful
    benchmark run ..." named the commit twice in every per-commit failure."""
    workspace = WorkspaceResource(repo_path=str(tmp_path),
                                  results_dir=str(tmp_path / "results"))
    with pytest.raises(dg.Failure) as failure:
        regression_analysis(dg.build_asset_context(partition_key=SHA), workspace=workspace)
    assert failure.value.description is not None
    assert failure.value.description.count(SHA) == 1
    assert "no successful benchmark run" in failure.value.description


def test_a_message_without_the_commit_gets_it_in_front() -> None:
    from perf_pipeline.defs.partitions import commit_failure

    failure = commit_failure(SHA, InvalidInputError("suite timed out"), what="culprit")
    assert failure.description == f"culprit {SHA}: suite timed out"
