"""A fresh PostgreSQL database per test, on the server `.ci/run` starts on 127.0.0.1.

Tests that need PostgreSQL take the `postgres_url` fixture. Outside CI, with no server
configured, they skip; under CI (`CI` set) a missing server is a failure, so the
PostgreSQL backend can never pass CI by being silently skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

SERVER_URL_ENV = "PERF_PIPELINE_TEST_POSTGRES_URL"


def server_url() -> str:
    url = os.environ.get(SERVER_URL_ENV, "").strip()
    if not url:
        message = (f"{SERVER_URL_ENV} is not set: no PostgreSQL server to test against "
                   "(.ci/run starts one)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def fresh_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    import psycopg

    admin = server_url()
    name = "perf_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
