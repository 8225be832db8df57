"""The demo edits apply to the example as it is, keep it correct, and refuse to reapply."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perf_pipeline.config import PROJECT_ROOT
from perf_pipeline.demo_edits import NEUTRAL_EDIT, SLOWDOWN_EDIT, DemoEdit, slowed_benchmark
from perf_pipeline.errors import InvalidInputError

EXAMPLE = PROJECT_ROOT / "examples" / "ml_pipeline"


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    target = tmp_path / "ml_pipeline"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(
        "__pycache__", ".benchmarks", "htmlcov", ".coverage", ".pytest_cache"))
    return target


def _code_without_docstrings(source: str) -> str:
    """The module's AST with every docstring removed: equal means same behaviour."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _functions(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {n.name: ast.dump(n) for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_neutral_edit_changes_only_documentation(example_copy: Path) -> None:
    path = example_copy / NEUTRAL_EDIT.path
    before = path.read_text(encoding="utf-8")
    NEUTRAL_EDIT.apply(example_copy)
    after = path.read_text(encoding="utf-8")
    assert after != before
    assert _code_without_docstrings(after) == _code_without_docstrings(before)


def test_slowdown_edit_changes_exactly_one_function(example_copy: Path) -> None:
    path = example_copy / SLOWDOWN_EDIT.path
    before = _functions(path.read_text(encoding="utf-8"))
    SLOWDOWN_EDIT.apply(example_copy)
    after = _functions(path.read_text(encoding="utf-8"))
    assert before.keys() == after.keys()
    assert [name for name in before if before[name] != after[name]] == ["_window_starts"]


def test_slowed_benchmark_is_in_the_performance_suite() -> None:
    suite = EXAMPLE / "tests" / "ml" / "integration" / "test_performance.py"
    tree = ast.parse(suite.read_text(encoding="utf-8"))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    methods = {n.name for n in classes["TestPerformance"].body if isinstance(n, ast.FunctionDef)}
    assert slowed_benchmark() in methods


def test_applying_an_edit_twice_is_a_clear_error(example_copy: Path) -> None:
    SLOWDOWN_EDIT.apply(example_copy)
    with pytest.raises(InvalidInputError, match=r"exactly once, found 0 times \(already applied"):
        SLOWDOWN_EDIT.apply(example_copy)
    NEUTRAL_EDIT.apply(example_copy)
    with pytest.raises(InvalidInputError, match=r"model\.py"):
        NEUTRAL_EDIT.apply(example_copy)


def test_edit_of_a_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"core/model\.py"):
        NEUTRAL_EDIT.apply(tmp_path)


def test_edit_text_occurring_twice_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\nx = 1\n", encoding="utf-8")
    edit = DemoEdit(path="a.py", old="x = 1\n", new="x = 2\n", message="change x")
    with pytest.raises(InvalidInputError, match="found 2 times"):
        edit.apply(tmp_path)
    assert (tmp_path / "a.py").read_text(encoding="utf-8") == "x = 1\nx = 1\n"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"path": "/etc/passwd"}, "relative"),
    ({"path": "../outside.py"}, "relative"),
    ({"old": ""}, "non-empty"),
    ({"new": "a"}, "differ"),
    ({"message": " "}, "message"),
])
def test_demo_edit_rejects_bad_definitions(kwargs: dict[str, str], match: str) -> None:
    fields = {"path": "a.py", "old": "a", "new": "b", "message": "m"} | kwargs
    with pytest.raises(InvalidInputError, match=match):
        DemoEdit(**fields)


@pytest.mark.slow
def test_example_unit_tests_pass_after_both_edits(example_copy: Path) -> None:
    """The slow version is still correct: the example's own unit tests say so."""
    NEUTRAL_EDIT.apply(example_copy)
    SLOWDOWN_EDIT.apply(example_copy)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"],
        cwd=example_copy, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
