"""Is there nothing to judge at a commit because it has no suite (``RunStatus.NO_SUITE``)?

A commit from before the benchmarks existed is measured once, recorded as a
``no_suite`` run, and has no numbers. The Dagster layer materializes such a commit's
partition all the same (so the UI shows it done, not missing for ever), and every step
after the measurement asks this first: when it answers, the step judges nothing and
writes nothing (no analysis, confirmation, profile or report file, no baseline source),
and says why instead of calling the commit "unchanged".
"""

from __future__ import annotations

from perf_pipeline.measure import local_machine_id, newest_no_suite_runs
from perf_pipeline.model import RunInfo, RunStatus
from perf_pipeline.workspace import Workspace

__all__ = ["commit_without_suite"]


def commit_without_suite(ws: Workspace, sha: str, *, suite: str = "benchmarks") -> RunInfo | None:
    """The run that found no ``suite`` at ``sha`` when it is this machine's newest run of
    that suite there and the commit has no successful run of it here; else None (judge
    it as usual).

    Only this machine's runs count, as for the measuring step (``known_without_suite``):
    a fleet's other machine has its own settings. A commit with a successful run here
    (measured before a re-measure with wrong paths found no suite) still has numbers to
    judge, and a step that would pass the gate over them "for want of a suite" must not.
    """
    here = local_machine_id(ws.settings)
    known = newest_no_suite_runs(ws.store, suite=suite, machine_id=here, sha=sha).get(sha)
    if known is None:
        return None
    if ws.store.list_runs(suite=suite, sha=sha, status=RunStatus.SUCCESS, machine_id=here):
        return None
    return known
