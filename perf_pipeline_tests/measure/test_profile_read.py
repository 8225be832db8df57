"""Reading a .prof: keys that match the same function across processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from perf_pipeline.measure.profile_read import read_time_profile

_PROFILE = """
import cProfile, sys
class Box:
    pass
def work():
    return [Box() for _ in range(50)] + [object.__new__(Box) for _ in range(50)]
cProfile.run("work()", sys.argv[1])
"""


def _keys(path: Path) -> set[str]:
    return {f.key for f in read_time_profile(path, "b", 1, path.parent).functions}


def test_a_builtin_is_one_key_in_every_process(tmp_path: Path) -> None:
    """cProfile names a builtin bound to an object with the object's address, which
    differs per process: the same call came out "new" in one and "vanished" in the
    other, at the top of the diff in bold."""
    paths = []
    for side in ("a", "b"):
        path = tmp_path / f"{side}.prof"
        subprocess.run([sys.executable, "-c", _PROFILE, str(path)], check=True, timeout=60)
        paths.append(path)
    a, b = _keys(paths[0]), _keys(paths[1])
    new = {k for k in a if "__new__" in k}
    assert new == {"<built-in method __new__ of type object>"}, a
    assert not any(" at 0x" in k for k in a | b)
    assert a == b
