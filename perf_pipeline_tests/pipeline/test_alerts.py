"""Alerts from a real history: which change points, drifts and culprits a commit's
report and the history report raise, and their delivery to a webhook on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Alert
from perf_pipeline.pipeline.alerts import alerts_of, deliver_alerts, sent_alerts_path
from perf_pipeline.pipeline.bisect import confirm_search, culprit_actions, read_culprits
from perf_pipeline.pipeline.reporting import build_report_data
from perf_pipeline.report import render_markdown
from perf_pipeline.report.webhook import WebhookClient
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_bisect import (
    N_COMMITS,
    STEP,
    STEP_AT,
    recorded_rounds,
    repo_and_settings,
    run_at,
)
from perf_pipeline_tests.report.test_webhook import TOKEN, Receiver, receiver  # noqa: F401


def _search_to_its_last_commit(tmp_path: Path):
    """A history with a step at an unmeasured commit, searched down to the commit whose
    A/B names the culprit: (settings, shas, workspace, that A/B's action)."""
    settings, shas = repo_and_settings(tmp_path, N_COMMITS)
    ws = Workspace(settings)
    rng = np.random.default_rng(7)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, N_COMMITS, 2):
            store.ingest_run(run_at(i, shas[i], rng))
    culprit_actions(ws)  # the probe of STEP_AT
    with HistoryStore.open(settings.db_path) as store:
        store.ingest_run(run_at(STEP_AT, shas[STEP_AT], rng))
    (action,) = culprit_actions(ws)
    return settings, shas, ws, action


@pytest.fixture
def searched(tmp_path: Path) -> tuple[Settings, tuple[str, ...]]:
    """A history with a step at an unmeasured commit, searched and confirmed."""
    settings, shas, ws, action = _search_to_its_last_commit(tmp_path)
    confirm_search(ws, action.spec, action.sha, rounds=recorded_rounds(1.25))
    return settings, shas


def _data(settings: Settings):
    with Workspace(settings) as ws:
        return build_report_data(ws, title="t", current=None, baseline=None,
                                 analysis=None, culprits=read_culprits(ws))


def test_the_culprit_commits_report_alerts_on_its_step_and_names_it(searched) -> None:
    settings, shas = searched
    data = _data(settings)
    run_of = {r.commit.sha: r.run_id for r in data.runs if r.commit}
    alerts = alerts_of(data, run_ids={run_of[shas[STEP_AT]]})
    assert {(a.kind, a.name, a.sha) for a in alerts} == {
        ("change_point", STEP, shas[STEP_AT]), ("culprit", STEP, shas[STEP_AT])}
    culprit = next(a for a in alerts if a.kind == "culprit")
    assert "confirmed culprit" in culprit.detail and "Ann Author" in culprit.detail
    # An unrelated commit's report raises nothing.
    assert alerts_of(data, run_ids={run_of[shas[4]]}) == ()
    from dataclasses import replace

    text = render_markdown(replace(data, alerts=alerts))
    assert "New in the history (2)" in text and f"`{shas[STEP_AT][:10]}` change {STEP_AT}" in text
    assert "Culprit searches (1)" in text


def test_new_alerts_are_posted_once_and_a_failed_post_is_retried_later(
        searched, receiver: Receiver) -> None:  # noqa: F811
    settings, shas = searched
    ws = Workspace(settings)
    alerts = alerts_of(_data(settings))  # the history report's: the last 30 runs
    assert {a.kind for a in alerts} == {"change_point", "culprit"}
    receiver.statuses = [400]
    failed = deliver_alerts(ws, alerts, client=WebhookClient(receiver.url, TOKEN))
    assert failed.status == "failed" and "HTTP 400" in (failed.error or "")
    assert TOKEN not in (failed.error or "") and not sent_alerts_path(ws).exists()
    done = deliver_alerts(ws, alerts, machine_id="ci-box-1",
                          client=WebhookClient(receiver.url, TOKEN))
    assert done.status == "sent" and len(done.sent) == 2
    body = json.loads(receiver.requests[-1][2])
    assert body["source"] == "perf-pipeline" and body["machine"] == "ci-box-1"
    assert {(a["kind"], a["sha"]) for a in body["alerts"]} == {
        ("change_point", shas[STEP_AT]), ("culprit", shas[STEP_AT])}
    again = deliver_alerts(ws, alerts, client=WebhookClient(receiver.url, TOKEN))
    assert again.status == "nothing_new" and len(receiver.requests) == 2
    assert deliver_alerts(Workspace(Settings(repo_path=settings.repo_path,
                                             results_dir=settings.results_dir / "other")),
                          alerts).status == "not_configured"


