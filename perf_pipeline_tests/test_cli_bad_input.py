"""Bad input found by a review on 2 December: each once crashed with exit 3, leaked a
secret, overwrote evidence or wasted minutes of measuring before its error."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.report.webhook import WebhookClient
from perf_pipeline.store import load_noise_corpus
from perf_pipeline_tests.measure.test_calibrate import make_raw_dir
from perf_pipeline_tests.test_cli import write_pytest_benchmark_json

SECRET = "Xy9s3cr3t"


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_RESULTS_DIR", "PERF_PIPELINE_REPO",
                "PERF_PIPELINE_HISTORY_URL", "PERFORMANCE_THRESHOLD", "GITHUB_TOKEN",
                "GITHUB_API_URL", "PERF_PIPELINE_WEBHOOK_URL"):
        monkeypatch.delenv(var, raising=False)


def _lines(n: int, **changes: object) -> list[dict]:
    lines = [{"pair": i, "order": ["a", "b"], "ok": True, "t": float(i)} for i in range(n)]
    for key, value in changes.items():
        index, field = key.split("_", 1)
        lines[int(index[1:])][field] = value
    return lines


def test_an_infinite_threshold_is_refused_before_anything_is_measured(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    assert main(["ab", "HEAD~1", "HEAD", "--threshold", "inf", "--results-dir",
                 str(results)]) == 2
    assert "threshold must be a finite number" in capsys.readouterr().err
    assert not (results / "raw").exists()
    monkeypatch.setenv("PERFORMANCE_THRESHOLD", "inf")
    assert main(["noise", "--results-dir", str(results)]) == 2
    assert "finite" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    (b"# r\xe9sum\xe9\n[perf_pipeline]\nprocesses = 2\n", "config file"),  # Latin-1
    (b"perf_pipeline = 5\n", "must be a table of settings"),
])
def test_a_bad_config_file_is_a_clear_error(tmp_path: Path, capsys, content: bytes,
                                            message: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "perf_pipeline.toml"
    config.write_bytes(content)
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    assert main(["noise", "--results-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_a_config_path_that_is_a_directory_says_so(tmp_path: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(tmp_path))
    assert main(["noise", "--results-dir", str(tmp_path)]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_a_history_url_with_a_bad_port_is_refused_without_its_password(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_PIPELINE_HISTORY_URL", f"postgresql://u:{SECRET}@h:bad/db")
    assert main(["noise", "--results-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "is not valid" in captured.err and SECRET not in captured.err + captured.out


def test_a_password_with_a_slash_never_reaches_the_output(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_PIPELINE_HISTORY_URL",
                       f"postgres+asyncpg://admin:Xy/{SECRET}@db.example/perf")
    main(["noise", "--results-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert SECRET not in captured.err + captured.out and "admin:***@" in captured.err


@pytest.mark.parametrize("days", ["1e9", "1e300", "inf"])
def test_an_absurd_max_age_is_refused(tmp_path: Path, capsys, days: str) -> None:
    assert main(["calibrate", "--pairs", "2", "--max-age", days, "--results-dir",
                 str(tmp_path)]) == 2
    assert "--max-age must be" in capsys.readouterr().err


@pytest.mark.parametrize(("url", "message"), [
    ("http://[::1", "is malformed"),
    ("https://api.example:abc/", "is malformed"),
    (f"https://user:{SECRET}@ghe.example/api/v3", "must not hold a user or password"),
    (f"https://ghe.example/api/v3?tok={SECRET}", "must not have a query"),
])
def test_a_bad_github_api_url_is_refused_without_its_secrets(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, url: str,
        message: str) -> None:
    report = tmp_path / "performance-report.md"
    report.write_text("report\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    assert main(["comment", "--report", str(report), "--repo", "o/r", "--pr", "1",
                 "--api-url", url]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and SECRET not in captured.err + captured.out


@pytest.mark.parametrize("url", ["https://hooks.example.com:abc/x", "https://[::1/x"])
def test_a_malformed_webhook_url_is_refused_when_the_client_is_made(url: str) -> None:
    with pytest.raises(InvalidInputError, match="is malformed"):
        WebhookClient(url, "t")


@pytest.mark.parametrize("url", [f"https://hooks.slack.com/services/T 1/B1/{SECRET}",
                                 f"https://hooks.slack.com/services/T1/B1/\t{SECRET}",
                                 f"https://hooks.slack.com/services/T\u00e91/B1/{SECRET}"])
def test_a_webhook_url_urllib_cannot_send_is_refused_when_the_client_is_made(
        url: str) -> None:
    """urllib refused it only at the first POST: a space or a tab as an InvalidURL that
    quoted the path (the secret), a non-ASCII path as a UnicodeEncodeError that escaped
    the client."""
    with pytest.raises(InvalidInputError, match="percent-encode") as info:
        WebhookClient(url, "t")
    assert SECRET not in str(info.value)
    assert WebhookClient("https://b\u00fccher.example/hook%20x", "t")  # IDNA host: fine


@pytest.mark.parametrize("url", [f"https://u:{SECRET}@hooks.example.com:abc/x",
                                 "https://[::1/x", "ftp://hooks.example.com/x",
                                 f"ftp://hooks.slack.com/services/T1/B1/{SECRET}",
                                 f"https://discord.com:abc/api/webhooks/1/{SECRET}"])
def test_a_bad_webhook_setting_is_refused_when_the_settings_are_loaded(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # Once it was refused only when the first alert was sent, after a whole run.
    monkeypatch.setenv("PERF_PIPELINE_WEBHOOK_URL", url)
    assert main(["noise", "--results-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "webhook_url" in captured.err and SECRET not in captured.err + captured.out


@pytest.mark.parametrize("order", [["a", 1], [{}, {}], 5])
def test_a_pair_order_of_the_wrong_type_is_refused_by_name(tmp_path: Path, capsys,
                                                           order: object) -> None:
    raw = make_raw_dir(tmp_path, _lines(2, p0_order=order), {0: ("a", "b"), 1: ("a", "b")})
    assert main(["calibrate", "--import-raw", str(raw), "--results-dir",
                 str(tmp_path / "r")]) == 2
    assert "pair 0 has order" in capsys.readouterr().err


def test_importing_a_file_as_a_raw_dir_says_what_it_is(tmp_path: Path, capsys) -> None:
    not_a_dir = tmp_path / "pairs.json.gz"
    not_a_dir.write_bytes(b"x")
    assert main(["calibrate", "--import-raw", str(not_a_dir), "--results-dir",
                 str(tmp_path / "r")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_a_second_import_of_a_recording_never_replaces_the_first_corpus(
        tmp_path: Path, capsys) -> None:
    raw = make_raw_dir(tmp_path, _lines(3), {i: ("a", "b") for i in range(3)})
    results = tmp_path / "results"
    assert main(["calibrate", "--import-raw", str(raw), "--results-dir", str(results),
                 "--note", "first", "--no-detectable"]) == 0
    [first] = (results / "noise").glob("*.json.gz")
    kept = first.read_bytes()
    (raw / "orders.jsonl").write_text("".join(
        json.dumps(line) + "\n" for line in _lines(3, p1_ok=False)))
    assert main(["calibrate", "--import-raw", str(raw), "--results-dir", str(results),
                 "--note", "second", "--no-detectable"]) == 0
    assert first.read_bytes() == kept  # the first profile's corpus, as it was
    second = first.with_name(first.name.replace(".json.gz", "-2.json.gz"))
    assert len(load_noise_corpus(first).pairs) == 3
    assert len(load_noise_corpus(second).pairs) == 2
    assert str(second) in capsys.readouterr().out


@pytest.mark.parametrize("content", [
    gzip.compress(b"[" * 200_000),  # deeper than the JSON parser's recursion
    b"",
])
def test_a_broken_corpus_is_an_invalid_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.json.gz"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=str(path)):
        load_noise_corpus(path)


def test_a_corpus_whose_order_is_not_a_list_is_an_invalid_input_error(tmp_path: Path) -> None:
    good = (Path(__file__).parents[1] / "benchmarks" / "data" / "noise"
            / "example-suite-unpinned.json.gz")
    data = json.loads(gzip.decompress(good.read_bytes()))
    data["pairs"][0]["order"] = 5
    path = tmp_path / "c.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(InvalidInputError, match="pair 0"):
        load_noise_corpus(path)


def test_analyze_checks_its_report_path_before_pinning_a_baseline(tmp_path: Path,
                                                                  capsys) -> None:
    results = tmp_path / "results"
    results.mkdir()
    a_dir = tmp_path / "somedir"
    a_dir.mkdir()
    assert main(["analyze", "--results-dir", str(results), "--update-baseline",
                 "--report", str(a_dir)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert not (results / "baseline").exists()


def test_a_report_that_cannot_be_written_leaves_the_baseline_as_it_was(
        tmp_path: Path, capsys) -> None:
    # The baseline was once seeded (or pinned) before the report was written, so a failed
    # write left the next `analyze` judging this run against itself.
    results = tmp_path / "results"
    results.mkdir()
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    (results / "reports").write_text("a file where the reports folder goes\n")
    report = tmp_path / "performance-report.md"
    assert main(["analyze", "--results-dir", str(results), "--report", str(report)]) == 2
    assert not (results / "baseline").exists()
    (results / "reports").unlink()
    assert main(["analyze", "--results-dir", str(results), "--report", str(report)]) == 0
    pinned = (results / "baseline" / "performance_baseline.json").read_bytes()
    write_pytest_benchmark_json(results / "run2.json", day=2, seed=2)
    (results / "reports").rename(tmp_path / "old-reports")
    (results / "reports").write_text("a file again\n")
    assert main(["analyze", "--results-dir", str(results), "--report", str(report),
                 "--update-baseline"]) == 2
    assert (results / "baseline" / "performance_baseline.json").read_bytes() == pinned
    capsys.readouterr()


def test_a_fifo_or_a_directory_named_like_a_pair_file_is_skipped_as_what_it_is(
        tmp_path: Path, capsys) -> None:
    import os

    raw = make_raw_dir(tmp_path, _lines(4), {i: ("a", "b") for i in range(4)})
    (raw / "pair-0001-a.json").unlink()
    os.mkfifo(raw / "pair-0001-a.json")
    (raw / "pair-0002-b.json").unlink()
    (raw / "pair-0002-b.json").mkdir()
    assert main(["calibrate", "--import-raw", str(raw), "--results-dir",
                 str(tmp_path / "r"), "--no-detectable"]) == 0
    err = capsys.readouterr().err
    assert "skipped pair 1: pair-0001-a.json is a FIFO (named pipe)" in err
    assert "skipped pair 2: pair-0002-b.json is a directory" in err


def test_the_settings_repr_hides_the_webhook_url() -> None:
    """A Slack or Discord hook URL's secret is its path."""
    from perf_pipeline.config import Settings

    url = f"https://hooks.slack.com/services/T1/B1/{SECRET}"
    assert SECRET not in repr(Settings(webhook_url=url))


