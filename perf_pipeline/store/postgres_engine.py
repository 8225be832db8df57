"""The SQLAlchemy engine of a PostgreSQL history: the URL checked, libpq's limits set.

A blocking query has no time limit of its own, so every limit is set here: connecting
(``connect_timeout``), lock waits (``lock_timeout``), a peer gone (TCP keepalives and
``tcp_user_timeout``) and a server that is up but never answers (a limit on each round
trip, ``postgres_deadline.py``). The store's values are defaults: a parameter the URL
names itself wins.
"""

from __future__ import annotations

import sqlalchemy as sa

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.history_url import mask_url
from perf_pipeline.store.postgres_deadline import DeadlineConnection

__all__ = ["connect_engine"]


def _url(target: str) -> sa.URL:
    """The SQLAlchemy URL of ``target``, always on psycopg 3."""
    try:
        url = sa.make_url(target)
    except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port like ":bad"
        raise InvalidInputError(f"history db URL {mask_url(target)!r} is not valid") from exc
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise InvalidInputError(f"history db URL {mask_url(target)!r} is not postgresql://")
    return url.set(drivername="postgresql+psycopg")


def _libpq_options(url: sa.URL, ours: str) -> str:
    """libpq ``options`` of the connection: the URL's own (``?options=-csearch_path%3Dh``,
    the usual way to give the history a schema of its own), then ``ours``.

    ``connect_args`` replace the URL's query parameters of the same name, so passing only
    ours dropped the user's: the history silently went into ``public``. Ours come first,
    so a setting the URL names itself (its own ``lock_timeout``) wins.
    """
    given = url.query.get("options")
    theirs = [given] if isinstance(given, str) else list(given or ())
    return " ".join(part for part in (ours, *theirs) if part.strip())


def _dead_peer_limits(timeout_s: float) -> dict[str, int]:
    """libpq's TCP limits, so a history server that vanishes (its host down, the network
    cut) fails a command within about ``timeout_s`` instead of hanging it for ever: a
    blocking query has no time limit of its own, and a fleet machine's step would hold
    its pool slot and the measuring lock meanwhile. Keepalive probes find a peer gone
    while we wait for its answer; ``tcp_user_timeout`` gives up on data it never
    acknowledged. A server that is up but never answers is covered by the limit on each
    round trip instead (``postgres_deadline.py``): its kernel still acknowledges."""
    idle = max(1, int(timeout_s / 6))
    return {"keepalives": 1, "keepalives_idle": idle,
            "keepalives_interval": max(1, idle // 2), "keepalives_count": 3,
            "tcp_user_timeout": max(1000, int(timeout_s * 1000))}


def connect_engine(target: str, *, timeout_s: float, query_timeout_s: float | None
                   ) -> tuple[sa.Engine, str, str | None]:
    """(engine, the URL with its password masked, the password) of ``target``, a
    ``postgresql://`` URL. ``timeout_s`` bounds connecting and lock waits;
    ``query_timeout_s`` each wait for the server's answer (None: no limit)."""
    url = _url(target)
    label = mask_url(url.set(drivername="postgresql").render_as_string(hide_password=False))
    lock_ms = int(timeout_s * 1000)
    # Defaults only: ``connect_args`` replace the URL's parameters of the same name,
    # and a ``?connect_timeout=5`` or ``?application_name=bench-a`` the user wrote
    # was silently dropped for ours. ``options`` are merged instead.
    ours = {"connect_timeout": max(1, int(timeout_s)), "application_name": "perf_pipeline",
            **_dead_peer_limits(timeout_s)}
    engine = sa.create_engine(
        url, pool_size=1, max_overflow=1, pool_pre_ping=True,
        connect_args={**{k: v for k, v in ours.items() if k not in url.query},
                      "options": _libpq_options(url, f"-c lock_timeout={lock_ms:d}")})

    @sa.event.listens_for(engine, "do_connect")
    def _connect(dialect: object, record: object, cargs: list[object],
                 cparams: dict[str, object]) -> DeadlineConnection:
        conn = DeadlineConnection.connect(*cargs, **cparams)  # type: ignore[arg-type]
        conn.answer_limit_s = query_timeout_s
        return conn

    return engine, label, url.password
