"""THE parser of pytest-benchmark JSON: ``load_results(path) -> SuiteRun``.

It reads two kinds of input:

* our raw run directories (``raw/<sha>/<run_id>/`` with ``run.json`` and, for a
  successful run that ran benchmarks, ``benchmark.json.gz``, or ``benchmark.json`` in
  directories written before compression), or the ``run.json`` inside
  one. ``run.json`` says how many benchmark files the run has (``benchmark_files``); a
  stress suite of plain tests is a successful run with none;
* plain pytest-benchmark JSON made elsewhere (``--benchmark-json``, ``--benchmark-save``
  or ``--benchmark-autosave`` output of pytest-benchmark 3.x-5.x). Its run_id is derived
  from the sha256 of the file's bytes, so ingesting the same file twice is a no-op; its
  commit comes from ``commit_info`` when that names a SHA.

Samples: ``stats.data`` holds every per-round sample (seconds per call). Files saved by
``--benchmark-save``/``--benchmark-autosave`` without ``--benchmark-save-data`` have no
``data``; then ``samples_s`` is empty and ``BenchmarkResult.summary`` carries the
file's median, mean, quartiles etc. What analysis can do with that: trends and
baseline comparison on run-level medians (one value per run), not within-run tests.

Everything is validated: a truncated file, a NaN or negative sample or a wrong type
raises ``InvalidInputError`` naming the file and, where it applies, the benchmark. A
sample of 0.0 (a round below the timer's resolution) is kept, with a warning.
"""

from __future__ import annotations

import logging
import math
import statistics
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.input_values import (
    checked_int,
    checked_number,
    checked_text,
    utc_instant,
)
from perf_pipeline.measure.json_input import JsonFile, read_json_file
from perf_pipeline.measure.percentiles import LATENCY_PERCENTILES, sorted_percentiles
from perf_pipeline.measure.raw import BENCHMARK_FILE, RUN_FILE, process_file
from perf_pipeline.model import (
    METRICS,
    SCHEMA_VERSION,
    BenchmarkResult,
    CommitInfo,
    Environment,
    RunStatus,
    Samples,
    SuiteRun,
)

__all__ = ["PLUGIN_KEY", "load_results"]

#: Where our plugin writes into pytest-benchmark's JSON (see plugin.py).
PLUGIN_KEY = "perf_pipeline"
_SUMMARY_KEYS = ("min", "max", "mean", "stddev", "median", "q1", "q3", "iqr")
#: Float lists under these keys are read as ``array('d')``: the samples (``stats.data``).
_SAMPLE_KEYS = frozenset({"data"})
_PERCENTILE_KEYS = frozenset(f"p{q}_s" for q in LATENCY_PERCENTILES)

logger = logging.getLogger(__name__)


def _read_json(path: Path) -> Any:
    return read_json_file(path).doc


def _samples(data: list[Any] | array[float], where: str) -> Samples:
    """Every sample a finite float >= 0, kept compact (``Samples``: 8 bytes a sample).

    A 0.0 is a real measurement: a round faster than the timer can tell apart (a coarse
    clock, ``time.process_time`` on Windows, a very fast benchmark). Refusing it lost
    the whole file, every benchmark of the run; it is kept, and analysis leaves that
    benchmark's time out of judging (``BenchmarkResult.zero_time_samples``). Negative,
    NaN and infinite values are no time at all and are refused, by index.
    Cheap passes for the usual all-good list (10M samples are common); the slow
    per-value check only runs to name the first bad one."""
    if type(data) is array:  # floats only (json_input): C-speed checks, no copy
        if not data or (math.isfinite(sum(data)) and min(data) >= 0.0):
            return Samples.adopt(data)
    elif all(type(v) is float and 0.0 <= v < math.inf for v in data):
        return Samples(data)
    return Samples([checked_number(v, f"{where} sample {i}", zero_ok=True)
                    for i, v in enumerate(data)])


def _percentiles(samples: Samples) -> dict[str, float]:
    """``latency_percentiles`` of checked samples, sorted as a float64 array (a list
    of ten million float objects would be 1.5x the file that held them)."""
    return sorted_percentiles(samples.sorted_copy()) if samples else {}


def _naming(path: Path, exc: InvalidInputError) -> NoReturn:
    """Raise ``exc`` with the file named once: a message that names it is kept as is."""
    if str(path) in str(exc):
        raise exc
    raise InvalidInputError(f"{path}: {exc}") from exc


