"""Fleet routing rules (pipeline.fleet): the machine a location names, pools, tags."""

from __future__ import annotations

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.pipeline.fleet import (
    MACHINE_ENV,
    MACHINE_TAG,
    WrongMachineError,
    asset_key_path,
    asset_key_prefix,
    check_run_machine,
    is_for_machine,
    location_machine,
    location_name,
    machine_tags,
    measuring_pool,
)


def test_the_location_machine_comes_from_the_store_machine_id_variable() -> None:
    assert MACHINE_ENV == "PERF_PIPELINE_MACHINE_ID"  # one name for the store and Dagster
    assert location_machine({}) is None
    assert location_machine({MACHINE_ENV: "  "}) is None
    assert location_machine({MACHINE_ENV: " bench-a "}) == "bench-a"


@pytest.mark.parametrize("bad", ["two words", "a/b", ".hidden", "x" * 65])
def test_a_bad_machine_id_names_the_variable(bad: str) -> None:
    with pytest.raises(InvalidInputError, match=MACHINE_ENV):
        location_machine({MACHINE_ENV: bad})


def test_one_pool_per_named_machine_and_the_plain_pool_for_one_machine() -> None:
    assert measuring_pool(None) == "benchmark_machine"
    assert measuring_pool("bench-a") == "benchmark_machine/bench-a"
    assert measuring_pool("bench-a") != measuring_pool("bench-b")
    assert location_name("bench-a") == "perf_pipeline-bench-a"
    assert location_name(None) == "perf_pipeline"


def test_asset_keys_carry_the_named_machine_and_stay_bare_on_one_machine() -> None:
    assert asset_key_prefix(None) == ()
    assert asset_key_prefix("bench-a") == ("bench-a",)
    assert asset_key_path(None, "benchmark_results") == "benchmark_results"
    assert asset_key_path("bench-a", "benchmark_results") == "bench-a/benchmark_results"
    assert asset_key_path("bench-a", "x") != asset_key_path("bench-b", "x")


def test_a_run_measures_only_on_the_machine_it_is_tagged_for() -> None:
    tags = {"dagster/partition": "abc", **machine_tags("bench-a")}
    assert tags[MACHINE_TAG] == "bench-a"
    assert is_for_machine(tags, "bench-a")
    assert not is_for_machine(tags, "bench-b")
    assert is_for_machine({}, "bench-b")  # untagged: tagged by the machine that runs it
    check_run_machine(tags, "bench-a")
    with pytest.raises(WrongMachineError, match=r"'bench-a'.*'bench-b'"):
        check_run_machine(tags, "bench-b")
