"""/api/crm/openapi.json: public, complete, and generated from the schemas that validate."""

from __future__ import annotations

import re

import pytest

from webapp.api import schemas
from webapp.api.openapi import REF
from webapp.api.registry import ENDPOINTS

# Touches no test database: the SQLite run has it, the PostgreSQL run skips it.
pytestmark = pytest.mark.no_database

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client):
    response = client.get("/api/crm/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)


def resolve(document: dict, ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        assert part in node, f"$ref {ref} does not resolve"
        node = node[part]
    return node


def all_refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


def test_the_document_is_public_and_openapi_3(client):
    response = client.get("/api/crm/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    body = response.get_json()
    assert body["openapi"].startswith("3.")
    assert body["info"]["title"]
    assert body["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}


def test_every_api_route_and_method_is_documented(app, document):
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/crm"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations = document["paths"].get(openapi_path(rule.rule), {})
            if method.lower() not in operations:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"routes missing from openapi.json: {missing}"


def test_the_document_lists_no_route_that_does_not_exist(app, document):
    real = {(openapi_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
            for method in (rule.methods or set())}
    for path, operations in document["paths"].items():
        for method in set(operations) & METHODS:
            assert (path, method) in real, f"{method.upper()} {path} is documented but not routed"


def test_path_parameters_match_the_url_arguments(app, document):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/crm"):
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = document["paths"][openapi_path(rule.rule)][method.lower()]
            in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert in_path == set(rule.arguments), (method, rule.rule)


def test_every_ref_resolves(document):
    refs = all_refs(document)
    assert refs
    for ref in refs:
        resolve(document, ref)


def test_request_bodies_are_the_models_that_validate_requests(document):
    checked = 0
    for ep in ENDPOINTS:
        operation = document["paths"]["/api/crm" + openapi_path(ep.rule)][ep.method.lower()]
        if ep.form is not None:
            ref = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
            assert resolve(document, ref)["properties"] == ep.form.model_json_schema()["properties"]
            continue
        if ep.body is None:
            assert "requestBody" not in operation, (ep.method, ep.rule)
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == REF.format(model=ep.body.__name__)
        expected = ep.body.model_json_schema(ref_template=REF)
        expected.pop("$defs", None)
        assert resolve(document, ref) == expected, ep.body.__name__
        checked += 1
    assert checked >= 3


def test_the_customer_in_schema_equals_the_pydantic_models(document):
    documented = document["components"]["schemas"]["CustomerIn"]
    assert documented["properties"] == schemas.CustomerIn.model_json_schema()["properties"]
    assert documented.get("additionalProperties") is False  # unknown keys are refused, and documented so


def test_the_activity_in_schema_documents_its_nested_customer_reference(document):
    documented = document["components"]["schemas"]["ActivityIn"]
    assert documented["properties"] == schemas.ActivityIn.model_json_schema(ref_template=REF)["properties"]
    assert documented["required"] == ["type"]
    assert document["components"]["schemas"]["CustomerRef"] == schemas.CustomerRef.model_json_schema()


def test_query_parameters_come_from_the_query_models(document):
    timeline = document["paths"]["/api/crm/customers/{customer_id}/timeline"]["get"]
    names = {p["name"] for p in timeline["parameters"] if p["in"] == "query"}
    assert names == set(schemas.TimelineQuery.model_fields)
    listing = document["paths"]["/api/crm/customers"]["get"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 200


def test_responses_document_success_and_the_error_shape(document):
    upsert = document["paths"]["/api/crm/customers"]["post"]
    assert {"200", "201", "401", "422", "413"} <= set(upsert["responses"])
    error_schema = upsert["responses"]["422"]["content"]["application/json"]["schema"]
    expected = schemas.ErrorResponse.model_json_schema(ref_template=REF)
    expected.pop("$defs")
    assert resolve(document, error_schema["$ref"]) == expected
    delete = document["paths"]["/api/crm/customers/{customer_id}"]["delete"]
    assert "204" in delete["responses"]
    assert delete["security"] == [{"bearerAuth": []}]
    assert "security" not in document["paths"]["/api/crm/openapi.json"]["get"]


def test_every_operation_has_a_unique_operation_id(document):
    ids = [op["operationId"] for ops in document["paths"].values() for m, op in ops.items() if m in METHODS]
    assert len(ids) == len(set(ids))


def test_the_csv_upload_and_downloads_are_documented_with_their_media_types(document):
    upload = document["paths"]["/api/crm/customers/import"]["post"]
    schema = resolve(document, upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"])
    assert schema["properties"]["file"]["format"] == "binary"
    assert schema["required"] == ["file"]
    assert {"202", "415", "422"} <= set(upload["responses"])
    rejected = document["paths"]["/api/crm/imports/{import_id}/rejected.csv"]["get"]
    assert "text/csv" in rejected["responses"]["200"]["content"]


def _schema_objects(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_objects(value)


def test_ranges_use_json_schema_keywords_so_fuzzers_see_them(document):
    # pydantic writes a constraint it cannot place as "ge"/"lt": invisible to clients and fuzzers.
    stray = [node for node in _schema_objects(document["components"]["schemas"])
             if node.get("type") in ("number", "integer") and {"ge", "gt", "le", "lt"} & set(node)]
    assert stray == []
    money = document["components"]["schemas"]["CustomerIn"]["properties"]["total_spent"]["anyOf"][0]
    assert (money["minimum"], money["exclusiveMaximum"]) == (0, 1e12)


def test_moments_say_which_calendar_they_accept(document):
    occurred = document["components"]["schemas"]["ActivityIn"]["properties"]["occurred_at"]
    assert occurred["anyOf"][0]["format"] == "date-time"
    assert "1900" in occurred["description"] and "2999" in occurred["description"]
