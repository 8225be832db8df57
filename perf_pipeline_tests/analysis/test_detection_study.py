"""The detection study (``benchmarks/detection.py``): what it replays by default."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_study_replays_every_suite_recording_and_nothing_else_by_default() -> None:
    """Run without ``--corpus`` it globbed ``*.json*``, which also matched the stress runs
    (``example-stress-runs.jsonl.gz``, one JSON document per line): the study died on
    "not valid JSON … Extra data" before printing anything."""
    script = ROOT / "benchmarks" / "detection.py"
    spec = importlib.util.spec_from_file_location("detection_study", script)
    assert spec is not None and spec.loader is not None
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    names = [p.name for p in study.default_corpora()]
    on_disk = sorted(p.name for p in study.NOISE_DIR.iterdir())
    assert names == [n for n in on_disk if n.endswith((".json", ".json.gz"))]
    assert len(names) >= 3 and not any(n.endswith(".jsonl.gz") for n in names)
    for path in study.default_corpora():  # each one loads as a suite recording
        assert study.load_noise_corpus(path).pairs
