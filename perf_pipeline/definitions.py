"""Dagster entry point for `dagster dev` and `dagster asset materialize -m ...definitions`.

Everything lives in ``perf_pipeline/defs/``; this file only loads that folder.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
