"""The PostgreSQL history backend: its schema and migrations, its URL handling, and
several processes writing one history at once (real PostgreSQL, ``postgres_url``).

The behaviour every backend shares is tested on both by ``test_history.py`` and the
other store tests (the ``store``/``history_target`` fixtures); this file holds what only
PostgreSQL has, and the concurrent-writers test on both.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from perf_pipeline.config import load_settings, mask_url
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.store import open_history
from perf_pipeline.store.postgres_schema import LATEST_PG_VERSION, TABLES
from perf_pipeline.workspace import Workspace

from .conftest import count_rows, make_run


def _query(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def test_a_new_database_gets_every_table_with_explicit_types(postgres_url: str) -> None:
    with open_history(postgres_url) as store:
        assert store.path is None and store.list_runs() == ()
    assert _query(postgres_url, "SELECT version FROM perf_pipeline_schema") == [
        (LATEST_PG_VERSION,)]
    tables = {name for (name,) in _query(
        postgres_url, "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public'")}
    assert tables == set(TABLES) | {"perf_pipeline_schema"}
    # the same tables and columns as SQLite's schema after its migrations
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        open_history(Path(tmp) / "h.db").close()
        lite = sqlite3.connect(Path(tmp) / "h.db")
        for table in TABLES:
            sqlite_columns = {row[1] for row in lite.execute(f"PRAGMA table_info({table})")}
            pg_columns = {name for (name,) in _query(
                postgres_url, "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s", table)}
            assert pg_columns == sqlite_columns, table
        lite.close()
    columns = _query(postgres_url, "SELECT column_name, data_type, collation_name "
                     "FROM information_schema.columns WHERE table_name = 'benchmarks' "
                     "ORDER BY ordinal_position")
    assert columns[-1][:2] == ("samples", "bytea")  # the large column last
    types = {name: (kind, collation) for name, kind, collation in columns}
    assert types["iterations"] == ("bigint", None)
    assert types["name"] == ("text", "C")  # sorts by code point, as SQLite does
    runs = dict(_query(postgres_url, "SELECT column_name, data_type FROM "
                       "information_schema.columns WHERE table_name = 'runs'"))
    assert runs["duration_s"] == "double precision" and runs["dirty"] == "bigint"


def test_reopening_migrates_nothing_and_a_newer_schema_is_refused(postgres_url: str) -> None:
    with open_history(postgres_url) as store:
        store.ingest_run(make_run(1))
    with open_history(postgres_url) as store:
        assert store.get_run("run-benchmarks-0001") == make_run(1)
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE perf_pipeline_schema SET version = %s", (LATEST_PG_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema version {LATEST_PG_VERSION + 1}") as info:
        open_history(postgres_url)
    assert mask_url(postgres_url) in str(info.value)


def test_a_database_holding_someone_elses_runs_table_is_refused(postgres_url: str) -> None:
    # Dagster's instance storage has a `runs` table: it was adopted, the version recorded,
    # and every read failed after ("column runs.suite does not exist").
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE runs (id serial PRIMARY KEY, run_body text)")
    with pytest.raises(StoreError, match="did not create"):
        open_history(postgres_url)
    assert _query(postgres_url, "SELECT to_regclass('perf_pipeline_schema')") == [(None,)]


def test_the_password_never_shows(postgres_url: str) -> None:
    secret = "s3cret-Pa55"
    wrong = postgres_url.replace("://perf:perf@", f"://perf:{secret}@")
    assert secret in wrong
    with pytest.raises(StoreError) as info:
        open_history(wrong, timeout_s=5)
    assert secret not in str(info.value) and "perf:***@" in str(info.value)
    with open_history(postgres_url) as store:
        assert "perf:***@" in repr(store) and ":perf@" not in repr(store)
        assert ":perf@" not in store.target
    settings = load_settings(results_dir=Path("r"), history_url=wrong, environ={})
    assert secret not in repr(settings) and secret not in settings.history_label
    workspace = Workspace(settings)
    assert secret not in repr(workspace)
    with pytest.raises(StoreError) as info:
        workspace.store  # noqa: B018 - opening is what fails
    assert secret not in str(info.value)


def test_libpq_options_in_the_url_are_kept_beside_the_lock_timeout(postgres_url: str) -> None:
    """``?options=-csearch_path%3D...`` (a schema of its own) was replaced by the backend's
    own ``options`` (its lock_timeout): the history silently went into ``public``."""
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE SCHEMA hist_a")
    url = postgres_url + "?options=-csearch_path%3Dhist_a%20-cstatement_timeout%3D12345"
    with open_history(url, timeout_s=7) as store:
        store.ingest_run(make_run(1))
        with store._backend._engine.connect() as conn:  # the store's own session
            settings = [conn.exec_driver_sql(f"SHOW {name}").scalar_one()
                        for name in ("search_path", "statement_timeout", "lock_timeout")]
    assert settings == ["hist_a", "12345ms", "7s"]
    assert _query(postgres_url, "SELECT table_schema, count(*) FROM information_schema.tables "
                  "WHERE table_name IN ('runs', 'perf_pipeline_schema') GROUP BY 1") == [
        ("hist_a", 2)]
    assert _query(postgres_url, "SELECT count(*) FROM hist_a.runs") == [(1,)]


def test_a_vanished_server_is_given_up_on_within_the_store_timeout(postgres_url: str) -> None:
    """A server that stopped answering (host down, network cut) hung a command for ever:
    the store's timeout covered only connecting and lock waits. The connection now
    carries TCP keepalives and a user timeout derived from it (checked on the socket:
    dropping packets is not possible in a test)."""
    import socket

    with (open_history(postgres_url, timeout_s=60) as store,
          store._backend._engine.connect() as conn):  # the store's own session
        fd = conn.connection.dbapi_connection.pgconn.socket
        with socket.socket(fileno=socket.dup(fd)) as sock:
            got = (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                   sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                   sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                   sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                   sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))
    assert got == (1, 10, 5, 3, 60_000)


def test_libpq_parameters_the_url_names_win_over_the_stores_defaults(
        postgres_url: str) -> None:
    """``?connect_timeout=5`` (or keepalives, ``application_name``) in the URL was
    silently replaced by the store's own value: a user's shorter connect limit waited
    the store's 60 s."""
    import socket

    url = (postgres_url + "?connect_timeout=5&application_name=bench-a&keepalives_idle=3"
           "&tcp_user_timeout=9000")
    with (open_history(url, timeout_s=60) as store,
          store._backend._engine.connect() as conn):  # the store's own session
        dbapi = conn.connection.dbapi_connection
        params = dbapi.info.get_parameters()
        name = conn.exec_driver_sql("SHOW application_name").scalar_one()
        with socket.socket(fileno=socket.dup(dbapi.pgconn.socket)) as sock:
            got = (sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                   sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                   sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))
    assert (params["connect_timeout"], name) == ("5", "bench-a")
    assert got == (3, 5, 9000)  # the interval not named: still the store's


