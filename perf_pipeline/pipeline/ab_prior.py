"""The variance prior an A/B on this machine gets: its newest ``calibrate`` recording.

``analysis.variance_prior`` explains why a prior decides large changes sooner. This step
only finds one: of the benchmark suite's noise profiles recorded on this hardware (the
A/B always measures here), the newest recorded whose corpus file can be read and holds
enough pairs; it groups the pairs into rounds of the A/B's processes per side
(``analysis.recording_prior``, the path the replay studies take). Nothing usable, or a
history that cannot be read, gives no prior and a note saying why: the A/B then runs on
its rounds' own spread, as it always could.
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
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.measure import local_machine_id
from perf_pipeline.measure.fingerprint import environment_fingerprint
from perf_pipeline.model import NoiseProfile, noise_machine_id
from perf_pipeline.store import load_noise_corpus
from perf_pipeline.workspace import Workspace

__all__ = ["MACHINE_ID_KEY", "PriorChoice", "ab_variance_prior", "fresh_profile_here",
           "previous_profile_here", "profiles_here", "recorded_here", "usable_prior"]


@dataclass(frozen=True, slots=True)
class PriorChoice:
    """The prior an A/B uses (None: its rounds' own spread only) and why, for its report.
    ``profile``: the recording it came from, or the newest one of this machine that could
    not be used (None when this machine has none)."""

    prior: VariancePrior | None
    note: str
    profile: NoiseProfile | None = None

    def to_dict(self) -> dict[str, object]:
        """For the JSON documents: whether a prior was used, from what, and why (not)."""
        return {"used": self.prior is not None,
                "commit": self.profile.commit if self.profile else None,
                "recorded_at": self.profile.recorded_at if self.profile else None,
                "rounds": self.prior.rounds if self.prior else None,
                "df": self.prior.df if self.prior else None, "note": self.note}


#: The key of ``NoiseCorpus.machine`` / ``NoiseProfile.machine`` naming the machine
#: (``local_machine_id``) that measured a recording; recordings stored before it, and
#: imported raw pairs, have only the hardware facts.
MACHINE_ID_KEY = "machine_id"


def recorded_here(profile: NoiseProfile, settings: Settings) -> bool:
    """Whether ``profile`` is a recording of this machine: of this hardware and, when it
    names the machine that measured it, of this one. The fleet's boxes are often of one
    instance type: by hardware alone, bench-b took bench-a's recording (in the history
    they share) for its own prior, its "previous recording" and a fresh one."""
    facts = dict(profile.machine)
    if noise_machine_id(profile.machine) != environment_fingerprint(packages=()).machine_id:
        return False
    return MACHINE_ID_KEY not in facts or facts[MACHINE_ID_KEY] == local_machine_id(settings)


def profiles_here(ws: Workspace) -> list[tuple[NoiseProfile, str]]:
    """(profile, corpus path) of every noise profile of the benchmark suite recorded on
    this machine (``recorded_here``), newest *recorded* first (an old raw directory
    imported today is still old noise). A history that cannot be read gives none: an A/B
    does not need it."""
    try:
        profiles = ws.store.noise_profiles(suite="benchmarks") if ws.history_exists else ()
    except (StoreError, OSError):
        return []
    mine = [(p, path) for p, path, _ in profiles if recorded_here(p, ws.settings)]
    # Ties (one recording imported twice) go to the one stored last.
    order = sorted(range(len(mine)), key=lambda i: (mine[i][0].recorded_at, i), reverse=True)
    return [mine[i] for i in order]


def previous_profile_here(ws: Workspace, profile: NoiseProfile) -> NoiseProfile | None:
    """This machine's newest recording made before ``profile`` (the same pairs imported
    again are no earlier recording), if ``profile`` is of this hardware: ``calibrate``
    compares the two, since the newest becomes the A/Bs' prior."""
    if not recorded_here(profile, ws.settings):
        return None  # an import of another machine's pairs: nothing here to compare
    # profiles_here is newest recorded first, by the same ISO timestamps.
    return next((earlier for earlier, _ in profiles_here(ws)
                 if earlier.recorded_at < profile.recorded_at), None)


def ab_variance_prior(ws: Workspace, *, processes: int) -> PriorChoice:
    """This machine's prior for an A/B of ``processes`` per side (``ab_prior`` setting)."""
    if ws.settings.ab_prior == "off":
        return PriorChoice(None, "no variance prior (ab_prior = off): each benchmark's t "
                                 "uses its rounds' own spread")
    return usable_prior(ws, processes=processes)


def usable_prior(ws: Workspace, *, processes: int) -> PriorChoice:
    """The prior of this machine's newest recording whose corpus can be used, whatever
    the ``ab_prior`` setting (``calibrate --max-age`` and ``noise`` ask this too)."""
    mine = profiles_here(ws)
    if not mine:
        return PriorChoice(None, "no variance prior: no noise profile of this machine in "
                                 "the history (perf-pipeline calibrate --pairs 60 records "
                                 "one; it lets a large change be decided at the first look)")
    problems = []
    for profile, corpus_path in mine:
        try:
            recording = NoiseRecording.from_corpus(load_noise_corpus(Path(corpus_path)))
            if recording.n_pairs < processes * MIN_PRIOR_ROUNDS:
                raise InvalidInputError(
                    f"{recording.n_pairs} pairs, fewer than the "
                    f"{processes * MIN_PRIOR_ROUNDS} that {MIN_PRIOR_ROUNDS} rounds of "
                    f"{processes} processes per side need")
            prior = recording_prior(recording, processes=processes, source=(
                f"noise profile of {profile.commit[:12]} recorded {profile.recorded_at}"))
        except InvalidInputError as exc:
            problems.append(f"{profile.commit[:12]} recorded {profile.recorded_at}: {exc}")
            continue
        skipped = (f"; newer ones unusable ({'; '.join(problems)})" if problems else "")
        return PriorChoice(prior, (
            f"variance prior: each benchmark's t is moderated by its spread per round in "
            f"the {prior.source} ({prior.rounds} rounds of {processes} processes per side, "
            f"worth {prior.df:g} rounds' degrees of freedom; scaled up if this machine is "
            f"noisier now){skipped}"), profile)
    return PriorChoice(None, "no variance prior: every noise profile of this machine is "
                             f"unusable ({'; '.join(problems)})", mine[0][0])


def fresh_profile_here(ws: Workspace, *, max_age_days: float, processes: int,
                       now: datetime | None = None) -> NoiseProfile | None:
    """The profile this machine's A/Bs of ``processes`` per side would use, if it was
    recorded within ``max_age_days`` (a scheduled ``calibrate --max-age`` then has
    nothing to do); None when there is none, or it is older, or its corpus is unusable."""
    choice = usable_prior(ws, processes=processes)
    if choice.prior is None or choice.profile is None:
        return None
    try:
        recorded = datetime.fromisoformat(choice.profile.recorded_at)
    except ValueError:
        return None  # an unreadable date is no reason to trust the profile
    if recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=timezone.utc)
    age = (now or datetime.now(timezone.utc)) - recorded
    return choice.profile if age <= timedelta(days=max_age_days) else None
