"""Files we write, read back corrupt or hostile: every reader gives an
``InvalidInputError`` naming the file (``strict_json.load_json``/``MALFORMED``), never a
raw ``RecursionError`` or ``OverflowError`` that the CLI reports as a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import CommitAnalysis
from perf_pipeline.store import (
    load_noise_corpus,
    read_analysis,
    read_baseline,
    read_confirmation,
    read_culprit,
    read_profile_comparison,
    write_analysis,
    write_baseline,
    write_confirmation,
    write_culprit,
    write_noise_corpus,
)
from perf_pipeline.store.strict_json import decode_float, encode_float, load_json
from perf_pipeline_tests.pipeline.test_confirm import FakeSource, _confirm, _screen

from .test_baseline_file import make_baseline
from .test_culprit_file import _culprit
from .test_noise_corpus import make_corpus

READERS: list[Callable[[Path], object]] = [
    read_baseline, read_analysis, read_confirmation, read_culprit, read_profile_comparison,
    load_noise_corpus]
#: An integer beyond float range (a run of digits in a corrupt file).
HUGE = "1" + "0" * 400


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_json_nested_past_the_recursion_limit_is_a_named_error(
        tmp_path: Path, reader: Callable[[Path], object]) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InvalidInputError, match="nests too deep") as info:
        reader(path)
    assert str(path) in str(info.value)


def _with_huge(path: Path, edit: Callable[[dict], None]) -> Path:
    """The file at ``path`` with one number (set to "@HUGE@" by ``edit``) made ``HUGE``."""
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data).replace('"@HUGE@"', HUGE))
    return path


def _baseline(path: Path) -> Path:
    write_baseline(path, make_baseline())
    return _with_huge(path, lambda d: d["entries"][0]["run_values"].__setitem__(0, "@HUGE@"))


def _analysis(path: Path) -> Path:
    write_analysis(path, CommitAnalysis(run_id="r", sha="a" * 40, created_at="x",
                                        threshold=1.2, alpha=0.05))
    return _with_huge(path, lambda d: d.update(threshold="@HUGE@"))


def _confirmation(path: Path) -> Path:
    write_confirmation(path, _confirm(_screen({}), FakeSource({})))
    return _with_huge(path, lambda d: d.update(screen_alpha="@HUGE@"))


def _culprit_file(path: Path) -> Path:
    write_culprit(path, _culprit())
    return _with_huge(path, lambda d: d.update(ci_low="@HUGE@"))


def _corpus(path: Path) -> Path:
    write_noise_corpus(make_corpus(), path)
    name = make_corpus().benchmarks[0]
    return _with_huge(path, lambda d: d["pairs"][0]["a"][name].__setitem__(0, "@HUGE@"))


@pytest.mark.parametrize(("make", "reader"), [
    (_baseline, read_baseline), (_analysis, read_analysis),
    (_confirmation, read_confirmation), (_culprit_file, read_culprit),
    (_corpus, load_noise_corpus)], ids=lambda x: x.__name__)
def test_an_integer_beyond_float_range_is_a_named_error(
        tmp_path: Path, make: Callable[[Path], Path], reader: Callable[[Path], object]) -> None:
    path = make(tmp_path / "f.json")
    assert HUGE in path.read_text()
    with pytest.raises(InvalidInputError) as info:
        reader(path)
    assert str(path) in str(info.value)


def test_load_json_names_what_it_reads() -> None:
    with pytest.raises(InvalidInputError, match="thing x is not valid JSON"):
        load_json(b'{"a": ', "thing x")
    with pytest.raises(InvalidInputError, match="thing x is not valid JSON"):
        load_json(b"\xff", "thing x")
    assert load_json(b'{"a": [1, "nan"]}', "thing x") == {"a": [1, "nan"]}


@pytest.mark.parametrize("value", [1.5, None, float("inf"), float("-inf")])
def test_float_codec_round_trips(value: float | None) -> None:
    encoded = encode_float(value)
    assert json.loads(json.dumps(encoded, allow_nan=False)) == encoded
    assert value is None or decode_float(encoded) == value
