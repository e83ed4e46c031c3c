"""Typed parsing of YAML mappings into dataclasses, with errors that name the field.

Every config section of kfunc (runtime, model store, cache, deploy) is a frozen dataclass;
``parse(Section, mapping, "path")`` checks types, rejects unknown keys and fills defaults.
A field's ``metadata={"check": fn}`` adds a value check returning an error message or None.
"""
from __future__ import annotations

import dataclasses
import re
import difflib
import types
import typing
from typing import Any, Literal, TypeVar, Union

from .errors import ConfigError

T = TypeVar("T")
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")


def parse_size(text: str) -> int:
    """``"512Mi"`` -> 536870912 (bytes or a Kubernetes-style quantity); raise ValueError on anything else."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a size; use bytes or a quantity like 512Mi or 20Gi")
    return int(float(match.group(1)) * _UNITS[match.group(2) or ""])


def check_size(text: str) -> str | None:
    """A ``check`` for size fields: None when ``text`` is a positive size, else the problem."""
    try:
        return None if parse_size(text) > 0 else "must be greater than 0"
    except ValueError as exc:
        return str(exc)


def parse(cls: type[T], data: Any, path: str) -> T:
    """Build ``cls`` from a mapping; raise ConfigError naming ``path.field`` on any mistake."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    yaml_names = {_yaml_name(f): f for f in fields.values()}
    unknown = [k for k in data if k not in yaml_names]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), yaml_names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(sorted(yaml_names))}"
        raise ConfigError(f"{_join(path, key)}: unknown field{hint}")
    values = {}
    for yaml_key, field in yaml_names.items():
        where = _join(path, yaml_key)
        if yaml_key not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: required field is missing")
            continue
        value = _coerce(hints[field.name], data[yaml_key], where)
        check = field.metadata.get("check")
        problem = check(value) if check and value is not None else None
        if problem:
            raise ConfigError(f"{where}: {problem}")
        values[field.name] = value
    return cls(**values)


def _yaml_name(field: dataclasses.Field) -> str:
    return field.metadata.get("yaml", field.name)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(option, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {_kind(value)} does not fit any allowed form")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not allowed; use one of {', '.join(map(repr, args))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {_kind(value)}")
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_kind(value)}")
        return {_coerce(args[0], k, where): _coerce(args[1], v, _join(where, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return parse(tp, value, where)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {_kind(tp())}, got {_kind(value)} ({value!r})")
    return value
