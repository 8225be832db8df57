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


@pytest.mark.parametrize(("line", "expected"), [
    ('results_dir = ["res"]', "expected a string, not list"),
    ('main_branch = ["main", "dev"]', "expected a string, not list"),
    ('repo_path = {path = "x"}', "expected a string, not dict"),
    ("threshold = true", "expected a number, not bool"),
    ("processes = true", "expected a whole number, not bool"),
    ('uv_args = {group = "test"}', "expected a list of strings, not dict"),
    ('pytest_args = [["-k", "fast"]]', "expected a list of strings, not list inside it"),
    ('setup = [["make", ["x"]]]', "expected a list of argv lists"),
    ("stress_per_commit = [true]", "expected true or false, not list"),
])
def test_a_value_of_the_wrong_kind_is_refused_not_converted(tmp_path: Path, line: str,
                                                           expected: str) -> None:
    """results_dir = ["res"] once made a folder named "['res']", threshold = true judged
    at 1.0 and a table of uv_args passed its keys to uv."""
    name = line.split(" = ")[0]
    with pytest.raises(InvalidInputError, match=f"setting {name}: .*{expected}"):
        _load(tmp_path, line)


@pytest.mark.parametrize(("line", "value"), [
    ('benchmark_paths = "tests/perf"', ("tests/perf",)),
    ("stress_per_commit = 1", True),
    ('threshold = "1.5"', 1.5),
    ('setup = [["make", "ext"]]', (("make", "ext"),)),
    ("pytest_args = []", ()),
])
def test_values_of_a_kind_that_converts_cleanly_still_load(tmp_path: Path, line: str,
                                                          value: object) -> None:
    assert getattr(_load(tmp_path, line), line.split(" = ")[0]) == value


@pytest.mark.parametrize("name", ["results_dir", "repo_path", "baseline_file"])
def test_an_empty_path_is_refused_not_read_as_the_working_directory(tmp_path: Path,
                                                                   name: str) -> None:
    with pytest.raises(InvalidInputError, match=f"setting {name}: .*an empty path"):
        _load(tmp_path, f'{name} = ""')
    with pytest.raises(InvalidInputError, match=f"setting {name}: .*an empty path"):
        load_settings(config_file=None, environ={}, **{name: " "})
    assert getattr(_load(tmp_path, f'{name} = "."'), name) == Path(".")


def test_an_empty_results_dir_flag_makes_no_history_in_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """``ingest --results-dir "$UNSET"`` created perf_history.db in the working directory."""
    from perf_pipeline.cli import main

    monkeypatch.chdir(tmp_path)
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_RESULTS_DIR", "PERF_PIPELINE_HISTORY_URL"):
        monkeypatch.delenv(var, raising=False)
    assert main(["ingest", "--results-dir", ""]) == 2
    assert "setting results_dir" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_settings_above_the_table_header_are_refused_not_ignored(tmp_path: Path) -> None:
    """TOML reads keys above ``[perf_pipeline]`` as outside it: threshold = 1.5 written
    there was ignored and the gate judged at 1.2."""
    config = tmp_path / "perf_pipeline.toml"
    config.write_text('threshold = 1.5\nprocesses = 1\n\n[perf_pipeline]\nmain_branch = "dev"\n',
                      encoding="utf-8")
    with pytest.raises(InvalidInputError,
                       match=r"\['processes', 'threshold'\] stand outside the \[perf_pipeline\]"):
        load_settings(config_file=config, environ={})
    config.write_text("threshold = 1.5\n", encoding="utf-8")  # no table: the file's keys
    assert load_settings(config_file=config, environ={}).threshold == 1.5


@pytest.mark.parametrize(("line", "name"), [
    ('main_branch = ""', "main_branch"), ('main_branch = "-x"', "main_branch"),
    ('main_branch = "my main"', "main_branch"), ('watch_branches = ["dev", ""]', "watch_branches"),
    ('watch_branches = ["--all"]', "watch_branches")])
