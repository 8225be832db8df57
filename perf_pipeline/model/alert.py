"""Alerts: what in the history is worth telling someone about, sent once each."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError

__all__ = ["ALERT_KINDS", "Alert"]


#: What an alert is about.
ALERT_KINDS = ("change_point", "drift", "culprit")


@dataclass(frozen=True, slots=True)
class Alert:
    """A change point, a drift or a culprit worth telling someone about.

    ``sha``: the commit it points at (a change point's first commit at the new level, a
    drift's last commit, the culprit); ``detail``: what happened, without naming that commit
    (a report's line names it after the detail, with its subject; ``full_detail`` is for a
    reader of the detail alone); ``since``: a drift's first commit, ``span``: the commits it
    covers, oldest first (a change point's: those between the change points of its benchmark
    and metric before and after it). ``key`` identifies it across reports, so the webhook
    announces each one once; a drift's start and end both move while it goes on (its window
    slides), so a drift counts as sent when one of the commits it covers keyed a drift of
    the same benchmark before (``already_sent``); a change point placed again as commits
    arrive (in a creep it moves along the ramp) counts as sent when a change point of the
    same benchmark and metric, the same way, was announced at a commit between its
    neighbours.
    """

    kind: str
    name: str
    metric: str
    ratio: float
    sha: str | None = None
    subject: str = ""
    detail: str = ""
    since: str | None = None
    span: tuple[str, ...] = ()
    #: A culprit's status (``Culprit.status``): a culprit first announced unconfirmed or
    #: not confirmed, then confirmed by a later A/B, is news again.
    status: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise InvalidInputError(f"alert kind {self.kind!r} is not one of {ALERT_KINDS}")
        object.__setattr__(self, "span", tuple(self.span))

    @property
    def commit_word(self) -> str:
        """What joins ``detail`` to the commit ``sha``: a drift runs *to* it, the rest
        are *at* it."""
        return "to" if self.kind == "drift" else "at"

    @property
    def full_detail(self) -> str:
        """``detail`` with the commit of a change point (where the new level starts) or a
        drift (where it ends), for a reader with the detail alone: the webhook's, as it
        always was ("new level x1.30 from 0123abcd45"). A culprit's detail names its
        search's ends; its ``sha`` is in the payload beside it."""
        if self.sha is None or self.kind == "culprit":
            return self.detail
        word = "from" if self.kind == "change_point" else "to"
        return f"{self.detail} {word} {self.sha[:10]}"

    @property
    def key(self) -> str:
        at = self.since if self.kind == "drift" and self.since else self.sha
        kind = self.kind
        if kind == "culprit" and self.status not in ("", "confirmed"):
            # A confirmed culprit keeps the key it always had (sent.json recognises it).
            kind = f"culprit-{self.status}"
        return f"{kind}:{self.metric}:{at or '-'}:{self.name}"

    @property
    def sent_keys(self) -> tuple[str, ...]:
        """What to record once it is sent: its key, and for a drift one key per commit it
        covers, with its direction, so a later drift of this benchmark the same way that
        overlaps it is the same one (a drift back the other way is news)."""
        sign = "+" if self.ratio >= 1.0 else "-"
        if self.kind == "change_point" and self.sha:
            return (self.key, f"change_point{sign}:{self.metric}:{self.sha}:{self.name}")
        if self.kind != "drift":
            return (self.key,)
        return (self.key, *(f"drift{sign}:{self.metric}:{sha}:{self.name}"
                            for sha in self.span))

    def already_sent(self, sent: Collection[str]) -> bool:
        """Whether ``sent`` (keys recorded) holds this alert: its key, or for a drift a
        same-way drift of this benchmark at any commit it covers (a start that moved, an
        overlapping drift announced before), or a key of the older form that named a
        drift's end commit (before 2026-12-01; its direction was not recorded)."""
        if any(key in sent for key in self.sent_keys):
            return True
        if self.kind == "change_point":
            sign = "+" if self.ratio >= 1.0 else "-"
            return any(f"change_point{sign}:{self.metric}:{sha}:{self.name}" in sent
                       for sha in self.span)
        return self.kind == "drift" and any(
            f"drift:{self.metric}:{sha}:{self.name}" in sent for sha in self.span)
