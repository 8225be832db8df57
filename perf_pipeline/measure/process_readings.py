"""Readings of this process from the kernel: CPU seconds, resident memory, and its
high-water mark (VmHWM), which can be reset so a pass measures its own peak.

Standard library only: staged into the target's pytest with the plugin, and read there by
the memory pass (``resource_usage``) and the stress scenarios. Linux's /proc gives the
memory figures; where it is missing they read as unknown (None) or 0.
"""

from __future__ import annotations

import os

try:
    import resource
except ImportError:  # pragma: no cover - Windows: the plugin must still load there
    resource = None  # type: ignore[assignment]

__all__ = ["cpu_seconds", "reset_hwm", "rss_bytes", "vm_hwm_bytes"]


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all its threads."""
    if resource is None:  # pragma: no cover - Windows
        times = os.times()
        return times.user + times.system
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def vm_hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0  # no /proc: the RSS trend is flat, the traced-heap trend still decides
