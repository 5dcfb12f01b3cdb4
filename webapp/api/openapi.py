"""The OpenAPI 3 document, generated from the registry of API endpoints."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify
from pydantic import BaseModel

from webapp.api.blueprint import bp
from webapp.api.registry import ENDPOINTS, Endpoint, api_route
from webapp.api.schemas import ErrorResponse
from webapp.infra.types import MAX_ID

REF = "#/components/schemas/{model}"
_PARAM_RE = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> str:
    """Flask's '/customers/<int:customer_id>' -> '/customers/{customer_id}'."""
    return _PARAM_RE.sub(lambda m: "{" + m.group(2) + "}", rule)


def _collect(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required,
                 "schema": {k: v for k, v in prop.items() if k not in ("title", "description")}}
        if prop.get("description"):
            param["description"] = prop["description"]
        if "array" in str(prop):
            param["style"] = "form"
            param["explode"] = True
        params.append(param)
    return params


def _error_response() -> dict:
    schema = {"$ref": REF.format(model="ErrorResponse")}
    return {"description": "Error", "content": {"application/json": {"schema": schema}}}


def _operation(ep: Endpoint, schemas: dict[str, Any]) -> dict:
    op: dict[str, Any] = {
        "operationId": ep.view_name.split(".", 1)[1],  # type: ignore[attr-defined]
        "summary": ep.summary,
        "tags": [ep.tag],
        "responses": {},
    }
    if ep.description:
        op["description"] = ep.description
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID} if conv == "int"
               else {"type": "string"}}
              for conv, name in _PARAM_RE.findall(ep.rule)]
    if ep.query is not None:
        params += _query_parameters(ep.query, schemas)
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _collect(ep.body, schemas)}}}
    if ep.form is not None:
        op["requestBody"] = {"required": True,
                             "content": {"multipart/form-data": {"schema": _collect(ep.form, schemas)}}}
    if ep.status == 204:
        op["responses"]["204"] = {"description": "No content"}
    elif ep.response is not None:
        content = {ep.media_type: {"schema": _collect(ep.response, schemas)}}
        op["responses"][str(ep.status)] = {"description": "OK", "content": content}
        for status, text in ep.extra_responses.items():
            op["responses"][str(status)] = {"description": text, "content": content}
    elif ep.media_type != "application/json":
        op["responses"][str(ep.status)] = {"description": "OK", "content": {
            ep.media_type: {"schema": {"type": "string"}}}}
    else:
        op["responses"][str(ep.status)] = {"description": "OK"}
    error_statuses = set(ep.errors)
    if not ep.public:
        error_statuses |= {401, 429}
        if ep.write or ep.admin:
            error_statuses.add(403)
    if ep.write:
        error_statuses.add(503)  # still losing to contention after three attempts (registry._run_retrying)
    if ep.body is not None or ep.form is not None:
        error_statuses |= {400, 413, 415, 422}
    if ep.query is not None:
        error_statuses.add(422)
    for status in sorted(error_statuses):
        op["responses"][str(status)] = _error_response()
    if not ep.public:
        op["security"] = [{"bearerAuth": []}]
    return op


def _links(ep: Endpoint) -> dict[str, dict]:
    """OpenAPI links from a create (POST on a collection) to every operation on one of its
    members: `POST /customers` -> `GET /customers/{customer_id}` with the new body's id, so
    clients and fuzzers (stateful Schemathesis runs) can follow them."""
    if ep.method != "POST" or "<" in ep.rule:
        return {}
    links = {}
    for other in ENDPOINTS:
        rest = other.rule[len(ep.rule):] if other.rule.startswith(ep.rule + "/<int:") else ""
        match = _PARAM_RE.match(rest[1:]) if rest else None
        if match and not other.public:
            operation_id = other.view_name.split(".", 1)[1]  # type: ignore[attr-defined]
            links[operation_id] = {"operationId": operation_id,
                                   "parameters": {match.group(2): "$response.body#/id"}}
    return links


def build_document() -> dict:
    schemas: dict[str, Any] = {}
    _collect(ErrorResponse, schemas)
    paths: dict[str, dict] = {}
    for ep in ENDPOINTS:
        operation = _operation(ep, schemas)
        links = _links(ep)
        for status, response in operation["responses"].items():
            if links and status.startswith("2") and "content" in response:
                response["links"] = links
        paths.setdefault("/api/crm" + openapi_path(ep.rule), {})[ep.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "CRM & marketing automation API", "version": "1.0.0",
                 "description": "JSON API for the ticketing platform. Authenticate with "
                                "'Authorization: Bearer <token>'."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


@api_route(bp, "/openapi.json", "GET", summary="This OpenAPI document", tag="meta", public=True)
def openapi_document():
    return jsonify(build_document())
