"""Marshmallow schemas as the JSON Schema the published documents (AsyncAPI, OpenAPI) show.

One rule both documents need: a field that may be null and lists its values (an ``enum``) lists
null too. An enum is a closed list, so without it the document refuses the null it promises
(OpenAPI 3.0.3: ``nullable`` does not add null to an enum; JSON Schema: ``type: [X, "null"]``
does not either). apispec adds it for a ``OneOf`` validator but not for an enum given as metadata.
"""
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin


def json_schema(schema):
    """The JSON Schema (draft 7, which AsyncAPI's Schema Object extends) of a marshmallow schema.

    apispec writes OpenAPI 3.1 here, which is plain JSON Schema: a field that may be null is
    ``type: [X, "null"]``, not OpenAPI 3.0's ``nullable: true`` (a keyword JSON Schema ignores,
    so a null value would break the documented schema). Nested schemas are inlined.
    """
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    APISpec(title="schema", version="1", openapi_version="3.1.0", plugins=[plugin])
    return null_in_enums(plugin.converter.schema2jsonschema(schema))


def null_in_enums(node):
    """Add null to every ``enum`` of a schema that admits null (``nullable: true`` or
    ``type: [..., "null"]``), anywhere in ``node``; changes ``node`` in place and returns it."""
    if isinstance(node, dict):
        types = node.get("type")
        nullable = node.get("nullable") is True or (isinstance(types, list) and "null" in types)
        if nullable and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"].append(None)
        for value in node.values():
            null_in_enums(value)
    elif isinstance(node, list):
        for value in node:
            null_in_enums(value)
    return node
