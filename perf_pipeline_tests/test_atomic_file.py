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
