"""Environment records as JSON, for the history db and the baseline file.

``Environment.to_dict`` is the readable form, but ``Environment.from_dict`` sorts the
package and variable pairs. The fingerprint hashes them in their original order, so
reading must keep that order (JSON objects keep insertion order) or a stored run would
come back with a different fingerprint than it was measured with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Environment

__all__ = ["environment_from_data", "environment_to_data"]


def environment_to_data(environment: Environment) -> dict[str, object]:
    """The JSON-ready form of ``environment`` (``Environment.to_dict``)."""
    return environment.to_dict()


def environment_from_data(data: object, *, what: str) -> Environment:
    """Rebuild an ``Environment`` from ``environment_to_data`` output, order kept.

    ``what`` names the record's owner (a run, a file) in the error when it is malformed.
    """
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what}: environment is not a JSON object")
    try:
        environment = Environment.from_dict(data)
        ordered = {}
        for field in ("packages", "thread_env"):
            pairs = data.get(field) or {}
            if not isinstance(pairs, Mapping):
                raise TypeError(f"{field} is not an object")
            ordered[field] = tuple((str(k), str(v)) for k, v in pairs.items())
        return dataclasses.replace(environment, **ordered)
    except (InvalidInputError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what}: malformed environment ({exc})") from exc
