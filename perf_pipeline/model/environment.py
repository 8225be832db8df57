"""Where a run happened, and the machine ids derived from it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from perf_pipeline.errors import InvalidInputError

__all__ = ["Environment", "hardware_machine_id", "noise_machine_id"]


def hardware_machine_id(*, os: str, machine: str, cpu_model: str, cpu_count: int) -> str:
    """The default machine id: a short hash of the hardware part of an environment.

    The CPU model, its count, the OS family and the architecture: what makes timings of
    two boxes incomparable. Not the host name (containers and CI runners get a new one per
    job) and not the OS release (a kernel update does not make a new machine). Only the
    first word of ``os`` counts ("Linux 6.1.0" -> "Linux"). The formula is frozen: stored
    histories (store migration 4) hold ids made by it.
    """
    family = (os.split() or [""])[0]
    blob = json.dumps([family, machine, cpu_model, int(cpu_count)])
    return "m-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


def noise_machine_id(machine: Iterable[tuple[str, str]]) -> str | None:
    """The hardware id (``hardware_machine_id``) of a noise corpus's or profile's
    ``machine`` (``Environment.noise_machine``); None when it lacks a fact."""
    facts = dict(machine)
    try:
        return hardware_machine_id(os=facts["os"], machine=facts["arch"],
                                   cpu_model=facts["cpu_model"],
                                   cpu_count=int(facts["cpu_count"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Environment:
    """Where a run happened. Two runs are comparable when their fingerprints match."""

    python_version: str
    python_implementation: str
    os: str
    machine: str
    cpu_model: str
    cpu_count: int
    packages: tuple[tuple[str, str], ...] = ()
    lock_hash: str | None = None
    thread_env: tuple[tuple[str, str], ...] = ()

    @property
    def machine_id(self) -> str:
        """The hardware's id (``hardware_machine_id``): runs of one machine share it."""
        return hardware_machine_id(os=self.os, machine=self.machine,
                                   cpu_model=self.cpu_model, cpu_count=self.cpu_count)

    @property
    def known_hardware(self) -> str | None:
        """``machine_id`` when the environment names every fact it hashes (CPU model and
        count, OS, architecture), else None: a record without them (an old one, a file
        without machine info) is of unknown hardware, not known to differ from any. Runs
        of one ``machine_id`` set by the user differ here when its CPU was replaced."""
        if not (self.cpu_model and self.cpu_count > 0 and self.os.split() and self.machine):
            return None
        return self.machine_id

    @property
    def noise_machine(self) -> tuple[tuple[str, str], ...]:
        """The ``machine`` a noise corpus and profile record (``noise_machine_id`` reads
        the hardware id back from it)."""
        return (("arch", self.machine), ("cpu_count", str(self.cpu_count)),
                ("cpu_model", self.cpu_model), ("os", self.os),
                ("python", f"{self.python_implementation} {self.python_version}".strip()))

    @property
    def fingerprint(self) -> str:
        """A short stable hash of everything that can move a measurement."""
        blob = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["packages"] = dict(self.packages)
        data["thread_env"] = dict(self.thread_env)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Environment:
        try:
            return cls(
                python_version=str(data["python_version"]),
                python_implementation=str(data.get("python_implementation", "")),
                os=str(data.get("os", "")),
                machine=str(data.get("machine", "")),
                cpu_model=str(data.get("cpu_model", "")),
                cpu_count=int(data.get("cpu_count", 0) or 0),  # type: ignore[arg-type]
                packages=tuple(sorted(dict(data.get("packages") or {}).items())),  # type: ignore[arg-type]
                lock_hash=(str(data["lock_hash"]) if data.get("lock_hash") else None),
                thread_env=tuple(sorted(dict(data.get("thread_env") or {}).items())),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise InvalidInputError(f"environment record is malformed: {exc}") from exc

    def differences(self, other: Environment) -> tuple[tuple[str, str, str], ...]:
        """``(what, self's value, other's value)`` for everything that differs."""
        out: list[tuple[str, str, str]] = []
        for name in ("python_version", "python_implementation", "os", "machine",
                     "cpu_model", "cpu_count", "lock_hash"):
            a, b = getattr(self, name), getattr(other, name)
            if a != b:
                out.append((name, str(a), str(b)))
        for label, mine, theirs in (("package", dict(self.packages), dict(other.packages)),
                                    ("env", dict(self.thread_env), dict(other.thread_env))):
            for key in sorted(set(mine) | set(theirs)):
                if mine.get(key) != theirs.get(key):
                    out.append((f"{label} {key}", mine.get(key, "-"), theirs.get(key, "-")))
        return tuple(out)
