"""Post the Markdown report to a pull request, editing our earlier comment in place.

One comment per PR, not one per push: the comment is found again by the hidden
``MARKER`` its body starts with, so a PR with forty pushes still has a single report
that always shows the newest commit. Only a comment *we* wrote counts: anyone can paste
the marker, and editing their comment would put our report under their name (and let
them edit it). Who "we" are comes from ``GET /user`` when the token may ask (a personal
token); an Actions or app token may not (403), and then it is the bot the token posts
as (``github-actions[bot]``, or ``bot_login`` for an app). The question is asked once per
client, when the first marker comment turns up.

Plain ``urllib.request`` (no new dependency), through ``github_api``, which holds the
retry policy and keeps the token out of messages, ``repr`` and logs. A POST that failed
with a 5xx or a dropped connection may still have created the comment, so it is never
replayed blindly: the comments are listed again first and the retry becomes a PATCH if
GitHub did create it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perf_pipeline.errors import GitHubError, InvalidInputError
from perf_pipeline.report.github_api import (
    DEFAULT_API_URL,
    ApiResponse,
    GitHubApi,
    MaybeApplied,
    check_base_url,
)
from perf_pipeline.report.markdown import MARKER
from perf_pipeline.report.markdown_fit import GITHUB_COMMENT_LIMIT

__all__ = ["DEFAULT_API_URL", "CommentResult", "GitHubClient", "prepare_comment_body"]

logger = logging.getLogger(__name__)

#: Who posts with an Actions ``GITHUB_TOKEN`` (an app's token posts as ``<app>[bot]``).
DEFAULT_BOT_LOGIN = "github-actions[bot]"

TRUNCATION_NOTE = (
    "\n\n---\n_This report was cut to fit GitHub's 65,536-character comment limit; "
    "the full report is in the workflow run's artifacts._\n")

_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True, slots=True)
class CommentResult:
    """What ``upsert_comment`` did: ``action`` is ``"created"`` or ``"updated"``."""

    action: str
    comment_id: int
    html_url: str

    def __post_init__(self) -> None:
        if self.action not in ("created", "updated"):
            raise InvalidInputError(f"`action` must be 'created' or 'updated', not {self.action!r}")


class _Unknown:
    """Not asked yet (``None`` means: asked, and the token may not know)."""


_UNKNOWN = _Unknown()


def prepare_comment_body(body: str, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The comment text: starts with ``MARKER`` and fits in ``limit`` characters.

    A report over the limit is cut at a line boundary with a note, never refused: a
    shortened comment is worth more than a failed CI step.
    """
    text = body if body.lstrip().startswith(MARKER) else f"{MARKER}\n{body}"
    if len(text) <= limit:
        return text
    room = limit - len(TRUNCATION_NOTE)
    cut = text.rfind("\n", 0, room)
    if cut <= len(MARKER):
        cut = room
    logger.warning("report is %d characters; cut to %d for the PR comment", len(text), limit)
    return text[:cut] + TRUNCATION_NOTE


def _check_target(repo: str, pr_number: int) -> tuple[str, str]:
    if not isinstance(repo, str) or not _REPO_RE.match(repo) or ".." in repo:
        raise InvalidInputError(f"repository {repo!r} must look like OWNER/NAME")
    if isinstance(pr_number, bool) or not isinstance(pr_number, int) or pr_number <= 0:
        raise InvalidInputError(f"PR number {pr_number!r} must be a positive integer")
    owner, name = repo.split("/")
    return owner, name


