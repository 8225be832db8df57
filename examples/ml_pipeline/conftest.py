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
