"""Root conftest: makes ``core`` importable and keeps stress tests opt-in.

Stress tests are slow and their numbers only mean something on a quiet machine, so a
plain ``pytest`` (or ``pytest tests/ml/integration/``) skips them; they run only when the
``-m`` expression names the ``stress`` marker, e.g. ``pytest -m stress``.
"""

from __future__ import annotations

import pytest


def _stress_requested(config: pytest.Config) -> bool:
    return "stress" in (config.getoption("markexpr", default="") or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _stress_requested(config):
        return
    skip = pytest.mark.skip(reason="stress test: run with `-m stress`")
    for item in items:
        if item.get_closest_marker("stress") is not None:
            item.add_marker(skip)


#: perf_pipeline's pytest plugin, which provides the ``stress`` fixture. perf_pipeline's
#: runner loads it (or its staged copy) itself; a person running ``pytest -m stress`` here
#: gets it from this conftest.
_PLUGIN_NAMES = ("perf_pipeline.measure.plugin", "_perf_pipeline_probe.plugin")


def pytest_configure(config: pytest.Config) -> None:
    if not _stress_requested(config):
        return
    manager = config.pluginmanager
    if any(manager.has_plugin(name) for name in _PLUGIN_NAMES):
        return
    try:
        from perf_pipeline.measure import plugin
    except ImportError as exc:
        raise pytest.UsageError(
            "stress tests need perf_pipeline's pytest plugin (the `stress` fixture): "
            "run them from the perf_pipeline environment") from exc
    manager.register(plugin, "perf_pipeline.measure.plugin")
