"""How a pull request is gated: screen against history, or the adaptive A/B alone.

A PR screened against a history of one or two commits is in effect judged on one run
against one run, the weakest design on a noisy runner. So CI asks first how many
commits the screen's baseline would really hold *for this machine*: the rolling
baseline pools each commit's runs into one and never mixes machines (hosted runners
come with several CPU models), so counting runs, or runs of any machine, overstates it
(three nightly runs of one commit are one baseline commit, and five runs of another CPU
are none). With fewer than ``confirm_min_history`` commits the PR goes straight to
``perf-pipeline ab --adaptive`` against its merge base, unless the base has no benchmark
suite at all (the PR adds it): an A/B would then stop at its first round, with nothing
to run at the base, and fail the job. Such a PR is screened: with no baseline it is not
judged, and its report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from perf_pipeline.measure import environment_fingerprint, local_machine_id, resolve_commit
from perf_pipeline.measure.suite_presence import suite_exists_at
from perf_pipeline.pipeline.baseline import screen_baseline
from perf_pipeline.pipeline.hardware_mix import split_by_hardware
from perf_pipeline.workspace import Workspace

__all__ = ["PullRequestPlan", "plan_pull_request"]


@dataclass(frozen=True, slots=True)
class PullRequestPlan:
    """What CI needs to know before it measures a PR."""

    machine_id: str
    #: Commits in the baseline a run of this machine would be screened against.
    history_commits: int
    min_history: int
    #: The base commit (resolved), if one was given, and whether this machine has a
    #: successful run of it (else CI measures it first, so the baseline has it).
    base_sha: str | None
    base_measured: bool
    #: Whether the base commit has the benchmark suite (True when no base was given).
    base_has_suite: bool = True

    @property
    def mode(self) -> str:
        """``gate`` (screen, then confirm each flag) or ``ab`` (the A/B alone)."""
        if not self.base_has_suite:
            return "gate"  # nothing to A/B against: every benchmark is new
        return "gate" if self.history_commits >= self.min_history else "ab"

    def outputs(self) -> dict[str, str]:
        """``key=value`` lines for ``$GITHUB_OUTPUT``."""
        return {"mode": self.mode, "history_commits": str(self.history_commits),
                "min_history": str(self.min_history),
                "base_measured": "true" if self.base_measured else "false",
                "base_has_suite": "true" if self.base_has_suite else "false"}


def plan_pull_request(ws: Workspace, base_ref: str | None = None) -> PullRequestPlan:
    """The plan for a PR measured on this machine; ``base_ref`` is the base commit."""
    settings = ws.settings
    machine = local_machine_id(settings)
    base_sha = resolve_commit(settings.repo_path, base_ref) if base_ref else None
    commits, measured = 0, False
    if ws.history_exists:
        # This box's hardware: under a kept machine_id, runs of a replaced CPU are
        # no baseline of a run measured here (pipeline/hardware_mix.py).
        here = environment_fingerprint(packages=())
        baseline = screen_baseline(ws, machine, environment=here)
        commits = len(baseline.source_commits) if baseline is not None else 0
        if base_sha is not None:
            measured = bool(split_by_hardware(ws.store.commit_runs(
                base_sha, suite="benchmarks", machine_id=machine), here)[0])
    has_suite = base_sha is None or suite_exists_at(
        settings.repo_path, base_sha, settings.project_subdir, settings.benchmark_paths)
    return PullRequestPlan(machine_id=machine, history_commits=commits,
                           min_history=settings.confirm_min_history, base_sha=base_sha,
                           base_measured=measured, base_has_suite=has_suite)
