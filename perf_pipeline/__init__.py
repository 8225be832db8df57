"""perf_pipeline: continuous performance testing for Python / ML code."""

__version__ = "0.1.0"
