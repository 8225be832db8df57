"""PNG plots for places where no browser runs: CI artifacts, PR attachments, wikis.

Built on ``matplotlib.figure.Figure`` with the Agg canvas — never pyplot — so plotting
keeps no global state and is safe inside Dagster worker threads. Each function returns
PNG bytes; ``write_report`` decides where they go. Readability rules: a title, axis
labels with units, a legend, at most a handful of benchmarks per plot (the most changed
ones) and thinned, rotated tick labels.
"""

from __future__ import annotations

import io
import math
import statistics

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from perf_pipeline.model import TIME_METRIC, MetricSeries, ReportData, Verdict
from perf_pipeline.report.correlation import metric_correlation
from perf_pipeline.report.summary import comparison_rows
from perf_pipeline.report.units import metric_label, seconds_scale

__all__ = ["PLOT_FILES", "literal", "render_correlation_png", "render_distribution_png",
           "render_plots", "render_trend_png"]

_DPI = 110
_MAX_LINES = 6
_MAX_TICKS = 12
_COLORS = {Verdict.REGRESSION: "#d1242f", Verdict.IMPROVEMENT: "#1a7f37",
           Verdict.INCONCLUSIVE: "#bf8700", Verdict.UNCHANGED: "#6e7781"}
#: The colour of a trend line is its verdict, so lines of one verdict (every line of a
#: history where nothing changed) were the same grey line in the legend: each line of a
#: plot also gets a marker and a dash pattern of its own (``_MAX_LINES`` of them).
_MARKERS = ("o", "s", "^", "D", "v", "P")
_DASHES = ("-", "--", "-.", ":", (0, (6, 2)), (0, (3, 1, 1, 1, 1, 1)))


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def literal(text: str) -> str:
    """``text`` as matplotlib must draw it: every ``$`` escaped. Text between two ``$``
    is otherwise parsed as math, and a pytest id such as ``test_tpl[${a}_${b}]`` then
    raised a ValueError that stopped the whole report (the Markdown, so the PR comment and
    the gate, included). Escaping per string, not ``text.parse_math`` in an rc_context,
    keeps plotting free of global state."""
    return text.replace("$", r"\$")


def _short(text: str, n: int = 48) -> str:
    """A benchmark name cut to ``n`` characters from the end, drawn literally."""
    flat = " ".join(text.split())
    return literal(flat if len(flat) <= n else "…" + flat[-(n - 1):])


def _empty(title: str, message: str) -> bytes:
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#57606a")
    return _png(fig)


def _chosen_benchmarks(data: ReportData, metric: str) -> list[str]:
    """The most changed benchmarks first (the ones worth a picture), then by name."""
    names = [r.name for r in comparison_rows(data) if r.metric in (metric, TIME_METRIC)]
    with_series = {s.name for s in data.series if s.metric == metric}
    picked: list[str] = []
    for n in [*names, *sorted(with_series)]:
        if n in with_series and n not in picked:
            picked.append(n)
        if len(picked) == _MAX_LINES:
            break
    return picked


def _unit_scale(metric: str, values: list[float]) -> tuple[float, str]:
    if metric.endswith("_bytes"):
        return 1024.0**2, "MiB"
    if metric.endswith("_s"):
        ref = statistics.median(values) if values else 1.0
        return seconds_scale(ref) if ref else (1.0, "s")
    return 1.0, "count"


