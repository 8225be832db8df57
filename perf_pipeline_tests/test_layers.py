"""The import rules of style.md, enforced by parsing every module's imports.

cli/, demo.py, defs/ → pipeline/ → workspace (settings + layout + the one store) →
report/, analysis/, measure/ → store/ → model, errors, config → layout (the pure results
layout: measure/ may name paths with it, only pipeline/ and above hold a Workspace).
Nothing below the CLI imports it (or the demo), and only the CLI prints or exits.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "perf_pipeline"

# What each part may import from perf_pipeline itself.
BASE = {"model", "errors", "config", "layout", "atomic_file", "bounded_gzip", "http_url",
        "file_lock", "history_url", "config_env", "lazy_names"}
ALLOWED = {
    "model": {"errors"},
    "errors": set(),
    "config": {"errors", "model", "layout", "http_url", "cron", "config_values", "config_env",
               "history_url", "measuring_lock_path", "config_checks"},
    # ``config`` for the ``Settings`` annotation only (under TYPE_CHECKING).
    "config_checks": {"errors", "model", "http_url", "cron", "history_url", "config"},
    "config_values": {"errors"},
    "config_env": set(),
    "measuring_lock_path": {"errors", "config_env"},
    "history_url": set(),
    "cron": {"errors"},
    "layout": {"errors"},
    "atomic_file": {"errors"},
    "file_lock": set(),
    "lazy_names": set(),
    "bounded_gzip": {"errors"},
    "http_url": {"errors"},
    "store": BASE | {"store"},
    "measure": BASE | {"store", "measure"},
    "analysis": {"model", "errors", "analysis"},
    "report": BASE | {"report"},
    "workspace": BASE | {"store"},
    "pipeline": BASE | {"store", "measure", "analysis", "report", "pipeline", "workspace"},
    "defs": BASE | {"store", "measure", "analysis", "report", "pipeline", "defs", "definitions",
                    "workspace"},
    "demo": BASE | {"defs", "demo_edits", "measure", "pipeline", "store", "workspace"},
    "demo_edits": BASE,
    "cli": BASE | {"cli", "defs", "demo", "measure", "pipeline", "report", "store",
                   "workspace"},
    "__main__": {"cli"},
}
# Third-party imports that only certain parts may use.
ONLY_IN = {"dagster": {"defs", "definitions"}, "sqlite_utils": {"store"}, "sqlite3": {"store"},
           "sqlalchemy": {"store"}, "psycopg": {"store"},
           "subprocess": {"measure"}, "rich": {"cli"}}
#: Who may write to the console or end the process (the library returns values).
CONSOLE_PARTS = {"cli", "__main__"}
ANALYSIS_THIRD_PARTY = {"numpy", "scipy"}


def _part(path: Path) -> str:
    """The layer of a module: its top-level module or package (``model/runs.py`` is
    ``model``, as ``model.py`` was)."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _absolute(path: Path, module: str | None, level: int) -> str:
    """The absolute name of ``from <level dots><module> import ...`` in ``path``: a
    relative import is checked like the absolute one it means, so ``from ..store import x``
    in ``model/runs.py`` cannot slip past the layers."""
    package = ("perf_pipeline", *path.relative_to(PACKAGE).parent.parts)
    base = package[:len(package) - (level - 1)]
    return ".".join((*base, *([module] if module else [])))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            base = _absolute(path, node.module, node.level)
            names.update((base,) if node.module else
                         (f"{base}.{alias.name}" for alias in node.names))
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    part = _part(path)
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "perf_pipeline" and "." in name:
            target = name.split(".")[1]
            if part in ALLOWED:
                assert target in ALLOWED[part] | {part}, f"{path.name}: {part} imports {name}"
        if top in ONLY_IN:
            assert part in ONLY_IN[top], f"{path.name}: only {ONLY_IN[top]} may import {top}"
        if part == "analysis" and top not in {"perf_pipeline", "__future__"}:
            import sys

            assert top in ANALYSIS_THIRD_PARTY or top in sys.stdlib_module_names, (
                f"{path.name}: analysis/ may not import {name}")


def test_a_relative_import_is_checked_as_the_module_it_names() -> None:
    runs = PACKAGE / "model" / "runs.py"
    assert _absolute(runs, "store.history", 2) == "perf_pipeline.store.history"
    assert _absolute(runs, "samples", 1) == "perf_pipeline.model.samples"
    assert _absolute(PACKAGE / "cli.py", None, 1) == "perf_pipeline"


def test_the_model_package_is_the_model_layer() -> None:
    """``model`` became a package: each of its modules is held to the model's rule (errors
    and the model itself, nothing above), not left out of the table."""
    modules = [p for p in MODULES if p.relative_to(PACKAGE).parts[0] == "model"]
    assert len(modules) > 1 and {_part(p) for p in modules} == {"model"}
    assert ALLOWED["model"] == {"errors"}


def test_the_layer_table_knows_every_part() -> None:
    """A new top-level module or package must be placed in the layers, not slip past."""
    parts = {_part(p) for p in MODULES} - {"__init__", "definitions"}
    assert parts <= set(ALLOWED), f"add to ALLOWED in test_layers.py: {parts - set(ALLOWED)}"


def _console_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "print":
            found.append(f"print() at line {node.lineno}")
        elif (isinstance(func, ast.Attribute) and func.attr == "exit"
              and isinstance(func.value, ast.Name) and func.value.id == "sys"):
            found.append(f"sys.exit() at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", [p for p in MODULES if _part(p) not in CONSOLE_PARTS],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_prints_or_exits(path: Path) -> None:
    assert not _console_calls(path), f"{path.name}: {_console_calls(path)}"


def test_plugin_imports_only_stdlib_and_psutil() -> None:
    import sys

    from perf_pipeline.measure.runner import STAGED_MODULES

    for module in STAGED_MODULES:  # everything staged into the target's environment
        plugin = PACKAGE / "measure" / module
        for name in _imports(plugin):
            top = name.split(".")[0]
            if top in {"perf_pipeline", "__future__"}:
                continue
            assert top in sys.stdlib_module_names or top in {"psutil", "pytest",
                                                             "pytest_benchmark"}, (
                f"{module} runs inside the target's pytest and may not import {name}")



def test_no_step_module_is_named_like_a_public_step() -> None:
    """Importing a submodule binds it on its package. ``perf_pipeline.pipeline`` exports
    its steps lazily, so a module named like one of them (``pipeline/calibrate.py`` beside
    ``calibrate``) replaced the function with the module for every later
    ``from perf_pipeline.pipeline import calibrate`` once anything imported the module
    first (``CalibrationOutcome`` did)."""
    import perf_pipeline.pipeline as pipeline

    modules = {p.stem for p in Path(pipeline.__file__).parent.glob("*.py")}
    assert not modules & set(pipeline.__all__)