def _one_commit_repo(path: Path) -> Path:
    import subprocess

    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.name=T", "-c", "user.email=t@e",
                    "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    return path


@pytest.mark.parametrize("home", ["unset", "relative", "file", "under a file"])
def test_a_dagster_home_that_cannot_be_used_is_bad_input_not_a_bug(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, home: str) -> None:
    """No $DAGSTER_HOME, a relative one, a file in the way: each was exit 3, "internal
    error (a bug in perf_pipeline)"."""
    repo = _one_commit_repo(tmp_path / "repo")
    (tmp_path / "a-file").write_text("x")
    argv = ["register-commit", "--repo", str(repo), "HEAD"]
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    if home == "relative":
        monkeypatch.setenv("DAGSTER_HOME", "relative/home")
    elif home == "file":
        argv[1:1] = ["--dagster-home", str(tmp_path / "a-file")]
    elif home == "under a file":
        argv[1:1] = ["--dagster-home", str(tmp_path / "a-file" / "sub")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Dagster" in err and "internal error" not in err


def test_an_instance_with_relative_storage_is_refused_outside_its_home(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """This repo's dagster.yaml keeps storage at ``.dagster_home/...``, which Dagster
    resolves against the current directory: ``register-commit`` run from a subfolder
    made a second instance there, and the real one never saw the commit."""
    import shutil

    from perf_pipeline.config import PROJECT_ROOT

    repo = _one_commit_repo(tmp_path / "repo")
    home = tmp_path / "home"
    (home / "sub").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.chdir(home / "sub")
    assert main(["register-commit", "--repo", str(repo), "HEAD"]) == 2
    err = capsys.readouterr().err
    assert "storage.sqlite.base_dir: .dagster_home/storage" in err
    assert f"run this from {home}" in err
    assert not (home / "sub" / ".dagster_home").exists()  # no second instance
    monkeypatch.chdir(home)
    assert main(["register-commit", "--repo", str(repo), "HEAD"]) == 0
    assert (home / ".dagster_home" / "storage").is_dir()


def test_a_demo_folder_that_cannot_be_made_is_bad_input(tmp_path: Path, capsys) -> None:
    (tmp_path / "a-file").write_text("x")
    assert main(["demo", "--dir", str(tmp_path / "a-file" / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot make the demo folder" in err and "internal error" not in err


def test_visualize_with_a_corrupt_results_file_is_bad_input(tmp_path: Path, capsys) -> None:
    """It wrote the report from the good files and exited 0; ingest and analyze exit 2."""
    results = tmp_path / "results"
    results.mkdir()
    (results / "broken.json").write_text('{"benchmarks": [')
    assert main(["visualize", "--results-dir", str(results)]) == 2
    assert "broken.json" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "ignored"), [
    (["calibrate", "--import-raw", "some-dir", "--seed", "5"], "--seed"),
    (["calibrate", "--import-raw", "some-dir", "--max-age", "7"], "--max-age"),
    (["noise", "--corpus", "c.json.gz", "--all"], "--all"),
])
def test_options_that_would_be_ignored_are_refused(tmp_path: Path, capsys,
                                                   argv: list[str], ignored: str) -> None:
    """Each ran without a word, the option dropped."""
    assert main([*argv, "--results-dir", str(tmp_path)]) == 2
    assert ignored in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["analyze", "--json", "--threshold", "abc"],
                                  ["ab", "HEAD~1", "HEAD", "--json", "--rounds", "2.5"]])
def test_bad_usage_under_json_still_prints_a_json_document(capsys, argv: list[str]) -> None:
    """argparse's errors printed only the usage to stderr: a CI step reading the
    --json document on stdout found nothing."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert (doc["command"], doc["exit_code"], doc["error"]["kind"]) == (argv[0], 2, "error")
    assert "invalid" in captured.err


def test_backfill_names_its_own_option_for_a_bad_count(capsys) -> None:
    assert main(["backfill", "--last", "0"]) == 2
    assert "--last must be at least 1" in capsys.readouterr().err  # not "max_count"
