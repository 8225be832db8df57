"""``--json``: exactly one strict JSON document on stdout, with the documented envelope,
for results and for failures alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_pipeline.cli import main
from perf_pipeline_tests.test_cli import NAMES, results, write_pytest_benchmark_json

__all__ = ["results"]  # the fixture, shared with test_cli.py


def _document(capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # the whole of stdout: nothing else may be there
    assert doc["schema_version"] == 1
    return doc, captured.err


def _analyze(results: Path, *extra: str) -> int:
    return main(["analyze", "--json", "--results-dir", str(results),
                 "--report", str(results.parent / "report.md"), *extra])


def test_analyze_json_gives_the_verdict_and_the_comparison(results: Path, capsys) -> None:
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    assert _analyze(results) == 0
    doc, _ = _document(capsys)
    assert (doc["command"], doc["exit_code"], doc["verdict"]) == ("analyze", 0, "no_baseline")
    assert doc["comparison"] is None and doc["baseline"]["created"] is True
    assert doc["not_judged"] == "no_baseline"  # why it was not judged, in a word
    assert doc["run"]["benchmarks"] == len(NAMES)

    write_pytest_benchmark_json(results / "run2.json", day=2, seed=2, slow={NAMES[3]: 2.0})
    assert _analyze(results, "--confirm", "off") == 1
    doc, err = _document(capsys)
    assert (doc["exit_code"], doc["verdict"]) == (1, "regression")
    assert doc["not_judged"] is None
    flagged = [r["name"] for r in doc["comparison"]["results"]
               if r["comparison"]["verdict"] == "regression"]
    assert flagged == [NAMES[3]]
    row = next(r for r in doc["comparison"]["results"] if r["name"] == NAMES[3])
    assert 1.8 < row["comparison"]["ratio"] < 2.2
    assert doc["report"]["markdown"] == str(results.parent / "report.md")
    assert Path(doc["report"]["html"]).is_file()
    assert "REGRESSION" not in err  # the text presenter did not run


def test_json_failure_is_a_document_too(results: Path, capsys,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_pytest_benchmark_json(results / "run1.json", day=1, seed=1)
    assert _analyze(results, "--significance", "2") == 2
    doc, err = _document(capsys)
    assert (doc["exit_code"], doc["verdict"], doc["error"]["kind"]) == (2, "error", "error")
    assert "alpha" in doc["error"]["message"] and "error:" in err

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug\nsecond line")

    monkeypatch.setattr("perf_pipeline.pipeline.analyze_results_dir", broken)
    assert _analyze(results) == 3
    doc, err = _document(capsys)
    assert (doc["exit_code"], doc["error"]["kind"]) == (3, "internal")
    assert doc["error"]["message"] == "RuntimeError: a bug"
    assert "second line" in Path(doc["error"]["crash_log"]).read_text()
    assert "internal error (a bug in perf_pipeline)" in err
