"""Noise corpus files (``.json.gz``): writing them compactly, reading them strictly.

A corpus is recorded once, committed, and replayed by every study and test that needs
real noise, so the reader trusts nothing: an unknown ``schema_version`` or ``kind``, a
truncated gzip stream, broken JSON, a side with a missing benchmark or a sample that is
not a positive finite time is an ``InvalidInputError`` naming the file. Samples are
written with 7 significant digits: timer resolution and run-to-run noise are both far
coarser, and it keeps a corpus of hundreds of processes small enough to commit.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from pathlib import Path

from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.bounded_gzip import GZIP_MAGIC, inflate_bounded
from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import NoiseCorpus, NoisePair
from perf_pipeline.store.strict_json import load_json

__all__ = ["NOISE_CORPUS_KIND", "NOISE_CORPUS_VERSION", "load_noise_corpus",
           "write_noise_corpus"]

NOISE_CORPUS_KIND = "perf_pipeline.noise_corpus"
NOISE_CORPUS_VERSION = 1
_DIGITS = 7


def _compact(value: float) -> float:
    return float(f"{value:.{_DIGITS}g}")


def _side(samples: tuple[tuple[float, ...], ...], names: tuple[str, ...]) -> dict[str, list]:
    return {name: [_compact(v) for v in values] for name, values in zip(names, samples,
                                                                        strict=True)}


def corpus_to_json(corpus: NoiseCorpus) -> bytes:
    """The corpus as (uncompressed) JSON bytes: one line per pair, so diffs stay readable."""
    head = {
        "schema_version": NOISE_CORPUS_VERSION, "kind": NOISE_CORPUS_KIND,
        "suite": corpus.suite, "commit": corpus.commit, "recorded_at": corpus.recorded_at,
        "machine": dict(corpus.machine), "note": corpus.note,
        "benchmarks": list(corpus.benchmarks),
    }
    pairs = [json.dumps({"order": list(p.order), "started_at": p.started_at,
                         "a": _side(p.a, corpus.benchmarks),
                         "b": _side(p.b, corpus.benchmarks)},
                        ensure_ascii=False, allow_nan=False, separators=(",", ":"))
             for p in corpus.pairs]
    text = json.dumps(head, ensure_ascii=False, allow_nan=False, indent=1)
    text = text[:-2] + ',\n "pairs": [\n  ' + ",\n  ".join(pairs) + "\n ]\n}\n"
    return text.encode()


def write_noise_corpus(corpus: NoiseCorpus, path: Path) -> Path:
    """Atomically write ``corpus`` to ``path``: gzip-compressed if it ends in ``.gz``.

    The gzip header carries no time stamp, so the same corpus gives the same bytes.
    """
    if not isinstance(corpus, NoiseCorpus):
        raise InvalidInputError(f"write_noise_corpus needs a NoiseCorpus, not "
                                f"{type(corpus).__name__}")
    path = Path(path)
    data = corpus_to_json(corpus)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as exc:
        raise StoreError(f"noise corpus {path}: cannot write: {exc}") from exc
    return path


#: A corpus of 1,000 pairs of 60 benchmarks is about 100 MB of JSON: far above it, a
#: file is no corpus (a gzip bomb must not fill the memory before it is refused).
MAX_CORPUS_BYTES = 1 << 30


def _decode(raw: bytes, what: str) -> object:
    if raw[:2] == GZIP_MAGIC:
        raw = inflate_bounded(raw, what, MAX_CORPUS_BYTES)
    return load_json(raw, what)


def _pair(data: object, index: int, names: tuple[str, ...], what: str) -> NoisePair:
    where = f"{what}: pair {index}"
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{where} is not an object")
    sides = {}
    for side in ("a", "b"):
        values = data.get(side)
        if not isinstance(values, Mapping):
            raise InvalidInputError(f"{where} side {side!r} is not an object")
        if set(values) != set(names):
            missing = sorted(set(names) - set(values))
            extra = sorted(set(values) - set(names))
            raise InvalidInputError(f"{where} side {side!r} does not match the benchmark "
                                    f"list (missing {missing}, unknown {extra})")
        sides[side] = tuple(_samples(values[name], f"{where} side {side!r} {name!r}")
                            for name in names)
    try:
        order = data.get("order")
        return NoisePair(order=tuple(order) if isinstance(order, list) else (),  # type: ignore[arg-type]
                         started_at=str(data.get("started_at") or ""),
                         a=sides["a"], b=sides["b"])
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from exc


def _samples(values: object, where: str) -> tuple[float, ...]:
    if not isinstance(values, list):
        raise InvalidInputError(f"{where} is not a list of samples")
    return tuple(values)  # NoisePair checks each sample


def load_noise_corpus(path: Path) -> NoiseCorpus:
    """Read a corpus written by ``write_noise_corpus`` (``.json.gz`` or plain ``.json``)."""
    path = Path(path)
    what = f"noise corpus {path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{what} cannot be read: {exc}") from exc
    data = _decode(raw, what)
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what} does not hold a JSON object")
    if data.get("kind") != NOISE_CORPUS_KIND:
        raise InvalidInputError(f"{what} is a {data.get('kind')!r} file, not a noise corpus")
    version = data.get("schema_version")
    if version != NOISE_CORPUS_VERSION:
        raise InvalidInputError(f"{what} has schema_version {version!r}; this "
                                f"perf_pipeline reads {NOISE_CORPUS_VERSION}")
    names = data.get("benchmarks")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInputError(f"{what}: benchmarks is not a list of names")
    machine = data.get("machine")
    if not isinstance(machine, Mapping):
        raise InvalidInputError(f"{what}: machine is not an object")
    pairs = data.get("pairs")
    if not isinstance(pairs, list):
        raise InvalidInputError(f"{what}: pairs is not a list")
    try:
        return NoiseCorpus(
            suite=str(data.get("suite") or ""), commit=str(data.get("commit") or ""),
            recorded_at=str(data.get("recorded_at") or ""),
            machine=tuple((str(k), str(v)) for k, v in machine.items()),
            note=str(data.get("note") or ""), benchmarks=tuple(names),
            pairs=tuple(_pair(p, i, tuple(names), what) for i, p in enumerate(pairs)))
    except InvalidInputError as exc:
        if str(exc).startswith(what):
            raise
        raise InvalidInputError(f"{what}: {exc}") from exc
