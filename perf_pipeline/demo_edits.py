"""Source edits that the demo commits on top of the example target.

The demo (and the end-to-end tests) need a history with a known answer: commits that
change nothing measurable, and one commit with a real, deliberate slowdown in one
function of ``examples/ml_pipeline/core``. The slowdown is an ordinary code change (a
vectorised computation rewritten as a per-row Python loop that gives the same result),
not a sleep or a flag, so it exercises the framework the way a real regression would,
and the example's own unit tests still pass after it.

Each edit replaces one exact piece of text that must occur exactly once: if the example
changes underneath it, or it was applied already, applying fails loudly instead of
building a history with no regression in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from perf_pipeline.errors import InvalidInputError

__all__ = ["NEUTRAL_EDIT", "SLOWDOWN_EDIT", "DemoEdit", "slowed_benchmark"]


@dataclass(frozen=True, slots=True)
class DemoEdit:
    """Replace ``old`` by ``new`` in ``path`` (relative to the example target root)."""

    path: str
    old: str
    new: str
    message: str

    def __post_init__(self) -> None:
        rel = PurePosixPath(self.path)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise InvalidInputError(f"edit path must be relative inside the target: {self.path!r}")
        if not self.old or self.old == self.new:
            raise InvalidInputError(f"edit of {self.path}: `old` must be non-empty and differ "
                                    "from `new`")
        if not self.message.strip():
            raise InvalidInputError(f"edit of {self.path}: commit message is empty")

    def apply(self, root: Path) -> None:
        """Rewrite the file under ``root``; raise ``InvalidInputError`` if ``old`` is not
        found exactly once (for instance because the edit was applied already)."""
        target = Path(root) / self.path
        try:
            text = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot read {target} to apply demo edit: {exc}") from exc
        count = text.count(self.old)
        if count != 1:
            hint = " (already applied?)" if count == 0 and self.new in text else ""
            raise InvalidInputError(
                f"{target}: the text this demo edit replaces must occur exactly once, "
                f"found {count} times{hint}; edit: {self.message!r}")
        try:
            target.write_text(text.replace(self.old, self.new), encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot write {target}: {exc}") from exc


#: A docstring clarification: no behaviour change at all.
NEUTRAL_EDIT = DemoEdit(
    path="core/model.py",
    old='    """Return the fraud probability of every row."""\n',
    new='    """Return the fraud probability of every row, in the order of ``rows``."""\n',
    message="Docs: say that predict_batch keeps the row order",
)

_FAST_WINDOW_STARTS = '''\
    """Index of the first event inside each event's window, for (entity, ts)-sorted rows.

    Both arrays must be sorted by entity, then time. Timestamps are replaced by their rank
    among all timestamps (``searchsorted`` keeps ``a > b`` ⇔ ``rank(a) > rank(b)``), which
    lets one integer key ``entity * (n + 1) + rank`` order all rows, and a single
    ``searchsorted`` finds every window start at once.
    """
    n = len(ts)
    sorted_ts = np.sort(ts)
    stride = np.int64(n + 1)
    keys = entity * stride + np.searchsorted(sorted_ts, ts, side="right")
    queries = entity * stride + np.searchsorted(sorted_ts, ts - window_ns, side="right")
    return np.searchsorted(keys, queries, side="right")
'''

_LOOP_WINDOW_STARTS = '''\
    """Index of the first event inside each event's window, for (entity, ts)-sorted rows.

    Both arrays must be sorted by entity, then time. For each event, walk back over the
    same entity's earlier events while they are still inside the window: obviously
    right, and easier to follow than the rank trick it replaces.
    """
    starts = np.empty(len(ts), dtype=np.int64)
    for i in range(len(ts)):
        j = i
        while j > 0 and entity[j - 1] == entity[i] and ts[j - 1] > ts[i] - window_ns:
            j -= 1
        starts[i] = j
    return starts
'''

#: The window starts of the rolling aggregates, rewritten from three vectorised
#: ``searchsorted`` calls into a per-event Python loop over each window's events: same
#: answer, ``rolling_aggregates`` about 4x slower (34 → 139 ms median, 30 000 events); no other
#: benchmark calls it inside its timed part.
SLOWDOWN_EDIT = DemoEdit(
    path="core/features.py",
    old=_FAST_WINDOW_STARTS,
    new=_LOOP_WINDOW_STARTS,
    message="features: find rolling window starts with a plain backward scan",
)


def slowed_benchmark() -> str:
    """Name of the benchmark test function that ``SLOWDOWN_EDIT`` slows down."""
    return "test_rolling_features_performance"
