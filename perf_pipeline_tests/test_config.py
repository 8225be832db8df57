"""Settings read from perf_pipeline.toml: a value of the wrong kind is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.errors import InvalidInputError


def _load(tmp_path: Path, line: str):
    config = tmp_path / "perf_pipeline.toml"
    config.write_text(f"[perf_pipeline]\n{line}\n", encoding="utf-8")
    return load_settings(config_file=config, environ={})


@pytest.mark.parametrize("line", ["processes = inf", "baseline_runs = -inf",
                                  "confirm_max_rounds = inf", "processes = nan",
                                  "processes = 2.7", "max_runs_per_tick = 1.5"])
def test_a_whole_number_setting_refuses_a_fraction_or_infinity(tmp_path: Path,
                                                               line: str) -> None:
    """inf once crashed (OverflowError, exit 3) and 2.7 ran as 2 processes."""
    name = line.split(" = ")[0]
    with pytest.raises(InvalidInputError, match=f"setting {name}: .*whole number"):
        _load(tmp_path, line)
    assert getattr(_load(tmp_path, f"{name} = 6.0"), name) == 6  # a whole float is fine