def test_the_html_payload_marks_the_culprit_on_its_benchmarks_chart(searched) -> None:
    from perf_pipeline.report.payload import build_payload

    settings, shas = searched
    payload = build_payload(_data(settings))
    (mark,) = payload["culprits"]  # type: ignore[misc]
    names = payload["names"]
    assert names[mark[0]] == STEP and mark[4] == shas[STEP_AT][:10] and mark[5] == "confirmed"
    assert 1.15 < mark[3] < 1.35


class _Collect:
    """A webhook client that keeps what it was sent (the delivery logic is the test)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def post(self, payload):
        from perf_pipeline.report.webhook import WebhookResult

        self.sent.append(payload)
        return WebhookResult(status=200, attempts=1)


@pytest.mark.parametrize("seed", [3, 11])
def test_a_drift_that_goes_on_is_one_alert_and_a_drift_back_is_another(tmp_path: Path,
                                                                       seed: int) -> None:
    """A drift's end moves with every commit while it goes on, and past 30 commits its
    start slides with the window too: keyed by either, the webhook announced the same
    creep 5-9 times over 30 commits. A creep up (1 %/commit from commit 15) is one alert;
    the creep back down after it (from commit 50) is news, once: as a drift, or first as
    a change point down (the change-point scan's pulse scan sees a level that went up and
    comes back, and a step found in a creep is divided out of the drift alarm)."""
    from dataclasses import replace

    n = 85
    settings, shas = repo_and_settings(tmp_path, n)
    ws = Workspace(settings)
    rng = np.random.default_rng(seed)
    client = _Collect()

    def level(i: int) -> float:
        return 1.01 ** (min(max(0, i - 15), 35) - min(max(0, i - 50), 35))

    seen = 0
    for i in range(n):
        run = run_at(i, shas[i], rng, step_at=999)
        creep = tuple(replace(b, samples_s=tuple(v * level(i) for v in b.samples_s))
                      if b.name == STEP else b for b in run.benchmarks)
        with HistoryStore.open(settings.db_path) as store:
            store.ingest_run(replace(run, benchmarks=creep))
        if i < 20:
            continue
        alerts = [a for a in alerts_of(_data(settings)) if a.name == STEP]
        seen += any(a.kind == "drift" for a in alerts)
        deliver_alerts(ws, alerts, client=client)
    announced = [(a["kind"], a["ratio"] > 1) for p in client.sent for a in p["alerts"]]
    drifts = [up for kind, up in announced if kind == "drift"]
    assert seen >= 20
    assert drifts in ([True, False], [True]), announced
    assert any(not up for _, up in announced), announced  # the creep back is news
    # A change point in a creep moves along the ramp as commits arrive; each placement
    # at a new commit was news again: 12-13 alerts in all for one creep up and back.
    assert len(announced) <= 6, announced


def test_a_change_point_placed_again_between_its_neighbours_is_not_news(
        tmp_path: Path) -> None:
    """Announced at commit b, the same step placed at c (both between its neighbouring
    change points) is not announced again, nor later at d; a step the other way there
    is news, and so is one beyond a neighbour."""
    ws = Workspace(Settings(repo_path=tmp_path, results_dir=tmp_path / "results"))
    client = _Collect()
    a, b, c, d, e = (ch * 40 for ch in "abcde")

    def cp(sha: str, ratio: float, span: tuple[str, ...]) -> Alert:
        return Alert("change_point", STEP, "time_s", ratio, sha=sha, span=span)

    assert deliver_alerts(ws, [cp(b, 1.2, (a, b, c))], client=client).status == "sent"
    assert deliver_alerts(ws, [cp(c, 1.2, (a, b, c))], client=client).status == "nothing_new"
    assert deliver_alerts(ws, [cp(d, 1.2, (c, d))], client=client).status == "nothing_new"
    assert deliver_alerts(ws, [cp(d, 0.8, (c, d))], client=client).status == "sent"
    assert deliver_alerts(ws, [cp(e, 1.2, (e,))], client=client).status == "sent"
    assert [x["sha"] for p in client.sent for x in p["alerts"]] == [b, d, e]


class _Raises:
    """A webhook client whose POST fails with an exception it should have turned into a
    WebhookError."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def post(self, payload):
        raise self.exc


