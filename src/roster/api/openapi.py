"""The OpenAPI document at ``/openapi.json``: what FastAPI derives from the routes, completed with
what the app does around every route, so the document is the API that answers.

* Credentials (``Basic`` or ``Bearer``) on every operation but ``/healthz``.
* The answers every operation can give besides its own: 400 (an unknown query parameter, a
  malformed value), 401 (credentials), 404 (a path id holding ``/`` names no route), 503 (the
  database is unavailable); FastAPI's default 422 is dropped (a bad parameter is a 400 here).
  Every error answer has its body's schema (MoEngage's envelope, Masivo's under its prefix).
* The strict JSON rules every body is held to (``formats.strict_json``): no NUL in any string or
  key, integers within 64 bits. Free-form values (attributes, traits, extra fields) are any such
  JSON (``StrictJson``).
* Parameters: path ids are 1-255 characters without a NUL, as ``api.params`` checks them.

Shapes the door does not check element by element are marked ``x-roster-ledger: true``: their
problems are reported per element in the batch's ledger (``docs/api.md``), so their schema is
permissive and the shape the worker expects is under ``x-roster-expected``.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

NO_NUL = "^[^\\u0000]*$"
INT64: dict[str, int] = {"minimum": -(2**63), "maximum": 2**63 - 1}
STRICT_REF = {"$ref": "#/components/schemas/StrictJson"}
#: Masivo's paths answer errors in Masivo's envelope (``api.errors``).
MASIVO_PREFIX = "/api/storefront/"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

STRICT_JSON: dict[str, Any] = {
    "description": "Any JSON value strict parsing takes: no NUL in a string or key, integers "
    "within the signed 64-bit range, at most 32 levels deep.",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "integer", **INT64},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": STRICT_REF},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": STRICT_REF,
        },
    ],
}
_NULLABLE_TEXT = {"anyOf": [{"type": "string"}, {"type": "null"}]}
ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "description": "MoEngage's error envelope with Roster's stable code; on the Data Pipelines "
    "paths `code` and `message` are also at the top.",
    "required": ["status", "error"],
    "properties": {
        "status": {"const": "fail"},
        "error": {
            "type": "object",
            "required": ["code", "type", "message"],
            "properties": {
                "code": {"type": "string"},
                "type": {"type": "string"},
                "message": {"type": "string"},
                "field": _NULLABLE_TEXT,
                "index": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            },
        },
    },
}
MASIVO_ERROR_BODY: dict[str, Any] = {
    "description": "Masivo's error shape (`error`, `details`); a refusal made before the route "
    "is reached (an unknown path or method) has MoEngage's envelope.",
    "anyOf": [
        {
            "type": "object",
            "required": ["error", "details"],
            "properties": {
                "error": {"type": "string"},
                "details": {"type": "string"},
                "field": _NULLABLE_TEXT,
                "index": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            },
        },
        {"$ref": "#/components/schemas/ErrorBody"},
    ],
}
SECURITY_SCHEMES = {
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "workspace_id:api_key, or api_key: (Data Pipelines: the key as user)",
    },
    "bearer": {"type": "http", "scheme": "bearer", "description": "the API key (Masivo)"},
}
#: ``json_schema_extra`` of a query parameter declared optional (so the route answers its absence
#: itself, in the vendor's words) that the document lists as required.
REQUIRED = {"x-roster-required": True}
PUBLIC_PATHS = frozenset({"/healthz"})
REASONS = {
    400: "A malformed request: an unknown query parameter, a bad value or body",
    401: "Missing or wrong credentials",
    404: "Not found (a path id holding '/' names no route)",
    503: "The database is unavailable (Retry-After)",
}


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            base = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            app.openapi_schema = complete(base)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add what the app does around the routes to FastAPI's document (see the module doc)."""
    document = copy.deepcopy(document)  # it holds the routes' own (shared) schema dicts
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["StrictJson"] = STRICT_JSON
    schemas["ErrorBody"] = ERROR_BODY
    schemas["MasivoErrorBody"] = MASIVO_ERROR_BODY
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                _operation(path, operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _operation(path: str, operation: dict[str, Any]) -> None:
    public = path in PUBLIC_PATHS
    operation["security"] = [] if public else [{"basic": []}, {"bearer": []}]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    default_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
    if "HTTPValidationError" in str(default_422.get("schema", "")):
        del responses["422"]  # FastAPI's; a parameter it refuses is a 400 here (api.errors)
    codes = [400, 503] if public else [400, 401, 503]
    if "{" in path:
        codes.append(404)
    for code in codes:
        responses.setdefault(str(code), {"description": REASONS[code]})
    body_ref = "MasivoErrorBody" if path.startswith(MASIVO_PREFIX) else "ErrorBody"
    for status, response in responses.items():
        if status[0] in "45" and "content" not in response:
            schema = {"$ref": f"#/components/schemas/{body_ref}"}
            response["content"] = {"application/json": {"schema": schema}}
    for parameter in operation.get("parameters", []):
        _parameter(parameter)
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        strict(content["application/json"].get("schema", {}))


def _parameter(parameter: dict[str, Any]) -> None:
    schema = parameter.setdefault("schema", {})
    if schema.pop("x-roster-required", False):
        parameter["required"] = True
        schema.pop("anyOf", None)
        schema.pop("default", None)
        schema["type"] = "string"
    variants = schema.get("anyOf", [schema])
    for variant in variants:
        if variant.get("type") != "string" or "enum" in variant:
            continue
        variant.setdefault("pattern", NO_NUL)
        if parameter.get("in") == "path":  # an id: api.params.text_param
            variant.setdefault("minLength", 1)
            variant.setdefault("maxLength", 255)


_COMBINATORS = ("anyOf", "oneOf", "allOf")
_CONSTRAINED = ("type", "$ref", "enum", "const", "not", *_COMBINATORS)


def strict(schema: Any) -> None:
    """Hold a request body's schema to strict JSON, in place: NUL-free strings and keys, 64-bit
    integers, and ``StrictJson`` wherever any value is taken. ``x-`` extensions (the expected
    shape of a ledger-marked element) are documentation and left as they are."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    for key in _COMBINATORS:
        for branch in schema.get(key, []):
            strict(branch)
    if not any(key in schema for key in _CONSTRAINED):
        schema["anyOf"] = [STRICT_REF]
        return
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "string" in kinds:
        schema.setdefault("pattern", NO_NUL)
    if "integer" in kinds:
        for bound, value in INT64.items():
            schema.setdefault(bound, value)
    if "object" in kinds:
        schema.setdefault("propertyNames", {"pattern": NO_NUL})
        extra = schema.get("additionalProperties", True)
        if extra is True:
            schema["additionalProperties"] = STRICT_REF
        else:
            strict(extra)
        for value in schema.get("properties", {}).values():
            strict(value)
    if "array" in kinds:
        if "items" in schema:
            strict(schema["items"])
        else:
            schema["items"] = STRICT_REF