def test_a_branch_setting_that_names_no_branch_is_refused(tmp_path: Path, line: str,
                                                          name: str) -> None:
    """main_branch = "" recorded every run of the main branch on no branch at all."""
    with pytest.raises(InvalidInputError, match=f"{name} must name branches"):
        _load(tmp_path, line)
    assert _load(tmp_path, 'main_branch = "release/2.x"').main_branch == "release/2.x"


def test_a_comma_separated_variable_ignores_the_spaces_after_its_commas() -> None:
    """PERF_PIPELINE_WATCH_BRANCHES="main, release" watched a branch named " release"
    (which never exists) and "--group, test" passed " test" to uv."""
    settings = load_settings(config_file=None, environ={
        "PERF_PIPELINE_WATCH_BRANCHES": "main, release ,",
        "PERF_PIPELINE_UV_ARGS": "--group, test"})
    assert settings.watch_branches == ("main", "release")
    assert settings.uv_args == ("--group", "test")


@pytest.mark.parametrize("line", [
    'benchmark_paths = ["/home/me/repo/tests/perf"]', 'stress_paths = ["../../../other/tests"]',
    'benchmark_paths = ["tests", "/tmp/test_x.py::test_y"]'])
def test_a_suite_path_outside_the_commits_worktree_is_refused(tmp_path: Path,
                                                              line: str) -> None:
    """pytest measured an absolute path from outside the worktree: a file in no commit
    at all ran as every commit's benchmark suite."""
    with pytest.raises(InvalidInputError, match="must be paths inside the repo"):
        _load(tmp_path, line)


def test_a_suite_path_may_climb_out_of_the_project_but_not_the_repo(tmp_path: Path) -> None:
    config = tmp_path / "perf_pipeline.toml"
    config.write_text('[perf_pipeline]\nproject_subdir = "python"\n'
                      'benchmark_paths = ["../benchmarks/test_x.py::test_y"]\n', encoding="utf-8")
    assert load_settings(config_file=config, environ={}).benchmark_paths == (
        "../benchmarks/test_x.py::test_y",)


@pytest.mark.parametrize("alpha", ["5e-324", "1e-320", "1e-11"])
def test_a_vanishing_significance_level_is_refused(alpha: str) -> None:
    """1e-320 was "in (0, 1)"; its z-score is infinite and the comparison crashed (exit 3)
    after the A/B had measured."""
    with pytest.raises(InvalidInputError, match=r"alpha \(significance\) must be in \[1e-10, 1\)"):
        load_settings(config_file=None, environ={"SIGNIFICANCE_LEVEL": alpha})
    assert load_settings(config_file=None, environ={"SIGNIFICANCE_LEVEL": "1e-10"}).alpha == 1e-10


def test_a_config_file_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """Notepad saves UTF-8 with a BOM; tomllib refused it as "Invalid statement (at line 1,
    column 1)". Other encodings are refused by name."""
    config = tmp_path / "perf_pipeline.toml"
    text = "[perf_pipeline]\nprocesses = 4\nmain_branch = \"développement\"\n"
    config.write_bytes(b"\xef\xbb\xbf" + text.encode())
    settings = load_settings(config_file=config, environ={})
    assert (settings.processes, settings.main_branch) == (4, "développement")
    config.write_bytes(text.encode("utf-16"))
    with pytest.raises(InvalidInputError, match=r"is UTF-16 text; TOML files are UTF-8"):
        load_settings(config_file=config, environ={})
    config.write_bytes(text.encode("latin-1"))
    with pytest.raises(InvalidInputError, match=r"is not UTF-8 text \(byte 0xe9 at offset"):
        load_settings(config_file=config, environ={})


def test_a_bad_environment_variable_is_named_as_the_user_set_it() -> None:
    """The message named the setting ("setting processes: cannot use 'abc'"), not the
    variable the user had set."""
    with pytest.raises(InvalidInputError,
                       match=r"^environment variable PERF_PIPELINE_PROCESSES: setting "
                             r"processes: cannot use 'abc'"):
        load_settings(environ={"PERF_PIPELINE_PROCESSES": "abc"})