@pytest.mark.parametrize("exc", [ValueError("Invalid date value or format 'soon'"),
                                 http.client.BadStatusLine("HELLO THERE"),
                                 ConnectionResetError("reset"),
                                 http.client.InvalidURL("'/services/T1/B1/path-secret'")])
def test_a_delivery_that_fails_unexpectedly_is_a_failed_delivery(tmp_path: Path,
                                                                 exc: Exception) -> None:
    """The safety net: whatever network or parsing error escapes the client, the history
    report gets a failed delivery (sent again next time), not an exception; its text,
    which may quote the URL's secret path, is not shown."""
    ws = Workspace(Settings(repo_path=tmp_path, results_dir=tmp_path / "results"))
    alert = Alert("change_point", "tests/test_x.py::test_a", "time_s", 1.3, sha="a" * 40,
                  subject="s", detail="new level x1.30")
    delivery = deliver_alerts(ws, [alert], client=_Raises(exc))  # type: ignore[arg-type]
    assert delivery.status == "failed" and type(exc).__name__ in (delivery.error or "")
    assert "path-secret" not in (delivery.error or "") and not sent_alerts_path(ws).exists()


def test_a_payload_that_is_not_json_is_still_an_error(tmp_path: Path) -> None:
    """The safety net is no blanket: a bug upstream still surfaces."""
    ws = Workspace(Settings(repo_path=tmp_path, results_dir=tmp_path / "results"))
    alert = Alert("change_point", "tests/test_x.py::test_a", "time_s", 1.3, sha="a" * 40)
    client = _Raises(InvalidInputError("webhook payload is not JSON"))
    with pytest.raises(InvalidInputError):
        deliver_alerts(ws, [alert], client=client)  # type: ignore[arg-type]


def test_a_large_speed_up_in_an_alert_is_not_a_ratio_of_zero() -> None:
    # "New in the history" leads the report and the webhook: a 250x faster new level read
    # "new level x0.00".
    import dataclasses

    from perf_pipeline.model import ChangePoint
    from perf_pipeline_tests.report.synthetic import make_report_data

    data = make_report_data(hostile=False)
    last = data.runs[-1].run_id
    data = dataclasses.replace(data, change_points=(ChangePoint(
        name="tests/t.py::test_x", metric="time_s", run_id=last, ratio=0.004),))
    (alert,) = alerts_of(data, run_ids={last})
    assert alert.full_detail.startswith("new level x0.0040 from ")


def test_a_culprit_confirmed_after_it_was_announced_unconfirmed_is_announced_again(
        tmp_path: Path) -> None:
    """The first A/B of a culprit saw nothing (announced: not confirmed); the A/B run
    again saw the step. The alert's key named no status, so the confirmation was never
    sent: the receiver was left with "not confirmed"."""
    settings, shas, ws, action = _search_to_its_last_commit(tmp_path)
    client = _Collect()
    for ratio in (1.0, 1.25, 1.25):
        confirm_search(ws, action.spec, action.sha, rounds=recorded_rounds(ratio))
        deliver_alerts(ws, alerts_of(_data(settings)), client=client)
    heard = [a["detail"].split(" culprit")[0] for p in client.sent for a in p["alerts"]
             if a["kind"] == "culprit"]
    assert heard == ["not_confirmed", "confirmed"]
    confirmed = next(a for a in alerts_of(_data(settings)) if a.kind == "culprit")
    assert confirmed.key == f"culprit:time_s:{shas[STEP_AT]}:{STEP}"  # the key it always had


def test_analyze_lists_what_its_run_brought_to_the_history(tmp_path: Path) -> None:
    """``analyze`` (the report of plain pytest-benchmark files, and their PR comment)
    had no "New in the history": a drift that ended at the very run it judged went
    unmentioned there, and its HTML replaced the history page that listed it."""
    from dataclasses import replace

    from perf_pipeline.pipeline.analyze import analyze_results_dir

    n = 36
    settings, shas = repo_and_settings(tmp_path, n, confirm="off")
    rng = np.random.default_rng(3)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(n):  # 3 % a commit from commit 8 on: a drift up to the newest
            run = run_at(i, shas[i], rng, step_at=999)
            store.ingest_run(replace(run, benchmarks=tuple(
                replace(b, samples_s=tuple(v * 1.03 ** max(0, i - 8) for v in b.samples_s))
                if b.name == STEP else b for b in run.benchmarks)))
    with Workspace(settings) as ws:
        outcome = analyze_results_dir(ws, report_path=tmp_path / "report.md")
    assert outcome.run.sha == shas[-1]
    drifts = _data(settings).drifts
    assert [d.end_run_id for d in drifts if d.name == STEP] == [outcome.run.run_id]
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "New in the history (" in text and "drift x" in text, text[:800]
    assert "New in the history" in outcome.files.html.read_text(encoding="utf-8")


