"""Send alerts (new change points, drifts, culprits) to a webhook as one JSON POST.

Plain ``urllib.request``, like ``report/github_api.py``, with the same guards:

- Transient failures (5xx, 408, 429, network errors, answers that are not HTTP) are
  retried a bounded number of times with exponential backoff (``Retry-After`` honoured
  when readable, capped). Other 4xx answers are final: retrying a refused request only
  repeats the refusal. Every failure ends as a ``WebhookError``, which the caller records
  as a failed delivery.
- A retried POST may reach the receiver twice (the first one may have arrived before
  the connection dropped), so every attempt carries the same ``Idempotency-Key`` (a
  digest of the body): a receiver can drop the duplicate.
- The token is sent only in the ``Authorization`` header, redirects are not followed
  (urllib would resend the header to the new host), and the token never appears in
  messages, ``repr`` or logs; nor does the URL beyond its host and first path segment
  (``shown_webhook_url``): Slack and Discord hook URLs carry their secret in the path,
  others in the query string.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perf_pipeline.errors import InvalidInputError, WebhookError
from perf_pipeline.http_url import check_http_url, retry_after_s, shown_webhook_url

__all__ = ["WebhookClient", "WebhookResult"]

logger = logging.getLogger(__name__)

#: Retried besides every 5xx (the README's word: Cloudflare's 520-524, a receiver's 507,
#: are as transient as a 503).
_RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """The receiver's answer and how many attempts it took."""

    status: int
    attempts: int


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def _check_url(url: str) -> str:
    check_http_url(url, "webhook URL", "https://hooks.example.com/perf",
                   shown=shown_webhook_url)
    return url.strip()


class WebhookClient:
    """POST JSON payloads to one URL, with retries; ``sleep`` is injectable for tests."""

    __slots__ = ("_backoff_s", "_max_retries", "_max_wait_s", "_opener", "_sleep",
                 "_timeout", "_token", "_url")

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0,
                 max_retries: int = 3, backoff_s: float = 1.0, max_wait_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._url = _check_url(url)
        if token is not None:
            token = token.strip()
            if not token:
                token = None
            elif not all(" " < ch <= "~" for ch in token):
                raise InvalidInputError("webhook token has a character that is not printable "
                                        "ASCII (the token is not shown)")
        if timeout <= 0 or max_retries < 0 or backoff_s < 0 or max_wait_s < 0:
            raise InvalidInputError("`timeout` must be > 0 and `max_retries`, `backoff_s`, "
                                    "`max_wait_s` must be >= 0")
        self._token = token
        self._timeout = float(timeout)
        self._max_retries = int(max_retries)
        self._backoff_s = float(backoff_s)
        self._max_wait_s = float(max_wait_s)
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        token = "<redacted>" if self._token else None
        return f"WebhookClient(url={shown_webhook_url(self._url)!r}, token={token})"

    def __reduce__(self) -> Any:  # pickling would write the token to disk
        raise TypeError("WebhookClient holds a token and cannot be pickled")

    def _wait(self, attempt: int, headers: Mapping[str, str] | None) -> float:
        wait = self._backoff_s * (2 ** attempt)
        # Header names are case-insensitive (HTTP/2 proxies send them lower-case).
        retry_after = retry_after_s({k.lower(): v for k, v in (headers or {}).items()}
                                     .get("retry-after"))
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(max(wait, 0.0), self._max_wait_s)

    def post(self, payload: Mapping[str, Any]) -> WebhookResult:
        """POST ``payload`` as JSON; raises ``WebhookError`` once retries are spent, and
        only that (``InvalidInputError`` for a payload that is not JSON): the caller turns
        it into a failed delivery, so any other exception would crash the report."""
        try:
            body = json.dumps(payload, allow_nan=False, sort_keys=True).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"webhook payload is not JSON: {exc}") from exc
        headers = {"Content-Type": "application/json", "User-Agent": "perf-pipeline",
                   "Idempotency-Key": hashlib.sha256(body).hexdigest()[:32]}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        where = shown_webhook_url(self._url)
        last = ""
        for attempt in range(self._max_retries + 1):
            request = urllib.request.Request(self._url, data=body, headers=headers,
                                             method="POST")
            answer_headers: Mapping[str, str] | None = None
            try:
                with self._opener.open(request, timeout=self._timeout) as resp:
                    resp.read(65536)
                    return WebhookResult(status=resp.status, attempts=attempt + 1)
            except urllib.error.HTTPError as exc:
                answer_headers = dict(exc.headers or {})
                status = exc.code
                exc.close()
                if 300 <= status < 400:
                    raise WebhookError(f"webhook {where} answered a redirect ({status}); "
                                       "redirects are not followed: configure the final URL",
                                       status=status) from None
                if status < 500 and status not in _RETRY_STATUSES:
                    hint = (" (check PERF_PIPELINE_WEBHOOK_TOKEN)"
                            if status in (401, 403) else "")
                    raise WebhookError(f"webhook {where} refused the alert: HTTP {status}"
                                       f"{hint}", status=status) from None
                last = f"HTTP {status}"
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                # HTTPException: an answer that is not HTTP (a bad status line, a body cut
                # short), from a proxy or a receiver mid-restart: as transient as a reset.
                reason = getattr(exc, "reason", exc)
                # One short line: a bad status line quotes what the receiver sent.
                last = f"{type(reason).__name__}: {' '.join(str(reason).split())[:200]}"
            if attempt < self._max_retries:
                wait = self._wait(attempt, answer_headers)
                logger.warning("webhook %s: %s; retrying in %.1f s (attempt %d of %d)",
                               where, last, wait, attempt + 2, self._max_retries + 1)
                self._sleep(wait)
        raise WebhookError(f"webhook {where} failed after {self._max_retries + 1} "
                           f"attempt(s): {last}")