def _plain(value: Any) -> Any:
    """``value`` with any ``array('d')`` (a float list under a key named ``data``) turned
    back into the list it was in the file, so ``str()`` of a parameter reads the same."""
    if type(value) is array:
        return value.tolist()
    if type(value) is list:
        return [_plain(v) for v in value]
    if type(value) is dict:
        return {k: _plain(v) for k, v in value.items()}
    return value


def _parse_benchmark(bench: object, index: int, path: Path) -> BenchmarkResult:
    if not isinstance(bench, Mapping):
        raise InvalidInputError(f"{path}: benchmarks[{index}] is not an object")
    name = bench.get("fullname") or bench.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"{path}: benchmarks[{index}] has no fullname")
    if "\0" in name:
        raise InvalidInputError(f"{path}: benchmarks[{index}] has a NUL character in its name")
    where = f"{path}: benchmark {name!r}"
    stats = bench.get("stats")
    if not isinstance(stats, Mapping):
        raise InvalidInputError(f"{where} has no stats object")
    data = stats.get("data")
    if data is None:
        samples = Samples()
    elif isinstance(data, (list, array)):
        samples = _samples(data, where)
        if type(stats) is dict:
            # The Samples hold the values now; the parsed document need not (a list
            # of 10M float objects would stay alive as long as the document).
            stats["data"] = data = None
    else:
        raise InvalidInputError(f"{where}: stats.data is {type(data).__name__}, not a list")
    iterations = checked_int(stats.get("iterations", 1), f"{where}: iterations")
    # A spread (stddev, iqr) of equal samples is 0, and so is a time of rounds that
    # read 0.0 (below the timer's resolution: see ``_samples``).
    summary = [(f"{k}_s", checked_number(stats[k], f"{where} stats.{k}", zero_ok=True))
               for k in _SUMMARY_KEYS if stats.get(k) is not None]
    if stats.get("rounds") is not None:
        summary.append(("rounds", float(checked_int(stats["rounds"],
                                                    f"{where} stats.rounds"))))
    if not samples and not any(k == "median_s" for k, _ in summary):
        raise InvalidInputError(f"{where} has neither samples (stats.data) nor a median")
    group = checked_text(bench.get("group"), f"{where}: group", optional=True)
    params = bench.get("params") or {}
    if not isinstance(params, Mapping):
        raise InvalidInputError(f"{where}: params is not an object")
    figures = bench.get(PLUGIN_KEY) or {}
    if not isinstance(figures, Mapping):
        raise InvalidInputError(f"{where}: {PLUGIN_KEY} is not an object")
    extra = {k: checked_number(v, f"{where} {k}", zero_ok=METRICS[k].zero_ok
                               or k in _PERCENTILE_KEYS)  # of rounds that may read 0.0
             for k, v in figures.items() if k in METRICS}
    if samples and not all(f"p{q}_s" in extra for q in LATENCY_PERCENTILES):
        for key, value in _percentiles(samples).items():
            extra.setdefault(key, value)
    try:
        result = BenchmarkResult(
            name=name, samples_s=samples, group=group,
            params=tuple(sorted((str(k), str(_plain(v))) for k, v in params.items())),
            iterations=iterations, extra=tuple(sorted(extra.items())), summary=tuple(summary))
    except InvalidInputError as exc:
        _naming(path, exc)
    if result.zero_time_samples:
        logger.warning("%s: %s; it is kept, but its time is not judged", where,
                       result.zero_time_note())
    return result


def _parse_benchmark_file(
        path: Path) -> tuple[tuple[BenchmarkResult, ...], dict[str, Any], JsonFile]:
    """The benchmarks of a pytest-benchmark JSON file, the top-level object, the file."""
    parsed = read_json_file(path, float_arrays=_SAMPLE_KEYS)
    doc = parsed.doc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("benchmarks"), list):
        raise InvalidInputError(f"{path} is not a pytest-benchmark JSON file (no benchmarks list)")
    ours = doc.get(PLUGIN_KEY)
    if ours is not None and (not isinstance(ours, Mapping) or ours.get("schema_version") != 1):
        raise InvalidInputError(
            f"{path}: {PLUGIN_KEY} section has unsupported schema_version "
            f"{ours.get('schema_version') if isinstance(ours, Mapping) else ours!r}")
    benchmarks = tuple(_parse_benchmark(b, i, path) for i, b in enumerate(doc["benchmarks"]))
    if not benchmarks:
        raise InvalidInputError(f"{path} contains no benchmarks")
    return benchmarks, dict(doc), parsed


