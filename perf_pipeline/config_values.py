"""Settings values from text and TOML: the environment gives strings, perf_pipeline.toml
gives TOML's kinds, and each setting wants the one kind of its ``Settings`` field.

Kept apart from ``config.py`` (which owns the settings and their rules) because reading a
value is a job of its own: strict about kinds (a list where a path goes is an error, not
``"['res']"``) and lenient about spelling (``"1.5"`` for a number, a comma-separated
string for a list, as the environment must give them).
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path

from perf_pipeline.errors import InvalidInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["coerce_value", "read_config_file"]


def coerce_value(name: str, kind: str, value: object) -> object:
    """Turn a string or TOML value into the kind of the setting ``name`` (its ``Settings``
    field type, as text: ``"int"``, ``"Path | None"``, ``"tuple[str, ...]"``)."""
    try:
        _check_kind(kind, value)
        if kind == "str | None":
            return str(value) if str(value).strip() else None
        if kind in ("Path", "Path | None"):
            if not str(value).strip():
                # Path("") is the working directory: --results-dir "$UNSET" made a new
                # empty history there.
                raise ValueError("an empty path; write '.' for the current directory")
            return Path(str(value)).expanduser()
        if kind == "bool":
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError("expected true/false, yes/no, on/off or 1/0")
            return word in ("1", "true", "yes", "on")
        if kind == "float":
            return float(value)  # type: ignore[arg-type]
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                # int() truncated 2.7 to 2 and raised OverflowError (a crash) on inf.
                raise ValueError("expected a whole number")
            return int(value)  # type: ignore[arg-type]
        if kind == "tuple[tuple[str, ...], ...]":
            if isinstance(value, str) or not all(
                    isinstance(v, (list, tuple)) for v in value):  # type: ignore[union-attr]
                raise TypeError("expected a list of argv lists, e.g. [[\"make\", \"ext\"]]")
            return tuple(tuple(str(a) for a in v) for v in value)  # type: ignore[union-attr]
        if kind == "tuple[str, ...]":
            if isinstance(value, str):
                # "main, release": the space after a comma is not part of a name.
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)  # type: ignore[union-attr]
        return str(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"setting {name}: cannot use {value!r} ({exc})") from exc


def _check_kind(kind: str, value: object) -> None:
    """Refuse a value of the wrong TOML kind, which ``str()`` and ``float()`` once turned
    into something else without a word: a list as a path (``results_dir = ["res"]`` made a
    folder named ``['res']``), ``true`` as the number 1, a table as its keys."""
    def scalar(v: object) -> bool:
        return not isinstance(v, (list, tuple, dict, bool))

    if kind == "bool":
        ok = isinstance(value, bool) or scalar(value)
    elif kind.startswith("tuple[tuple"):
        ok = isinstance(value, (str, list, tuple)) and all(
            isinstance(v, (list, tuple)) and all(scalar(a) for a in v)
            for v in (() if isinstance(value, str) else value))
    elif kind.startswith("tuple"):
        ok = isinstance(value, str) or (isinstance(value, (list, tuple))
                                        and all(scalar(v) for v in value))
    else:
        ok = scalar(value)
    if not ok:
        expected = {"bool": "true or false", "int": "a whole number", "float": "a number"}.get(
            kind, "a list of argv lists" if kind.startswith("tuple[tuple") else
            "a list of strings" if kind.startswith("tuple") else "a string")
        listed = kind.startswith("tuple") and isinstance(value, (list, tuple))
        bad = next((v for v in value if not scalar(v)), value) if listed else value
        raise TypeError(f"expected {expected}, not {type(bad).__name__}"
                        + (" inside it" if bad is not value else ""))


#: Byte-order marks of encodings TOML does not allow (a TOML file is UTF-8).
_FOREIGN_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                 (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def _toml_text(path: Path, data: bytes) -> str:
    """The text of a TOML file: UTF-8, with a leading byte-order mark dropped.

    Windows editors (Notepad, PowerShell's ``Out-File -Encoding utf8``) start UTF-8 files
    with a BOM, which ``tomllib`` refuses as "Invalid statement (at line 1, column 1)",
    a message that points at nothing one can see. Most TOML readers skip it; so do we.
    A UTF-16 or UTF-32 file (Notepad's "Unicode") is refused by name.
    """
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            raise InvalidInputError(f"config file {path} is {encoding} text; TOML files are "
                                    "UTF-8: save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"config file {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); TOML files are UTF-8: save it as UTF-8") from exc


def read_config_file(path: Path, known: Collection[str]) -> dict[str, object]:
    """The settings of the TOML file ``path``, as written (``coerce_value`` each one)."""
    try:
        data = tomllib.loads(_toml_text(path, path.read_bytes()))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"config file {path}: {exc}") from exc
    section = data.get("perf_pipeline", data)
    outside = sorted(set(data) - {"perf_pipeline"}) if section is not data else []
    if outside:
        # TOML puts keys written above the [perf_pipeline] header outside the table; they
        # were ignored without a word (threshold = 1.5 there judged at 1.2).
        raise InvalidInputError(f"config file {path}: {outside} stand outside the "
                                "[perf_pipeline] table and would be ignored: move them under it")
    if not isinstance(section, dict):
        raise InvalidInputError(f"config file {path}: [perf_pipeline] must be a table of "
                                f"settings, not {type(section).__name__} {section!r}")
    unknown = sorted(set(section) - known)
    if unknown:
        raise InvalidInputError(f"config file {path}: unknown settings {unknown}")
    return dict(section)
