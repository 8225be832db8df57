"""Atomic writes leave files as readable as ``open()`` would, not ``mkstemp``'s 0o600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from perf_pipeline.atomic_file import write_atomic, write_new_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_own(
        tmp_path: Path) -> None:
    # The module reads the umask at import, so import it in a process with a known one.
    code = ("import os, sys; from pathlib import Path; "
            "from perf_pipeline.atomic_file import write_atomic; "
            "d = Path(sys.argv[1]); write_atomic(d / 'report.md', b'x'); "
            "write_atomic(d / 'raw.json', b'{}', read_only=True)")
    subprocess.run([sys.executable, "-c", f"import os; os.umask(0o027); {code}",
                    str(tmp_path)], check=True)
    assert _mode(tmp_path / "report.md") == 0o640
    assert _mode(tmp_path / "raw.json") == 0o444
    # Replacing keeps a mode the user chose.
    target = tmp_path / "report.md"
    target.chmod(0o600)
    write_atomic(target, b"y")
    assert _mode(target) == 0o600 and target.read_bytes() == b"y"


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_new_file_is_readable_by_the_group_and_others_under_the_usual_umask(
        tmp_path: Path) -> None:
    code = ("import os; os.umask(0o022); import sys; from pathlib import Path; "
            "from perf_pipeline.atomic_file import write_atomic; "
            "write_atomic(Path(sys.argv[1]) / 'index.html', b'<p>')")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert _mode(tmp_path / "index.html") == 0o644
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_new_atomic_creates_whole_files_and_never_replaces(tmp_path: Path) -> None:
    path = write_new_atomic(tmp_path / "a.json", b"first")
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        write_new_atomic(path, b"second")
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp files left


def test_write_new_atomic_works_where_files_cannot_be_hard_linked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # FAT and some network mounts refuse hard links: an archive must still be written.
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("perf_pipeline.atomic_file.os.link", no_links)
    path = write_new_atomic(tmp_path / "a.json", b"first")
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        write_new_atomic(path, b"second")
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_write_removes_the_old_temp_files_of_killed_writers_and_nothing_else(
        tmp_path: Path) -> None:
    """A writer SIGKILLed between its temp file and the rename left ``.x.abcd1234.tmp``
    behind for ever; the next write in that folder removes such files once they are old
    (a live writer's young file, and names we never make, stay)."""
    old = 1_000_000.0  # 1970: long untouched
    stale = [tmp_path / ".performance-report.md.ab3_x9zq.tmp", tmp_path / ".run.json.k2j4h5g6.tmp"]
    young = tmp_path / ".index.html.qwertyui.tmp"
    others = [tmp_path / "notes.tmp", tmp_path / ".notes.tmp", tmp_path / ".x.json.TOOLONG12.tmp"]
    for path in (*stale, young, *others):
        path.write_bytes(b"partial")
    for path in (*stale, *others):
        os.utime(path, (old, old))
    (tmp_path / ".link.json.zzzzzzzz.tmp").symlink_to(others[0])
    write_atomic(tmp_path / "baseline.json", b"{}")
    assert not any(p.exists() for p in stale)
    assert young.exists() and all(p.exists() for p in others)
    assert (tmp_path / ".link.json.zzzzzzzz.tmp").is_symlink()
    stale[0].write_bytes(b"partial")
    os.utime(stale[0], (old, old))
    write_new_atomic(tmp_path / "archive.json", b"{}")  # the archive writer sweeps too
    assert not stale[0].exists()
