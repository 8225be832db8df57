"""Where the Markdown report (the PR comment) says its HTML report is: the ``report_url``
setting, the GitHub Actions run whose artifacts hold it, or the file's path; and a size-limit
note that promises the HTML report only when it says where it is."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.cli import main
from perf_pipeline.config import Settings, load_settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import BenchmarkResult, CommitInfo, RunStatus, SuiteRun
from perf_pipeline.pipeline.report_location import github_run_url, with_report_location
from perf_pipeline.pipeline.reporting import write_commit_report
from perf_pipeline.report import render_markdown
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.report.synthetic import make_report_data

ACTIONS = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "octo/widgets",
           "GITHUB_RUN_ID": "4242"}
RUN_URL = "https://github.com/octo/widgets/actions/runs/4242"


def test_a_github_actions_run_is_linked_only_when_all_three_variables_are_well_formed(
        caplog: pytest.LogCaptureFixture) -> None:
    assert github_run_url(ACTIONS) == RUN_URL
    assert github_run_url({**ACTIONS, "GITHUB_SERVER_URL": "https://ghe.example.com:8443/"}) \
        == "https://ghe.example.com:8443/octo/widgets/actions/runs/4242"
    for name in ACTIONS:
        assert github_run_url({k: v for k, v in ACTIONS.items() if k != name}) is None
    bad = [("GITHUB_SERVER_URL", "https://x-access-token:ghs_SECRET@github.com"),
           ("GITHUB_SERVER_URL", "javascript:alert(1)"),
           ("GITHUB_SERVER_URL", "https://github.com/evil?token=ghs_SECRET"),
           ("GITHUB_REPOSITORY", "octo/widgets/../../x"), ("GITHUB_REPOSITORY", "octo"),
           ("GITHUB_REPOSITORY", "octo/.."), ("GITHUB_RUN_ID", "42; rm -rf"),
           ("GITHUB_RUN_ID", "-1")]
    with caplog.at_level(logging.WARNING):
        for name, value in bad:
            assert github_run_url({**ACTIONS, name: value}) is None, (name, value)
    assert "ghs_SECRET" not in caplog.text


@pytest.mark.parametrize("url", [
    "ftp://perf.example.com/r.html", "javascript:alert(1)", "perf.example.com/r.html",
    "https://user:ghp_SECRET@perf.example.com/r.html", "https://perf.example.com/{sha}.html"])
def test_report_url_must_be_a_plain_http_address(url: str) -> None:
    with pytest.raises(InvalidInputError, match="report_url") as info:
        Settings(report_url=url)
    assert "ghp_SECRET" not in str(info.value)


def test_report_url_comes_from_the_environment_and_the_command_line(tmp_path: Path,
                                                                   capsys) -> None:
    settings = load_settings(environ={"PERF_PIPELINE_REPORT_URL": "https://p.example/{path}"})
    assert settings.report_url == "https://p.example/{path}"
    code = main(["visualize", "--results-dir", str(tmp_path / "r"),
                 "--report-url", "ftp://p.example/x.html"])
    assert code == 2 and "report_url" in capsys.readouterr().err


def _cut(data, **where: str) -> str:
    text = render_markdown(dataclasses.replace(data, **where), max_chars=3000)
    assert "not shown (GitHub comment size limit)" in text  # the comment was cut
    return text


def test_a_cut_comment_says_where_the_html_report_is_or_promises_nothing() -> None:
    data = make_report_data()
    path = "test-results/reports/commits/abc/performance_report.html"
    text = _cut(data, report_url="https://perf.example.com/r.html")
    assert "📊 [Interactive HTML report](https://perf.example.com/r.html)" in text
    assert "limit); see the [HTML report](https://perf.example.com/r.html)._" in text
    text = _cut(data, report_run_url=RUN_URL, report_path=path)
    where = f"(`{path}`) in the artifacts of [this workflow run]({RUN_URL})"
    assert (f"📊 Interactive HTML report (`{path}`): in the artifacts of "
            f"[this workflow run]({RUN_URL})") in text
    assert f"limit); see the HTML report {where}._" in text
    text = _cut(data, report_path=path)
    assert f"limit); see the HTML report (`{path}`)._" in text and "](" not in text
    text = _cut(data)  # nothing known (a ReportData built by hand): no promise
    assert "limit)._" in text and "HTML report" not in text
    text = render_markdown(dataclasses.replace(data, report_path=path), max_chars=1500)
    assert text.rstrip().endswith(f"cut here (GitHub comment size limit); see the HTML "
                                  f"report (`{path}`)._")


def test_a_path_that_would_end_its_code_span_is_escaped() -> None:
    text = _cut(make_report_data(), report_path="r/`x`/performance_report.html")
    assert "see the HTML report (r/&#96;x&#96;/performance\\_report.html)" in text


def _history(settings: Settings) -> str:
    rng = np.random.default_rng(5)
    store = HistoryStore.open(settings.db_path)
    for i in range(1, 5):
        store.ingest_run(SuiteRun(
            run_id=f"run-{i}", suite="benchmarks", started_at=f"2024-01-01T0{i}:30:00+00:00",
            status=RunStatus.SUCCESS, machine_id="box",
            commit=CommitInfo(sha=f"{i:040x}", branch="main", message=f"commit {i}",
                              committed_at=f"2024-01-01T0{i}:00:00+00:00"),
            benchmarks=tuple(BenchmarkResult(name=f"test_{k}", samples_s=tuple(
                float((k + 1) * 1e-3 * math.exp(rng.normal(0, 0.02))) for _ in range(12)))
                for k in range(3))))
    store.close()
    return f"{4:040x}"


def test_a_commit_report_in_github_actions_links_the_run_with_the_artifact_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in ACTIONS.items():
        monkeypatch.setenv(name, value)
    settings = Settings(results_dir=Path("test-results"), machine_id="box", confirm="off")
    sha = _history(settings)
    with Workspace(settings) as ws:
        _, files = write_commit_report(ws, sha)
    assert files.markdown is not None
    text = files.markdown.read_text(encoding="utf-8")
    path = f"test-results/reports/commits/{sha}/performance_report.html"
    assert (tmp_path / path).is_file()
    assert (f"📊 Interactive HTML report (`{path}`): in the artifacts of "
            f"[this workflow run]({RUN_URL})") in text


def test_report_url_names_each_report_by_its_path(tmp_path: Path) -> None:
    settings = Settings(results_dir=tmp_path / "results",
                        report_url="https://perf.example.com/ci/{path}")
    with Workspace(settings) as ws:
        data = with_report_location(ws, make_report_data(),
                                    ws.layout.commit_report_dir("ab" * 20), environ=ACTIONS)
    assert data.report_url == ("https://perf.example.com/ci/reports/commits/"
                               f"{'ab' * 20}/performance_report.html")
    assert data.report_run_url is None  # the report's own address wins over the run's
    assert data.report_path == (tmp_path / "results" / "reports" / "commits" / ("ab" * 20)
                                / "performance_report.html").as_posix()