def _environment(doc: Mapping[str, Any], path: Path) -> Environment | None:
    """Our plugin's fingerprint if present, else what pytest-benchmark's machine_info has."""
    ours = doc.get(PLUGIN_KEY)
    if isinstance(ours, Mapping) and isinstance(ours.get("environment"), Mapping):
        try:
            return Environment.from_dict(ours["environment"])
        except InvalidInputError as exc:
            _naming(path, exc)
    info = doc.get("machine_info")
    if not isinstance(info, Mapping) or not info.get("python_version"):
        return None
    cpu = info.get("cpu") if isinstance(info.get("cpu"), Mapping) else {}
    return Environment.from_dict({
        "python_version": info.get("python_version"),
        "python_implementation": info.get("python_implementation", ""),
        "os": f"{info.get('system', '')} {info.get('release', '')}".strip(),
        "machine": info.get("machine", ""),
        "cpu_model": cpu.get("brand_raw") or info.get("processor") or "",
        "cpu_count": cpu.get("count") if isinstance(cpu.get("count"), int) else 0,
    })


def _foreign_commit(doc: Mapping[str, Any], path: Path) -> CommitInfo | None:
    info = doc.get("commit_info")
    if not isinstance(info, Mapping):
        return None
    sha = info.get("id")
    if not isinstance(sha, str) or len(sha) not in (40, 64):
        return None  # only a full SHA identifies a commit
    where = f"{path}: commit_info"
    time = info.get("time")
    branch = info.get("branch")
    try:
        return CommitInfo(
            sha=sha.lower(), branch=checked_text(branch or None, f"{where}.branch",
                                                 optional=True),
            committed_at=utc_instant(time, f"{where}.time") if time else None,
            dirty=bool(info.get("dirty")),
            author=checked_text(info.get("author_name") or "", f"{where}.author_name") or "")
    except InvalidInputError:
        if all(c in "0123456789abcdefABCDEF" for c in sha):
            raise  # a real commit with a bad field: say so rather than drop the commit
        return None  # e.g. commit_info from a non-git VCS; the results still count


def _load_foreign(path: Path, *, suite: str) -> SuiteRun:
    benchmarks, doc, parsed = _parse_benchmark_file(path)
    started_at = utc_instant(doc.get("datetime"), f"{path}: datetime")
    try:
        # The machine is the hardware of the file's machine_info (SuiteRun derives it
        # from the environment), never its host name: so an autosave tree
        # ``.benchmarks/<machine>/NNNN_*.json`` of several boxes keeps them apart.
        return SuiteRun(
            run_id="file-" + parsed.sha256[:24],
            suite=suite, started_at=started_at, status=RunStatus.SUCCESS, benchmarks=benchmarks,
            commit=_foreign_commit(doc, path), environment=_environment(doc, path),
            raw_path=str(path))
    except InvalidInputError as exc:
        _naming(path, exc)


def merge_processes(first: Sequence[BenchmarkResult],
                    *more: Sequence[BenchmarkResult]) -> tuple[BenchmarkResult, ...]:
    """One result per benchmark from the same suite measured in several processes.

    Samples are pooled (process order kept), so the run's median is that of all of
    them: one process disturbed for its whole duration moves it much less than it moves
    its own median. Other metrics take the median over processes (for two, the mean).
    """
    by_names = [{b.name: b for b in process} for process in more]
    merged = []
    for bench in first:
        others = [by_name.get(bench.name) for by_name in by_names]
        if any(other is None for other in others):
            raise InvalidInputError(
                f"benchmark {bench.name!r} is missing from a further process of the run")
        group = [bench, *others]
        extras: dict[str, list[float]] = {}
        for result in group:
            for key, value in result.extra:  # type: ignore[union-attr]
                extras.setdefault(key, []).append(value)
        samples = Samples.concat(result.samples_s for result in group)  # type: ignore[union-attr]
        combined = {k: float(statistics.median(v)) for k, v in extras.items()}
        combined.update(_percentiles(samples))  # of the pooled samples
        merged.append(replace(bench, samples_s=samples, summary=(),
                              extra=tuple(combined.items())))
    names = {b.name for b in first}
    extra_names = sorted({n for by_name in by_names for n in by_name} - names)
    if extra_names or any(len(by_name) != len(names) for by_name in by_names):
        raise InvalidInputError(f"benchmarks {extra_names} appear in only some processes")
    return tuple(merged)


def _benchmark_file_count(record: Mapping[str, Any], status: RunStatus, run_file: Path) -> int:
    """How many benchmark files the run directory must hold.

    Records written before ``benchmark_files`` existed have one or more for a success.
    """
    if status is not RunStatus.SUCCESS:
        return 0
    count = record.get("benchmark_files")
    if count is None:
        return 1
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidInputError(f"{run_file}: benchmark_files {count!r} is not a count")
    return count


