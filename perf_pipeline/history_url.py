"""The history store's URL: PostgreSQL or a SQLite file, and its password kept out of sight.

Kept apart from ``config.py`` (which owns the ``history_url`` setting) because the store
reads and shows the same URLs: both decide by ``is_postgres_url`` which backend a target
names, and every message, log line and report prints it through ``mask_url``.
"""

from __future__ import annotations

import re

__all__ = ["is_postgres_url", "mask_url"]

_POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def is_postgres_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL history rather than a SQLite file."""
    return isinstance(target, str) and target.strip().lower().startswith(_POSTGRES_SCHEMES)


def mask_url(target: str) -> str:
    """``target`` with the password of its URL replaced by ``***``, for every message,
    log line and report; anything that is not a URL with a password comes back as is."""
    scheme, sep, rest = target.partition("://")
    if not sep:
        return target
    # The userinfo ends at the last "@": a password may hold "/" (drivers accept it), and
    # splitting at the first "/" once printed such a password whole. Masking too much
    # (an "@" further on) is the safe way to be wrong.
    userinfo, at, tail = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:***@{tail}"
    # A password may also travel as a query parameter (?password=..., libpq's way).
    rest = re.sub(r"(?i)([?&](?:password|sslpassword|passwd|pwd|token)=)[^&#]*", r"\1***",
                  rest)
    return f"{scheme}://{rest}"
