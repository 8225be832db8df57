"""The variance prior an A/B on this machine gets: its newest ``calibrate`` recording.

``analysis.variance_prior`` explains why a prior decides large changes sooner. This step
only finds one: the newest stored noise profile of the benchmark suite recorded on this
hardware (the A/B always measures here), reads its corpus file and groups its pairs into
rounds of the A/B's processes per side (``analysis.recording_prior``, the path the replay
studies take). Nothing found, or a corpus that cannot be read, gives no prior and a note
saying why: the A/B then runs on its rounds' own spread, as it always could.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from perf_pipeline.analysis import (
    MIN_PRIOR_ROUNDS,
    NoiseRecording,
    VariancePrior,
    recording_prior,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.fingerprint import environment_fingerprint
from perf_pipeline.model import NoiseProfile, noise_machine_id
from perf_pipeline.store import load_noise_corpus
from perf_pipeline.workspace import Workspace

__all__ = ["PriorChoice", "ab_variance_prior", "fresh_profile_here", "newest_profile_here"]


@dataclass(frozen=True, slots=True)
class PriorChoice:
    """The prior an A/B uses (None: its rounds' own spread only) and why, for its report."""

    prior: VariancePrior | None
    note: str


def newest_profile_here(ws: Workspace) -> tuple[NoiseProfile, str] | None:
    """(profile, corpus path) of the benchmark suite's newest noise profile recorded on
    this hardware, or None."""
    profiles = ws.store.noise_profiles(suite="benchmarks") if ws.history_exists else ()
    here = environment_fingerprint(packages=()).machine_id
    mine = [(p, path) for p, path, _ in profiles if noise_machine_id(p.machine) == here]
    return mine[-1] if mine else None


def fresh_profile_here(ws: Workspace, *, max_age_days: float,
                       now: datetime | None = None) -> NoiseProfile | None:
    """This hardware's newest profile if it was recorded within ``max_age_days`` (a
    scheduled ``calibrate --max-age`` then has nothing to do), else None."""
    newest = newest_profile_here(ws)
    if newest is None:
        return None
    try:
        recorded = datetime.fromisoformat(newest[0].recorded_at)
    except ValueError:
        return None  # an unreadable date is no reason to trust the profile
    if recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=timezone.utc)
    age = (now or datetime.now(timezone.utc)) - recorded
    return newest[0] if age <= timedelta(days=max_age_days) else None


def ab_variance_prior(ws: Workspace, *, processes: int) -> PriorChoice:
    """This machine's prior for an A/B of ``processes`` per side (``ab_prior`` setting)."""
    if ws.settings.ab_prior == "off":
        return PriorChoice(None, "no variance prior (ab_prior = off): each benchmark's t "
                                 "uses its rounds' own spread")
    newest = newest_profile_here(ws)
    if newest is None:
        return PriorChoice(None, "no variance prior: no noise profile of this machine in "
                                 "the history (perf-pipeline calibrate --pairs 60 records "
                                 "one; it lets a large change be decided at the first look)")
    profile, corpus_path = newest
    try:
        recording = NoiseRecording.from_corpus(load_noise_corpus(Path(corpus_path)))
        if recording.n_pairs < processes * MIN_PRIOR_ROUNDS:
            raise InvalidInputError(
                f"{recording.n_pairs} pairs, fewer than the {processes * MIN_PRIOR_ROUNDS} "
                f"that {MIN_PRIOR_ROUNDS} rounds of {processes} processes per side need")
        prior = recording_prior(recording, processes=processes, source=(
            f"noise profile of {profile.commit[:12]} recorded {profile.recorded_at}"))
    except InvalidInputError as exc:
        return PriorChoice(None, f"no variance prior: the newest noise profile's corpus "
                                 f"is unusable ({exc})")
    return PriorChoice(prior, (
        f"variance prior: each benchmark's t is moderated by its spread per round in the "
        f"{prior.source} ({prior.rounds} rounds of {processes} processes per side, worth "
        f"{prior.df:g} rounds' degrees of freedom)"))
