"""--json-schema checked in the kernel: every keyword's kind of value, with the path of the first
mistake; well-formed schemas (pydantic's included) pass untouched."""

from __future__ import annotations

import pytest

from sgl_notebook.magics.errors import InvalidSchemaError
from sgl_notebook.magics.requests import resolve_schema
from sgl_notebook.magics.schema_check import schema_problem


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "objekt"}, "type: 'objekt' is not a JSON type"),
        ({"type": ["string", "nul"]}, "type: 'nul' is not a JSON type"),
        ({"properties": {"a": {"type": "strin"}}}, "properties.a.type: 'strin'"),
        ({"properties": {"a": 3}}, "properties.a: 3 is not a schema"),
        ({"required": "name"}, "required: 'name' is not a list of property names"),
        ({"items": {"minLength": -1}}, "items.minLength: -1 is not a whole number >= 0"),
        ({"anyOf": []}, "anyOf: [] is not a non-empty list of schemas"),
        ({"oneOf": [{"type": "string"}, {"maximum": "9"}]}, "oneOf.1.maximum: '9' is not a number"),
        ({"multipleOf": 0}, "multipleOf: 0 is not > 0"),
        ({"pattern": "(a"}, "pattern: '(a' is not a valid regular expression"),
        ({"$defs": {"P": {"additionalProperties": "no"}}}, "$defs.P.additionalProperties"),
        ({"enum": "a,b"}, "enum: 'a,b' is not a list"),
        ({"uniqueItems": "yes"}, "uniqueItems: 'yes' is not true or false"),
    ],
)
def test_each_mistake_is_named_with_its_path(schema, problem):
    found = schema_problem(schema)
    assert found is not None and found.startswith(problem), found


def test_well_formed_schemas_pass():
    pydantic = pytest.importorskip("pydantic")

    class City(pydantic.BaseModel):
        name: str
        population: int | None = None
        tags: list[str] = []

    for schema in (
        City.model_json_schema(),
        {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}},
         "required": ["n"], "additionalProperties": False},
        {"type": ["string", "null"], "x-custom": {"anything": 1}},  # unknown keywords are allowed
        {"items": [{"type": "string"}], "additionalItems": False},  # draft-7 tuple form
        True,
    ):
        assert schema_problem(schema) is None, schema


def test_the_magic_error_reads_as_one_sentence():
    with pytest.raises(InvalidSchemaError) as caught:
        resolve_schema('{"type": "object", "properties": {"name": {"type": "objekt"}}}', {})
    assert str(caught.value) == (
        "--json-schema is not a valid JSON schema: properties.name.type: 'objekt' is not a JSON "
        "type (one of array, boolean, integer, null, number, object, string). "
        "Did you mean 'object'?"
    )
