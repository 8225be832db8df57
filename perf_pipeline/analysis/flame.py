"""Call paths for a differential flame (icicle) chart, from cProfile's call graph.

cProfile keeps a call *graph* (time per caller → callee edge), not whole stacks, so the
tree is rebuilt the way gprof does: a path's time is split among the callees of its last
function in proportion to each callee edge's share of that function's cumulative time.
That is exact for a function called from one place and an estimate otherwise, which is
what a chart that points at the place to look needs. Both commits' graphs are expanded
over the union of their edges, so a path that exists at one commit only shows up with
zero on the other side. Values are seconds per benchmark call (means over the repeats).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from perf_pipeline.model import FlameNode, TimeProfile

__all__ = ["build_flame"]

_SEP = " > "


def _graph(profiles: Sequence[TimeProfile]) -> tuple[dict[str, float],
                                                      dict[str, dict[str, float]], set[str]]:
    cum: dict[str, float] = defaultdict(float)
    edges: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    roots: set[str] = set()
    n = len(profiles)
    for p in profiles:
        for f in p.functions:
            cum[f.key] += f.cum_s / p.calls / n
            outside = [e for e in f.callers if e[0] != f.key]
            if not outside:
                roots.add(f.key)
            for caller, _calls, _own, edge_cum in outside:
                edges[caller][f.key] += edge_cum / p.calls / n
    return cum, edges, roots


def build_flame(base: Sequence[TimeProfile], candidate: Sequence[TimeProfile], *,
                min_share: float = 0.005, max_depth: int = 16,
                max_nodes: int = 3000) -> tuple[FlameNode, ...]:
    """Paths from the roots (the benchmarked function) down, both sides' seconds per call.

    Paths below ``min_share`` of the larger side's total on both sides are left out, as
    are paths deeper than ``max_depth`` and any beyond ``max_nodes``; recursion stops at a
    function already on the path.
    """
    if not base or not candidate:
        return ()
    (cum_b, edges_b, roots_b), (cum_c, edges_c, roots_c) = _graph(base), _graph(candidate)
    roots = sorted(roots_b | roots_c, key=lambda k: -max(cum_b.get(k, 0.0), cum_c.get(k, 0.0)))
    total = max(sum(cum_b.get(r, 0.0) for r in roots), sum(cum_c.get(r, 0.0) for r in roots))
    floor = min_share * total
    nodes: list[FlameNode] = []

    def share(edges: dict[str, dict[str, float]], cum: dict[str, float], key: str,
              child: str) -> float:
        whole = cum.get(key, 0.0)
        return min(edges.get(key, {}).get(child, 0.0) / whole, 1.0) if whole > 0 else 0.0

    stack: list[tuple[str, str, str, float, float, int, frozenset[str]]] = [
        (root, "", root, cum_b.get(root, 0.0), cum_c.get(root, 0.0), 1, frozenset([root]))
        for root in reversed(roots)]
    while stack and len(nodes) < max_nodes:
        path, parent, key, value_b, value_c, depth, seen = stack.pop()
        if max(value_b, value_c) < floor:
            continue
        nodes.append(FlameNode(path=path, parent=parent, key=key, base_s=value_b,
                               candidate_s=value_c))
        if depth >= max_depth:
            continue
        children = (set(edges_b.get(key, {})) | set(edges_c.get(key, {}))) - seen
        ordered = sorted(children, key=lambda ch: max(
            value_b * share(edges_b, cum_b, key, ch), value_c * share(edges_c, cum_c, key, ch)))
        for child in ordered:
            stack.append((f"{path}{_SEP}{child}", path, child,
                          value_b * share(edges_b, cum_b, key, child),
                          value_c * share(edges_c, cum_c, key, child), depth + 1,
                          seen | {child}))
    return tuple(nodes)
