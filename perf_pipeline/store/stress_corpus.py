"""Recorded stress runs of one commit: the stress gate's real-noise corpus.

One JSON line per run (gzip, appended to as a recording goes on, so a file may hold
several gzip members): ``{"sha", "run", "error", "duration_s", "figures": [...]}``, each
figure a ``StressFigure``'s fields with its latency histogram. ``benchmarks/stress_noise.py``
records them; the replay tests and the README's stress figures read them back here.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Sequence
from pathlib import Path

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import StressFigure
from perf_pipeline.store.strict_json import MALFORMED, load_json

__all__ = ["load_stress_corpus", "stress_corpus_line"]


def stress_corpus_line(figures: Sequence[StressFigure], *, sha: str, run: int,
                       error: str | None, duration_s: float) -> str:
    """One run of a recording, as the line ``load_stress_corpus`` reads."""
    return json.dumps({"sha": sha, "run": run, "error": error, "duration_s": duration_s,
                       "figures": [dataclasses.asdict(f) for f in figures]},
                      sort_keys=True, allow_nan=False) + "\n"


def load_stress_corpus(path: Path) -> tuple[tuple[StressFigure, ...], ...]:
    """The successful runs of a recording, each as its figures, in recorded order."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as source:
            lines = [line for line in source if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"stress corpus {path}: unreadable: {exc}") from exc
    runs = []
    for number, line in enumerate(lines, start=1):
        try:
            record = load_json(line, f"stress corpus {path}, line {number}")
            if record["error"]:
                continue
            runs.append(tuple(StressFigure(**f) for f in record["figures"]))
        except InvalidInputError:
            raise
        except MALFORMED as exc:
            raise InvalidInputError(f"stress corpus {path}, line {number}: malformed "
                                    f"({exc!r})") from exc
    return tuple(runs)
