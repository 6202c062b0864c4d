"""The OpenAPI 3.1 document, built from the same Endpoint list that builds the routes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from node.routes.endpoint import Endpoint
from node.routes.schemas import ErrorOut

REF_TEMPLATE = "#/components/schemas/{model}"
_ERROR_TEXT = {
    400: "Malformed request",
    401: "Missing or bad credentials",
    404: "Not found",
    409: "Conflict (idempotency key reused, not enough points, duplicate)",
    413: "Body too large",
    415: "Body is not application/json",
    422: "A field is missing, unknown or out of range",
}


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def build_openapi(endpoints: Iterable[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    error_ref = _schema_ref(ErrorOut, components)
    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "operationId": endpoint.handler.__name__,
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "responses": {},
        }
        doc = (endpoint.handler.__doc__ or "").strip()
        if doc:
            operation["description"] = doc
        if endpoint.auth == "operator":
            operation["security"] = [{"apiKey": []}]
        elif endpoint.auth == "customer":
            operation["security"] = [{"customerToken": []}]
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", endpoint.path)
        ]
        if endpoint.idempotent:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "description": "Unique per write and per API key; a retry with the same "
                    "key replays the first answer, the same key with another body is a 409.",
                    "schema": {"type": "string", "maxLength": 200},
                }
            )
        if endpoint.query is not None:
            for name, info in endpoint.query.model_json_schema()["properties"].items():
                parameters.append({"name": name, "in": "query", "required": False, "schema": info})
        if parameters:
            operation["parameters"] = parameters
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema_ref(endpoint.body, components)}},
            }
        success: dict[str, Any] = {"description": "OK"}
        if endpoint.response is not None:
            success["content"] = {
                "application/json": {"schema": _schema_ref(endpoint.response, components)}
            }
        operation["responses"][str(endpoint.status)] = success
        codes = set(endpoint.errors) | ({401} if endpoint.auth != "none" else set())
        if endpoint.body is not None:
            codes |= {400, 413, 415, 422}
        for code in sorted(codes):
            operation["responses"][str(code)] = {
                "description": _ERROR_TEXT.get(code, "Error"),
                "content": {"application/json": {"schema": error_ref}},
            }
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "Operator API key"},
                "customerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
