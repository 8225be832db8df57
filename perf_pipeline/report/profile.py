"""Where the time went: profile diffs in the Markdown, the HTML and a memory PNG.

The Markdown gets, per profiled benchmark, the top rows of its diff (functions ranked by
the change of own time per benchmark call; changes within the repeats' spread are marked
as such) and the allocation lines that grew most. The HTML gets the same table plus a
differential icicle chart drawn by ``templates/profile.js`` from a JSON data island:
each rectangle is a call path, its width the candidate's time on that path (the base's if
the path vanished), its colour the change. The memory PNG is the mprof picture: resident
memory over time while the benchmark runs, both commits, every repeat.

Function keys and allocation sites come from the measured repository, so they pass
through ``escape_markdown`` in Markdown and Jinja2's autoescape in HTML.
"""

from __future__ import annotations

import io
import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from perf_pipeline.model import FlameNode, ProfileComparison, ProfileDiff, Spread
from perf_pipeline.report.markdown_cells import escape_markdown
from perf_pipeline.report.plots import literal
from perf_pipeline.report.units import format_bytes, format_count, format_seconds

__all__ = ["TOP_ROWS", "artifact_links", "flame_payload", "profile_html_rows",
           "profile_markdown", "profile_metadata_markdown", "render_memory_png"]

#: Rows of each diff in the Markdown report (and the PR comment).
TOP_ROWS = 10
_TOP_SITES = 5
_STATUS = {"new": "🆕 new", "vanished": "✖ vanished", "changed": ""}


def _delta(seconds: float) -> str:
    sign = "+" if seconds > 0 else ("−" if seconds < 0 else "±")
    return f"{sign}{format_seconds(abs(seconds))}"


def _delta_bytes(n: float) -> str:
    sign = "+" if n > 0 else ("−" if n < 0 else "±")
    return f"{sign}{format_bytes(abs(n))}"


def _share(s: Spread) -> str:
    if s.high <= 0:
        return "–"
    return f"{100 * s.median:.1f} % ({100 * s.low:.1f}–{100 * s.high:.1f})"


def _key_cell(key: str, max_len: int = 90) -> str:
    """A function key or allocation site for a Markdown cell, cut from the front.

    Its end (the function's name, the line number, the file's name) is what tells two
    rows apart; cut from the end, every function of a deeply nested file read the same
    ``services/…/window_aggregations.py:rolli…``.
    """
    flat = " ".join(key.split())
    if len(flat) > max_len:
        flat = "…" + flat[-(max_len - 1):]
    return escape_markdown(flat, max_len=max_len)


def _title(diff: ProfileDiff) -> str:
    return diff.benchmark.split("::", 1)[1] if "::" in diff.benchmark else diff.benchmark


def artifact_links(diff: ProfileDiff, link_base: Path | None) -> list[tuple[str, str]]:
    """(label, href) of the files behind a diff, relative to the page that links them.

    The stored paths are absolute on the machine that profiled. A report is read
    elsewhere (a downloaded CI artifact, a copied results directory), where such a path
    points nowhere and tells the reader about the runner's disk; relative to the page
    the link survives the move of the whole results directory. Without a page to be
    relative to (Dagster metadata) the path is given as stored.
    """
    out = []
    for label, path in diff.artifacts:
        target = path
        if link_base is not None and os.path.isabs(path):
            try:
                target = os.path.relpath(path, os.path.abspath(link_base))
            except ValueError:  # another drive (Windows): no relative path exists
                target = path
        out.append((label, urllib.parse.quote(Path(target).as_posix(), safe="/:.-_~")))
    return out


def profile_markdown(profiles: ProfileComparison | None, *,
                     link_base: Path | None = None) -> list[str]:
    """The "Where the time went" section, one block per profiled benchmark; file links
    relative to ``link_base``, the Markdown file's folder (``artifact_links``)."""
    if profiles is None or not profiles.diffs:
        return []
    blocks = ["### 🔬 Where the time went", "",
              f"cProfile of each benchmark at {profiles.base_sha[:10]} (base) and "
              f"{profiles.candidate_sha[:10]} (candidate), in separate untimed processes. "
              "Per benchmark call, median over the repeats; rows in **bold** changed beyond "
              "the spread of the repeats. Own = time in the function itself; cum = "
              "including what it calls; libraries are folded into their package.", ""]
    for diff in profiles.diffs:
        blocks.append(
            f"#### {escape_markdown(_title(diff))}\n\nProfiled time per call "
            f"{format_seconds(diff.base_total_s.median)} → "
            f"{format_seconds(diff.candidate_total_s.median)} ({diff.repeats} repeats per "
            "side)\n")
        lines = ["| # | Function | Δ own | Δ cum | Own base → cand | Share base → cand | "
                 "Calls base → cand |", "|--:|---|--:|--:|--:|--:|--:|"]
        for i, f in enumerate(diff.functions[:TOP_ROWS], start=1):
            name = _key_cell(f.key)
            status = _STATUS[f.status]
            name = f"**{name}**" if f.beyond_spread else name
            lines.append(
                f"| {i} | {name}{' ' + status if status else ''} | {_delta(f.delta_own_s)} | "
                f"{_delta(f.delta_cum_s)} | {format_seconds(f.base_own.median)} → "
                f"{format_seconds(f.candidate_own.median)} | {_share(f.base_share)} → "
                f"{_share(f.candidate_share)} | {format_count(f.base_calls)} → "
                f"{format_count(f.candidate_calls)} |")
        blocks.append("\n".join(lines) + "\n")
        grown = [a for a in diff.allocations
                 if a.beyond_spread and a.delta_bytes > 0][:_TOP_SITES]
        if grown:
            rows = ["| Allocation line | Δ retained per call | Base → cand |", "|---|--:|--:|"]
            rows += [f"| **{_key_cell(a.site)}** | "
                     f"{_delta_bytes(a.delta_bytes)} | "
                     f"{format_bytes(a.base_bytes.median)} → "
                     f"{format_bytes(a.candidate_bytes.median)} |" for a in grown]
            blocks.append(f"Memory that grew beyond the spread (tracemalloc, still allocated "
                          "after the calls; peak "
                          f"{format_bytes(diff.base_peak_bytes)} → "
                          f"{format_bytes(diff.candidate_peak_bytes)}):\n\n" + "\n".join(rows)
                          + "\n")
        if diff.artifacts:
            blocks.append("Files (relative to this report; in CI, the profiles artifact): "
                          + " · ".join(f"[{escape_markdown(label)}]({href})"
                                       for label, href in artifact_links(diff, link_base))
                          + "\n")
    return blocks