class GitHubClient:
    """A small client for the issue-comment endpoints of the GitHub REST API.

    ``sleep`` is injectable so tests of the retry policy run instantly.
    """

    __slots__ = ("_api", "_bot_login", "_login")

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_wait_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        bot_login: str = DEFAULT_BOT_LOGIN,
    ) -> None:
        base_url = check_base_url(base_url)  # first, as the API checks the rest
        if not isinstance(bot_login, str) or not bot_login.strip():
            raise InvalidInputError("the comment bot's login must not be empty")
        self._bot_login = bot_login.strip()
        self._api = GitHubApi(base_url, token, timeout=timeout, max_retries=max_retries,
                              backoff_s=backoff_s, max_wait_s=max_wait_s, sleep=sleep)
        self._login: str | _Unknown | None = _UNKNOWN

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self._api.base_url!r}, token=<redacted>)"

    def __reduce__(self) -> Any:  # pickling would write the token to disk
        raise TypeError("GitHubClient holds a token and cannot be pickled")

    @property
    def base_url(self) -> str:
        return self._api.base_url

    @property
    def backoff_s(self) -> float:
        """The first retry's wait (doubling with each attempt) when GitHub names none."""
        return self._api.backoff_s

    @backoff_s.setter
    def backoff_s(self, value: float) -> None:
        self._api.backoff_s = float(value)

    # -- public API --------------------------------------------------------------------

    def upsert_comment(self, repo: str, pr_number: int, body: str) -> CommentResult:
        """Update our earlier comment on the PR, or create one if there is none."""
        owner, name = _check_target(repo, pr_number)
        text = prepare_comment_body(body)
        for attempt in range(self._api.max_retries + 1):
            existing = self.find_comment(repo, pr_number)
            try:
                if existing is not None:
                    path = f"/repos/{owner}/{name}/issues/comments/{existing}"
                    resp = self._api.call("PATCH", path, {"body": text})
                    action = "updated"
                else:
                    path = f"/repos/{owner}/{name}/issues/{pr_number}/comments"
                    resp = self._api.call("POST", path, {"body": text}, replayable=False)
                    action = "created"
            except MaybeApplied as exc:
                if attempt >= self._api.max_retries:
                    raise GitHubError(f"{exc} (gave up after {attempt + 1} attempts)") from exc
                delay = self._api.delay(exc.headers, attempt)
                logger.warning("%s; listing comments again in %.1f s", exc, delay)
                self._api.sleep(delay)
                continue
            return self._result(action, resp, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def find_comment(self, repo: str, pr_number: int) -> int | None:
        """The id of our newest comment on the PR (body starts with ``MARKER``, written
        by us: see the module doc), if any."""
        owner, name = _check_target(repo, pr_number)
        found: int | None = None
        path = f"/repos/{owner}/{name}/issues/{pr_number}/comments?per_page=100"
        for comment in self._api.paginate(path):
            body = comment.get("body") if isinstance(comment, dict) else None
            if isinstance(body, str) and body.lstrip().startswith(MARKER):
                cid = comment.get("id")
                if isinstance(cid, int) and self._ours(comment.get("user")):
                    found = cid
        return found

    def _ours(self, user: object) -> bool:
        """Whether a comment by ``user`` (the API's user object) is one we wrote: by the
        token's own user, or (a token that may not ask: Actions, an app) by the bot it
        posts as (``bot_login``). Another bot's comment is never ours."""
        if not isinstance(user, dict):
            return False
        login = self._own_login() or self._bot_login
        return str(user.get("login", "")).lower() == login.lower()

    def _own_login(self) -> str | None:
        """The token's user, or None when the token may not ask (Actions and app tokens
        get 403 from ``GET /user``); asked once per client."""
        if isinstance(self._login, _Unknown):
            try:
                data = self._api.call("GET", "/user").data
            except GitHubError as exc:
                if exc.status not in (403, 404):
                    raise
                data = None
            login = data.get("login") if isinstance(data, dict) else None
            self._login = login if isinstance(login, str) and login else None
        return self._login


    def _result(self, action: str, resp: ApiResponse, path: str) -> CommentResult:
        data = resp.data if isinstance(resp.data, dict) else {}
        cid, url = data.get("id"), data.get("html_url")
        if not isinstance(cid, int) or not isinstance(url, str):
            raise GitHubError(f"GitHub API response to {path} lacks the comment's id or URL",
                              status=resp.status)
        logger.info("%s PR comment %d: %s", action, cid, url)
        return CommentResult(action=action, comment_id=cid, html_url=url)
