"""Alerts: what is new in the history (change points, drifts, culprits), and the webhook.

A per-commit gate misses steps that land between measured commits and slow creeps; the
history finds them, and this step makes sure someone hears about it:

* in a **commit's report** (and so in the PR comment, which is that report): the change
  points that start at this commit's run, the drifts that end at it, and a culprit
  search that named this commit;
* in the **history report**: those of the last ``ALERT_WINDOW`` runs;
* through the **webhook** (``settings.webhook_url``, token from
  ``PERF_PIPELINE_WEBHOOK_TOKEN``): one JSON POST with the alerts not sent before.
  What was sent is recorded in ``alerts/sent.json`` only after the receiver accepted
  it, so a failed delivery is retried with the next history report; a failure is a
  result (``AlertDelivery.error``), not an exception, so the report is never lost to it.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.config import WEBHOOK_TOKEN_ENV
from perf_pipeline.errors import InvalidInputError, StoreError, WebhookError
from perf_pipeline.model import Alert, ChangePoint, ReportData, RunInfo
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.report import ratio_number
from perf_pipeline.report.webhook import WebhookClient
from perf_pipeline.workspace import Workspace

__all__ = ["ALERT_WINDOW", "TOKEN_ENV", "AlertDelivery", "alerts_of", "deliver_alerts",
           "sent_alerts_path"]

#: The history report alerts on what the last this-many runs brought.
ALERT_WINDOW = 30
#: The webhook's bearer token: from the environment only, never from a settings file.
TOKEN_ENV = WEBHOOK_TOKEN_ENV


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """What ``deliver_alerts`` did: sent the new alerts, had nothing new, had no webhook
    configured, or failed (``error``, without the token)."""

    status: str  # "sent" | "nothing_new" | "not_configured" | "failed"
    sent: tuple[Alert, ...] = ()
    attempts: int = 0
    error: str | None = None


def _label(run: RunInfo | None, run_id: str) -> str:
    return run.label if run is not None else run_id[:10]


def _span(runs: Sequence[RunInfo], start: str, end: str) -> tuple[str, ...]:
    """The commits of the runs from ``start`` to ``end`` (history order), each once."""
    ids = [r.run_id for r in runs]
    if start not in ids or end not in ids:
        return ()
    i, j = ids.index(start), ids.index(end)
    return tuple(dict.fromkeys(r.commit.sha for r in runs[i:j + 1] if r.commit is not None))


def _between_neighbours(data: ReportData, cp: ChangePoint) -> tuple[str, ...]:
    """The commits strictly between the change points of ``cp``'s benchmark and metric
    before and after it (the history's ends when none), ``cp``'s own among them: where
    it may be placed again as commits arrive and still be the same change point."""
    order = {r.run_id: i for i, r in enumerate(data.runs)}
    at = order.get(cp.run_id)
    if at is None:
        return ()
    others = [order[c.run_id] for c in data.change_points
              if (c.name, c.metric) == (cp.name, cp.metric) and c.run_id in order]
    lo = max((i for i in others if i < at), default=-1)
    hi = min((i for i in others if i > at), default=len(data.runs))
    return tuple(dict.fromkeys(r.commit.sha for r in data.runs[lo + 1:hi]
                               if r.commit is not None))


def alerts_of(data: ReportData, *, run_ids: Collection[str] | None = None,
              window: int = ALERT_WINDOW) -> tuple[Alert, ...]:
    """The alerts of ``data``: about the runs ``run_ids`` (a commit's report), or about
    the last ``window`` benchmark runs (the history report)."""
    runs = {r.run_id: r for r in data.runs}
    if run_ids is None:
        bench_runs = [r for r in data.runs if r.suite == "benchmarks"]
        run_ids = {r.run_id for r in bench_runs[-window:]}
    recent = set(run_ids)
    shas = {runs[r].commit.sha for r in recent if r in runs and runs[r].commit is not None}

    def commit_of(run_id: str) -> tuple[str | None, str]:
        run = runs.get(run_id)
        if run is None or run.commit is None:
            return None, ""
        return run.commit.sha, run.commit.subject

    def up_to(word: str, run_id: str, sha: str | None) -> str:
        """`` from <run>`` / `` to <run>`` when no commit (``sha``) names it after the
        detail: a report's line and the webhook's detail say that commit themselves."""
        return "" if sha else f" {word} {_label(runs.get(run_id), run_id)}"

    out: list[Alert] = []
    for cp in data.change_points:
        if cp.run_id in recent:
            sha, subject = commit_of(cp.run_id)
            out.append(Alert("change_point", cp.name, cp.metric, cp.ratio, sha=sha,
                             subject=subject, span=_between_neighbours(data, cp),
                             detail=(f"new level x{ratio_number(cp.ratio)}"
                                     + up_to("from", cp.run_id, sha))))
    for d in data.drifts:
        if d.end_run_id in recent:
            sha, subject = commit_of(d.end_run_id)
            out.append(Alert("drift", d.name, d.metric, d.ratio, sha=sha, subject=subject,
                             since=commit_of(d.start_run_id)[0],
                             span=_span(data.runs, d.start_run_id, d.end_run_id),
                             detail=(f"drift x{ratio_number(d.ratio)} over {d.commits} commits, "
                                     f"{_label(runs.get(d.start_run_id), d.start_run_id)}"
                                     + up_to("to", d.end_run_id, sha))))
    for c in data.culprits:
        if c.sha is None or (c.sha not in shas and c.bad_sha not in shas):
            continue
        ratio = c.confirmed_ratio if c.confirmed_ratio is not None else c.step_ratio
        ab = (f"; A/B against its parent x{ratio_number(c.confirmed_ratio)} "
              f"[{ratio_number(c.ci_low, near_one=False)}, "
              f"{ratio_number(c.ci_high, near_one=False)}]"
              if c.confirmed_ratio is not None else "")
        out.append(Alert("culprit", c.benchmark, c.metric, ratio, sha=c.sha,
                         subject=c.subject, status=c.status, detail=(
                             f"{c.status} culprit of a x{ratio_number(c.step_ratio)} step between "
                             f"{c.good_sha[:10]} and {c.bad_sha[:10]}, by {c.author}{ab}")))
    return tuple(out)


def sent_alerts_path(ws: Workspace) -> Path:
    return ws.layout.alerts_sent_path


def _read_sent(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{path}: not a valid record of sent alerts ({exc})") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise InvalidInputError(f"{path}: not a valid record of sent alerts (no 'keys' list)")
    return {str(k) for k in keys}


def payload_of(alerts: Sequence[Alert], *, generated_at: str,
               machine_id: str | None = None) -> dict[str, object]:
    """The JSON body of one webhook POST. ``machine`` says whose history the alerts come
    from: in a fleet every machine judges (and alerts on) its own runs, so one receiver
    hears the same benchmark from several machines and must tell them apart."""
    return {
        "source": "perf-pipeline", "schema_version": 1, "generated_at": generated_at,
        "machine": machine_id,
        "alerts": [{"kind": a.kind, "benchmark": a.name, "metric": a.metric,
                    "ratio": round(a.ratio, 6), "sha": a.sha, "subject": a.subject,
                    "detail": a.full_detail, "key": a.key} for a in alerts],
    }


def deliver_alerts(ws: Workspace, alerts: Sequence[Alert], *, machine_id: str | None = None,
                   client: WebhookClient | None = None) -> AlertDelivery:
    """POST the alerts not sent before to the webhook, then record them as sent.

    ``machine_id``: the machine whose history raised them (``ReportData.machine_id``)."""
    settings = ws.settings
    path = sent_alerts_path(ws)
    sent = _read_sent(path)
    alerts = list(dict.fromkeys(alerts))
    new = [a for a in alerts if not a.already_sent(sent)]
    # A drift recognised as sent goes on: its span grows (and its window slides), so its
    # record grows with it, or it would be news again once its start passed the old span;
    # a change point recognised as sent at a new commit is recorded there too, with its
    # direction only (it may move on, past where it was first announced; a step the
    # other way at that commit would still be news).
    known = sent.union(*(a.sent_keys if a.kind == "drift" else a.sent_keys[1:]
                         for a in alerts
                         if a.kind in ("drift", "change_point") and a not in new))
    if not new:
        if known != sent:
            _write_sent(path, known)
        return AlertDelivery("nothing_new")
    if client is None:
        if not settings.webhook_url:
            return AlertDelivery("not_configured")
        client = WebhookClient(settings.webhook_url, os.environ.get(TOKEN_ENV))
    try:
        result = client.post(payload_of(new, generated_at=now_iso(), machine_id=machine_id))
    except WebhookError as exc:
        return AlertDelivery("failed", error=str(exc))
    except InvalidInputError:
        raise  # a payload that is not JSON is a bug upstream, not a failed delivery
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # The client turns every failure into a WebhookError; one it did not foresee (an
        # odd answer, a network error of a new kind) must still be a failed delivery, sent
        # again with the next report, not a crash that loses the report. Its text is not
        # shown: urllib's messages may quote the URL, whose path may be the secret.
        return AlertDelivery("failed", error=(
            f"webhook delivery failed on an unexpected {type(exc).__name__} "
            "(its message is not shown: it may quote the webhook URL)"))
    _write_sent(path, known.union(*(a.sent_keys for a in new)))
    return AlertDelivery("sent", sent=tuple(new), attempts=result.attempts)


def _write_sent(path: Path, keys: set[str]) -> None:
    data = {"keys": sorted(keys), "updated_at": now_iso()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=1).encode("utf-8"))
    except OSError as exc:
        raise StoreError(f"cannot record sent alerts in {path}: {exc}") from exc
