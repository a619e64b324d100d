"""A small typed-schema loader for TOML configs.

Config sections are dataclasses. `load_section(cls, table, path)` turns a TOML
table into an instance and refuses, with a message naming the key, the value and
what is allowed:

* keys the dataclass does not declare (typos),
* values of the wrong type (`Literal[...]`, `int`, `float`, `bool`, `str`,
  `list[...]`, `dict`, optional and nested dataclass fields),
* numbers outside the bounds declared with `bounded(min=..., max=...)` (or `above=...`,
  an exclusive minimum), and numbers that are not finite (nan, inf),
* names used as folder names (`path_name_problem`) that could leave the output folder.

Every field says what it means (`bounded(..., doc=...)` or `option(..., doc=...)`);
`poft.config.reference` turns the sections into docs/config.md.

`read_toml(path)` reads the file (a clear error for a folder, bad text or bad TOML).

Cross-field rules live in each section's `check()` method, which raises
`ConfigError` through `fail(path, message)`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from poft.errors import InputError


class ConfigError(InputError):
    """A config value is missing, unknown or not allowed."""


def fail(path: str, message: str) -> typing.NoReturn:
    raise ConfigError(f"config error at '{path}': {message}")


def bounded(default: Any = dataclasses.MISSING, *, min: float | None = None,
            max: float | None = None, above: float | None = None,
            default_factory: Any = dataclasses.MISSING, doc: str | None = None):
    """A dataclass field with numeric bounds checked on load (``above``: an exclusive
    minimum), and its meaning (`doc`, which docs/config.md shows: `poft.config.reference`)."""
    meta = {"min": min, "max": max, "above": above, "doc": doc}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def option(default: Any = dataclasses.MISSING, *, doc: str,
           default_factory: Any = dataclasses.MISSING):
    """A dataclass field without numeric bounds, with its meaning (see `bounded`)."""
    return bounded(default, default_factory=default_factory, doc=doc)


def load_section(cls: type, table: Any, path: str):
    """Build dataclass `cls` from a TOML table, validating every key."""
    if not isinstance(table, dict):
        fail(path, f"expected a table, got {_show(table)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        fail(f"{path}.{unknown[0]}" if path else unknown[0],
             f"unknown key; allowed keys are: {', '.join(sorted(fields))}")
    values = {}
    for name, field in fields.items():
        key_path = f"{path}.{name}" if path else name
        if name in table:
            values[name] = _convert(hints[name], table[name], key_path)
            _check_bounds(field, values[name], key_path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            fail(key_path, "required key is missing")
    instance = cls(**values)
    check = getattr(instance, "check", None)
    if check is not None:
        check(path)
    return instance


def to_table(instance) -> dict:
    """The inverse of `load_section`: a TOML-ready dict without None values."""
    out = {}
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_table(value)
        elif isinstance(value, list):
            value = [to_table(v) if dataclasses.is_dataclass(v) else v for v in value]
        out[field.name] = value
    return out


def _convert(hint: Any, value: Any, path: str):
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(get_args(hint)):
            return None
        errors = []
        for option in options:
            try:
                return _convert(option, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        fail(path, f"{_show(value)} is not allowed ({'; '.join(errors)})")
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            fail(path, f"{_show(value)} is not allowed; choose one of: "
                       f"{', '.join(repr(a) for a in allowed)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            fail(path, f"expected a list, got {_show(value)}")
        (item,) = get_args(hint)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            fail(path, f"expected a table, got {_show(value)}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return load_section(hint, value, path)
    if hint is bool:
        if not isinstance(value, bool):
            fail(path, f"expected true or false, got {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, f"expected an integer, got {_show(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(path, f"expected a number, got {_show(value)}")
        if not math.isfinite(value):
            fail(path, f"expected a finite number, got {_show(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            fail(path, f"expected a string, got {_show(value)}")
        return value
    if hint is Any:
        return value
    raise TypeError(f"schema type {hint!r} at {path} is not supported")


def _check_bounds(field: dataclasses.Field, value: Any, path: str) -> None:
    low, high = field.metadata.get("min"), field.metadata.get("max")
    if value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if low is not None and value < low:
        fail(path, f"{_show(value)} is too small; must be >= {low}")
    above = field.metadata.get("above")
    if above is not None and value <= above:
        fail(path, f"{_show(value)} is too small; must be > {above}")
    if high is not None and value > high:
        fail(path, f"{_show(value)} is too large; must be <= {high}")


_PATH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def path_name_problem(value: str) -> str | None:
    """Why ``value`` cannot name a folder or file inside the output folder (None: it
    can): a network's models go to models/<name>/, so "../x" would write outside it."""
    if _PATH_NAME.fullmatch(value):
        return None
    return (f"{value!r} is used in file names; use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit")


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def read_toml(path: str | Path, example: str = "examples/quickstart.toml") -> dict:
    """A TOML file as a dict; a missing file or bad TOML is a ConfigError."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a folder; give a config file, e.g. {example}")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; see examples/ for "
                          f"ready configs, e.g. {example}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))   # a BOM is no error
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not a TOML text file: byte {exc.start} is not UTF-8 "
                          f"text; see {example}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
