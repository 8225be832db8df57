"""``--json`` output: one strict JSON document on stdout, nothing else there.

Every document has the same envelope, so a script can branch on ``exit_code`` and
``verdict`` before it reads the command's own fields::

    {"schema_version": 1, "command": "analyze", "exit_code": 1, "verdict": "regression", ...}

A command that fails prints ``{"schema_version": 1, "command": ..., "exit_code": 2,
"verdict": "error", "error": {"kind": "error" | "internal" | "interrupted",
"message": ...}}`` instead. Non-finite numbers are written as the strings ``"nan"``,
``"inf"``, ``"-inf"``, as in the analysis files, so the document stays strict JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from perf_pipeline.cli.console import out
from perf_pipeline.cli.exits import Failure

if TYPE_CHECKING:
    from perf_pipeline.model import CommitAnalysis

__all__ = ["JSON_SCHEMA_VERSION", "emit_failure", "emit_json", "not_judged", "present",
           "verdict_word"]

#: Bumped when a field changes meaning or disappears (new fields do not bump it).
JSON_SCHEMA_VERSION = 1


def verdict_word(*, regression: bool, compared: bool = True) -> str:
    """``regression``, ``no_regression`` or ``no_baseline`` (nothing to compare with)."""
    if regression:
        return "regression"
    return "no_regression" if compared else "no_baseline"


def not_judged(analysis: CommitAnalysis | None) -> str | None:
    """Why the run was not judged (``NOT_JUDGED_REASONS``), None when it was (or has no
    analysis). The verdict word stays ``no_baseline`` for all of them, as scripts have
    read it; this tells the first run on new hardware from a machine's very first run.
    An analysis file written before the reason was kept says ``no_baseline``."""
    if analysis is None or analysis.comparison is not None:
        return None
    return analysis.not_judged or "no_baseline"


def _strict(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def emit_json(command: str, exit_code: int, verdict: str, payload: Mapping[str, object]
              ) -> int:
    """Print the document and return ``exit_code`` (so commands end with ``return emit…``)."""
    doc = {"schema_version": JSON_SCHEMA_VERSION, "command": command,
           "exit_code": int(exit_code), "verdict": verdict, **payload}
    # Straight to the stream: rich would wrap long lines and read brackets as markup.
    out.file.write(json.dumps(_strict(doc), indent=1, allow_nan=False, default=str) + "\n")
    out.file.flush()
    return int(exit_code)


def emit_failure(command: str, failure: Failure) -> None:
    error: dict[str, object] = {"kind": failure.kind, "message": failure.message}
    if failure.crash_log is not None:
        error["crash_log"] = str(failure.crash_log)
    emit_json(command, failure.exit_code, "error", {"error": error})


def present(command: str, exit_code: int, *, as_json: bool,
            document: Callable[[], tuple[str, Mapping[str, object]]],
            text: Callable[[], None]) -> int:
    """Show an outcome as a JSON ``document`` (verdict word, fields) or as ``text``;
    return ``exit_code``, which is the same either way."""
    if as_json:
        return emit_json(command, exit_code, *document())
    text()
    return int(exit_code)