@pytest.mark.parametrize("target", ["mysql://u:pw@h/db", "sqlite+foo://x"])
def test_an_unknown_url_is_refused_by_name(target: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="postgresql://") as info:
        open_history(target)
    assert "pw" not in str(info.value)
    with pytest.raises(InvalidInputError, match="history_url"):
        load_settings(results_dir=tmp_path, history_url=target, environ={})


def test_the_history_url_setting_selects_the_store(postgres_url: str, tmp_path: Path) -> None:
    env = {"PERF_PIPELINE_HISTORY_URL": postgres_url}
    with Workspace.load(results_dir=tmp_path / "results", environ=env) as ws:
        ws.store.ingest_run(make_run(1))
    assert not (tmp_path / "results").exists()  # nothing went to the SQLite default
    assert count_rows(postgres_url)["runs"] == 1
    other = tmp_path / "elsewhere.db"  # a path selects another SQLite file
    with Workspace.load(results_dir=tmp_path / "results", history_url=str(other),
                        environ=env) as ws:
        assert ws.store.path == other and ws.store.list_runs() == ()


# -- several processes writing one history at once ---------------------------------------

PROCESSES = 4
RUNS_PER_PROCESS = 50

CHILD = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from perf_pipeline_tests.store.conftest import make_run
    from perf_pipeline.store import open_history

    worker, procs, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ready, go = Path(sys.argv[4]), Path(sys.argv[5])
    targets = [t if "://" in t else Path(t) for t in sys.argv[6:]]
    ready.write_text("ready")
    while not go.exists():
        time.sleep(0.001)
    for target in targets:
        new = 0
        with open_history(target, timeout_s=60) as store:  # all race to create/migrate it
            for i in range(n):
                # its own run i, then the neighbour's: every run is offered twice, at once
                for owner in (worker, (worker + 1) % procs):
                    run = make_run(owner * 1000 + i, run_id=f"w{owner}-{i:03d}")
                    new += store.ingest_run(run)
        print(new)
''')


@pytest.mark.slow
def test_four_processes_ingest_200_runs_none_lost_or_duplicated(postgres_url: str,
                                                                 tmp_path: Path) -> None:
    """4 processes x 50 runs into one new history, PostgreSQL then SQLite (one set of
    processes, to pay their start-up once); each run is also offered by a second process
    at the same time, so ingest must be idempotent under the race."""
    targets: list[str | Path] = [postgres_url, tmp_path / "results" / "perf_history.db"]
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    procs = []
    for w in range(PROCESSES):
        ready = tmp_path / f"ready-{w}"
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", CHILD, str(w), str(PROCESSES), str(RUNS_PER_PROCESS),
             str(ready), str(go), *map(str, targets)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)))
    deadline = time.monotonic() + 120
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.01)
    go.write_text("go")
    new = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        new.append([int(line) for line in out.split()])
    expected = {f"w{w}-{i:03d}" for w in range(PROCESSES) for i in range(RUNS_PER_PROCESS)}
    for k, target in enumerate(targets):
        # each run was new to exactly one process
        assert sum(counts[k] for counts in new) == len(expected) == 200, target
        with open_history(target) as store:
            ids = [r.run_id for r in store.list_runs()]
            assert len(ids) == 200 and set(ids) == expected
            assert store.get_run("w2-007") == make_run(2007, run_id="w2-007")
        assert count_rows(target) == {"runs": 200, "benchmarks": 400, "results": 800}
