"""Detection study: false alarms and power of the gate, on recorded real noise first.

Run by hand:  uv run python benchmarks/detection.py [--trials 600] [--seed 1] [--quick]
              [--corpus PATH ...] [--ab-processes N] [--no-synthetic]
              [--gate-with-prior]

Every figure comes from replaying a noise recording through the product's own code
(``perf_pipeline.analysis.replay``: ``build_baseline``/``compare_to_baseline``,
``choose_controls``, ``sequential_ab``; no copy of a rule). Sources, real first:

* each corpus in ``benchmarks/data/noise/`` (``perf-pipeline calibrate``): fresh pytest
  processes of the example suite on a shared 2-core VM, recorded as interleaved pairs of
  two worktrees of one commit;
* the synthetic ``NoiseModel`` (``simulation.simulate_recording``), for contrast.

A replayed commit: its baseline is 10 runs of 3 consecutive processes, its run the next 3
processes; one benchmark, drawn at random, is made slower by the given factor in the run
and on the candidate side of every A/B round. An A/B round is ``--ab-processes``
consecutive recorded pairs (default ``AB_PROCESSES``, as the product measures a round);
tables 4-6 use rounds of that size too. Threshold 1.0, so the statistics alone
decide; alpha 0.01. Suites of 5 benchmarks are the first 5 recorded ones; suites of 50
keep each process's real suite factor and draw real residuals for the further columns.

Tables:
1. the gate: one stage (the screen alone at alpha 0.01, as before the confirmation) and
   two stages (screen at ``SCREEN_ALPHA``, then the sequential A/B of the flagged
   benchmarks, the suspects and controls); A/A is the share of unchanged commits with ANY confirmed
   regression, power the share in which the slowed benchmark is confirmed;
2. other tools' rules on the same replayed runs (latest baseline run vs the new run);
3. the adaptive A/B alone (``perf-pipeline ab --adaptive``): every benchmark a target;
   for each real recording again with the variance prior a calibrated machine gives it
   (``ab_prior``), taken from another real recording (``PRIOR_FROM``: the pinned and
   the unpinned one each other's; the noisier day the pinned one's, a quieter day's;
   ``held_out_prior``); then the fixed-round A/B (``perf-pipeline ab``, 10 rounds,
   ``compare_rounds``), suites of 5 and 9 only (its exact signed-rank p-values make 50
   too slow to replay);
4. per benchmark of the whole recording (the gate's trials of table 1, and the
   calibrated adaptive A/B's of table 3, split by the benchmark slowed), beside its
   factor-free spread per round;
5. an idealised bound for table 3: Gaussian noise at each benchmark's robust spread,
   the spread known, the same looks and level, to tell what no test could reach on this
   machine from what the product's test misses;
6. a reference on the recording's own noise, heavy tails and all: rounds resampled from
   the recorded residuals, a Huber location whose scale and null distribution are taken
   from the whole recording (which no real A/B knows), one look at 20 rounds.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from other_tools import RULES, flagged_by, within_run_flagged

from perf_pipeline.analysis import (
    AB_PROCESSES,
    SCREEN_ALPHA,
    ABRates,
    GateRates,
    NoiseModel,
    NoiseRecording,
    VariancePrior,
    recording_prior,
    replay_adaptive_ab,
    replay_fixed_ab,
    replay_gate,
    replay_screen_runs,
    simulate_recording,
    widen,
)
from perf_pipeline.analysis.sequential import DEFAULT_MIN_ROUNDS, look_levels
from perf_pipeline.analysis.tails import norm_isf
from perf_pipeline.store import load_noise_corpus

NOISE_DIR = Path(__file__).parent / "data" / "noise"
EFFECTS = (1.0, 1.02, 1.05, 1.10, 1.20)


#: Fewest pairs a corpus needs: a screen trial takes (10 baseline runs + 1) x 3 processes.
MIN_PAIRS = 17
#: A recording of more benchmarks gets no per-benchmark tables (each is a replay of
#: the whole suite at its own size).
MAX_SPLIT_SIZE = 60


#: What each committed recording is to the study.
ROLES = {"example-suite-pinned.json.gz": ", the one the defaults were tuned on",
         "example-suite-unpinned.json.gz": ", held out",
         "example-suite-noisy-day.json.gz": ", held out, a noisier day"}
#: Whose prior a calibrated machine judging a recording gets: the other of the first two
#: (each made under other load); the noisier day gets the pinned one's, a profile of a
#: quieter day, as a machine calibrated then and measured now would.
PRIOR_FROM = {"example-suite-pinned.json.gz": "example-suite-unpinned.json.gz",
              "example-suite-unpinned.json.gz": "example-suite-pinned.json.gz",
              "example-suite-noisy-day.json.gz": "example-suite-pinned.json.gz"}


def _recording(path: Path) -> NoiseRecording:
    corpus = load_noise_corpus(path)
    if len(corpus.pairs) < MIN_PAIRS:
        raise SystemExit(f"{path}: {len(corpus.pairs)} pairs; a replay needs at least "
                         f"{MIN_PAIRS} (a screen trial is 11 runs of 3 processes)")
    return NoiseRecording.from_corpus(corpus)


def default_corpora() -> list[Path]:
    """The suite recordings under ``NOISE_DIR``: ``*.json`` and ``*.json.gz`` only, as
    ``*.json*`` also matched the stress runs (``*.jsonl.gz``), which are no suite
    recording, and the study died on them before printing anything."""
    return sorted(p for p in NOISE_DIR.iterdir() if p.name.endswith((".json", ".json.gz")))


def sources(seed: int, corpora: list[Path] | None = None, *, synthetic: bool = True
            ) -> list[tuple[str, NoiseRecording, str]]:
    """(label, recording, corpus file name; "" for the synthetic one), real first."""
    out = []
    for path in corpora or default_corpora():
        rec = _recording(path)
        out.append((f"real: {path.name} ({rec.n_pairs} pairs, {len(rec.names)} "
                    f"benchmarks{ROLES.get(path.name, '')})", rec, path.name))
    if synthetic:
        out.append(("synthetic: NoiseModel defaults, process factor CV 10 %",
                    simulate_recording(np.random.default_rng(seed), n_pairs=200,
                                       model=NoiseModel(), pair_cv=0.10), ""))
    return out


def prior_source(name: str, recordings: list[tuple[str, NoiseRecording, str]]
                 ) -> NoiseRecording | None:
    """The recording whose variance prior a calibrated machine judging ``name`` gets:
    ``PRIOR_FROM``'s choice (read from ``NOISE_DIR`` if ``--corpus`` left it out), else
    the first other real one."""
    others = {file: rec for label, rec, file in recordings
              if label.startswith("real") and file != name}
    chosen = PRIOR_FROM.get(name)
    if chosen in others:
        return others[chosen]
    if chosen is not None and (NOISE_DIR / chosen).is_file():
        return _recording(NOISE_DIR / chosen)
    return next(iter(others.values()), None)


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.1%}"


def gate_table(rec: NoiseRecording, sizes: tuple[int, ...], trials: int, seed: int,
               processes: int = AB_PROCESSES, prior_from: NoiseRecording | None = None
               ) -> dict[int, list[GateRates]]:
    """Prints table 1; returns the rates by suite size, one per effect of ``EFFECTS``.
    ``prior_from``: the confirmations get the variance prior of a calibrated machine,
    from that other recording (``held_out_prior``)."""
    print("| suite | gate | A/A false alarms | " + " | ".join(
        f"+{e - 1:.0%}" for e in EFFECTS[1:])
        + " | median rounds (A/A; +5 %) | median rounds per benchmark decided (A/A; +5 %) |")
    print("|---|---|---|" + "---|" * (len(EFFECTS) - 1) + "---|---|")
    out = {}
    for n in sizes:
        prior = (held_out_prior(prior_from, n, seed, processes) if prior_from is not None
                 else None)
        rates = [replay_gate(rec, np.random.default_rng(seed + 10 * n + i), trials=trials,
                             effect=e, n_benchmarks=n, ab_processes=processes, prior=prior)
                 for i, e in enumerate(EFFECTS)]
        out[n] = rates
        one = [rates[0].one_stage_any] + [r.one_stage_hit for r in rates[1:]]
        two = [rates[0].confirmed_any] + [r.confirmed_hit for r in rates[1:]]
        print(f"| {n} | one stage: screen alone, alpha 0.01 | "
              + " | ".join(_pct(v) for v in one) + " | – | – |")
        print(f"| {n} | two stages: screen alpha {SCREEN_ALPHA:g} "
              f"(flags {rates[0].flagged_any:.0%} of A/A), sequential A/B | "
              + " | ".join(_pct(v) for v in two)
              + f" | {rates[0].median_rounds:g}; {rates[2].median_rounds:g} | "
              f"{rates[0].median_rounds_per_flag:.1f}; {rates[2].median_rounds_per_flag:.1f} |")
    return out


def round_log_ratios(rec: NoiseRecording, processes: int) -> np.ndarray:
    """(rounds, benchmarks) log-ratios of the rounds of ``processes`` pairs each."""
    sides = np.log(rec.side_values(processes))
    return sides[:, 1] - sides[:, 0]


def per_benchmark_table(rec: NoiseRecording,
                        columns: list[tuple[str, tuple[tuple[str, int, int], ...]]],
                        processes: int = AB_PROCESSES) -> None:
    """Hits by the benchmark slowed (``columns``: a heading and a ``by_benchmark`` each),
    beside each benchmark's factor-free spread per round."""
    robust, plain = rec.factor_free_spreads(processes)
    by = [{name: (n, hit) for name, n, hit in counts} for _, counts in columns]
    print("| benchmark | factor-free spread per round: robust; sd | "
          + " | ".join(heading for heading, _ in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for j, name in enumerate(rec.names):
        cells = []
        for counts in by:
            n, hit = counts.get(name, (0, 0))
            cells.append(f"{hit}/{n}" if n else "–")
        print(f"| `{name.split('::')[-1]}` | {robust[j]:.1%}; {plain[j]:.1%} | "
              + " | ".join(cells) + " |")


def oracle_power(spreads: np.ndarray, effect: float, *, targets: int, rounds: int,
                 sequential: bool, rng: np.random.Generator, alpha: float = 0.01,
                 trials: int = 20_000) -> float:
    """Mean over ``spreads`` of the power of an idealised two-sided z test: per round
    Gaussian noise of that spread, the spread known, the level Bonferroni-shared by
    ``targets`` and, if ``sequential``, spent over the product's looks."""
    if sequential:
        looks = look_levels(alpha=alpha / targets, min_rounds=DEFAULT_MIN_ROUNDS,
                            max_rounds=rounds, block=1)
    else:
        looks = ((rounds, alpha / targets),)
    powers = []
    for sd in spreads:
        sums = np.cumsum(rng.normal(math.log(effect), sd, size=(trials, rounds)), axis=1)
        hit = np.zeros(trials, dtype=bool)
        for n, level in looks:
            hit |= sums[:, n - 1] / (sd * math.sqrt(n)) > norm_isf(level / 2)
        powers.append(hit.mean())
    return float(np.mean(powers))


def reference_power(rec: NoiseRecording, effect: float, *, columns: int, targets: int,
                    rounds: int, rng: np.random.Generator, alpha: float = 0.01,
                    draws: int = 200_000, processes: int = AB_PROCESSES) -> np.ndarray:
    """Per benchmark of the first ``columns``, the power of a two-sided test at one look
    whose null distribution is known exactly: the Huber location (scale fixed at the
    recording's robust spread) of ``rounds`` residuals drawn from the recording, each with
    a random sign (the sides of a round are exchangeable). The residual is a pair's
    log-ratio minus the median of the other ``columns - 1`` benchmarks' (leave one out,
    so the injected change cannot leak into the factor).
    Gaussian noise at the robust spread (``oracle_power``) flatters heavy tails; this does
    not, and it still knows what a real A/B must estimate, so it is an optimistic
    reference, not a bound."""
    ratios = round_log_ratios(rec, processes)[:, :columns]
    level = alpha / targets / 2.0
    out = []
    for j in range(columns):
        resid = ratios[:, j] - np.median(np.delete(ratios, j, axis=1), axis=1)
        resid = resid - np.median(resid)
        scale = 1.4826 * float(np.median(np.abs(resid)))

        def location(shift: float, n: int, resid: np.ndarray = resid,
                     scale: float = scale) -> np.ndarray:
            x = (resid[rng.integers(0, len(resid), size=(n, rounds))]
                 * rng.choice((-1.0, 1.0), size=(n, rounds)) + shift)
            mu = np.median(x, axis=1)
            for _ in range(30):
                mu = mu + scale * np.mean(np.clip((x - mu[:, None]) / scale, -1.5, 1.5),
                                          axis=1)
            return mu

        null = location(0.0, draws)
        low, high = np.quantile(null, (level, 1.0 - level))
        alt = location(math.log(effect), draws // 10)
        out.append(float(np.mean((alt > high) | (alt < low))))
    return np.array(out)


def reference_table(rec: NoiseRecording, sizes: tuple[int, ...], seed: int,
                    processes: int = AB_PROCESSES) -> None:
    rng = np.random.default_rng(seed + 4000)
    whole = len(rec.names)
    cases = [(f"suite of {n} + the shift", n, n + 1) for n in sizes if n <= whole]
    cases.append((f"one target, the other {whole - 1} benchmarks controls", whole, 1))
    power = {(cols, targets, e): reference_power(rec, e, columns=cols, targets=targets,
                                                 rounds=20, rng=rng, processes=processes)
             for _, cols, targets in cases for e in (1.05, 1.10)}
    print("| targets | +5 % in 20 rounds | +10 % in 20 rounds |")
    print("|---|---|---|")
    for label, cols, targets in cases:
        print(f"| {label} | " + " | ".join(_pct(float(np.mean(power[cols, targets, e])))
                                           for e in (1.05, 1.10)) + " |")
    key = (whole, whole + 1)
    if (*key, 1.05) in power:
        print(f"\nPer benchmark, the suite of {whole} + the shift:\n")
        print("| benchmark | +5 % | +10 % |")
        print("|---|---|---|")
        for j, name in enumerate(rec.names):
            print(f"| `{name.split('::')[-1]}` | {_pct(power[(*key, 1.05)][j])} | "
                  f"{_pct(power[(*key, 1.10)][j])} |")


def oracle_table(rec: NoiseRecording, sizes: tuple[int, ...], seed: int,
                 processes: int = AB_PROCESSES) -> None:
    rng = np.random.default_rng(seed + 3000)
    whole = len(rec.names)
    print("| targets | +5 % in 20 rounds: with looks / one look | "
          "+10 % in 20 rounds: with looks / one look |")
    print("|---|---|---|")
    # A suite's rounds lose the factor of its own benchmarks only.
    cases = [(f"suite of {n} + the shift",
              widen(rec, n, rng).factor_free_spreads(processes)[0], n + 1)
             for n in sizes if n <= whole]
    cases.append((f"one target, the other {whole - 1} benchmarks controls",
                  rec.factor_free_spreads(processes)[0], 1))
    for label, spreads, targets in cases:
        cells = [" / ".join(_pct(oracle_power(spreads, e, targets=targets, rounds=20,
                                              sequential=seq, rng=rng))
                            for seq in (True, False)) for e in (1.05, 1.10)]
        print(f"| {label} | " + " | ".join(cells) + " |")


def other_tools_table(rec: NoiseRecording, n: int, trials: int, seed: int) -> None:
    print("| rule (latest saved run vs new run) | A/A false alarms | " + " | ".join(
        f"+{e - 1:.0%}" for e in EFFECTS[1:]) + " |")
    print("|---|---|" + "---|" * (len(EFFECTS) - 1))
    rules = {**RULES, "within-run Mann–Whitney (Holm, alpha 0.01)": None}
    rows: dict[str, list[float]] = {name: [] for name in rules}
    for i, effect in enumerate(EFFECTS):
        rng = np.random.default_rng(seed + 1000 + i)
        hits = dict.fromkeys(rules, 0)
        wide = widen(rec, n, rng)
        for _ in range(trials):
            slowed = int(rng.integers(0, n))
            runs, current = replay_screen_runs(
                wide, rng, slowed={slowed: effect} if effect != 1.0 else None)
            for name, rule in rules.items():
                flagged = (within_run_flagged(runs, current) if rule is None
                           else flagged_by(rule, runs, current))
                hits[name] += bool(flagged) if effect == 1.0 else wide.names[slowed] in flagged
        for name in rules:
            rows[name].append(hits[name] / trials)
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(_pct(v) for v in row) + " |")


def held_out_prior(other: NoiseRecording, n: int, seed: int,
                   processes: int = AB_PROCESSES) -> VariancePrior:
    """The variance prior a suite of ``n`` gets from ``other``, a recording made under
    other load than the one judged (as a machine's ``calibrate`` profile is): widened
    like the judged suite (``widen`` names its columns alike), with its own draws."""
    wide = widen(other, n, np.random.default_rng(seed + 5000 + n)) if n > len(
        other.names) else other
    return recording_prior(wide, processes=processes)


def ab_table(rec: NoiseRecording, sizes: tuple[int, ...], trials: int, seed: int,
             processes: int = AB_PROCESSES, prior_from: NoiseRecording | None = None
             ) -> dict[int, tuple[ABRates, ...]]:
    """The table; returns each size's (A/A, +5 %, +10 %, ×2) rates."""
    out: dict[int, tuple[ABRates, ...]] = {}
    print("| suite | A/A false alarms (regression or improvement) | +5 % found (≤ 20 rounds) "
          "| +10 % found | ×2: median / max rounds to decide | ×2 decided in > 6 rounds | "
          "median rounds, A/A |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        prior = (held_out_prior(prior_from, n, seed, processes) if prior_from is not None
                 else None)
        aa, five, ten, double = (
            replay_adaptive_ab(rec, np.random.default_rng(seed + 2000 + 10 * n + i),
                               trials=trials, effect=e, n_benchmarks=n, processes=processes,
                               prior=prior)
            for i, e in enumerate((1.0, 1.05, 1.10, 2.0)))
        out[n] = (aa, five, ten, double)
        print(f"| {n} | {_pct(aa.any_change)} | {_pct(five.hit)} | {_pct(ten.hit)} | "
              f"{double.median_rounds_to_hit:g} / {double.max_rounds_to_hit:g} "
              f"(found {double.hit:.0%}) | {_pct(double.slow_hits / trials)} | "
              f"{aa.median_rounds:g} |")
    return out


def fixed_ab_table(rec: NoiseRecording, sizes: tuple[int, ...], trials: int, seed: int,
                   processes: int = AB_PROCESSES, rounds: int = 10) -> None:
    print(f"| suite | A/A false alarms | +5 % found ({rounds} rounds) | +10 % found | "
          "+20 % found |")
    print("|---|---|---|---|---|")
    for n in sizes:
        aa, five, ten, twenty = (
            replay_fixed_ab(rec, np.random.default_rng(seed + 3000 + 10 * n + i),
                            trials=trials, effect=e, n_benchmarks=n, rounds=rounds,
                            processes=processes)
            for i, e in enumerate((1.0, 1.05, 1.10, 1.20)))
        print(f"| {n} | {_pct(aa.any_regression)} | {_pct(five.hit)} | {_pct(ten.hit)} | "
              f"{_pct(twenty.hit)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int,
                        help="trials per cell (default 600; 100 with --quick)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="suites of 5 only, 100 trials unless --trials says")
    parser.add_argument("--corpus", type=Path, action="append",
                        help="a noise corpus to replay (repeatable; default: every corpus "
                             f"in {NOISE_DIR.relative_to(Path(__file__).parents[1])})")
    parser.add_argument("--ab-processes", type=int, default=AB_PROCESSES, metavar="N",
                        help="recorded pairs per A/B round: each side's value is the fastest "
                             f"sample of N processes, as the product measures (default "
                             f"{AB_PROCESSES}); the screen's runs are unchanged")
    parser.add_argument("--no-synthetic", action="store_true",
                        help="replay the recordings only, not the synthetic model")
    parser.add_argument("--gate-with-prior", action="store_true",
                        help="also replay the gate of a calibrated machine: each real "
                             "recording's confirmations with the variance prior of the "
                             "other (twice the time of table 1)")
    args = parser.parse_args()
    k = args.ab_processes
    trials = args.trials if args.trials is not None else (100 if args.quick else 600)
    sizes = (5,) if args.quick else (5, 9, 50)
    recordings = sources(args.seed, args.corpus, synthetic=not args.no_synthetic)
    for label, rec, name in recordings:
        real, whole = label.startswith("real"), len(rec.names)
        # A real recording's own size too (up to MAX_SPLIT_SIZE), so its per-benchmark
        # tables can be printed.
        rec_sizes = (tuple(sorted({*sizes, whole}))
                     if real and not args.quick and whole <= MAX_SPLIT_SIZE else sizes)
        print(f"\n## {label}\n")
        print(f"Gate, {trials} replayed commits per cell (threshold 1.0, alpha 0.01):\n")
        gate = gate_table(rec, rec_sizes, trials, args.seed, k)
        prior_from = prior_source(name, recordings) if real else None
        if prior_from is not None and args.gate_with_prior:
            print(f"\nThe gate of a calibrated machine (confirmations with the variance "
                  f"prior of the other recording), {trials} commits per cell:\n")
            gate_table(rec, rec_sizes, trials, args.seed, k, prior_from=prior_from)
        if real and whole in gate:
            print(f"\nPer benchmark, the suite of {whole} (the trials above, by the "
                  "benchmark slowed):\n")
            per_benchmark_table(rec, [(f"+{e - 1:.0%} confirmed", r.by_benchmark)
                                      for e, r in zip(EFFECTS[1:], gate[whole][1:],
                                                      strict=True)], k)
        print(f"\nOther tools on the same replayed runs, suites of {sizes[-1]}:\n")
        other_tools_table(rec, sizes[-1], trials, args.seed)
        print(f"\nAdaptive A/B alone (every benchmark a target), {trials} trials:\n")
        split = ab_table(rec, rec_sizes, trials, args.seed, k)
        with_prior = " without a prior (no other recording: the uncalibrated A/B)"
        if prior_from is not None:
            print(f"\nThe same with a variance prior (``ab_prior``) from another "
                  f"recording ({PRIOR_FROM.get(name, 'the first other one')}), {trials} "
                  "trials:\n")
            split = ab_table(rec, rec_sizes, trials, args.seed, k, prior_from=prior_from)
            with_prior = " with the prior"
        if real and whole in split:
            print(f"\nPer benchmark, the adaptive A/B of the suite of {whole}{with_prior} "
                  "(the trials above, by the benchmark slowed):\n")
            _, five, ten, _ = split[whole]
            per_benchmark_table(rec, [("+5 % found", five.by_benchmark),
                                      ("+10 % found", ten.by_benchmark)], k)
        fixed_sizes = tuple(n for n in sizes if n <= 9)
        print(f"\nFixed-round A/B alone (10 rounds, every benchmark a target), {trials} "
              "trials:\n")
        fixed_ab_table(rec, fixed_sizes, trials, args.seed, k)
        if not real:
            continue
        print("\nIdealised bound for the adaptive A/B (Gaussian noise at each benchmark's "
              "robust factor-free spread, known; alpha 0.01 two-sided; mean over the "
              "benchmarks):\n")
        oracle_table(rec, sizes, args.seed, k)
        print("\nReference on the recording's own noise (rounds resampled from it, Huber "
              "location with its scale and null distribution known, one look at 20 rounds, "
              "alpha 0.01 two-sided):\n")
        reference_table(rec, sizes, args.seed, k)


if __name__ == "__main__":
    main()
