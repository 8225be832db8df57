"""Stage the pytest plugin into a target's own environment.

Every runner but "current" runs the suite in the target's environment, which need not
have perf_pipeline or its dependencies: the plugin and the stdlib-only modules it imports
(relatively) are copied there as plain files, under a package name of their own, and put
on ``PYTHONPATH``. Everything listed here is held to the standard library and psutil
(``perf_pipeline_tests/test_layers.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["STAGED_MODULES", "STAGED_PACKAGE", "stage_plugin"]

#: The package name the plugin is staged under for foreign environments (every runner but
#: "current"): a name of its own, so it cannot shadow a ``perf_pipeline`` the target may
#: import.
STAGED_PACKAGE = "_perf_pipeline_probe"
#: The plugin and the stdlib-only modules it imports (relatively), copied as they are.
STAGED_MODULES = ("plugin.py", "benchmark_fixture.py", "resource_usage.py", "completion.py",
                  "fingerprint.py", "percentiles.py", "profiling.py", "stress_session.py",
                  "stress_harness.py", "stress_processes.py", "stress_tally.py",
                  "process_readings.py", "stress_growth.py", "latency_histogram.py", "trend.py")


def stage_plugin(dest: Path) -> Path:
    """Copy the plugin (and the stdlib-only modules it uses) to ``dest/<package>``.

    Returns ``dest``: put it on PYTHONPATH and load ``-p _perf_pipeline_probe.plugin``.
    Only these modules can be imported from there, so the target's environment does
    not need perf_pipeline or its dependencies.
    """
    here = Path(__file__).resolve().parent
    package = Path(dest) / STAGED_PACKAGE
    package.mkdir(parents=True, exist_ok=False)
    (package / "__init__.py").write_text('"""perf_pipeline\'s pytest plugin, staged."""\n')
    for name in STAGED_MODULES:
        shutil.copyfile(here / name, package / name)
    return Path(dest)
