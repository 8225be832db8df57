"""Public names of a package loaded on first use (PEP 562), for ``measure`` and ``pipeline``.

Importing one module of a package runs the package's ``__init__``; one that imported
every module made each importer pay for all of them: a no-op ``perf-pipeline ingest``
spent most of its 2.2 s on steps it never ran, and every measured pytest process 0.2-0.4 s
on git, the store and numpy to load a standard-library plugin.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, module_of: Mapping[str, str],
               namespace: MutableMapping[str, Any]
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__``: ``module_of`` maps each public name
    to the submodule that defines it; a name, once loaded, is kept in ``namespace`` (the
    package's globals), so it is looked up only once."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *module_of})

    return __getattr__, __dir__
