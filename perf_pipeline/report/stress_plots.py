"""PNG plots of a commit's stress scenarios, baseline against current.

Per ramp: the throughput–latency curve (x: throughput of each load step, y: its p99; the
curve bends up where the code saturates, and a regression moves it left or up). Per
latency scenario: the latency percentiles on a "nines" axis (p50, p90, p99, p99.9, max),
where a heavier tail shows as a steeper right end. Built on ``Figure`` with the Agg canvas
(no pyplot state), as ``plots.py`` does.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Sequence

from perf_pipeline.model import StressFigure
from perf_pipeline.report.plots import literal

__all__ = ["render_stress_pngs"]

_DPI = 110
_STEP = re.compile(r"^step(\d+)_(throughput_ops_s|p99_s)$")
_PERCENTILES = (("p50_s", 50.0), ("p90_s", 90.0), ("p99_s", 99.0), ("p999_s", 99.9),
                ("max_s", 99.99))


def _by_scenario(figures: Sequence[StressFigure]
                 ) -> dict[tuple[str, str], dict[str, StressFigure]]:
    out: dict[tuple[str, str], dict[str, StressFigure]] = {}
    for f in figures:
        out.setdefault((f.test, f.scenario), {})[f.figure] = f
    return out


def _curve(figs: dict[str, StressFigure]) -> list[tuple[float, float, float]]:
    """(throughput, p99, load) per step, in step order."""
    steps: dict[int, dict[str, StressFigure]] = {}
    for name, f in figs.items():
        m = _STEP.match(name)
        if m:
            steps.setdefault(int(m.group(1)), {})[m.group(2)] = f
    out = []
    for i in sorted(steps):
        t, p = steps[i].get("throughput_ops_s"), steps[i].get("p99_s")
        if t and p and t.value is not None and p.value is not None:
            out.append((t.value, p.value, t.low or 0.0))
    return out


def _png(fig: object) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # type: ignore[arg-type]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)  # type: ignore[attr-defined]
    return buf.getvalue()


def _slug(test: str, scenario: str) -> str:
    """A file-name stem unique to ``(test, scenario)``: readable parts, then a hash.

    The readable parts alone collide (``test_api.py::test_load`` and
    ``test_db.py::test_load``; scenarios ``read/write`` and ``read write``), and a
    collision lost a plot: one overwrote the other, on disk and in the report's links.
    The hash of the full pair is stable, so a commit's plot keeps its name on a re-run.
    """
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "_", test.rsplit("::", 1)[-1])[:40]
    digest = hashlib.sha1(f"{test}\0{scenario}".encode()).hexdigest()[:8]
    return f"{tail}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', scenario)[:40]}-{digest}"


def render_stress_pngs(baseline: Sequence[StressFigure], current: Sequence[StressFigure],
                       *, baseline_label: str = "baseline",
                       current_label: str = "current") -> dict[str, bytes]:
    """``{file name: PNG}``: one curve per ramp, one percentile plot per latency scenario."""
    from matplotlib.figure import Figure

    base, cur = _by_scenario(baseline), _by_scenario(current)
    out: dict[str, bytes] = {}
    for key in sorted(cur):
        test, scenario = key
        sides = ((baseline_label, base.get(key, {}), "#6e7781"),
                 (current_label, cur[key], "#d1242f"))
        if any(_curve(figs) for _, figs, _ in sides):
            fig = Figure(figsize=(6.4, 4.0))
            ax = fig.add_subplot()
            for label, figs, color in sides:
                points = _curve(figs)
                if points:
                    ax.plot([p[0] for p in points], [p[1] * 1e3 for p in points], "o-",
                            color=color, label=label)
                    for x, y, load in points:
                        ax.annotate(f"{load:g}", (x, y * 1e3), textcoords="offset points",
                                    xytext=(3, 3), fontsize=7, color=color)
            ax.set(title=f"{literal(scenario)}: throughput vs p99 latency (labels: load)",
                   xlabel="throughput (ops/s)", ylabel="p99 latency (ms)")
            ax.set_yscale("log")
            ax.legend()
            fig.tight_layout()
            out[f"stress-{_slug(test, scenario)}-curve.png"] = _png(fig)
        if any("p99_s" in figs and "p50_s" in figs for _, figs, _ in sides):
            fig = Figure(figsize=(6.4, 4.0))
            ax = fig.add_subplot()
            for label, figs, color in sides:
                pts = [(q, figs[name].value) for name, q in _PERCENTILES
                       if name in figs and figs[name].value is not None]
                if pts:
                    # x = number of nines: p90 -> 1, p99 -> 2, p99.9 -> 3.
                    xs = [-math.log10(1 - q / 100) for q, _ in pts]
                    ax.plot(xs, [v * 1e3 for _, v in pts], "o-", color=color, label=label)
            ax.set_xticks([-math.log10(1 - q / 100) for _, q in _PERCENTILES],
                          ["p50", "p90", "p99", "p99.9", "max"])
            ax.set(title=f"{literal(scenario)}: latency percentiles", ylabel="latency (ms)")
            ax.set_yscale("log")
            ax.legend()
            fig.tight_layout()
            out[f"stress-{_slug(test, scenario)}-percentiles.png"] = _png(fig)
    return out
