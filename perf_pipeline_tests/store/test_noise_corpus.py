"""The noise corpus codec: round trip, compactness, and strict rejection."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import NoiseCorpus, NoisePair
from perf_pipeline.store import load_noise_corpus, write_noise_corpus

SHA = "d70912d6330acaee572c32fa1554b5c4faddf833"


def make_corpus(n_pairs: int = 3) -> NoiseCorpus:
    pairs = tuple(
        NoisePair(order=("a", "b") if i % 2 else ("b", "a"),
                  started_at=f"2026-11-30T09:{i:02d}:00+00:00",
                  a=((0.001 * (1 + i / 100), 0.0011), (2.0 + i, 2.1, 2.2)),
                  b=((0.00105,), (2.05, 1.95)))
        for i in range(n_pairs))
    return NoiseCorpus(suite="benchmarks", commit=SHA, recorded_at=pairs[0].started_at,
                       machine={"cpu_model": "AMD EPYC", "cpu_count": "2"}.items(),
                       note="test corpus", benchmarks=("t.py::test_a", "t.py::test_b"),
                       pairs=pairs)


def test_round_trip_gzip_and_plain(tmp_path: Path) -> None:
    corpus = make_corpus()
    for name in ("c.json.gz", "c.json"):
        path = write_noise_corpus(corpus, tmp_path / "sub" / name)
        assert load_noise_corpus(path) == corpus
    assert (tmp_path / "sub" / "c.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    # the same corpus gives the same bytes (no time stamp in the gzip header)
    first = (tmp_path / "sub" / "c.json.gz").read_bytes()
    write_noise_corpus(corpus, tmp_path / "sub" / "c.json.gz")
    assert (tmp_path / "sub" / "c.json.gz").read_bytes() == first


def test_samples_are_kept_to_seven_significant_digits(tmp_path: Path) -> None:
    pair = NoisePair(order=("a", "b"), started_at="2026-01-01T00:00:00+00:00",
                     a=((0.0012345678912,),), b=((1 / 3,),))
    corpus = NoiseCorpus(suite="benchmarks", commit=SHA, recorded_at="2026-01-01",
                         machine=(), note="", benchmarks=("x",), pairs=(pair,))
    back = load_noise_corpus(write_noise_corpus(corpus, tmp_path / "c.json"))
    assert back.pairs[0].a[0][0] == 0.001234568
    assert back.pairs[0].b[0][0] == 0.3333333


def test_file_layout_matches_the_documented_format(tmp_path: Path) -> None:
    path = write_noise_corpus(make_corpus(2), tmp_path / "c.json.gz")
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["schema_version"] == 1 and doc["kind"] == "perf_pipeline.noise_corpus"
    assert doc["benchmarks"] == ["t.py::test_a", "t.py::test_b"]
    assert doc["machine"] == {"cpu_count": "2", "cpu_model": "AMD EPYC"}
    assert doc["pairs"][0]["order"] == ["b", "a"]
    assert doc["pairs"][0]["a"]["t.py::test_b"] == [2.0, 2.1, 2.2]


def _write_doc(path: Path, doc: object) -> Path:
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    return path


def _doc(tmp_path: Path) -> dict:
    path = write_noise_corpus(make_corpus(2), tmp_path / "ok.json.gz")
    return json.loads(gzip.decompress(path.read_bytes()))


def test_rejects_truncated_gzip(tmp_path: Path) -> None:
    good = write_noise_corpus(make_corpus(), tmp_path / "c.json.gz").read_bytes()
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidInputError, match=r"bad\.json\.gz.*gzip"):
        load_noise_corpus(bad)


def test_rejects_corrupt_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "kind": ')
    with pytest.raises(InvalidInputError, match=r"bad\.json.*not valid JSON"):
        load_noise_corpus(bad)


def test_rejects_unknown_schema_version_and_kind(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    with pytest.raises(InvalidInputError, match="schema_version 2"):
        load_noise_corpus(_write_doc(tmp_path / "v2.json.gz", {**doc, "schema_version": 2}))
    with pytest.raises(InvalidInputError, match="not a noise corpus"):
        load_noise_corpus(_write_doc(tmp_path / "k.json.gz",
                                     {**doc, "kind": "perf_pipeline.baseline"}))


def test_rejects_misaligned_samples(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    del doc["pairs"][1]["b"]["t.py::test_a"]
    with pytest.raises(InvalidInputError, match=r"mis\.json\.gz: pair 1 side 'b'.*missing"):
        load_noise_corpus(_write_doc(tmp_path / "mis.json.gz", doc))


@pytest.mark.parametrize("value", ["NaN", -0.5, 0.0, "1"])
def test_rejects_bad_samples(tmp_path: Path, value: object) -> None:
    doc = _doc(tmp_path)
    doc["pairs"][0]["a"]["t.py::test_b"][1] = float(value) if value == "NaN" else value
    path = tmp_path / "nan.json.gz"
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))  # json writes NaN as NaN
    with pytest.raises(InvalidInputError, match=r"nan\.json\.gz: pair 0.*sample"):
        load_noise_corpus(path)


def test_model_rejects_inconsistent_corpora() -> None:
    corpus = make_corpus()
    with pytest.raises(InvalidInputError, match="side a has 2 benchmarks, side b 1"):
        NoisePair(order=("a", "b"), started_at="x", a=((1.0,), (1.0,)), b=((1.0,),))
    with pytest.raises(InvalidInputError, match="order"):
        NoisePair(order=("a", "a"), started_at="x", a=((1.0,),), b=((1.0,),))
    with pytest.raises(InvalidInputError, match="no samples"):
        NoisePair(order=("a", "b"), started_at="x", a=((),), b=((1.0,),))
    with pytest.raises(InvalidInputError, match="the corpus names 3"):
        NoiseCorpus(suite="s", commit=SHA, recorded_at="x", machine=(), note="",
                    benchmarks=("a", "b", "c"), pairs=corpus.pairs)
    with pytest.raises(InvalidInputError, match="sorted"):
        NoiseCorpus(suite="s", commit=SHA, recorded_at="x", machine=(), note="",
                    benchmarks=("b", "a"), pairs=corpus.pairs)
    with pytest.raises(InvalidInputError, match="no pairs"):
        NoiseCorpus(suite="s", commit=SHA, recorded_at="x", machine=(), note="",
                    benchmarks=("a", "b"), pairs=())
    with pytest.raises(InvalidInputError, match="full"):
        NoiseCorpus(suite="s", commit="abc", recorded_at="x", machine=(), note="",
                    benchmarks=corpus.benchmarks, pairs=corpus.pairs)
