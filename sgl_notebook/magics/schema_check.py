"""What is wrong with a JSON schema, and where (``properties.name.type``), found in microseconds.

The keywords of JSON Schema (draft 2020-12 and the drafts before it) each take one kind of value:
this walks a schema and checks every keyword it knows, with the path to the first mistake.
Unknown keywords are allowed, as the standard allows them. ``jsonschema`` would say the same
for these keywords, but importing it costs seconds (its format checkers build parsers at
import), which is what made a refused schema slow to report.

>>> schema_problem({"type": "object", "properties": {"age": {"type": "integer", "minimum": "0"}}})
"properties.age.minimum: '0' is not a number"
>>> schema_problem({"type": "array", "items": {"type": "string"}, "minItems": 1}) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sgl_notebook.magics.errors import did_you_mean

__all__ = ["JSON_TYPES", "schema_problem"]

JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
Check = Callable[[Any, tuple[Any, ...]], "str | None"]


def _path(parts: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in parts) or "(the top level)"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type(value: Any, at: tuple[Any, ...]) -> str | None:
    kinds = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        return f"{_path(at)}: an empty list of types allows nothing"
    for kind in kinds:
        if kind not in JSON_TYPES:
            hint = did_you_mean(str(kind), JSON_TYPES)
            message = f"{_path(at)}: {kind!r} is not a JSON type (one of {', '.join(JSON_TYPES)})"
            return f"{message}.{hint}" if hint else message
    return None


def _number(value: Any, at: tuple[Any, ...]) -> str | None:
    return None if _is_number(value) else f"{_path(at)}: {value!r} is not a number"


def _count(value: Any, at: tuple[Any, ...]) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    return f"{_path(at)}: {value!r} is not a whole number >= 0"


def _positive(value: Any, at: tuple[Any, ...]) -> str | None:
    return None if _is_number(value) and value > 0 else f"{_path(at)}: {value!r} is not > 0"


def _text(value: Any, at: tuple[Any, ...]) -> str | None:
    return None if isinstance(value, str) else f"{_path(at)}: {value!r} is not a string"


def _flag(value: Any, at: tuple[Any, ...]) -> str | None:
    return None if isinstance(value, bool) else f"{_path(at)}: {value!r} is not true or false"


def _pattern(value: Any, at: tuple[Any, ...]) -> str | None:
    if not isinstance(value, str):
        return f"{_path(at)}: {value!r} is not a string"
    try:
        re.compile(value)
    except re.error as exc:
        return f"{_path(at)}: {value!r} is not a valid regular expression ({exc.msg})"
    return None


def _names(value: Any, at: tuple[Any, ...]) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"{_path(at)}: {value!r} is not a list of property names"
    return None


def _list(value: Any, at: tuple[Any, ...]) -> str | None:
    return None if isinstance(value, list) else f"{_path(at)}: {value!r} is not a list"


def _schema(value: Any, at: tuple[Any, ...]) -> str | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, dict):
        return f"{_path(at)}: {value!r} is not a schema (an object or true/false)"
    for key, child in value.items():
        check = _KEYWORDS.get(key)
        found = check(child, (*at, key)) if check is not None else None
        if found:
            return found
    return None


def _schemas(value: Any, at: tuple[Any, ...]) -> str | None:
    if not isinstance(value, list) or not value:
        return f"{_path(at)}: {value!r} is not a non-empty list of schemas"
    for i, child in enumerate(value):
        found = _schema(child, (*at, i))
        if found:
            return found
    return None


def _schema_map(value: Any, at: tuple[Any, ...]) -> str | None:
    if not isinstance(value, dict):
        return f"{_path(at)}: {value!r} is not an object of schemas"
    for key, child in value.items():
        found = _schema(child, (*at, key))
        if found:
            return found
    return None


def _items(value: Any, at: tuple[Any, ...]) -> str | None:
    # a schema; a list of schemas in drafts before 2020-12
    return _schemas(value, at) if isinstance(value, list) else _schema(value, at)


def _dependencies(value: Any, at: tuple[Any, ...]) -> str | None:
    if not isinstance(value, dict):
        return f"{_path(at)}: {value!r} is not an object"
    for key, child in value.items():
        found = _names(child, (*at, key)) if isinstance(child, list) else _schema(child, (*at, key))
        if found:
            return found
    return None


_KEYWORDS: dict[str, Check] = {
    "type": _type,
    "properties": _schema_map, "patternProperties": _schema_map,
    "$defs": _schema_map, "definitions": _schema_map, "dependentSchemas": _schema_map,
    "additionalProperties": _schema, "unevaluatedProperties": _schema, "propertyNames": _schema,
    "items": _items, "additionalItems": _schema, "unevaluatedItems": _schema,
    "contains": _schema, "not": _schema, "if": _schema, "then": _schema, "else": _schema,
    "prefixItems": _schemas, "allOf": _schemas, "anyOf": _schemas, "oneOf": _schemas,
    "required": _names, "dependentRequired": _dependencies, "dependencies": _dependencies,
    "enum": _list,
    "minimum": _number, "maximum": _number,
    "exclusiveMinimum": lambda v, at: None if isinstance(v, bool) else _number(v, at),
    "exclusiveMaximum": lambda v, at: None if isinstance(v, bool) else _number(v, at),
    "multipleOf": _positive,
    "minLength": _count, "maxLength": _count, "minItems": _count, "maxItems": _count,
    "minProperties": _count, "maxProperties": _count, "minContains": _count,
    "maxContains": _count,
    "uniqueItems": _flag, "readOnly": _flag, "writeOnly": _flag, "deprecated": _flag,
    "pattern": _pattern,
    "format": _text, "title": _text, "description": _text, "$ref": _text, "$id": _text,
    "$schema": _text, "$anchor": _text, "$comment": _text, "contentMediaType": _text,
    "contentEncoding": _text,
}


def schema_problem(schema: Any) -> str | None:
    """The first mistake in ``schema`` with its path, or None when every keyword is well-formed."""
    return _schema(schema, ())
