"""`perf-pipeline comment` against a local fake GitHub API: exit codes, output, secrecy."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.pipeline import post_report_comment, resolve_pr_number
from perf_pipeline.report import MARKER
from perf_pipeline_tests.report.fake_github import TOKEN, Failure, FakeGitHub, serve

REPO = "octo/widgets"
GITHUB_ENV = ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_REF",
              "GITHUB_API_URL", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in GITHUB_ENV:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as f:
        yield f


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "performance-report.md"
    path.write_text(f"{MARKER}\n🔴 1 significant regression\n", encoding="utf-8")
    return path


def _args(report: Path, fake: FakeGitHub, pr: int = 7) -> list[str]:
    return ["comment", "--report", str(report), "--repo", REPO, "--pr", str(pr),
            "--api-url", fake.base_url]


def test_comment_creates_then_updates(fake: FakeGitHub, report: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert main(_args(report, fake)) == 0
    assert capsys.readouterr().out.startswith("created comment https://github.example/")
    report.write_text(f"{MARKER}\n⚪ no significant change\n", encoding="utf-8")
    assert main(_args(report, fake)) == 0
    assert capsys.readouterr().out.startswith("updated comment https://github.example/")
    assert fake.bodies(REPO, 7) == [f"{MARKER}\n⚪ no significant change\n"]


def test_comment_takes_everything_from_the_actions_environment(
        fake: FakeGitHub, report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": 12,
                                 "pull_request": {"number": 12}}))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_API_URL", fake.base_url)
    monkeypatch.chdir(report.parent)
    assert main(["comment"]) == 0
    assert "created comment" in capsys.readouterr().out
    assert fake.received[-1].path == f"/repos/{REPO}/issues/12/comments"


def test_pr_number_from_github_ref(tmp_path: Path) -> None:
    assert resolve_pr_number(event_path=None, ref="refs/pull/31/merge") == 31
    assert resolve_pr_number(event_path=str(tmp_path / "missing.json"),
                             ref="refs/pull/5/merge") == 5
    with pytest.raises(InvalidInputError, match="--pr N"):
        resolve_pr_number(event_path=None, ref="refs/heads/main")


@pytest.mark.parametrize("status", [401, 403, 404])
def test_comment_errors_exit_2_and_keep_the_report(
        fake: FakeGitHub, report: Path, status: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    fake.failures.append(Failure("*", status, message="Resource not accessible by integration"))
    before = report.read_bytes()
    assert main(_args(report, fake)) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: GitHub API returned {status}")
    assert "GITHUB_TOKEN" in err or "repository name" in err
    assert report.read_bytes() == before
    assert TOKEN not in out + err + caplog.text


def test_comment_without_token_is_a_clear_error(fake: FakeGitHub, report: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(report, fake)) == 2
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err
    assert fake.received == []


def test_comment_missing_or_empty_report(fake: FakeGitHub, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert main(_args(tmp_path / "nope.md", fake)) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    assert main(_args(empty, fake)) == 2
    assert "is empty" in capsys.readouterr().err
    assert fake.received == []


def test_comment_without_pr_number_or_repo(report: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert main(["comment", "--report", str(report), "--repo", REPO]) == 2
    assert "no pull request number" in capsys.readouterr().err
    assert main(["comment", "--report", str(report), "--pr", "3"]) == 2
    assert "GITHUB_REPOSITORY" in capsys.readouterr().err
    assert main(["comment", "--report", str(report), "--pr", "x"]) == 2  # argparse


def test_post_report_comment_library_call(fake: FakeGitHub, report: Path) -> None:
    result = post_report_comment(report, repo=REPO, pr_number=3, token=TOKEN,
                                 api_url=fake.base_url)
    assert result.action == "created"
    assert fake.received[-1].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.slow  # one interpreter start that imports the whole package (~5-10 s)
def test_comment_in_a_subprocess_keeps_the_token_out_of_output(
        fake: FakeGitHub, report: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in GITHUB_ENV}
    env.update(GITHUB_TOKEN=TOKEN, GITHUB_REPOSITORY=REPO, GITHUB_REF="refs/pull/9/merge",
               GITHUB_API_URL=fake.base_url)
    fake.failures.append(Failure("POST", 403, message="Resource not accessible by integration"))
    before = report.read_bytes()
    cmd = [sys.executable, "-m", "perf_pipeline", "-v", "comment", "--report", str(report)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "403" in proc.stderr and "pull-requests: write" in proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    assert report.read_bytes() == before
    assert [(r.method, r.path) for r in fake.received] == [
        ("GET", f"/repos/{REPO}/issues/9/comments"), ("POST", f"/repos/{REPO}/issues/9/comments")]
