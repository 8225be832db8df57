"""The demo: a throw-away history of the example target, measured through Dagster.

It sits beside ``cli/`` in the layer order (it drives the Dagster layer), so the CLI
command stays a thin wrapper and tests can run the same function.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perf_pipeline.config import PROJECT_ROOT, Settings, load_settings
from perf_pipeline.defs.launch import (
    CommitMaterialization,
    materialize_commit,
    open_instance,
)
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.demo_edits import NEUTRAL_EDIT, SLOWDOWN_EDIT
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import HistoryStep, build_history
from perf_pipeline.model import (
    TIME_METRIC,
    CommitAnalysis,
    Confirmation,
    RunInfo,
    SuiteRun,
    Verdict,
)
from perf_pipeline.pipeline import read_commit_analysis, read_commit_confirmation
from perf_pipeline.workspace import Workspace

__all__ = ["DEMO_AB_PROCESSES", "DEMO_CONFIRM_MAX_ROUNDS", "DEMO_SELECTION", "DemoResult",
           "demo_settings", "demo_steps", "describe_stages", "run_demo"]

#: What the demo materializes per commit (grows with the asset graph).
DEMO_SELECTION: tuple[str, ...] = (
    "benchmark_results", "performance_baseline", "regression_analysis",
    "regression_confirmation", "regression_profile", "performance_report",
    "performance_history",
)

#: The demo's cap on A/B rounds, unless ``PERF_PIPELINE_CONFIRM_MAX_ROUNDS`` sets one.
DEMO_CONFIRM_MAX_ROUNDS = 20
#: The demo's pytest processes per side of an A/B round, unless
#: ``PERF_PIPELINE_AB_PROCESSES`` sets them. Two per side (the default) buy power at small
#: changes; the demo's slowdown is about x4, and its time goes to clearing the screen's
#: flags at neutral commits, which one per side does with fewer processes (replayed real
#: noise, A/A: 11.2 process pairs per benchmark decided against 18.4 with two per side).
DEMO_AB_PROCESSES = 1

_MARKER = ".perf-pipeline-demo"


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Where everything went and what each commit gave."""

    root: Path
    settings: Settings
    shas: tuple[str, ...]
    messages: tuple[str, ...]
    outcomes: tuple[CommitMaterialization, ...]
    runs: tuple[SuiteRun, ...]
    analyses: tuple[CommitAnalysis | None, ...]
    confirmations: tuple[Confirmation | None, ...] = ()

    def report_dir(self, sha: str) -> Path:
        return self.settings.layout.commit_report_dir(sha)


