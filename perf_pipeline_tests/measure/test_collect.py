"""Ingesting a results dir: what a raw run dir holds besides its timings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from perf_pipeline.config import Settings
from perf_pipeline.measure import ingest_results_dir, measure_commit
from perf_pipeline.store import HistoryStore
from perf_pipeline_tests.measure.conftest import commit_files
from perf_pipeline_tests.measure.test_session import FAILING_STRESS


def test_a_rebuilt_history_has_the_stress_figures_of_its_runs(
        target_repo: Path, make_settings: Callable[..., Settings]) -> None:
    """The raw run dir is the source written once; ingesting it stored the run but not
    its stress figures, so a history rebuilt by `ingest` had nothing to judge."""
    commit_files(target_repo, {"proj/tests/test_stress.py": FAILING_STRESS}, "stress")
    settings = make_settings(target_repo, stress_paths=("tests/test_stress.py",))
    with HistoryStore.open(settings.db_path) as store:
        run = measure_commit(settings, "HEAD", suite="stress", store=store)
        measured = store.stress_figures(run.run_id)
    assert measured
    settings.db_path.unlink()  # rebuilt from the raw files alone
    with HistoryStore.open(settings.db_path) as store:
        summary = ingest_results_dir(settings.layout, store)
        assert summary.ingested == (run.run_id,) and summary.errors == ()
        assert store.stress_figures(run.run_id) == measured
    # A run stored without its figures (`run` died in between) gets them on the next
    # ingest, although its source is already known.
    with HistoryStore.open(settings.db_path) as store:
        store.record_stress(run.run_id, ())
        summary = ingest_results_dir(settings.layout, store)
        assert summary.skipped == (run.run_id,)
        assert store.stress_figures(run.run_id) == measured
    # A figures file that cannot be read costs its figures, not the ingest.
    for path in (Path(run.raw_path or "") / "stress").glob("*.stress.json"):
        path.write_text("{not json", encoding="utf-8")
    settings.db_path.unlink()
    with HistoryStore.open(settings.db_path) as store:
        summary = ingest_results_dir(settings.layout, store)
        assert summary.ingested == (run.run_id,) and summary.errors == ()
        assert store.stress_figures(run.run_id) == ()
