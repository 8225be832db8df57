"""The GitHub REST API over plain ``urllib.request`` (no new dependency): one call with
the retry policy, pagination, and the token kept to its one header.

What this module guards against:

- Transient failures (5xx, network errors, primary and secondary rate limits) are
  retried with a bounded number of attempts; waits honour ``Retry-After`` and
  ``X-RateLimit-Reset`` but are capped, so a CI job never sleeps for an hour.
- A request that is not safe to replay (a POST) and failed with a 5xx or a dropped
  connection raises ``MaybeApplied``: its effect is unknown, and the caller decides
  (``github.GitHubClient`` lists the comments again first).
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

__all__ = ["DEFAULT_API_URL", "ApiResponse", "GitHubApi", "MaybeApplied", "check_base_url"]

logger = logging.getLogger(__name__)

#: What ``GITHUB_API_URL`` holds on github.com; GHE uses ``https://HOST/api/v3``.
DEFAULT_API_URL = "https://api.github.com"

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
class ApiResponse:
    """One answer: status, headers, and the decoded JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    data: Any


class MaybeApplied(Exception):
    """A non-replayable request failed in a way that leaves its effect unknown."""

    def __init__(self, message: str, headers: Mapping[str, str] | None) -> None:
        super().__init__(message)
        self.headers = headers or {}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would resend the Authorization header to the new host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def check_base_url(base_url: str) -> str:
    """The API URL without its trailing slash; refused if it is not http(s), or carries a
    query, a fragment or credentials."""
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


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class GitHubApi:
    """Calls to one API origin with one token.

    ``sleep`` is injectable so tests of the retry policy run instantly.
    """

    __slots__ = ("_base_url", "_max_wait_s", "_opener", "_timeout", "_token", "backoff_s",
                 "max_retries", "sleep")

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
    ) -> None:
        self._base_url = check_base_url(base_url)
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
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self._max_wait_s = float(max_wait_s)
        self.sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        return f"GitHubApi(base_url={self._base_url!r}, token=<redacted>)"

    def __reduce__(self) -> Any:  # pickling would write the token to disk
        raise TypeError("GitHubApi holds a token and cannot be pickled")

    @property
    def base_url(self) -> str:
        return self._base_url

    def paginate(self, path: str) -> Iterator[Any]:
        url: str | None = self._url(path)
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise GitHubError(f"GitHub API pagination of {self._show(url)} does not end")
            seen.add(url)
            resp = self.call("GET", url)
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

    def call(self, method: str, path_or_url: str, payload: Any = None, *,
              replayable: bool = True) -> ApiResponse:
        """One API call with the retry policy; raises ``GitHubError`` when it gives up."""
        url = self._url(path_or_url)
        shown = f"{method} {self._show(url)}"
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        for attempt in range(self.max_retries + 1):
            last = attempt >= self.max_retries
            try:
                return self._send(method, url, data)
            except urllib.error.HTTPError as exc:
                headers = dict(exc.headers.items()) if exc.headers else {}
                message = self._error_message(exc)
                if not _retryable_status(exc.code, headers, message):
                    raise self._failure(exc.code, exc.reason, shown, message) from exc
                if exc.code >= 500 and not replayable:
                    raise MaybeApplied(f"GitHub API returned {exc.code} for {shown}",
                                        headers) from exc
                if last:
                    raise GitHubError(
                        f"GitHub API returned {exc.code} for {shown} "
                        f"{attempt + 1} times; giving up" + (f": {message}" if message else ""),
                        status=exc.code) from exc
                delay = self.delay(headers, attempt, rate_limited=exc.code in (403, 429))
            except (urllib.error.URLError, TimeoutError, ConnectionError,
                    http.client.HTTPException) as exc:
                reason = self._redact(str(getattr(exc, "reason", exc)))
                if not replayable:
                    raise MaybeApplied(f"network error on {shown}: {reason}", None) from exc
                if last:
                    raise GitHubError(f"network error on {shown} after {attempt + 1} "
                                      f"attempts: {reason}") from exc
                delay = self.delay({}, attempt)
            logger.warning("GitHub API %s failed (attempt %d of %d); retrying in %.1f s",
                           shown, attempt + 1, self.max_retries + 1, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, url: str, data: bytes | None) -> ApiResponse:
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
            return ApiResponse(status, headers, None)
        try:
            return ApiResponse(status, headers, json.loads(raw))
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

    def delay(self, headers: Mapping[str, str], attempt: int, *,
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
