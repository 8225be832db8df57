"""The pure bisect planner: it names the first commit of the new level in about log2(n)
probes wherever that commit is, passes over commits that cannot be measured, and
rejects bad input by name."""

from __future__ import annotations

import math

import pytest

from perf_pipeline.analysis import classify_value, plan_bisect
from perf_pipeline.errors import InvalidInputError


def _search(n: int, culprit: int, *, skipped: frozenset[int] = frozenset(),
            measured: tuple[int, ...] = ()) -> tuple[object, list[int]]:
    """Run a search over commits 0..n-1 whose level moves from 1.0 to 1.2 at ``culprit``."""
    commits = [f"c{i}" for i in range(n)]
    level = {c: (1.2 if i >= culprit else 1.0) for i, c in enumerate(commits)}
    values = {commits[i]: [level[commits[i]]] for i in measured}
    probes: list[int] = []
    while True:
        step = plan_bisect(commits, values, before=1.0, after=1.2,
                           skipped={commits[i] for i in skipped})
        if step.done:
            return step, probes
        i = commits.index(step.probe)
        probes.append(i)
        if i not in skipped:
            values[step.probe] = [level[step.probe]]


@pytest.mark.parametrize("n", [2, 3, 5, 16, 20, 33])
def test_bisect_names_every_culprit_within_log2_probes(n: int) -> None:
    for culprit in range(1, n):
        step, probes = _search(n, culprit)
        assert step.culprit == f"c{culprit}" and step.good == f"c{culprit - 1}"
        assert len(probes) <= math.ceil(math.log2(n - 1)) if n > 2 else not probes
        assert len(set(probes)) == len(probes)


def test_bisect_uses_commits_measured_before_the_search() -> None:
    # 20 commits, 0, 4, 9, 14, 19 measured (1, 5, 10, 15, 20 counted from one), level
    # moves at 12 (commit 13): only 11 and 12 are probed.
    step, probes = _search(20, 12, measured=(4, 9, 14))
    assert step.culprit == "c12" and probes == [11, 12]


def test_a_skipped_commit_is_passed_over() -> None:
    step, probes = _search(9, 4, skipped=frozenset({4}))
    # 4 cannot be measured: its neighbours decide; 4 itself or 5 carries the change.
    assert step.culprit is None and step.suspects == ("c4", "c5")
    assert 4 not in probes and step.done  # known to fail: never probed


def test_a_skipped_probe_moves_to_its_neighbour() -> None:
    step, probes = _search(9, 6, skipped=frozenset({4}))
    assert step.culprit == "c6" and 4 not in probes


def test_values_are_medians_of_replicates_and_spikes_of_one_replicate_do_not_count() -> None:
    step = plan_bisect(["a", "b", "c"], {"b": [1.0, 1.01, 5.0]}, before=1.0, after=1.2)
    assert step.culprit == "c" and dict(step.verdicts)["b"] == "good"


def test_one_noisy_bad_commit_does_not_outvote_the_good_ones_after_it() -> None:
    """c1 measured once on the new level, c2..c7 on the old one, c8 on the new: the
    first bad verdict used to win, naming c1 with six measured commits against it."""
    commits = [f"c{i}" for i in range(10)]
    values = {"c1": [1.26], **{f"c{i}": [1.0 + 0.01 * (i % 2)] for i in range(2, 8)},
              "c8": [1.25]}
    step = plan_bisect(commits, values, before=1.0, after=1.25)
    assert (step.good, step.culprit) == ("c7", "c8")
    assert step.outliers == ("c1",)
    assert dict(step.verdicts)["c1"] == "bad"  # the verdict is kept, and called an outlier


def test_a_tie_between_boundaries_keeps_searching_after_the_lone_slow_verdict() -> None:
    """c1 bad, c2 good: either is one wrong verdict. A timing is pushed slow by
    interference far more often than fast, so for a slowdown the slow (bad) c1 is taken
    for the noise: the search goes on after c2 instead of naming c1."""
    commits = [f"c{i}" for i in range(6)]
    step = plan_bisect(commits, {"c1": [1.25], "c2": [1.0]}, before=1.0, after=1.25)
    assert (step.good, step.bad, step.probe) == ("c2", "c5", "c3")
    assert step.outliers == ("c1",) and step.suspects == ("c3", "c4", "c5")


def test_a_tie_in_a_speedup_search_takes_the_slow_good_verdict_for_the_noise() -> None:
    commits = [f"c{i}" for i in range(6)]
    step = plan_bisect(commits, {"c1": [0.8], "c2": [1.0]}, before=1.0, after=0.8)
    assert (step.good, step.culprit, step.outliers) == ("c0", "c1", ("c2",))


def test_verdicts_that_agree_have_no_outliers() -> None:
    step, _ = _search(20, 7)
    assert step.culprit == "c7" and step.outliers == ()


def test_classify_value_uses_the_geometric_midpoint() -> None:
    mid = math.sqrt(1.0 * 1.2)
    assert classify_value(mid * 1.001, before=1.0, after=1.2) == "bad"
    assert classify_value(mid * 0.999, before=1.0, after=1.2) == "good"
    assert classify_value(0.85, before=1.0, after=0.8) == "bad"  # a speed-up searched too


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"commits": ["a"]}, "`commits` needs a good and a bad"),
    ({"commits": ["a", "b", "a"]}, "lists a commit twice"),
    ({"values": {"z": [1.0]}}, "outside the search"),
    ({"before": 1.0, "after": 1.0}, "same level"),
    ({"before": 0.0}, "`before` must be"),
    ({"after": math.nan}, "`after` must be"),
])
def test_plan_bisect_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"commits": ["a", "b", "c"], "values": {"b": [1.1]},
                               "before": 1.0, "after": 1.2}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        plan_bisect(args.pop("commits"), args.pop("values"), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1.2, ["1.2"], [None], "12", [True]])
def test_malformed_values_are_refused_by_name(bad: object) -> None:
    # a scalar or a string of a commit's replicates raised a bare TypeError (or was read
    # character by character)
    with pytest.raises(InvalidInputError, match=r"`values`\['b'\] must be a sequence"):
        plan_bisect(["a", "b", "c"], {"b": bad}, before=1.0, after=1.3)  # type: ignore[dict-item]
