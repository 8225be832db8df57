"""How the outcome of ``calibrate`` is shown."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.table import Table

from perf_pipeline.cli.console import err, out, plain, short
from perf_pipeline.report.units import format_seconds

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perf_pipeline.config import Settings
    from perf_pipeline.model import NoiseProfile
    from perf_pipeline.pipeline import CalibrationOutcome
    from perf_pipeline.pipeline.calibration import Detectability
    from perf_pipeline.pipeline.stress_calibration import StressCalibration

__all__ = ["print_calibration", "print_detectability", "print_noise_profiles",
           "print_stress_calibration"]


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}%"


def _print_table(profile: NoiseProfile) -> None:
    table = Table(title=f"Noise of {profile.pairs} same-commit pairs (sd of ln time, "
                        "about the CV)")
    for column in ("benchmark", "median", "one run", "pair", "pair − suite"):
        table.add_column(column, justify="left" if column == "benchmark" else "right",
                         no_wrap=column == "benchmark")
    for bench in profile.benchmarks:
        table.add_row(short(bench.name), format_seconds(bench.median_s),
                      _pct(bench.unpaired_log_sd), _pct(bench.paired_log_sd),
                      _pct(bench.paired_residual_log_sd))
    out.print(table)
    out.print(f"suite factor per pair: {_pct(profile.suite_factor_log_sd)}")


def _machine_line(profile: NoiseProfile) -> str:
    machine = dict(profile.machine)
    named = f"machine {plain(machine['machine_id'])}, " if "machine_id" in machine else ""
    return (f"{named}{plain(machine.get('cpu_model', '?'))} "
            f"x{plain(machine.get('cpu_count', '?'))}, {plain(machine.get('os', '?'))}")


def _same(profile: NoiseProfile, other: NoiseProfile | None) -> bool:
    """One recording (not ``==``: a NaN spread is never equal to itself)."""
    return other is not None and (profile.commit, profile.recorded_at, profile.machine,
                                  profile.pairs) == (other.commit, other.recorded_at,
                                                     other.machine, other.pairs)


def print_noise_profiles(profiles: Sequence[tuple[NoiseProfile, str, str]], *,
                         show_all: bool, settings: Settings,
                         prior: NoiseProfile | None = None) -> None:
    """The stored profiles, newest first: the newest (or every one) in full, the rest
    listed; ``prior`` (the one this machine's A/Bs borrow their spread from) marked."""
    if not profiles:
        out.print(f"no noise profile in {plain(settings.history_label)}: record one with "
                  "perf-pipeline calibrate --pairs N")
        return
    newest_first = list(reversed(profiles))
    for k, (profile, corpus_path, created_at) in enumerate(newest_first):
        out.print(f"[bold]{plain(profile.commit[:12])}[/] recorded {plain(profile.recorded_at)}"
                  f" · {profile.pairs} pairs · {_machine_line(profile)} · stored "
                  f"{plain(created_at)}"
                  + (" · [bold]this machine's A/B variance prior[/]" if _same(profile, prior)
                     else ""))
        out.print(f"  corpus: {plain(corpus_path)}")
        if k == 0 or show_all:
            _print_table(profile)
            for note in profile.notes:
                err.print(f"note: {plain(note)}")


#: Spread ratios between recordings read as "about as noisy" within these bounds (two
#: recordings of 60 pairs of one machine scatter by about 10 % in each spread).
_SAME_NOISE = (0.8, 1.25)


def _change_line(previous: NoiseProfile, ratio: float, benchmarks: int) -> str:
    word = ("noisier" if ratio >= _SAME_NOISE[1] else
            "quieter" if ratio <= _SAME_NOISE[0] else "about as noisy")
    return (f"against this machine's previous recording, of {plain(previous.recorded_at)} "
            f"({plain(previous.commit[:12])}): pair − suite spread x{ratio:.2f} (median over "
            f"{benchmarks} benchmarks): {word}"
            + (" than then" if word != "about as noisy" else ""))


def print_calibration(outcome: CalibrationOutcome, settings: Settings) -> None:
    profile = outcome.profile
    _print_table(profile)
    for index, reason in outcome.skipped:
        err.print(f"skipped pair {index if index is not None else '?'}: {plain(reason)}")
    for note in profile.notes:
        err.print(f"note: {plain(note)}")
    if outcome.previous is not None and outcome.change is not None:
        out.print(_change_line(outcome.previous, outcome.change.ratio,
                               outcome.change.benchmarks))
    out.print(f"commit:   {plain(profile.commit)}")
    out.print(f"machine:  {_machine_line(profile)}")
    out.print(f"corpus:   {plain(outcome.corpus_path)}")
    out.print(f"raw:      {plain(outcome.raw_dir)}")
    out.print(f"profile:  {plain(outcome.profile_id)} in {plain(settings.history_label)}")


def _change(effect: float | None) -> str:
    return "none up to ×2" if effect is None else (
        f"×{effect:g}" if effect >= 1.5 else f"+{round(100 * (effect - 1)):d}%")


def print_detectability(found: Detectability, source: str) -> None:
    """Per benchmark, what an adaptive A/B replayed from the recording found: the share
    at +5 % and the smallest change found in the study's power, then a line per target."""
    table = Table(title=(
        f"What perf-pipeline ab --adaptive finds on this noise (replayed from {plain(source)}: "
        f"{found.trials} A/Bs of the whole suite per cell, at most {found.max_rounds} rounds "
        f"of {found.processes} processes per side, α {found.alpha:g}, threshold 1.0, no "
        "variance prior)"))
    for column in ("benchmark", "spread per round", "+5% found in",
                   f"smallest change found in {100 * found.power:.0f}%"):
        table.add_column(column, justify="left" if column == "benchmark" else "right",
                         no_wrap=column == "benchmark")
    for bench in found.benchmarks:
        at5 = bench.share_at(1.05)
        table.add_row(short(bench.name), _pct(bench.spread),
                      "–" if at5 is None else f"{100 * at5:.0f}%", _change(bench.smallest))
    out.print(table)
    n = len(found.benchmarks)
    counts = [sum(b.smallest is not None and b.smallest <= effect + 1e-9
                  for b in found.benchmarks) for effect in (1.05, 1.10)]
    out.print(f"found in {100 * found.power:.0f}% of A/Bs: +5% in {counts[0]} of {n} "
              f"benchmarks, +10% in {counts[1]} of {n}. Spread per round: robust, once the "
              f"round's suite factor is removed. Replayed from {found.distinct_rounds} "
              "recorded rounds: a noisier day finds less.")


def print_stress_calibration(outcome: StressCalibration) -> None:
    """The screen's false alarms on this machine, then the two stages replayed."""
    out.print(f"{outcome.runs} stress runs of {plain(outcome.sha[:12])}: corpus "
              f"{plain(outcome.corpus_path)}" + (f", raw files in {plain(outcome.raw_dir)}"
                                                  if outcome.raw_dir else ""))
    if outcome.stopped:
        err.print(f"the recording stopped early: {plain(outcome.stopped)}")
    out.print(f"the screen alone flags {_pct(outcome.screen_pairs)} of same-commit pairs "
              "of runs:")
    for (scenario, figure), share in list(outcome.screen_by_figure.items())[:8]:
        out.print(f"  {_pct(share):>6}  {plain(scenario)} {plain(figure)}")
    null = outcome.null
    if null is None:
        out.print(f"too few runs to replay the confirmation ({outcome.runs}; it needs "
                  f"{outcome.runs_needed}: record more --pairs)")
        return
    out.print(f"screen + confirmation ({null.trials} replayed commits, seed {outcome.seed}): "
              f"flagged {_pct(null.screen_flagged)}, confirmed {_pct(null.confirmed)}, "
              f"{null.mean_pairs:.1f} fresh pairs per confirmation")
    for figure, factor, share in outcome.power:
        size = {"exponent": f"+{factor:g}", "p99_s": f"x{factor:g}"}.get(figure,
                                                                        f"/{factor:g}")
        out.print(f"  {plain(figure)} {size} in every scenario: confirmed {_pct(share)}")
