"""The http(s) URLs the report senders post to (GitHub's API, webhooks): checked once,
shown safely.

A URL is user input that may carry secrets (``user:password@``, a ``?token=``), so a
message may only ever show its scheme, host, port and path; and a malformed one (a port
that is not a number, an unclosed IPv6 bracket) must be a clear ``InvalidInputError`` at
the start, not a ``ValueError`` from ``urllib`` halfway through a delivery.

A webhook URL may carry its secret in the path itself (Slack's
``/services/T…/B…/<secret>``, Discord's ``/api/webhooks/<id>/<token>``), so of a webhook
URL messages show at most the first path segment (``shown_webhook_url``).
"""

from __future__ import annotations

import email.utils
import math
import time
import urllib.parse
from collections.abc import Callable

from perf_pipeline.errors import InvalidInputError

__all__ = ["REPORT_PATH_PLACEHOLDER", "check_http_url", "check_report_url", "report_url_for",
           "retry_after_s", "shown_url", "shown_webhook_url"]

#: In a ``report_url``, replaced by the HTML report's path under the results dir
#: (``reports/commits/<sha>/performance_report.html``): one setting then gives every
#: report its own address when the results dir is served over http(s).
REPORT_PATH_PLACEHOLDER = "{path}"


def shown_url(url: object) -> str:
    """``url`` without its query, fragment or user info: what messages may show."""
    parts = _split(url)
    if parts is None:
        return "<a malformed URL>"
    return urllib.parse.urlunsplit((parts[0], parts[1], parts[2], "", ""))


def shown_webhook_url(url: object) -> str:
    """What messages may show of a webhook URL: ``shown_url`` with only the first path
    segment kept, and that only when more follow, the rest as ``…``
    (``https://hooks.slack.com/services/…``). Hook services put the secret in the path
    (Slack, Discord), often last, and a one-segment path may be the secret itself (an
    ntfy-style topic): the first segment of several is enough to tell hooks apart."""
    parts = _split(url)
    if parts is None:
        return "<a malformed URL>"
    scheme, host, path = parts
    first, _, rest = path.lstrip("/").partition("/")
    if rest:
        path = f"/{first}/…"
    elif first:
        path = "/…"
    return urllib.parse.urlunsplit((scheme, host, path, "", ""))


def _split(url: object) -> tuple[str, str, str] | None:
    """Scheme, host (with its port) and path of ``url``; ``None`` if it is malformed."""
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal keeps its brackets, or the port reads as its own
            host = f"[{host}]"
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return None
    return parts.scheme, host, parts.path


def check_http_url(url: object, what: str, example: str, *,
                   shown: Callable[[object], str] = shown_url) -> urllib.parse.SplitResult:
    """``url`` parsed, if it is a well-formed http(s) URL with a host (its port, if any,
    a number); else ``InvalidInputError`` naming ``what`` and showing only ``shown(url)``
    (``shown_webhook_url`` for a URL whose path may be a secret)."""
    if not isinstance(url, str):
        raise InvalidInputError(f"{what} must be a string, not {type(url).__name__}")
    try:
        parsed = urllib.parse.urlsplit(url.strip())
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidInputError(f"{what} {shown(url)!r} is malformed ({exc}); it must "
                                f"be an http(s) URL such as {example}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInputError(
            f"{what} {shown(url)!r} must be an http(s) URL such as {example}")
    # urlsplit drops tabs and newlines, but urllib sends the URL as given: a space or a
    # control character is an InvalidURL quoting the path (a webhook's secret), and a
    # non-ASCII path a UnicodeEncodeError, both only at the first request. (A non-ASCII
    # host is fine: urllib sends it IDNA-encoded.)
    if (any(ch <= " " or ch == "\x7f" for ch in url.strip())
            or not (parsed.path + parsed.query + parsed.fragment).isascii()):
        raise InvalidInputError(
            f"{what} {shown(url)!r} holds a space, a control character or a non-ASCII "
            "character: percent-encode it (%20 for a space)")
    return parsed


def report_url_for(template: str, path: str) -> str:
    """The address of the HTML report at ``path`` (under the results dir, ``/``-separated):
    ``template`` with ``{path}`` replaced by it, percent-encoded; a template without the
    placeholder is the address as it is."""
    return template.strip().replace(REPORT_PATH_PLACEHOLDER,
                                    urllib.parse.quote(path, safe="/"))


def check_report_url(url: object) -> None:
    """``InvalidInputError`` unless ``url`` is an http(s) URL (``{path}`` its only
    placeholder) without user info: it is published in every report and PR comment, so a
    ``user:token@`` in it would be too."""
    if not isinstance(url, str):
        raise InvalidInputError(f"report_url must be a string, not {type(url).__name__}")
    example = "https://perf.example.com/results/{path}"
    sample = report_url_for(url, "reports/performance_report.html")
    parsed = check_http_url(sample, "report_url", example)
    if "{" in sample or "}" in sample:
        raise InvalidInputError(
            f"report_url {shown_url(sample)!r}: {REPORT_PATH_PLACEHOLDER} is its only "
            f"placeholder (the report's path under the results dir), as in {example}")
    if parsed.username is not None or parsed.password is not None:
        raise InvalidInputError(
            f"report_url {shown_url(sample)!r} holds user info (user:password@): the "
            "address is published in every report and PR comment, so it must carry no "
            "credentials")


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds (it is either seconds or an HTTP date), or ``None`` when
    absent or unreadable: a server's odd header ("soon", a broken date, ``nan``) must
    fall back to the sender's backoff, not abort the delivery (the webhook client, the
    GitHub client: ``time.sleep(nan)`` raises)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return seconds if not math.isnan(seconds) else None
