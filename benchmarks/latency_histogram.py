"""The stress harness's latency histogram: recording cost and error, against the
alternatives.

    uv run python benchmarks/latency_histogram.py [--n 200000]

Prints, for n lognormal latencies (median ~1 ms, long tail):
* the cost of recording one value in ``LatencyHistogram`` (what each worker pays per
  operation), next to appending to a list (the floor) and, when the ``hdrhistogram``
  package is importable here, ``HdrHistogram.record_value``;
* the worst relative error of p50/p90/p99/p99.9 against exact percentiles of the same
  values (the bound is 2**-SUB_BITS = 0.39 %);
* the size of the stored JSON against keeping every value.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from perf_pipeline.measure.latency_histogram import SUB_BITS, LatencyHistogram


def _per_call_ns(fn, values) -> float:
    start = time.perf_counter_ns()
    for v in values:
        fn(v)
    return (time.perf_counter_ns() - start) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(1)
    values_ns = [int(rng.lognormvariate(13.8, 1.0)) for _ in range(args.n)]
    hist = LatencyHistogram()
    floor: list[int] = []
    print(f"n = {args.n}")
    print(f"list.append            {_per_call_ns(floor.append, values_ns):7.0f} ns/value")
    print(f"LatencyHistogram       {_per_call_ns(hist.record_ns, values_ns):7.0f} ns/value")
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError:
        print("HdrHistogram           (package not installed here)")
    else:
        hdr = HdrHistogram(1, 3_600_000_000_000, 2)
        print(f"HdrHistogram           {_per_call_ns(hdr.record_value, values_ns):7.0f} ns/value")
    exact = sorted(values_ns)
    worst = 0.0
    for q in (0.5, 0.9, 0.99, 0.999):
        true = exact[max(0, -(-int(q * len(exact) * 1_000_000) // 1_000_000) - 1)]
        got = hist.value_at_quantile_s(q) * 1e9
        worst = max(worst, abs(got - true) / true)
    print(f"worst percentile error {worst:.4%} (bound {2.0 ** -SUB_BITS:.4%})")
    stored = len(json.dumps(hist.to_dict()))
    raw = len(json.dumps(values_ns))
    print(f"stored JSON            {stored} bytes ({len(hist.counts)} buckets) "
          f"vs {raw} bytes for every value")


if __name__ == "__main__":
    main()
