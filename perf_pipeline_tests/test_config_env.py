"""The environment variables of the settings (``config_env.py``): the README names them all."""

from __future__ import annotations

from pathlib import Path

from perf_pipeline.config_env import SETTING_ENV_VARS


def test_the_readme_names_every_variable_and_every_setting_without_one() -> None:
    """The README said only baseline_file and gate_metrics had no variable; seven more
    (pytest_args, setup, ...) had none either, and a variable set for them did nothing."""
    import re
    from dataclasses import fields

    from perf_pipeline.config import Settings

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Measuring your own repo"):readme.index("### Runners")]
    names = {f.name for f in fields(Settings)}
    sentence = section[section.index("Some have no variable"):section.index("```toml")]
    assert {n for n in re.findall(r"`(\w+)`", sentence) if n in names} == (
        names - set(SETTING_ENV_VARS))
    table = section[section.index("| variable | setting |"):]
    listed = {v for row in re.findall(r"^\| ([^|]*) \|", table, re.M)
              for v in re.findall(r"`([A-Z_]+)`", row)}
    assert listed == set(SETTING_ENV_VARS.values())
