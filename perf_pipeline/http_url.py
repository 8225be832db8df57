"""The http(s) URLs the report senders post to (GitHub's API, webhooks): checked once,
shown safely.

A URL is user input that may carry secrets (``user:password@``, a ``?token=``), so a
message may only ever show its scheme, host, port and path; and a malformed one (a port
that is not a number, an unclosed IPv6 bracket) must be a clear ``InvalidInputError`` at
the start, not a ``ValueError`` from ``urllib`` halfway through a delivery.
"""

from __future__ import annotations

import urllib.parse

from perf_pipeline.errors import InvalidInputError

__all__ = ["check_http_url", "shown_url"]


def shown_url(url: object) -> str:
    """``url`` without its query, fragment or user info: what messages may show."""
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "<a malformed URL>"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_http_url(url: object, what: str, example: str) -> urllib.parse.SplitResult:
    """``url`` parsed, if it is a well-formed http(s) URL with a host (its port, if any,
    a number); else ``InvalidInputError`` naming ``what`` and showing only ``shown_url``."""
    if not isinstance(url, str):
        raise InvalidInputError(f"{what} must be a string, not {type(url).__name__}")
    try:
        parsed = urllib.parse.urlsplit(url.strip())
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidInputError(f"{what} {shown_url(url)!r} is malformed ({exc}); it must "
                                f"be an http(s) URL such as {example}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInputError(
            f"{what} {shown_url(url)!r} must be an http(s) URL such as {example}")
    return parsed