def _readme_note(text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        readme = root / "README.md"
        readme.write_text(readme.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")

    return edit


def demo_steps() -> tuple[HistoryStep, ...]:
    """Baseline, three neutral commits, then a real slowdown in one function.

    Three neutral commits give the rolling baseline several runs, so run-to-run noise
    is estimated from history rather than assumed.
    """
    return (
        HistoryStep("Add the ML pipeline example"),
        HistoryStep(NEUTRAL_EDIT.message, NEUTRAL_EDIT.apply),
        HistoryStep("Docs: note how to run the benchmarks", _readme_note(
            "Run the benchmarks with `pytest tests/ml/integration/test_performance.py`.")),
        HistoryStep("Docs: mention the stress suite", _readme_note(
            "Stress tests: `pytest tests/ml/integration/test_stress.py -m stress`.")),
        HistoryStep(SLOWDOWN_EDIT.message, SLOWDOWN_EDIT.apply),
    )


def _remove_demo_folder(root: Path) -> None:
    """Remove a folder the demo made, its marker last: ``rmtree`` removed the marker
    wherever it fell in the listing, and a Ctrl-C after that left a folder the next
    demo refused as not its own."""
    for entry in os.scandir(root):
        if entry.name == _MARKER:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    shutil.rmtree(root)


def _prepare_root(root: Path) -> None:
    if root.is_dir() and not any(root.iterdir()):
        pass  # empty: nothing of anyone's to lose (also what an interrupted start leaves)
    elif root.exists():
        if not (root / _MARKER).is_file():
            raise InvalidInputError(
                f"{root} exists and was not made by the demo; choose another --dir")
        _remove_demo_folder(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / _MARKER).write_text("made by `perf-pipeline demo`; safe to delete\n")
    except OSError as exc:  # a file in the way, no permission: the user's --dir, not a bug
        raise InvalidInputError(f"cannot make the demo folder {root}: {exc.strerror or exc}"
                                ) from exc


def demo_settings(target_repo: Path, results_dir: Path,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """The demo's settings: its own target and results, the rest as configured.

    The demo's slowdown (about x4) is confirmed in 5 rounds. A cap of
    ``DEMO_CONFIRM_MAX_ROUNDS`` rounds and ``DEMO_AB_PROCESSES`` process per side keep
    its time bounded when a neutral commit of a noisy benchmark is flagged and takes long
    to clear (with the defaults, 100 rounds of two per side, a noisy day took it past 20
    minutes). They are defaults: either one set in the environment (or a config file)
    wins.
    """
    return load_settings(repo_path=target_repo, project_subdir=".", results_dir=results_dir,
                         environ=environ,
                         defaults={"confirm_max_rounds": DEMO_CONFIRM_MAX_ROUNDS,
                                   "ab_processes": DEMO_AB_PROCESSES})


def run_demo(
    root: Path,
    *,
    steps: Sequence[HistoryStep] | None = None,
    selection: Sequence[str] = DEMO_SELECTION,
    on_progress: Callable[[str], None] = lambda _msg: None,
) -> DemoResult:
    """Build the history under ``root`` (replacing an earlier demo), measure every commit."""
    root = root.resolve()
    _prepare_root(root)
    steps = tuple(steps or demo_steps())
    on_progress(f"building a {len(steps)}-commit history of examples/ml_pipeline")
    target_repo = root / "target"
    shas = build_history(target_repo, PROJECT_ROOT / "examples" / "ml_pipeline", steps)
    results_dir = root / "test-results"
    settings = demo_settings(target_repo, results_dir)
    workspace = WorkspaceResource.of(settings)
    instance = open_instance(root / "dagster_home")
    outcomes: list[CommitMaterialization] = []
    for i, (sha, step) in enumerate(zip(shas, steps, strict=True), start=1):
        on_progress(f"[{i}/{len(shas)}] {sha[:10]} {step.message}")
        outcomes.append(materialize_commit(
            instance=instance, sha=sha, selection=selection, workspace=workspace,
            log_level="CRITICAL"))
    with Workspace(settings) as ws:
        infos: tuple[RunInfo, ...] = ws.store.list_runs(suite="benchmarks")
        runs = tuple(ws.store.get_run(info.run_id) for info in infos)
        analyses = tuple(read_commit_analysis(ws, sha) for sha in shas)
        confirmations = tuple(read_commit_confirmation(ws, sha, run_id=a.run_id)
                              if a is not None else None
                              for sha, a in zip(shas, analyses, strict=True))
    return DemoResult(root=root, settings=settings, shas=shas,
                      messages=tuple(s.message for s in steps), outcomes=tuple(outcomes),
                      runs=runs, analyses=analyses, confirmations=confirmations)


def _short(name: str) -> str:
    return name.split("::", 1)[1] if "::" in name else name


def describe_stages(confirmation: Confirmation | None) -> str:
    """One line per commit with both stages, e.g. ``screen: flagged test_x x3.90;
    confirmed: REGRESSION test_x x3.91 in 4 rounds``."""
    if confirmation is None:
        return "not confirmed (regression_confirmation did not run)"
    if confirmation.screen is None:
        return "no baseline yet"
    screen = {r.name: r for r in confirmation.screen.results if r.metric == TIME_METRIC}
    flagged = ", ".join(f"{_short(n)} x{screen[n].comparison.ratio:.2f}"
                        for n in confirmation.flagged if n in screen)
    first = f"screen (alpha {confirmation.screen_alpha:g}): flagged {flagged or 'nothing'}"
    final = confirmation.final
    if confirmation.status in ("nothing_flagged", "off", "not_possible"):
        regressions = final.regressions if final else ()
        how = {"nothing_flagged": "no A/B needed", "off": "confirmation off",
               "not_possible": "no A/B possible"}[confirmation.status]
        verdict = ("REGRESSION " + ", ".join(f"{_short(r.name)} x{r.comparison.ratio:.2f}"
                                             for r in regressions)
                   if regressions else "no significant regression")
        return f"{first}; {how}: {verdict}"
    decided = dict(confirmation.decided_at)
    rows = {r.name: r for r in (final.results if final else ()) if r.metric == TIME_METRIC}
    parts = []
    for name in confirmation.targets:
        row = rows.get(name)
        if row is None:
            continue
        verdict = row.comparison.verdict
        word = {Verdict.REGRESSION: "REGRESSION", Verdict.UNCHANGED: "cleared",
                Verdict.IMPROVEMENT: "improvement"}.get(verdict, "inconclusive")
        when = (f"in {decided[name]} rounds" if name in decided
                else f"undecided after {confirmation.rounds_used} rounds")
        suspect = " (suspect)" if name in confirmation.suspects else ""
        parts.append(f"{word} {_short(name)}{suspect} x{row.comparison.ratio:.2f} {when}")
    return f"{first}; confirmed: {'; '.join(parts)}"
