"""The version every JSON file perf_pipeline writes carries."""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION"]


#: Version of every JSON file perf_pipeline writes (raw run files, baseline).
SCHEMA_VERSION = 1