def profile_metadata_markdown(profiles: ProfileComparison) -> str:
    """The Markdown section alone (for Dagster metadata and other summaries)."""
    return "\n".join(profile_markdown(profiles))


def profile_html_rows(profiles: ProfileComparison | None, *, rows: int = 30,
                      link_base: Path | None = None) -> list[dict[str, object]]:
    """What the HTML template shows per profiled benchmark (the chart comes from JS);
    file links relative to ``link_base``, the page's folder (``artifact_links``)."""
    if profiles is None:
        return []
    out = []
    for index, diff in enumerate(profiles.diffs):
        out.append({
            "index": index, "benchmark": diff.benchmark,
            "base_total": format_seconds(diff.base_total_s.median),
            "candidate_total": format_seconds(diff.candidate_total_s.median),
            "repeats": diff.repeats,
            "functions": [{
                "key": f.key, "status": _STATUS[f.status], "beyond": f.beyond_spread,
                "d_own": _delta(f.delta_own_s), "d_cum": _delta(f.delta_cum_s),
                "own": f"{format_seconds(f.base_own.median)} → "
                       f"{format_seconds(f.candidate_own.median)}",
                "share": f"{_share(f.base_share)} → {_share(f.candidate_share)}",
                "calls": f"{format_count(f.base_calls)} → {format_count(f.candidate_calls)}"}
                for f in diff.functions[:rows]],
            "allocations": [{
                "site": a.site, "beyond": a.beyond_spread, "delta": _delta_bytes(a.delta_bytes),
                "values": f"{format_bytes(a.base_bytes.median)} → "
                          f"{format_bytes(a.candidate_bytes.median)}"}
                for a in diff.allocations if a.delta_bytes > 0][:10],
            "artifacts": artifact_links(diff, link_base),
        })
    return out


def _icicle(nodes: Sequence[FlameNode]) -> dict[str, list]:
    """Plotly icicle columns; sizes are each node's remainder (``branchvalues=remainder``)."""
    size = {n.path: max(n.base_s, n.candidate_s) for n in nodes}
    children: dict[str, float] = {}
    for n in nodes:
        if n.parent:
            children[n.parent] = children.get(n.parent, 0.0) + size[n.path]
    return {
        "ids": [n.path for n in nodes], "parents": [n.parent for n in nodes],
        "labels": [n.key.rsplit("/", 1)[-1] for n in nodes],  # file:function
        "values": [max(size[n.path] - children.get(n.path, 0.0), 0.0) * 1e3 for n in nodes],
        "base_ms": [round(n.base_s * 1e3, 6) for n in nodes],
        "candidate_ms": [round(n.candidate_s * 1e3, 6) for n in nodes],
        "keys": [n.key for n in nodes],
    }


def flame_payload(profiles: ProfileComparison | None) -> list[dict[str, object]]:
    """The data island of the differential icicle charts, one entry per benchmark."""
    if profiles is None:
        return []
    return [{"index": i, "benchmark": d.benchmark, **_icicle(d.flame)}
            for i, d in enumerate(profiles.diffs)]


def render_memory_png(benchmark: str,
                      base: Sequence[tuple[Sequence[float], Sequence[float]]],
                      candidate: Sequence[tuple[Sequence[float], Sequence[float]]]) -> bytes:
    """Resident memory over time while the benchmark runs (``mprof plot``), both commits.

    ``base`` and ``candidate`` hold one ``(t_s, rss_bytes)`` series per repeat.
    """
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for label, series, color in (("base", base, "#6e7781"), ("candidate", candidate, "#d1242f")):
        for i, (t_s, rss) in enumerate(series):
            ax.plot(list(t_s), [v / 2**20 for v in rss], color=color, alpha=0.8, lw=1.2,
                    label=label if i == 0 else None)
    title = benchmark.split("::", 1)[-1]
    ax.set_title(f"Memory while running {literal(title[-60:])}")
    ax.set_xlabel("time since the first call (s)")
    ax.set_ylabel("resident set size (MiB)")
    ax.grid(alpha=0.3)
    if base or candidate:
        ax.legend(loc="upper left")
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
