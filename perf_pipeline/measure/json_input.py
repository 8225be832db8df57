"""Reading one untrusted JSON file: bounded, in one pass, with accurate errors.

Results files come from anywhere (CI caches, other people's projects, a half-written
upload), so reading one must never hang, exhaust memory or crash:

- the path is opened without blocking and must be a regular file: a FIFO would block
  ``read`` forever, and a symlink loop or a dangling link is reported as what it is;
- the size is bounded (``MAX_JSON_BYTES``) before anything is read;
- a gzipped file (our raw run files, ``raw.py``) is inflated, bounded the same way;
  the inflated text is what the rest reads (its size picks the compact float arrays);
- the bytes are read once; the SHA-256 (a foreign file's identity) is taken from the
  same buffer, which is dropped before the objects are built;
- with ``float_arrays`` (the results loader), a list of floats under one of the given
  keys (pytest-benchmark's ``stats.data``) in a file of ``FLOAT_ARRAYS_FROM_BYTES`` or
  more comes back as an ``array('d')``: 8 bytes a sample instead of a float object (32
  with pymalloc's rounding) and a pointer (8). Python's ``json`` builds one object per
  number, so ten million samples (a 229 MB file) cost 400 MB of objects on top of the
  text; with the arrays the peak of a read is the bytes and the text (2x the file) and
  the parse stays under it. The C scanner still does all the parsing, so what is valid
  JSON and what each value is does not change (NaN and Infinity are read as Python
  reads them, for the value checks to name them). Smaller files are parsed by plain
  ``json``: the per-float hook costs ~25 % of the parse, and their objects are small;
- nesting is bounded (``MAX_JSON_DEPTH``): the parser's own recursion limit gives a
  ``RecursionError`` far deeper than anything we read, and a merely deep document would
  still reach ``str()``/``json.dumps`` of parameter values later;
- every string, keys included, must be valid Unicode: JSON may spell a lone surrogate
  (``"\\ud800"``), which SQLite and UTF-8 files cannot hold.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
from array import array
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perf_pipeline.bounded_gzip import GZIP_MAGIC, inflate_bounded
from perf_pipeline.errors import InvalidInputError

__all__ = ["FLOAT_ARRAYS_FROM_BYTES", "MAX_JSON_BYTES", "MAX_JSON_DEPTH", "JsonFile",
           "describe_os_error", "path_kind", "read_json_file"]

#: Larger results files are refused before they are read (10M samples is ~210 MB).
MAX_JSON_BYTES = 1 << 30
#: Our files nest 6 levels; parameter values may add a few.
MAX_JSON_DEPTH = 64
#: From this size on, ``float_arrays`` applies (about 700,000 samples).
FLOAT_ARRAYS_FROM_BYTES = 16 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


@dataclass(frozen=True, slots=True)
class JsonFile:
    """A parsed document and the SHA-256 of the bytes it was parsed from."""

    doc: Any
    sha256: str


def describe_os_error(path: Path, exc: OSError) -> str:
    """What went wrong, in words that tell a symlink loop from a missing file."""
    if exc.errno == errno.ELOOP:
        return "it is a symlink loop (too many levels of symbolic links)"
    if exc.errno == errno.ENOENT:
        return ("it is a dangling symlink" if os.path.islink(path) else "it does not exist")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOTDIR:
        return "a parent of it is not a directory"
    return exc.strerror or str(exc)


def _file_kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def path_kind(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file one can read ("a FIFO (named pipe)",
    "a dangling link", …); None for a regular file (followed through links) or nothing
    there at all."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "a dangling link" if os.path.islink(path) else None
    except OSError as exc:
        return f"unreadable ({describe_os_error(Path(path), exc)})"
    return None if stat.S_ISREG(info.st_mode) else _file_kind(info.st_mode)


def _read_bytes(path: Path, what: str, max_bytes: int) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read {what} {path}: {describe_os_error(path, exc)}") from exc
    with open(fd, "rb", buffering=0, closefd=True) as fh:
        try:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise InvalidInputError(
                    f"{what} {path} is {_file_kind(info.st_mode)}, not a regular file")
            if info.st_size > max_bytes:
                raise InvalidInputError(f"{what} {path} is {info.st_size:,} bytes; the "
                                        f"limit is {max_bytes:,}")
            raw = fh.readall()  # sized from fstat: one allocation of the file's size
        except OSError as exc:
            raise InvalidInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if len(raw) > max_bytes:
        raise InvalidInputError(f"{what} {path} grew past {max_bytes:,} bytes while read")
    return raw


def _check_tree(doc: Any, path: Path, what: str, max_depth: int) -> None:
    """Depth and Unicode checks over every container and string, without recursion."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise InvalidInputError(f"{what} {path} nests deeper than {max_depth} levels")
        if isinstance(node, dict):
            items: Any = node.values()
            for key in node:
                _check_text(key, path, what)
        else:
            items = node
        for child in items:
            kind = type(child)
            if kind is float or kind is int:
                continue
            if kind is str:
                _check_text(child, path, what)
            elif kind is dict or kind is list:
                stack.append((child, depth + 1))


