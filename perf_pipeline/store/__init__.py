"""The history of suite runs (SQLite or PostgreSQL), and the baseline file.

Only this package contains SQL. Everything it returns is a ``perf_pipeline.model``
object; everything that goes wrong is a ``StoreError`` (or ``InvalidInputError`` for
bad arguments and unreadable files) naming the file.
"""

from perf_pipeline.store.analysis_file import (
    read_analysis,
    suite_comparison_to_dict,
    write_analysis,
)
from perf_pipeline.store.baseline_file import read_baseline, write_baseline
from perf_pipeline.store.confirmation_file import read_confirmation, write_confirmation
from perf_pipeline.store.culprit_file import list_culprits, read_culprit, write_culprit
from perf_pipeline.store.history import HistoryStore, open_history
from perf_pipeline.store.noise_corpus import load_noise_corpus, write_noise_corpus
from perf_pipeline.store.pooling import pool_runs
from perf_pipeline.store.profile_file import read_profile_comparison, write_profile_comparison
from perf_pipeline.store.schema import LATEST_VERSION
from perf_pipeline.store.sources import SourceStamp, source_stamp
from perf_pipeline.store.stress_confirmation_file import (
    read_stress_confirmation_file,
    write_stress_confirmation_file,
)

__all__ = [
    "LATEST_VERSION",
    "HistoryStore",
    "SourceStamp",
    "list_culprits",
    "load_noise_corpus",
    "open_history",
    "pool_runs",
    "read_analysis",
    "read_baseline",
    "read_confirmation",
    "read_culprit",
    "read_profile_comparison",
    "read_stress_confirmation_file",
    "source_stamp",
    "suite_comparison_to_dict",
    "write_analysis",
    "write_baseline",
    "write_confirmation",
    "write_culprit",
    "write_noise_corpus",
    "write_profile_comparison",
    "write_stress_confirmation_file",
]
