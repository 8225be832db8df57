"""The README's main job, `perf-pipeline demo`, on the real example target."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline.demo import (
    DEMO_AB_PROCESSES,
    DEMO_CONFIRM_MAX_ROUNDS,
    demo_settings,
    run_demo,
)
from perf_pipeline.demo_edits import slowed_benchmark
from perf_pipeline.errors import InvalidInputError

#: Short benchmark runs for the demo test, through the product's own ``pytest_args``
#: (they follow the example's pytest.ini on the command line, so they win over its
#: ``--benchmark-max-time=0.3 --benchmark-min-rounds=10``).
SHORT_BENCHMARKS = ("--benchmark-min-rounds=3", "--benchmark-max-time=0.05")


@pytest.mark.slow
def test_demo_measures_every_commit_and_flags_the_slowdown(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo with A/Bs of 5 rounds (one look) instead of up to 20. The screen flags a
    benchmark at nearly every neutral commit, so each gets an A/B of most of the suite;
    on CI's 2-core runner, beside the other tests, clearing them took the demo up to 16
    minutes (10 rounds of the whole suite), and 8 minutes alone on an idle machine. The
    slowdown is confirmed at the first look (5 rounds) either way. The README's command,
    with the demo's own cap, is run from fresh clones by hand; the sequential looks are
    tested in analysis/. Runs of one process instead of three: ten processes fewer (each
    a whole pass of the example suite, 11-13 s on a shared 2-core machine). Short
    benchmark runs through the product's own ``pytest_args`` (3 rounds, 0.05 s); a
    process's time is mostly fixed cost (imports and collection ~3.4 s, the tests' own
    answer checks ~3 s, the memory pass), so they save ~1.5 s of ~11 per process. Alone,
    2026-12-04 on a machine shared with other jobs: 665 s (482 s CPU) before, 633 s
    (477 s CPU), 413 s (386 s) and 380 s (337 s) after; 4 A/Bs of 5 rounds each way (40 of ~50
    processes) remain the bulk."""
    monkeypatch.delenv("PERF_PIPELINE_AB_PROCESSES", raising=False)
    monkeypatch.setenv("PERF_PIPELINE_CONFIRM_MAX_ROUNDS", "5")
    monkeypatch.setenv("PERF_PIPELINE_PROCESSES", "1")
    config = tmp_path / "perf_pipeline.toml"
    config.write_text(f"[perf_pipeline]\npytest_args = {json.dumps(list(SHORT_BENCHMARKS))}\n")
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    root = tmp_path / "perf-demo"
    assert main(["demo", "--dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Verdict per commit" in out and "report (html):" in out
    # Both stages per commit; the slow commit's flag is confirmed by the A/B.
    assert out.count("screen (alpha") == 4
    assert re.search(r"confirmed: .*REGRESSION \S*" + slowed_benchmark() + r" x\d", out)
    html = Path(out.split("report (html):")[1].split()[0])
    assert html.is_file() and html.stat().st_size > 10_000
    markdown = (html.parent / "performance-report.md").read_text()
    assert slowed_benchmark().replace("_", "\\_") in markdown
    first_line = markdown.splitlines()[1]
    assert "regression" in first_line.lower()
    commits = [p for p in (root / "test-results" / "raw").iterdir()
               if p.name not in ("ab", "profile")]
    assert len(commits) == 5  # one per commit; A/B rounds and profiles have their own dirs
    assert (root / "test-results" / "raw" / "profile").is_dir()  # the confirmed one, profiled
    # The cap from the environment held: no A/B ran more than 5 rounds.
    for ab in (root / "test-results" / "raw" / "ab").iterdir():
        assert len(list(ab.glob("round-*-base.json.gz"))) <= 5, ab.name


def test_the_demo_caps_its_ab_rounds_unless_the_environment_does(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path / "target", tmp_path / "results", environ={})
    assert settings.confirm_max_rounds == DEMO_CONFIRM_MAX_ROUNDS
    assert settings.ab_processes == DEMO_AB_PROCESSES == 1
    assert settings.results_dir == tmp_path / "results"
    own = demo_settings(tmp_path / "target", tmp_path / "results",
                        environ={"PERF_PIPELINE_CONFIRM_MAX_ROUNDS": "7",
                                 "PERF_PIPELINE_AB_PROCESSES": "3"})
    assert (own.confirm_max_rounds, own.ab_processes) == (7, 3)
    config = tmp_path / "perf_pipeline.toml"
    config.write_text("[perf_pipeline]\nab_processes = 2\n")
    filed = demo_settings(tmp_path / "target", tmp_path / "results",
                          environ={"PERF_PIPELINE_CONFIG": str(config)})
    assert (filed.confirm_max_rounds, filed.ab_processes) == (DEMO_CONFIRM_MAX_ROUNDS, 2)


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="not made by the demo"):
        run_demo(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_the_verdict_line_names_the_suspects() -> None:
    from perf_pipeline.demo import describe_stages
    from perf_pipeline_tests.pipeline.test_confirm import NAMES, FakeSource, _confirm, _screen

    flag = NAMES[3]
    c = _confirm(_screen({flag: 1.45}, unflagged=(1.0, 0.5)), FakeSource({flag: 1.5}))
    line = describe_stages(c)
    assert line.startswith("screen (alpha 0.2): flagged test_d x1.45; confirmed: REGRESSION")
    assert line.count("(suspect)") == len(c.suspects) == 4
    assert "test_d (suspect)" not in line


def test_an_interrupted_replacement_leaves_a_folder_the_next_demo_still_takes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replacing the demo folder removed its marker wherever rmtree met it; a Ctrl-C after
    that left a folder every later demo refused as "not made by the demo". The marker
    now goes last, and an empty folder is taken as it is."""
    import shutil

    from perf_pipeline import demo

    root = tmp_path / "perf-demo"
    root.mkdir()
    (root / demo._MARKER).write_text("made by the demo\n")
    for name in ("raw", "worktrees", "target"):
        (root / name).mkdir()
        (root / name / "f").write_text("x")
    real_rmtree = shutil.rmtree
    calls = []

    def interrupted_rmtree(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # Ctrl-C while removing the old folder's contents
            raise KeyboardInterrupt
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(demo.shutil, "rmtree", interrupted_rmtree)
    with pytest.raises(KeyboardInterrupt):
        demo._prepare_root(root)
    monkeypatch.setattr(demo.shutil, "rmtree", real_rmtree)
    assert (root / demo._MARKER).is_file()  # still the demo's: the next one replaces it
    demo._prepare_root(root)
    assert sorted(p.name for p in root.iterdir()) == [demo._MARKER]
    (root / demo._MARKER).unlink()  # what a Ctrl-C just after mkdir leaves
    demo._prepare_root(root)
    assert (root / demo._MARKER).is_file()