def test_an_alert_line_names_its_commit_once() -> None:
    """A change point's detail named the run it starts at, and the report line named that
    run's commit again after it: "new level x1.30 from f675bc0e98 at `f675bc0e98` ..."
    (a drift's line named its end twice the same way). The reports name the commit
    once; the webhook, whose detail stands alone, still names it in the detail."""
    import dataclasses

    from perf_pipeline.model import ChangePoint, Drift
    from perf_pipeline.pipeline.alerts import payload_of
    from perf_pipeline.report import render_html
    from perf_pipeline_tests.report.synthetic import make_report_data

    data = make_report_data(hostile=False)
    runs = data.runs
    last, start = runs[-1], runs[-5]
    assert last.commit is not None and start.commit is not None
    data = dataclasses.replace(
        data, change_points=(ChangePoint("tests/t.py::test_x", "time_s", last.run_id, 1.3),),
        drifts=(Drift("tests/t.py::test_y", "time_s", start.run_id, last.run_id, 1.2, 5),))
    alerts = alerts_of(data, run_ids={last.run_id})
    data = dataclasses.replace(data, alerts=alerts)
    sha, since, subject = last.commit.sha[:10], start.commit.sha[:10], last.commit.subject
    lines = [line for line in render_markdown(data).splitlines() if line.startswith("> - ")]
    assert lines == [f"> - 📈 tests/t.py::test\\_x: new level x1.30 at `{sha}` {subject}",
                     f"> - 🐌 tests/t.py::test\\_y: drift x1.20 over 5 commits, {since} to "
                     f"`{sha}` {subject}"], lines
    page = render_html(data, inline_js=False)
    section = page[page.index('id="alerts"'):page.index("</section>", page.index('id="alerts"'))]
    assert section.count(sha) == 2, section  # once per alert
    assert f"new level x1.30 at <code>{sha}</code>" in section
    assert f"drift x1.20 over 5 commits, {since} to <code>{sha}</code>" in section
    # The webhook's detail is read without the report's line around it: unchanged.
    details = [a["detail"] for a in payload_of(alerts, generated_at="now")["alerts"]]
    assert details == [f"new level x1.30 from {sha}",
                       f"drift x1.20 over 5 commits, {since} to {sha}"]


def test_a_drift_is_counted_in_commits_not_runs() -> None:
    """A commit's runs are one point of the history, and a drift's count is of those
    points; the alert said "over 31 runs" of a drift over 31 commits measured twice each
    (62 runs), and the tables' column was "Runs"."""
    import dataclasses

    from perf_pipeline.analysis.drift import drifts_of
    from perf_pipeline.model import Drift
    from perf_pipeline.report import render_html
    from perf_pipeline_tests.report.synthetic import make_report_data

    rng = np.random.default_rng(1)
    level = np.ones(60)
    level[30:] = 1.015 ** np.arange(1, 31)  # a creep of 1.5 % a commit over the last 30
    run_ids = [f"r{i:02d}{k}" for i in range(60) for k in range(2)]
    commits = [f"c{i:02d}" for i in range(60) for _ in range(2)]
    values = [float(level[i // 2] * np.exp(rng.normal(0.0, 0.003))) for i in range(120)]
    (drift,) = drifts_of("b", "time_s", run_ids, values, commits=commits)
    first = commits.index(commits[run_ids.index(drift.start_run_id)])
    last = run_ids.index(drift.end_run_id)
    assert drift.commits == len(set(commits[first:last + 1])) == 31
    assert len(run_ids[first:last + 1]) == 62

    data = make_report_data(hostile=False)
    runs = data.runs
    data = dataclasses.replace(data, drifts=(
        Drift("tests/t.py::test_y", "time_s", runs[-5].run_id, runs[-1].run_id, 1.2, 5),))
    (alert,) = alerts_of(data, run_ids={runs[-1].run_id})
    assert "drift x1.20 over 5 commits, " in alert.detail, alert.detail
    data = dataclasses.replace(data, alerts=(alert,))
    text = render_markdown(data)
    assert "| From run | To run | Commits | Change |" in text and "| Runs |" not in text
    page = render_html(data, inline_js=False)
    assert '<th class="r">Commits</th>' in page and '<th class="r">Runs</th>' not in page
