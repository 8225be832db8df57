"""What goes into a Markdown table cell: untrusted text made inert, long names shortened,
links made safe, a verdict's icon and a ratio's interval.

Benchmark names, parameters and commit messages come from the measured repository, so
they are untrusted: every such string passes through ``escape_markdown`` before it lands
in the document (no raw HTML, no table-breaking pipes, no @-mentions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from perf_pipeline.model import Verdict
from perf_pipeline.report.units import ratio_number

__all__ = ["VERDICT_ICON", "escape_markdown", "escape_name", "format_interval", "safe_url",
           "table_head"]

VERDICT_ICON = {
    Verdict.REGRESSION: "🔴",
    Verdict.IMPROVEMENT: "🟢",
    Verdict.INCONCLUSIVE: "🟡",
    Verdict.UNCHANGED: "⚪",
}

_ESCAPES = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "&#96;", "\\": "\\\\",
    "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "~": "\\~", "@": "&#64;", "#": "&#35;",
    # GitHub typesets text between two dollars as math (``test_tpl[${a}_${b}]`` lost its
    # dollars and braces to a formula); an entity is no delimiter.
    "$": "&#36;",
}


def escape_markdown(text: object, *, max_len: int = 160) -> str:
    """Make untrusted text inert inside a Markdown table cell (and anywhere else).

    Newlines and tabs collapse to spaces (a newline ends a table row); HTML and Markdown
    specials are escaped, ``$`` too (GitHub's inline math); ``@`` is neutralised so a
    commit message cannot ping people.
    Long text is shortened with an ellipsis so one odd name cannot eat the size budget.
    """
    flat = " ".join(str(text).split())
    if len(flat) > max_len:
        flat = flat[: max_len - 1] + "…"
    return "".join(_ESCAPES.get(ch, ch) for ch in flat)


def escape_name(name: str, *, max_len: int = 160) -> str:
    """A benchmark name for the document: escaped, and a long one shortened in the middle.

    Parametrized names differ at the end (``test_read[<long id>-1]``, ``...-2]``) and
    begin with the file that says where they live: cut from the end, as
    ``escape_markdown`` cuts text, two such names read the same.
    """
    flat = " ".join(str(name).split())
    if len(flat) > max_len:
        head = max_len // 3
        flat = flat[:head] + "…" + flat[len(flat) - (max_len - head - 1):]
    return escape_markdown(flat, max_len=max_len)


def safe_url(url: str) -> str:
    """Only http(s) links, with characters that could end the Markdown link escaped."""
    flat = "".join(url.split())
    if not flat.lower().startswith(("https://", "http://")):
        return "#"
    return "".join(f"%{ord(ch):02X}" if ch in "()<>\"'` " else ch for ch in flat)


def table_head(headers: Iterable[str], align: Iterable[str]) -> list[str]:
    """The header row and the alignment row of a Markdown table."""
    return ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]


def format_interval(low: float, high: float) -> str:
    """A ratio's confidence interval, or a dash when either end is not finite."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"[{ratio_number(low, near_one=False)}, {ratio_number(high, near_one=False)}]"