def render_trend_png(data: ReportData, *, metric: str = TIME_METRIC) -> bytes:
    """Relative trend (value / the benchmark's median) of the most changed benchmarks.

    Relative values let benchmarks of microseconds and seconds share one axis; the
    legend gives each one's median in real units.
    """
    title = f"{metric_label(metric).capitalize()} across commits"
    names = _chosen_benchmarks(data, metric)
    if not names or not data.runs:
        return _empty(title, "No history recorded yet.")
    order = {r.run_id: i for i, r in enumerate(data.runs)}
    labels = [literal(r.label[:7] if r.commit else r.started_at[:10]) for r in data.runs]
    verdicts = {r.name: r.verdict for r in comparison_rows(data) if r.metric == metric}
    by_name: dict[str, MetricSeries] = {s.name: s for s in data.series if s.metric == metric}
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for line, name in enumerate(names):
        s = by_name[name]
        xs = [order[r] for r in s.run_ids if r in order]
        ys = [v for r, v in zip(s.run_ids, s.values, strict=True) if r in order]
        if not ys:
            continue
        center = statistics.median(ys) or 1.0
        scale, unit = _unit_scale(metric, ys)
        color = _COLORS.get(verdicts.get(name))  # type: ignore[arg-type]
        ax.plot(xs, [y / center for y in ys],
                marker=_MARKERS[line % len(_MARKERS)] if len(xs) <= 60 else None,
                linestyle=_DASHES[line % len(_DASHES)],
                markersize=4, linewidth=1.6, color=color,
                label=f"{_short(name)} (median {center / scale:.3g} {unit})")
    ax.axhline(1.0, color="#57606a", linewidth=1, linestyle="--")
    ax.set_title(title)
    ax.set_xlabel("commit (oldest → newest)")
    ax.set_ylabel("value / benchmark median (1 = typical)")
    step = max(1, math.ceil(len(labels) / _MAX_TICKS))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=40, ha="right", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    return _png(fig)


def render_distribution_png(data: ReportData) -> bytes:
    """Baseline vs current samples (box plots) of the most changed benchmarks."""
    title = "Time samples: baseline vs current"
    if data.baseline is None or data.current is None:
        return _empty(title, "No baseline to compare with yet.")
    pairs = []
    for r in comparison_rows(data):
        if r.metric != TIME_METRIC:
            continue
        entry = data.baseline.entry(r.name, TIME_METRIC)
        result = data.current.benchmark(r.name)
        if entry is None or result is None or not (entry.samples and result.samples_s):
            continue
        pairs.append((r, entry.samples, result.samples_s))
        if len(pairs) == _MAX_LINES:
            break
    if not pairs:
        return _empty(title, "No benchmark has samples in both baseline and current run.")
    fig = Figure(figsize=(4 * min(len(pairs), 3), 3.8 * math.ceil(len(pairs) / 3)),
                 layout="constrained")
    fig.suptitle(title)
    cols = min(len(pairs), 3)
    for k, (row, base, cur) in enumerate(pairs):
        ax = fig.add_subplot(math.ceil(len(pairs) / cols), cols, k + 1)
        scale, unit = seconds_scale(statistics.median(base) or 1.0)
        box = ax.boxplot([np.asarray(base) / scale, np.asarray(cur) / scale],
                         patch_artist=True, widths=0.5,
                         medianprops={"color": "black", "linewidth": 1.5})
        ax.set_xticks([1, 2], ["baseline", "current"])
        for patch, color in zip(box["boxes"], ("#d0d7de", _COLORS[row.verdict]), strict=True):
            patch.set_facecolor(color)
        # The A/B's ratio is of its own rounds, not of these samples: marked as such.
        # ... and a ratio relative to the suite-wide shift gives the raw one beside it.
        ax.set_title(f"{_short(row.name, 36)}\n{row.verdict} · ratio {row.ratio_label}"
                     f"{row.raw_label}",
                     fontsize=9)
        ax.set_ylabel(f"time per call ({unit})")
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def render_correlation_png(data: ReportData) -> bytes:
    """Heatmap of the metric correlations (see ``correlation.py``)."""
    title = "How the metrics move together (Spearman ρ of relative changes)"
    metrics, matrix = metric_correlation(data)
    if not matrix:
        return _empty(title, "Not enough varying metrics to correlate yet.")
    labels = [metric_label(m) for m in metrics]
    z = np.array([[np.nan if v is None else v for v in row] for row in matrix])
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(z, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if not np.isnan(z[i, j]):
                ax.text(j, i, f"{z[i, j]:.2f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(z[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, label="Spearman ρ")
    ax.set_title(title, fontsize=11)
    return _png(fig)


#: The PNGs of a report, as ``render_plots`` names them.
PLOT_FILES = ("trend_time.png", "trend_memory.png", "distribution.png", "correlation.png")


def render_plots(data: ReportData) -> dict[str, bytes]:
    """Every PNG of a report, keyed by file name (``PLOT_FILES``)."""
    return dict(zip(PLOT_FILES, (
        render_trend_png(data, metric=TIME_METRIC),
        render_trend_png(data, metric="peak_rss_bytes"),
        render_distribution_png(data),
        render_correlation_png(data),
    ), strict=True))
