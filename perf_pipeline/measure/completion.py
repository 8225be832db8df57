"""Whether the target's pytest finished its session: a marker file the plugin writes.

The exit status alone cannot say so. An interpreter ended with status 0 in the middle of
the session (``os._exit(0)`` in a test, a C library's ``exit(0)``, a forked worker that
returns into pytest's code) looks like a passing suite, and a stress suite, which need not
leave benchmark JSON, was recorded as a success although the tests after that point
never ran. So the runner names a file in ``COMPLETION_FILE_ENV``; the plugin writes
pytest's exit status there when the session finishes (``pytest_sessionfinish``); and the
runner takes a zero exit without that file as a failure.

The marker also says how many of the collected tests use the ``benchmark`` fixture: a
passing session that wrote no benchmark JSON ran none, and whether that is because the
suite has no benchmarks at this commit (none collected: an old commit, before the
benchmarks were written) or because they were skipped or disabled (a broken run) only
the collection can tell. It counts the stress tests too (the ``stress`` marker or
fixture): a stress run (``-m stress``) of a folder it shares with the benchmarks selects
nothing at a commit from before the stress tests, and only that count tells such a
commit from a selection that left out stress tests that exist.

Staged into the target's environment with the plugin (plugin_staging.py ``STAGED_MODULES``):
standard library only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["COMPLETION_FILE_ENV", "SUITE_MEMBERS", "claim_completion_path",
           "read_completion", "read_suite_tests", "write_completion"]

#: Set by the runner for each pytest process: where the plugin writes the exit status.
COMPLETION_FILE_ENV = "PERF_PIPELINE_COMPLETION_FILE"
#: What makes a collected test one of a suite's: "benchmark", it uses the ``benchmark``
#: fixture; "stress", it carries the ``stress`` marker or uses the ``stress`` fixture.
SUITE_MEMBERS = ("benchmark", "stress")


def claim_completion_path() -> Path | None:
    """The marker's path for this pytest process, taken out of the environment.

    Taken out so that a pytest the suite itself starts (a subprocess inheriting the
    environment) cannot write the marker before the measured session has finished.
    """
    path = os.environ.pop(COMPLETION_FILE_ENV, "").strip()
    return Path(path) if path else None


def write_completion(path: Path, exitstatus: int, *,
                     benchmark_tests: int | None = None,
                     stress_tests: int | None = None) -> None:
    """Record that the session finished with ``exitstatus``, whole or not at all;
    ``benchmark_tests``, ``stress_tests``: how many collected tests are of each kind
    (``SUITE_MEMBERS``), those ``-k``/``-m`` deselected included (None: the collection
    was not seen here, e.g. in pytest-xdist's controller)."""
    tmp = path.with_name(f".{path.name}.tmp")
    record: dict[str, int] = {"exitstatus": int(exitstatus)}
    for key, count in (("benchmark_tests", benchmark_tests), ("stress_tests", stress_tests)):
        if count is not None:
            record[key] = int(count)
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)


def _read_count(path: Path, key: str) -> int | None:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))[key]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_completion(path: Path) -> int | None:
    """The exit status the session finished with, or None if it never said so."""
    return _read_count(path, "exitstatus")


def read_suite_tests(path: Path, members: str) -> int | None:
    """How many collected tests are ``members`` (one of ``SUITE_MEMBERS``): use the
    ``benchmark`` fixture, or are stress tests; None when unknown."""
    return _read_count(path, f"{members}_tests")