def _recorded_commit(data: Mapping[str, Any], where: str) -> CommitInfo:
    """The ``commit`` object of our run.json, every field checked."""
    unknown = sorted(set(data) - {"sha", "branch", "message", "author", "committed_at",
                                  "dirty", "ancestry_ordinal"})
    if unknown:
        raise InvalidInputError(f"{where} has unknown fields {unknown}")
    committed_at = data.get("committed_at")
    dirty = data.get("dirty", False)
    if not isinstance(dirty, bool):
        raise InvalidInputError(f"{where}.dirty is {dirty!r}, not true or false")
    ordinal = data.get("ancestry_ordinal")  # absent from run.json written before it
    if ordinal is not None and (isinstance(ordinal, bool) or not isinstance(ordinal, int)):
        raise InvalidInputError(f"{where}.ancestry_ordinal is {ordinal!r}, not a count")
    return CommitInfo(
        sha=checked_text(data.get("sha"), f"{where}.sha") or "",
        branch=checked_text(data.get("branch"), f"{where}.branch", optional=True),
        message=checked_text(data.get("message", ""), f"{where}.message") or "",
        author=checked_text(data.get("author", ""), f"{where}.author") or "",
        committed_at=(utc_instant(committed_at, f"{where}.committed_at")
                      if committed_at is not None else None),
        dirty=dirty, ancestry_ordinal=ordinal)


def _load_run_dir(run_dir: Path) -> SuiteRun:
    run_file = run_dir / RUN_FILE
    record = _read_json(run_file)
    if not isinstance(record, Mapping):
        raise InvalidInputError(f"{run_file} is not a JSON object")
    if record.get("schema_version") != SCHEMA_VERSION:
        raise InvalidInputError(f"{run_file}: schema_version {record.get('schema_version')!r} "
                                f"is not supported (this perf_pipeline reads {SCHEMA_VERSION})")
    try:
        status = RunStatus(record.get("status"))
        commit_data = record.get("commit")
        commit = (_recorded_commit(commit_data, f"{run_file}: commit")
                  if isinstance(commit_data, Mapping) else None)
        env_data = record.get("environment")
        environment = Environment.from_dict(env_data) if isinstance(env_data, Mapping) else None
        benchmarks: tuple[BenchmarkResult, ...] = ()
        expected = _benchmark_file_count(record, status, run_file)
        first = process_file(run_dir, 1)
        if expected:
            first = first or run_dir / BENCHMARK_FILE  # missing: the loader says so
            benchmarks, doc, _ = _parse_benchmark_file(first)
            environment = _environment(doc, first) or environment
            more = []
            process = 2
            while (path := process_file(run_dir, process)) is not None:
                more.append(_parse_benchmark_file(path)[0])
                process += 1
            if "benchmark_files" in record and process - 1 != expected:
                raise InvalidInputError(f"{run_file}: the run has {expected} benchmark "
                                        f"file(s), {run_dir} holds {process - 1}")
            if more:
                benchmarks = merge_processes(benchmarks, *more)
        elif status is RunStatus.SUCCESS and first is not None:
            raise InvalidInputError(f"{run_file}: the run has no benchmark files, "
                                    f"but {first} exists")
        return SuiteRun(
            run_id=checked_text(record.get("run_id"), f"{run_file}: run_id") or "",
            suite=checked_text(record.get("suite"), f"{run_file}: suite") or "",
            started_at=utc_instant(record.get("started_at"), f"{run_file}: started_at"),
            status=status, benchmarks=benchmarks, commit=commit, environment=environment,
            duration_s=checked_number(record.get("duration_s", 0.0), f"{run_file}: duration_s",
                                      zero_ok=True),
            error=checked_text(record.get("error"), f"{run_file}: error", optional=True),
            raw_path=str(run_dir),
            machine_id=checked_text(record.get("machine_id"), f"{run_file}: machine_id",
                                    optional=True))
    except InvalidInputError as exc:
        if str(run_dir) in str(exc):
            raise
        raise InvalidInputError(f"{run_file}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"{run_file} is malformed: {exc!r}") from exc


def load_results(path: Path, *, suite: str = "benchmarks") -> SuiteRun:
    """Load one run: a raw run directory (or its run.json) or a pytest-benchmark file.

    ``suite`` names the suite of a foreign file (our run directories record their own).
    """
    path = Path(path)
    if path.is_dir():
        if not (path / RUN_FILE).is_file():
            raise InvalidInputError(f"{path} is not a run directory (no {RUN_FILE})")
        return _load_run_dir(path)
    if path.name == RUN_FILE:
        return _load_run_dir(path.parent)
    return _load_foreign(path, suite=suite)  # says why if it is missing or no file
