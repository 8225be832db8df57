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

import pytest
from dagster._core.storage.defs_state.base import _current_storage  # Dagster internal, 1.13


@pytest.fixture(autouse=True)
def _no_stale_dagster_defs_state() -> Iterator[None]:
    yield
    gc.collect()
    _current_storage.set(None)
