"""A config table written back as TOML text (`tomllib` only reads): the resolved
config every run writes into its output folder (`dump_config`)."""

from __future__ import annotations

from typing import Any


def to_toml(table: dict, prefix: str = "") -> str:
    """`table` (a config as `schema.to_table` gives it) as TOML text: scalars first, then
    its tables, then its arrays of tables (`[[networks]]`)."""
    scalars, tables, arrays = [], [], []
    for key, value in table.items():
        if isinstance(value, dict) and key not in ("params", "attack_params"):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            arrays.append((key, value))
        else:
            scalars.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for key, value in tables:
        name = f"{prefix}{key}"
        out += f"\n[{name}]\n" + to_toml(value, f"{name}.")
    for key, items in arrays:
        name = f"{prefix}{key}"
        for item in items:
            out += f"\n[[{name}]]\n" + to_toml(item, f"{name}.")
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")
