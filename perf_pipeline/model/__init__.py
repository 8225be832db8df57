"""Frozen data classes passed between the layers.

Everything that crosses a package boundary (measure → store → analysis → report) is one
of these: immutable, validated on construction, with units in the field names. Raw dicts
from JSON files never travel further than the module that parsed them.

One module per topic; import from here (``from perf_pipeline.model import SuiteRun``):

* ``runs``: a suite run, its commit and benchmark results, run listings
* ``samples``: ``Samples``, compact read-only float64 timings
* ``metrics``: the metrics a benchmark has, and ``TIME_METRIC``
* ``environment``: where a run happened, machine ids
* ``comparison``: verdicts, comparisons against a baseline, a commit's analysis
* ``baseline``: the baseline file's contents
* ``series``: a benchmark's history, change points, drifts
* ``confirmation``: the two-stage gate's result
* ``culprit``: culprit searches
* ``alert``: alerts for the webhook and reports
* ``profile``: cProfile and tracemalloc profiles and their diffs
* ``noise``: noise corpora and profiles of a machine
* ``stress``: stress figures and their comparisons
* ``stress_confirmation``: the stress gate's second stage (fresh pairs per flagged figure)
* ``report_data``: everything a report shows
* ``schema_version``: the version written files carry
"""

from perf_pipeline.model.alert import ALERT_KINDS, Alert
from perf_pipeline.model.baseline import BASELINE_POLICIES, Baseline, BaselineEntry
from perf_pipeline.model.comparison import (
    NOT_JUDGED_REASONS,
    SUITE_SHIFT_NAME,
    BenchmarkComparison,
    CommitAnalysis,
    Comparison,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.model.confirmation import AB_CORRECTION_NOTE, CONFIRMATION_STATUSES, Confirmation
from perf_pipeline.model.culprit import CULPRIT_STATUSES, BisectStep, Culprit
from perf_pipeline.model.environment import Environment, hardware_machine_id, noise_machine_id
from perf_pipeline.model.metrics import METRICS, TIME_METRIC, MetricSpec
from perf_pipeline.model.noise import (
    NOISE_SIDES,
    BenchmarkNoise,
    NoiseCorpus,
    NoisePair,
    NoiseProfile,
    is_noise_order,
)
from perf_pipeline.model.profile import (
    PROFILE_STATUSES,
    AllocationChange,
    AllocationSite,
    FlameNode,
    FunctionChange,
    FunctionProfile,
    MemoryProfile,
    ProfileComparison,
    ProfileDiff,
    Spread,
    TimeProfile,
)
from perf_pipeline.model.report_data import ReportData
from perf_pipeline.model.runs import BenchmarkResult, CommitInfo, RunInfo, RunStatus, SuiteRun
from perf_pipeline.model.samples import Samples
from perf_pipeline.model.schema_version import SCHEMA_VERSION
from perf_pipeline.model.series import ChangePoint, Drift, LevelShift, MetricSeries, Trend
from perf_pipeline.model.stress import StressComparison, StressFigure
from perf_pipeline.model.stress_confirmation import (
    FigureTally,
    StressConfirmation,
    StressConfirmationRecord,
)

__all__ = [
    "AB_CORRECTION_NOTE",
    "ALERT_KINDS",
    "BASELINE_POLICIES",
    "CONFIRMATION_STATUSES",
    "CULPRIT_STATUSES",
    "METRICS",
    "NOISE_SIDES",
    "NOT_JUDGED_REASONS",
    "PROFILE_STATUSES",
    "SCHEMA_VERSION",
    "SUITE_SHIFT_NAME",
    "TIME_METRIC",
    "Alert",
    "AllocationChange",
    "AllocationSite",
    "Baseline",
    "BaselineEntry",
    "BenchmarkComparison",
    "BenchmarkNoise",
    "BenchmarkResult",
    "BisectStep",
    "ChangePoint",
    "CommitAnalysis",
    "CommitInfo",
    "Comparison",
    "Confirmation",
    "Culprit",
    "Drift",
    "Environment",
    "FigureTally",
    "FlameNode",
    "FunctionChange",
    "FunctionProfile",
    "LevelShift",
    "MemoryProfile",
    "MetricSeries",
    "MetricSpec",
    "NoiseCorpus",
    "NoisePair",
    "NoiseProfile",
    "ProfileComparison",
    "ProfileDiff",
    "ReportData",
    "RunInfo",
    "RunStatus",
    "Samples",
    "Spread",
    "StressComparison",
    "StressConfirmation",
    "StressConfirmationRecord",
    "StressFigure",
    "SuiteComparison",
    "SuiteRun",
    "TimeProfile",
    "Trend",
    "Verdict",
    "hardware_machine_id",
    "is_noise_order",
    "noise_machine_id",
]
