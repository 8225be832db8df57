"""The plugin staged into a foreign environment imports with the standard library only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from perf_pipeline.measure.plugin_staging import STAGED_MODULES, STAGED_PACKAGE, stage_plugin


def test_staged_plugin_imports_with_stdlib_only(tmp_path: Path) -> None:
    """The staged copy must import in an interpreter that cannot see perf_pipeline."""
    staged = stage_plugin(tmp_path / "stage")
    root = str(Path(__file__).resolve().parents[2])
    code = ("import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p "
            f"and {root!r} not in p]; sys.path.insert(0, {str(staged)!r});"
            "from _perf_pipeline_probe import fingerprint, percentiles, stress_session;"
            "print(percentiles.latency_percentiles([1.0, 2.0, 3.0])['p50_s']);"
            "print(fingerprint.collect_environment()['python_version'])")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "2.0"
    names = sorted(p.name for p in (staged / STAGED_PACKAGE).glob("*.py"))
    assert names == sorted(["__init__.py", *STAGED_MODULES])
