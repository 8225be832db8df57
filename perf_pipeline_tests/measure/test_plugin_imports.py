"""The plugin every measured pytest process loads imports the standard library only."""

from __future__ import annotations

import json
import subprocess
import sys

import perf_pipeline.measure as measure

#: What the rest of the package brings in, which a measured suite does not use.
HEAVY = ("numpy", "sqlite3", "perf_pipeline.store", "perf_pipeline.config",
         "perf_pipeline.model", "perf_pipeline.measure.session", "perf_pipeline.measure.git")


def test_the_plugin_loads_nothing_of_the_rest_of_the_package() -> None:
    """``-p perf_pipeline.measure.plugin`` runs this package's ``__init__``, which imported
    every measure module (git, sessions, the store, numpy): 0.2-0.4 s more start-up per
    measured process, before its first benchmark, and memory the suite never used."""
    code = ("import json, sys; import perf_pipeline.measure.plugin; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(HEAVY)


def test_every_public_name_is_there_when_asked() -> None:
    assert set(measure.__all__) <= set(dir(measure))
    for name in measure.__all__:
        assert getattr(measure, name) is not None
    assert measure.measure_commit.__module__ == "perf_pipeline.measure.session"