def _check_text(text: str, path: Path, what: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} {path} holds a string that is not valid Unicode "
            f"(a lone surrogate at character {exc.start}): {text[:40]!r}") from exc


#: What a float parsed into the array stands for until its object closes.
_MARK = object()
_CONSTANTS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class _FloatArrays:
    """Parser hooks that put every float of the document into one ``array('d')``.

    ``parse_float`` appends the value and leaves ``_MARK`` in its place. Floats come in
    document order, and an object's hook runs when the object closes, after everything
    inside it; so the marks still in an object (its own values and those in its lists,
    not in objects already closed) are exactly the last floats of the array. The hook
    puts them back, as an ``array('d')`` for a list of floats under one of ``keys``
    (one slice copy, no objects) or as floats anywhere else, and drops them from the
    array. Marks outside any object (a top-level list) are put back at the end.
    """

    def __init__(self, keys: Collection[str]) -> None:
        self.keys = frozenset(keys)
        self.floats = array("d")
        self.pos = 0
        append = self.floats.append

        def parse_float(text: str, _append: Any = append, _float: Any = float,
                        _mark: object = _MARK) -> object:
            _append(_float(text))
            return _mark

        def parse_constant(name: str) -> object:
            append(_CONSTANTS[name])
            return _MARK

        self.decoder = json.JSONDecoder(parse_float=parse_float,
                                        parse_constant=parse_constant,
                                        object_pairs_hook=self._object)

    def decode(self, text: str) -> Any:
        doc = self.decoder.decode(text)
        if self.floats:  # marks outside every object: a top-level list or number
            self.pos = 0
            doc = self._fill(doc, array_ok=False)
            del self.floats[:]
        return doc

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        need = 0
        for _, value in pairs:
            if value is _MARK:
                need += 1
            elif type(value) is list:
                need += _marks_in(value)
        if need:
            start = len(self.floats) - need
            self.pos = start
            keys = self.keys
            pairs = [(key, self._fill(value, array_ok=key in keys)) for key, value in pairs]
            del self.floats[start:]
        return dict(pairs)

    def _fill(self, value: Any, *, array_ok: bool) -> Any:
        if value is _MARK:
            self.pos += 1
            return self.floats[self.pos - 1]
        if type(value) is not list:
            return value
        n = value.count(_MARK)
        if not n and not _marks_in(value):
            return value
        if n and n == len(value):
            pos = self.pos
            self.pos += n
            chunk = self.floats[pos:pos + n]
            return chunk if array_ok else chunk.tolist()
        return [self._fill(item, array_ok=False) for item in value]


def _marks_in(items: list[Any]) -> int:
    n = items.count(_MARK)
    if n == len(items):
        return n
    for item in items:
        if type(item) is list:
            n += _marks_in(item)
    return n


def read_json_file(path: Path, *, what: str = "results file",
                   max_bytes: int = MAX_JSON_BYTES,
                   max_depth: int = MAX_JSON_DEPTH,
                   float_arrays: Collection[str] = (),
                   arrays_from_bytes: int | None = None) -> JsonFile:
    """Parse the JSON file at ``path`` under the limits above; ``InvalidInputError`` if not.

    In a file of ``arrays_from_bytes`` (default ``FLOAT_ARRAYS_FROM_BYTES``) or more, a
    list of floats under a key in ``float_arrays`` comes back as an ``array('d')``.
    """
    path = Path(path)
    raw = _read_bytes(path, what, max_bytes)
    if raw[:2] == GZIP_MAGIC:  # our raw files are kept gzipped (raw.py)
        raw = inflate_bounded(raw, f"{what} {path}", max_bytes)
    if len(raw) < (FLOAT_ARRAYS_FROM_BYTES if arrays_from_bytes is None else arrays_from_bytes):
        float_arrays = ()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode(json.detect_encoding(raw))
    except (UnicodeDecodeError, LookupError) as exc:
        raise InvalidInputError(f"{what} {path} is not UTF-8 text: {exc}") from exc
    del raw  # the bytes are not needed while the objects are built
    try:
        doc = _FloatArrays(float_arrays).decode(text) if float_arrays else json.loads(text)
    except RecursionError as exc:
        raise InvalidInputError(
            f"{what} {path} nests deeper than {max_depth} levels") from exc
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4300 digits
        raise InvalidInputError(
            f"{what} {path} is not valid JSON (truncated or corrupt?): {exc}") from exc
    del text
    if isinstance(doc, (dict, list)):
        _check_tree(doc, path, what, max_depth)
    elif isinstance(doc, str):
        _check_text(doc, path, what)
    return JsonFile(doc, digest)
