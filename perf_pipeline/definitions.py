"""Dagster entry point for `dagster dev` and `dagster asset materialize -m ...definitions`.

Everything lives in ``perf_pipeline/defs/``; this file only loads that folder, and in a
fleet prefixes the asset keys with the location's machine (``defs/fleet.py``).
"""

from pathlib import Path

import dagster as dg

from perf_pipeline.defs.fleet import prefix_location_keys


@dg.definitions
def defs() -> dg.Definitions:
    return prefix_location_keys(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
