"""Fixtures of the integration tests: the shared pipeline state and quiet math threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits

from tests.ml.integration.shared_state import Pipeline, build_pipeline


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_math() -> Iterator[None]:
    """Run BLAS/OpenMP on one thread while measuring.

    The matrices here are small: extra BLAS threads cost more to wake than they save,
    and on a busy two-core machine they made training times jump between 40 and 230 ms
    from round to round. One thread gives stable timings of the code itself.
    """
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def pipeline() -> Iterator[Pipeline]:
    state = build_pipeline()
    yield state
    state.online.close()
