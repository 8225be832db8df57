"""Post the Markdown report to a pull request, editing our earlier comment in place.

One comment per PR, not one per push: the comment is found again by the hidden
``MARKER`` its body starts with, so a PR with forty pushes still has a single report
that always shows the newest commit. Only a comment *we* wrote counts: anyone can paste
the marker, and editing their comment would put our report under their name (and let
them edit it). Who "we" are comes from ``GET /user`` when the token may ask (a personal
token); an Actions or app token may not (403), and then it is the bot the token posts
as (``github-actions[bot]``, or ``bot_login`` for an app). The question is asked once per
client, when the first marker comment turns up.

Plain ``urllib.request`` (no new dependency). What this module guards against:

- Transient failures (5xx, network errors, primary and secondary rate limits) are
  retried with a bounded number of attempts; waits honour ``Retry-After`` and
  ``X-RateLimit-Reset`` but are capped, so a CI job never sleeps for an hour.
- A POST that failed with a 5xx or a dropped connection may still have created the
  comment, so it is never replayed blindly: the comments are listed again first and the
  retry becomes a PATCH if GitHub did create it.
- The token is sent only in the ``Authorization`` header, only to the configured API
  origin (redirects are not followed, ``Link`` pages must stay on that origin), and
  never appears in messages, ``repr`` or logs.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from perf_pipeline.errors import GitHubError, InvalidInputError
from perf_pipeline.http_url import check_http_url, retry_after_s, shown_url
from perf_pipeline.report.markdown import MARKER
from perf_pipeline.report.markdown_fit import GITHUB_COMMENT_LIMIT

__all__ = ["DEFAULT_API_URL", "CommentResult", "GitHubClient", "prepare_comment_body"]

logger = logging.getLogger(__name__)

#: Who posts with an Actions ``GITHUB_TOKEN`` (an app's token posts as ``<app>[bot]``).
DEFAULT_BOT_LOGIN = "github-actions[bot]"

#: What ``GITHUB_API_URL`` holds on github.com; GHE uses ``https://HOST/api/v3``.
DEFAULT_API_URL = "https://api.github.com"

TRUNCATION_NOTE = (
    "\n\n---\n_This report was cut to fit GitHub's 65,536-character comment limit; "
    "the full report is in the workflow run's artifacts._\n")

_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_MAX_PAGES = 1000
_HINTS = {
    401: "check that GITHUB_TOKEN is set to a valid, unexpired token",
    403: "check GITHUB_TOKEN's permissions (pull-requests: write); on pull requests from "
         "forks GitHub gives the workflow a read-only token",
    404: "check the repository name and the PR number, and that the token can see the "
         "repository (GitHub answers 404, not 403, for a repository the token cannot read)",
}


@dataclass(frozen=True, slots=True)
class CommentResult:
    """What ``upsert_comment`` did: ``action`` is ``"created"`` or ``"updated"``."""

    action: str
    comment_id: int
    html_url: str

    def __post_init__(self) -> None:
        if self.action not in ("created", "updated"):
            raise InvalidInputError(f"`action` must be 'created' or 'updated', not {self.action!r}")


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    data: Any


class _MaybeApplied(Exception):
    """A non-replayable request failed in a way that leaves its effect unknown."""

    def __init__(self, message: str, headers: Mapping[str, str] | None) -> None:
        super().__init__(message)
        self.headers = headers or {}


class _Unknown:
    """Not asked yet (``None`` means: asked, and the token may not know)."""


_UNKNOWN = _Unknown()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would resend the Authorization header to the new host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


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


def _check_base_url(base_url: str) -> str:
    parsed = check_http_url(base_url, "GitHub API URL",
                            f"{DEFAULT_API_URL} or https://ghe.example.com/api/v3")
    if parsed.query or parsed.fragment:
        raise InvalidInputError(f"GitHub API URL {shown_url(base_url)!r} must not have a "
                                "query or fragment")
    if parsed.username or parsed.password:
        # The token is the credential; one in the URL would be sent along and logged.
        raise InvalidInputError(f"GitHub API URL {shown_url(base_url)!r} must not hold a "
                                "user or password: the token authenticates")
    return base_url.strip().rstrip("/")


def _check_target(repo: str, pr_number: int) -> tuple[str, str]:
    if not isinstance(repo, str) or not _REPO_RE.match(repo) or ".." in repo:
        raise InvalidInputError(f"repository {repo!r} must look like OWNER/NAME")
    if isinstance(pr_number, bool) or not isinstance(pr_number, int) or pr_number <= 0:
        raise InvalidInputError(f"PR number {pr_number!r} must be a positive integer")
    owner, name = repo.split("/")
    return owner, name


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class GitHubClient:
    """A small client for the issue-comment endpoints of the GitHub REST API.

    ``sleep`` is injectable so tests of the retry policy run instantly.
    """

    __slots__ = ("_base_url", "_bot_login", "_login", "_max_retries", "_max_wait_s",
                 "_opener", "_sleep", "_timeout", "_token", "backoff_s")

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
        self._base_url = _check_base_url(base_url)
        if not isinstance(bot_login, str) or not bot_login.strip():
            raise InvalidInputError("the comment bot's login must not be empty")
        self._bot_login = bot_login.strip()
        if not isinstance(token, str) or not token.strip():
            raise InvalidInputError("GitHub token is empty: set GITHUB_TOKEN")
        if any(ch in token for ch in "\r\n\0"):
            raise InvalidInputError("GitHub token contains a line break or NUL character")
        bad = next((i for i, ch in enumerate(token.strip()) if not " " < ch <= "~"), None)
        if bad is not None:  # HTTP headers are Latin-1 bytes; GitHub tokens are ASCII
            raise InvalidInputError(
                f"GitHub token (GITHUB_TOKEN) has a character that is not printable ASCII at "
                f"position {bad + 1}: a copy-paste error? (the token is not shown)")
        if timeout <= 0 or max_retries < 0 or backoff_s < 0 or max_wait_s < 0:
            raise InvalidInputError("`timeout` must be > 0 and `max_retries`, `backoff_s`, "
                                    "`max_wait_s` must be >= 0")
        self._token = token.strip()
        self._timeout = float(timeout)
        self._max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self._max_wait_s = float(max_wait_s)
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._login: str | _Unknown | None = _UNKNOWN

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self._base_url!r}, token=<redacted>)"

    def __reduce__(self) -> Any:  # pickling would write the token to disk
        raise TypeError("GitHubClient holds a token and cannot be pickled")

    @property
    def base_url(self) -> str:
        return self._base_url

    # -- public API --------------------------------------------------------------------

    def upsert_comment(self, repo: str, pr_number: int, body: str) -> CommentResult:
        """Update our earlier comment on the PR, or create one if there is none."""
        owner, name = _check_target(repo, pr_number)
        text = prepare_comment_body(body)
        for attempt in range(self._max_retries + 1):
            existing = self.find_comment(repo, pr_number)
            try:
                if existing is not None:
                    path = f"/repos/{owner}/{name}/issues/comments/{existing}"
                    resp = self._call("PATCH", path, {"body": text})
                    action = "updated"
                else:
                    path = f"/repos/{owner}/{name}/issues/{pr_number}/comments"
                    resp = self._call("POST", path, {"body": text}, replayable=False)
                    action = "created"
            except _MaybeApplied as exc:
                if attempt >= self._max_retries:
                    raise GitHubError(f"{exc} (gave up after {attempt + 1} attempts)") from exc
                delay = self._delay(exc.headers, attempt)
                logger.warning("%s; listing comments again in %.1f s", exc, delay)
                self._sleep(delay)
                continue
            return self._result(action, resp, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def find_comment(self, repo: str, pr_number: int) -> int | None:
        """The id of our newest comment on the PR (body starts with ``MARKER``, written
        by us: see the module doc), if any."""
        owner, name = _check_target(repo, pr_number)
        found: int | None = None
        path = f"/repos/{owner}/{name}/issues/{pr_number}/comments?per_page=100"
        for comment in self._paginate(path):
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
                data = self._call("GET", "/user").data
            except GitHubError as exc:
                if exc.status not in (403, 404):
                    raise
                data = None
            login = data.get("login") if isinstance(data, dict) else None
            self._login = login if isinstance(login, str) and login else None
        return self._login

    # -- HTTP --------------------------------------------------------------------------

    def _paginate(self, path: str) -> Iterator[Any]:
        url: str | None = self._url(path)
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise GitHubError(f"GitHub API pagination of {self._show(url)} does not end")
            seen.add(url)
            resp = self._call("GET", url)
            if not isinstance(resp.data, list):
                raise GitHubError(f"GitHub API returned a non-list for GET {self._show(url)}")
            yield from resp.data
            url = self._next_link(resp.headers.get("Link", ""))

    def _next_link(self, link: str) -> str | None:
        for part in link.split(","):
            match = _NEXT_RE.search(part)
            if match:
                nxt = urllib.parse.urljoin(self._base_url + "/", match.group(1))
                if _origin(nxt) != _origin(self._base_url):
                    raise GitHubError(
                        f"GitHub API pagination points to another host ({_origin(nxt)[1]}); "
                        f"not sending the token there")
                return nxt
        return None

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self._base_url + path_or_url

    def _show(self, url: str) -> str:
        """A URL as it may appear in messages: the API path, without the base."""
        parts = urllib.parse.urlsplit(url)
        base_path = urllib.parse.urlsplit(self._base_url).path
        path = parts.path[len(base_path):] if parts.path.startswith(base_path) else parts.path
        return self._redact(path or "/")

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<redacted>") if self._token else text

    def _call(self, method: str, path_or_url: str, payload: Any = None, *,
              replayable: bool = True) -> _Response:
        """One API call with the retry policy; raises ``GitHubError`` when it gives up."""
        url = self._url(path_or_url)
        shown = f"{method} {self._show(url)}"
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        for attempt in range(self._max_retries + 1):
            last = attempt >= self._max_retries
            try:
                return self._send(method, url, data)
            except urllib.error.HTTPError as exc:
                headers = dict(exc.headers.items()) if exc.headers else {}
                message = self._error_message(exc)
                if not _retryable_status(exc.code, headers, message):
                    raise self._failure(exc.code, exc.reason, shown, message) from exc
                if exc.code >= 500 and not replayable:
                    raise _MaybeApplied(f"GitHub API returned {exc.code} for {shown}",
                                        headers) from exc
                if last:
                    raise GitHubError(
                        f"GitHub API returned {exc.code} for {shown} "
                        f"{attempt + 1} times; giving up" + (f": {message}" if message else ""),
                        status=exc.code) from exc
                delay = self._delay(headers, attempt, rate_limited=exc.code in (403, 429))
            except (urllib.error.URLError, TimeoutError, ConnectionError,
                    http.client.HTTPException) as exc:
                reason = self._redact(str(getattr(exc, "reason", exc)))
                if not replayable:
                    raise _MaybeApplied(f"network error on {shown}: {reason}", None) from exc
                if last:
                    raise GitHubError(f"network error on {shown} after {attempt + 1} "
                                      f"attempts: {reason}") from exc
                delay = self._delay({}, attempt)
            logger.warning("GitHub API %s failed (attempt %d of %d); retrying in %.1f s",
                           shown, attempt + 1, self._max_retries + 1, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, url: str, data: bytes | None) -> _Response:
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "perf-pipeline",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        # Kept out of the Request's repr/headers dict used in tracebacks of urllib itself.
        request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        with self._opener.open(request, timeout=self._timeout) as resp:
            raw = resp.read()
            headers = dict(resp.headers.items())
            status = resp.status
        logger.debug("GitHub API %s %s -> %d", method, self._show(url), status)
        if not raw:
            return _Response(status, headers, None)
        try:
            return _Response(status, headers, json.loads(raw))
        except ValueError as exc:
            raise GitHubError(f"GitHub API returned invalid JSON for {method} "
                              f"{self._show(url)}", status=status) from exc

    def _error_message(self, exc: urllib.error.HTTPError) -> str:
        try:
            raw = exc.read()
        except (OSError, http.client.HTTPException):
            return ""
        try:
            data = json.loads(raw)
            message = str(data.get("message", "")).strip()
        except (ValueError, AttributeError):
            message = raw.decode("utf-8", "replace")
        else:  # a 422's reason is in ``errors`` ("Validation Failed" alone says nothing)
            errors = data.get("errors")
            details = [d for d in map(_error_detail, errors) if d] if isinstance(
                errors, list) else []
            if details:
                message = f"{message}: {'; '.join(details)}"
        return self._redact(str(message).strip())[:300]

    def _failure(self, status: int, reason: object, shown: str, message: str) -> GitHubError:
        text = f"GitHub API returned {status} {reason or ''}".rstrip() + f" for {shown}"
        hint = _HINTS.get(status)
        if 300 <= status < 400:
            hint = ("the API answered with a redirect (renamed repository or wrong API URL?); "
                    "redirects are not followed so the token stays on the configured host")
        if hint:
            text += f": {hint}"
        if message:
            text += f" (GitHub said: {message})"
        return GitHubError(text, status=status)

    def _delay(self, headers: Mapping[str, str], attempt: int, *,
               rate_limited: bool = False) -> float:
        """Seconds to wait: the server's word if it gave one, else exponential backoff;
        a rate limit that names no time (a secondary limit often does not) at least a
        minute, as GitHub asks: sooner retries only hit the same limit."""
        h = {k.lower(): v for k, v in headers.items()}
        delay: float | None = None
        if "retry-after" in h:
            delay = retry_after_s(h["retry-after"])
        if delay is None and h.get("x-ratelimit-remaining") == "0":
            try:
                delay = float(h["x-ratelimit-reset"]) - time.time() + 1.0
            except (KeyError, ValueError):
                delay = None
            if delay is not None and math.isnan(delay):
                delay = None  # time.sleep(nan) raises
        if delay is None:
            delay = max(self.backoff_s * (2 ** attempt), 60.0 if rate_limited else 0.0)
        return min(max(delay, 0.0), self._max_wait_s)

    def _result(self, action: str, resp: _Response, path: str) -> CommentResult:
        data = resp.data if isinstance(resp.data, dict) else {}
        cid, url = data.get("id"), data.get("html_url")
        if not isinstance(cid, int) or not isinstance(url, str):
            raise GitHubError(f"GitHub API response to {path} lacks the comment's id or URL",
                              status=resp.status)
        logger.info("%s PR comment %d: %s", action, cid, url)
        return CommentResult(action=action, comment_id=cid, html_url=url)


def _error_detail(error: object) -> str:
    """An entry of a GitHub error's ``errors`` list: its ``message``, else ``field: code``."""
    if isinstance(error, dict):
        return str(error.get("message") or ": ".join(
            str(error[k]) for k in ("field", "code") if error.get(k))).strip()
    return error.strip() if isinstance(error, str) else ""


def _retryable_status(status: int, headers: Mapping[str, str], message: str) -> bool:
    if status >= 500 or status == 429:
        return True
    if status == 403:
        h = {k.lower(): v for k, v in headers.items()}
        return (h.get("x-ratelimit-remaining") == "0" or "retry-after" in h
                or "rate limit" in message.lower())
    return False
