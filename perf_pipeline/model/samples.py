"""``Samples``: a benchmark's timed samples as compact read-only float64."""

from __future__ import annotations

import math
import operator
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

__all__ = ["Samples"]


class Samples(Sequence[float]):
    """Read-only float64 samples: 8 bytes a sample instead of a float object and a pointer.

    A benchmark of ten million rounds is common (pytest-benchmark's defaults on a
    sub-microsecond function); as a tuple of floats it costs 320 MB, 1.5x the JSON file
    it came from, and it lived through the whole ingest. Here the values sit in one
    contiguous float64 buffer (an ``array('d')`` or a numpy array) behind a read-only
    ``memoryview``: indexing and iteration give floats, ``np.asarray`` is a zero-copy
    read-only view, and sorting (``sorted_copy``) happens in numpy, never in a list.

    Samples equal other Samples, and tuples, of the same values (samples were tuples
    before; code and tests that compare with one keep working); like a tuple, never a
    list. The hash is a tuple's of the same values, so equal objects hash alike.
    """

    __slots__ = ("_hash", "_median", "_view")
    _view: memoryview
    _hash: int | None
    _median: float | None

    def __init__(self, values: Iterable[float] = ()) -> None:
        """A copy of ``values``: any iterable of numbers, or a float64 buffer (copied
        at C speed, e.g. another ``Samples``' or a numpy array's)."""
        self._hash = self._median = None
        if isinstance(values, Samples):
            self._view = values._view
            return
        data = array("d")
        view = _float64_view(values)
        if view is not None:
            data.frombytes(view.cast("B"))
        else:
            data.extend(values)
        self._view = memoryview(data).toreadonly()

    @classmethod
    def adopt(cls, data: Any) -> Samples:
        """Samples over ``data`` (an ``array('d')`` or a 1-D float64 numpy array) without
        a copy. The caller hands it over: nothing may change it afterwards."""
        view = _float64_view(data)
        if view is None:
            raise TypeError(f"Samples.adopt needs a contiguous float64 buffer, not "
                            f"{type(data).__name__}")
        out = cls.__new__(cls)
        out._view = view.toreadonly()
        out._hash = out._median = None
        return out

    @classmethod
    def concat(cls, parts: Iterable[Samples]) -> Samples:
        """The samples of ``parts`` one after the other (pooling runs or processes)."""
        data = array("d")
        for part in parts:
            data.frombytes(Samples(part)._view.cast("B"))
        return cls.adopt(data)

    @classmethod
    def from_bytes(cls, data: bytes, little_endian: bool = True) -> Samples:
        """Samples from packed float64 bytes (the store's BLOBs are little-endian)."""
        values = array("d")
        values.frombytes(data)
        if little_endian != (sys.byteorder == "little"):  # pragma: no cover - big-endian
            values.byteswap()
        return cls.adopt(values)

    def median(self) -> float:
        """The median (NaN when empty), kept: a replay asks each benchmark's median
        millions of times, and the samples never change."""
        if self._median is None:
            s = self.sorted_copy()
            mid = len(s) // 2
            self._median = (math.nan if not s else s[mid] if len(s) % 2
                            else (s[mid - 1] + s[mid]) / 2)
        return self._median

    def count_nonpositive(self) -> int:
        """How many samples are <= 0 (a round below the timer's resolution reads 0.0)."""
        if len(self._view) < 64:
            return sum(1 for v in self._view if v <= 0.0)
        import numpy as np  # as in sorted_copy: no float object per sample

        return int(np.count_nonzero(np.frombuffer(self._view, dtype=np.float64) <= 0.0))

    def sorted_copy(self) -> Samples:
        """The samples in ascending order, as new compact Samples (numpy's sort: no
        float object per sample, as ``sorted()`` of ten million would make)."""
        if len(self._view) < 64:
            return Samples.adopt(array("d", sorted(self._view)))
        import numpy as np  # already loaded by every command that sorts big samples

        return Samples.adopt(np.sort(np.frombuffer(self._view, dtype=np.float64)))

    @property
    def buffer(self) -> memoryview:
        """The values as a read-only float64 ``memoryview`` in the host's byte order."""
        return self._view

    def tolist(self) -> list[float]:
        return self._view.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        """``np.asarray(samples)``: a read-only view, no copy (``copy=True``: a copy)."""
        import numpy as np

        out = np.frombuffer(self._view, dtype=np.float64)
        if dtype is not None and np.dtype(dtype) != out.dtype:
            return out.astype(dtype)
        return out.copy() if copy else out

    def __len__(self) -> int:
        return len(self._view)

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> Samples: ...

    def __getitem__(self, index: int | slice) -> float | Samples:
        if isinstance(index, slice):
            view = self._view[index]
            if not view.c_contiguous:  # a step: copied, so the buffer stays contiguous
                return Samples(view.tolist())
            out = Samples.__new__(Samples)
            out._view = view
            out._hash = out._median = None
            return out
        return self._view[index]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[float]:
        return iter(self._view)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Samples):
            return self._view == other._view
        if isinstance(other, tuple):
            return len(other) == len(self._view) and all(map(operator.eq, self._view, other))
        return NotImplemented

    def __add__(self, other: object) -> Samples:
        """Concatenation, as of tuples: ``Samples + Samples`` or ``Samples + tuple``."""
        if not isinstance(other, (Samples, tuple)):
            return NotImplemented
        return Samples.concat((self, Samples(other)))

    def __radd__(self, other: object) -> Samples:
        if not isinstance(other, tuple):
            return NotImplemented
        return Samples.concat((Samples(other), self))

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._view.tolist()))
        return self._hash

    def __repr__(self) -> str:
        n = len(self._view)
        head = ", ".join(repr(v) for v in self._view[:5].tolist())
        return f"Samples([{head}{', ...' if n > 5 else ''}], n={n})"

    def __reduce__(self) -> tuple[Any, ...]:  # pickling (Dagster's IO managers)
        return (Samples.from_bytes, (self._view.tobytes(), sys.byteorder == "little"))


def _float64_view(values: object) -> memoryview | None:
    """A 1-D contiguous float64 view of ``values`` if it exposes one, else None."""
    if isinstance(values, (array, memoryview)) or hasattr(values, "__array_interface__"):
        try:
            view = memoryview(values)  # type: ignore[arg-type]
        except TypeError:
            return None
        if view.format == "d" and view.ndim == 1 and view.c_contiguous:
            return view
    return None
