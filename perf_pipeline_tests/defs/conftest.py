"""Keep Dagster's process-wide state from leaking between tests of the Dagster layer.

Dagster 1.13 keeps the current defs-state storage in a context variable that
``DagsterInstance.__enter__`` sets and resets with a token. Contexts that Dagster's test
helpers build (sensor, schedule and automation-condition evaluation) can hold such a
token inside a reference cycle; when the garbage collector finalizes them, possibly in
the middle of a later test, the reset puts back the storage of an instance that is long
closed, and the next ``Definitions`` load fails with "Attempted to resolve undefined
DagsterInstance weakref" (seen once in CI, in test_measurement). Collecting at the end
of each test runs those finalizers at a harmless moment; clearing the variable then
undoes what they put back. The cost is one ``gc.collect()`` (~0.1 s) per test here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.storage.defs_state.base import _current_storage  # Dagster internal, 1.13


@pytest.fixture(autouse=True)
def _no_stale_dagster_defs_state() -> Iterator[None]:
    yield
    gc.collect()
    _current_storage.set(None)


#: Settings from the environment that would change what a Dagster test measures or
#: judges (a developer's shell may set any of them).
SETTINGS_ENV = ("PERF_PIPELINE_CONFIG", "PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL",
                "PERF_PIPELINE_RESULTS_DIR", "PERF_PIPELINE_MACHINE_ID",
                "PERF_PIPELINE_PROCESSES")


@pytest.fixture
def default_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults of ``SETTINGS_ENV``, and no profiling (a test of it turns it on)."""
    for var in SETTINGS_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PERF_PIPELINE_PROFILE", "off")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A temporary Dagster instance, closed after the test."""
    with dg.instance_for_test() as inst:
        yield inst
