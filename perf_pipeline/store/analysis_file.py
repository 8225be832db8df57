"""A commit's regression analysis as a JSON file: what the gate and the reports read.

One file per commit (``<results>/analysis/<sha>.json``), replaced atomically when the
commit is analysed again. Non-finite numbers (an undefined ratio, an infinite interval)
are written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` so the file stays strict JSON
(``strict_json.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import (
    SCHEMA_VERSION,
    BenchmarkComparison,
    CommitAnalysis,
    Comparison,
    SuiteComparison,
    Verdict,
)
from perf_pipeline.store.strict_json import MALFORMED, decode_float, encode_float, load_json

__all__ = ["read_analysis", "write_analysis"]

_FLOATS = ("ratio", "ci_low", "ci_high", "p_value", "threshold", "alpha")

#: How files written before ``raw_ratio`` was kept said it: in the reason, which
#: ``analysis.baseline`` still words this way (three decimals).
_OLD_RAW_RE = re.compile(r"\(raw ratio (\d+(?:\.\d+)?)\)")


def _comparison_to_dict(c: Comparison) -> dict[str, Any]:
    out: dict[str, Any] = {k: encode_float(getattr(c, k)) for k in _FLOATS}
    out.update(verdict=str(c.verdict), significant=c.significant, n_baseline=c.n_baseline,
               n_current=c.n_current, method=c.method, reason=c.reason,
               samples_needed=c.samples_needed, adjusted_p_value=encode_float(c.adjusted_p_value),
               raw_ratio=encode_float(c.raw_ratio))
    return out


def _raw_ratio(d: dict[str, Any]) -> float | None:
    """The comparison's ``raw_ratio``; a file written before it was kept (no key) has it
    only in its reason, read back from there: the one place that parses a reason."""
    if "raw_ratio" in d:
        return None if d["raw_ratio"] is None else decode_float(d["raw_ratio"])
    found = _OLD_RAW_RE.search(str(d.get("reason", "")))
    return float(found.group(1)) if found else None


def _comparison_from_dict(d: dict[str, Any]) -> Comparison:
    adj = d.get("adjusted_p_value")
    return Comparison(
        verdict=Verdict(d["verdict"]), **{k: decode_float(d[k]) for k in _FLOATS},
        significant=bool(d["significant"]), n_baseline=int(d["n_baseline"]),
        n_current=int(d["n_current"]), method=str(d["method"]), reason=str(d.get("reason", "")),
        samples_needed=d.get("samples_needed"),
        adjusted_p_value=None if adj is None else decode_float(adj), raw_ratio=_raw_ratio(d))


def suite_comparison_to_dict(comp: SuiteComparison | None) -> dict[str, Any] | None:
    """The JSON form of a suite comparison (shared with the confirmation file)."""
    if comp is None:
        return None
    return {
        "correction": comp.correction, "alpha": comp.alpha, "new": list(comp.new),
        "missing": list(comp.missing), "failed": list(comp.failed),
        "results": [{"name": r.name, "metric": r.metric,
                     "comparison": _comparison_to_dict(r.comparison)}
                    for r in comp.results],
    }


def suite_comparison_from_dict(comp: dict[str, Any] | None) -> SuiteComparison | None:
    """Inverse of ``suite_comparison_to_dict``; raises ``KeyError``/``ValueError``/... on
    malformed input, which the file readers turn into ``InvalidInputError``."""
    if comp is None:
        return None
    return SuiteComparison(
        results=tuple(BenchmarkComparison(r["name"], r["metric"],
                                          _comparison_from_dict(r["comparison"]))
                      for r in comp["results"]),
        correction=comp["correction"], alpha=float(comp["alpha"]),
        new=tuple(comp["new"]), missing=tuple(comp["missing"]), failed=tuple(comp["failed"]))


def _to_json(a: CommitAnalysis) -> bytes:
    data = {
        "schema_version": a.schema_version, "run_id": a.run_id, "sha": a.sha,
        "created_at": a.created_at, "threshold": a.threshold, "alpha": a.alpha,
        "baseline_policy": a.baseline_policy, "baseline_run_ids": list(a.baseline_run_ids),
        "baseline_commits": list(a.baseline_commits),
        "environment_differences": [list(d) for d in a.environment_differences],
        "notes": list(a.notes),
        "not_judged": a.not_judged,
        "comparison": suite_comparison_to_dict(a.comparison),
    }
    return json.dumps(data, indent=1, allow_nan=False).encode("utf-8")


def _from_json(raw: bytes, path: Path) -> CommitAnalysis:
    try:
        d = load_json(raw, f"analysis file {path}")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise InvalidInputError(
                f"{path}: schema_version {d.get('schema_version')!r} is not supported")
        comparison = suite_comparison_from_dict(d["comparison"])
        return CommitAnalysis(
            run_id=d["run_id"], sha=d["sha"], created_at=d["created_at"],
            threshold=float(d["threshold"]), alpha=float(d["alpha"]), comparison=comparison,
            baseline_policy=d["baseline_policy"], baseline_run_ids=tuple(d["baseline_run_ids"]),
            baseline_commits=tuple(d["baseline_commits"]),
            environment_differences=tuple(tuple(x) for x in d["environment_differences"]),
            notes=tuple(d["notes"]),
            not_judged=d.get("not_judged"))  # absent: a file written before it was kept
    except InvalidInputError:
        raise
    except MALFORMED as exc:
        raise InvalidInputError(f"{path}: not a valid analysis file ({exc!r})") from exc


def write_analysis(path: Path, analysis: CommitAnalysis) -> Path:
    """Write atomically (temp file in the same folder, then ``os.replace``)."""
    data = _to_json(analysis)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as exc:
        raise StoreError(f"cannot write analysis {path}: {exc}") from exc
    return path


def read_analysis(path: Path) -> CommitAnalysis | None:
    """``None`` when the commit has not been analysed; a broken file is an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read analysis {path}: {exc}") from exc
    return _from_json(raw, path)
