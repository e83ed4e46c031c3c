"""Validate an object against a CRD's structural openAPIV3Schema, as the API server does.

Covers the subset CRDs use for shape: type, properties, required, items, enum,
additionalProperties, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
format int32/int64, nullable, minimum/maximum, pattern, min/max length and items. Unknown
fields are errors (kubectl's strict field validation) and every one of them is listed.
CEL rules (x-kubernetes-validations) are left to the server's dry run.
"""
from __future__ import annotations

import difflib
import functools
import re
from typing import Any

from .crd_schema import OBJECT_META
from .problems import Problem

_FORMAT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false"}


def schema_problems(obj: dict, schema: dict, label: str) -> list[Problem]:
    """Every place where ``obj`` does not fit ``schema`` (the CRD's openAPIV3Schema)."""
    walker = _Walker(label)
    walker.visit(obj, _with_object_meta(schema), "")
    return walker.problems


def _with_object_meta(schema: dict) -> dict:
    properties = dict(schema.get("properties") or {})
    if not (properties.get("metadata") or {}).get("properties"):
        properties["metadata"] = OBJECT_META
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    return {**schema, "properties": properties}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__)


def _fits(type_name: str, value: Any) -> bool:
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _child(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern:
    return re.compile(text)


class _Walker:
    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[Problem] = []

    def report(self, path: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.label, path or "(root)", message, fix))

    def visit(self, value: Any, schema: dict, path: str) -> None:
        if value is None:
            if not schema.get("nullable"):
                self.report(path, "null is not allowed here", "remove the field or give it a value")
            return
        if schema.get("x-kubernetes-int-or-string"):
            if not (_fits("integer", value) or isinstance(value, str)):
                self.report(path, f"expected an integer or a string, got {_kind_of(value)}",
                            "write a number or a string like \"50%\"")
                return
        elif "type" in schema and not _fits(schema["type"], value):
            expected = _TYPE_WORDS.get(schema["type"], schema["type"])
            self.report(path, f"expected {expected}, got {_kind_of(value)} ({value!r})"[:200], f"write {expected}")
            return
        if "enum" in schema and value not in schema["enum"]:
            self.report(path, f"{value!r} is not allowed", f"use one of {', '.join(map(repr, schema['enum']))}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(value, schema, path)
        elif isinstance(value, str):
            self._string(value, schema, path)
        elif isinstance(value, list):
            self._array(value, schema, path)
        elif isinstance(value, dict):
            self._object(value, schema, path)

    def _number(self, value: float, schema: dict, path: str) -> None:
        low, high = _FORMAT_RANGES.get(schema.get("format", ""), (None, None))
        if low is not None and not low <= value <= high:
            self.report(path, f"{value} does not fit in {schema['format']}", f"use {low} to {high}")
        if "minimum" in schema and (value < schema["minimum"] or (schema.get("exclusiveMinimum") and value == schema["minimum"])):
            self.report(path, f"{value} is below the minimum {schema['minimum']}", f"use {schema['minimum']} or more")
        if "maximum" in schema and (value > schema["maximum"] or (schema.get("exclusiveMaximum") and value == schema["maximum"])):
            self.report(path, f"{value} is above the maximum {schema['maximum']}", f"use {schema['maximum']} or less")

    def _string(self, value: str, schema: dict, path: str) -> None:
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            self.report(path, f"{value!r} does not match the pattern {schema['pattern']}", "write a value of the documented form")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.report(path, f"longer than {schema['maxLength']} characters", "shorten it")
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.report(path, f"shorter than {schema['minLength']} characters", "lengthen it")

    def _array(self, value: list, schema: dict, path: str) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.report(path, f"more than {schema['maxItems']} items", "remove some")
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.report(path, f"fewer than {schema['minItems']} items", "add the missing items")
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                self.visit(item, items, f"{path}[{index}]")

    def _object(self, value: dict, schema: dict, path: str) -> None:
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                self.report(_child(path, name), "required field is missing", "add it")
        additional = schema.get("additionalProperties")
        open_ended = schema.get("x-kubernetes-preserve-unknown-fields") or additional is True
        for key, item in value.items():
            key = str(key)
            if key in properties:
                self.visit(item, properties[key], _child(path, key))
            elif isinstance(additional, dict):
                self.visit(item, additional, _child(path, key))
            elif not open_ended:
                self._unknown(key, properties, _child(path, key))

    def _unknown(self, key: str, properties: dict, path: str) -> None:
        close = difflib.get_close_matches(key, list(properties), n=1)
        if close:
            fix = f"did you mean {close[0]!r}?"
        elif properties:
            fix = f"remove it; allowed here: {', '.join(sorted(properties))}"[:300]
        else:
            fix = "remove it; this mapping takes no fields"
        self.report(path, "unknown field", fix)
