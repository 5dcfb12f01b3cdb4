"""Bad input anywhere in the API gets a JSON error naming the problem, never a 500."""

from __future__ import annotations

from api_assertions import assert_error
from sqlalchemy import func, select

from webapp.api.registry import ENDPOINTS
from webapp.extensions import db
from webapp.models import Customer, CustomerActivity

SCRIPT = '<script>alert("x")</script>'
DEEP: list = [1]
for _ in range(60):
    DEEP = [DEEP]


def body_routes(app) -> list[tuple[str, str]]:
    """(method, path with ids filled by 1) for every API route that takes a JSON body."""
    takes_body = {(ep.view_name, ep.method) for ep in ENDPOINTS if ep.body is not None}
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods or set()):
            if (rule.endpoint, method) in takes_body:
                routes.append((method, rule.build({name: 1 for name in rule.arguments})[1]))
    assert len(routes) >= 3
    return routes


def test_malformed_json_is_a_400_json_error(api):
    response = api.post("/customers", data='{"email": "ann@x.com",', content_type="application/json")
    assert_error(response, 400, code="invalid_json")


def test_malformed_json_is_a_400_on_every_route_with_a_body(app, api):
    for method, path in body_routes(app):
        response = api._call(method, path.removeprefix("/api/crm"), data="{nope", content_type="application/json")
        assert_error(response, 400, code="invalid_json", case=(method, path))
        response = api._call(method, path.removeprefix("/api/crm"), data="nope", content_type="text/plain")
        assert_error(response, 415, case=(method, path))


def test_a_body_that_is_not_json_is_a_415(api):
    response = api.post("/customers", data="email=ann@x.com", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, code="unsupported_media_type")
    assert_error(api.post("/activities", data="hello", content_type="text/plain"), 415)
    assert_error(api.post("/activities", data="{}"), 415)  # no content type at all


def test_json_with_a_charset_parameter_is_accepted(api):
    response = api.post("/customers", data='{"email": "ann@x.com"}', content_type="application/json; charset=utf-8")
    assert response.status_code == 201


def test_a_json_body_that_is_not_an_object_is_a_422(api):
    for body in ["[]", '[{"email": "ann@x.com"}]', '"ann@x.com"', "42", "null", "true"]:
        for path in ("/customers", "/activities"):
            assert_error(api.post(path, data=body, content_type="application/json"), 422, code="validation_error",
                         case=(path, body))


WRONG_TYPES = [
    ("/customers", {"email": 5}, "email"),
    ("/customers", {"email": "ann@x.com", "orders_count": "3"}, "orders_count"),
    ("/customers", {"email": "ann@x.com", "orders_count": 2.5}, "orders_count"),
    ("/customers", {"email": "ann@x.com", "first_name": 7}, "first_name"),
    ("/customers", {"email": "ann@x.com", "tags": "vip"}, "tags"),
    ("/customers", {"email": "ann@x.com", "tags": ["vip", 3]}, "tags[1]"),
    ("/customers", {"email": "ann@x.com", "attributes": ["a"]}, "attributes"),
    ("/customers", {"email": "ann@x.com", "total_spent": "10"}, "total_spent"),
    ("/customers", {"email": "ann@x.com", "total_spent": -1}, "total_spent"),
    ("/customers", {"email": "ann@x.com", "email_status": "sure"}, "email_status"),
    ("/customers", {"email": "ann@x.com", "signup": "yes"}, "signup"),
    ("/customers", {"email": "ann@x.com", "first_name": "x" * 201}, "first_name"),
    ("/activities", {"customer_id": "1", "type": "signup"}, "customer_id"),
    ("/activities", {"customer_id": 1.0, "type": "signup"}, "customer_id"),
    ("/activities", {"customer_id": 1, "type": 5}, "type"),
    ("/activities", {"customer": "ann@x.com", "type": "signup"}, "customer"),
    ("/activities", {"customer": {"email": 1}, "type": "signup"}, "customer.email"),
    ("/activities", {"customer_id": 1, "type": "signup", "idempotency_key": 12}, "idempotency_key"),
    ("/activities", {"customer_id": 1, "type": "signup", "occurred_at": True}, "occurred_at"),
]


def test_wrong_types_are_a_422_naming_the_field(api):
    for path, body, field in WRONG_TYPES:
        assert_error(api.post(path, json=body), 422, field=field, code="validation_error", case=body)
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_wrong_types_in_a_patch_are_a_422_naming_the_field(api):
    customer_id = api.post("/customers", json={"email": "ann@x.com"}).json["id"]
    assert_error(api.patch(f"/customers/{customer_id}", json={"last_name": 3}), 422, field="last_name")
    assert_error(api.patch(f"/customers/{customer_id}", json={"attributes": "x"}), 422, field="attributes")
    assert_error(api.patch(f"/customers/{customer_id}", json={"email": None}), 422, field="email")
    assert_error(api.patch(f"/customers/{customer_id}", json={"email_status": None}), 422, field="email_status")


def test_missing_required_fields_are_a_422_naming_them(api):
    assert_error(api.post("/activities", json={"customer_id": 1}), 422, field="type")
    assert_error(api.post("/activities", json={}), 422, field="type")
    assert_error(api.post("/customers", json={}), 422, field="email")


def test_an_empty_body_with_a_json_content_type_is_a_422_not_a_500(api):
    assert_error(api.post("/customers", data=b"", content_type="application/json"), 422, field="email")
    assert_error(api.post("/activities", data=b"", content_type="application/json"), 422, field="type")


def test_unknown_body_keys_are_a_422_naming_them(api):
    assert_error(api.post("/customers", json={"email": "ann@x.com", "emial": "typo"}), 422, field="emial")
    assert_error(api.post("/activities", json={"customer_id": 1, "type": "signup", "tenant_id": 2}), 422,
                 field="tenant_id")
    assert_error(api.post("/activities", json={"customer": {"email": "a@x.com", "phone": "1"}, "type": "signup"}),
                 422, field="customer.phone")
    customer_id = api.post("/customers", json={"email": "ann@x.com"}).json["id"]
    assert_error(api.patch(f"/customers/{customer_id}", json={"orders_count": 3}), 422, field="orders_count")


def test_an_oversized_payload_is_a_413_json_error(app, api):
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    big = '{"email": "ann@x.com", "attributes": {"blob": "' + "x" * (1024 * 1024) + '"}}'

    response = api.post("/customers", data=big, content_type="application/json")

    assert_error(response, 413, code="payload_too_large")
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_payload_just_under_the_limit_is_read(api):
    body = '{"email": "ann@x.com", "attributes": {"blob": "' + "x" * (1024 * 1000) + '"}}'
    assert api.post("/customers", data=body, content_type="application/json").status_code == 201


def test_script_tags_in_names_are_stored_verbatim_and_returned_as_is(api):
    response = api.post("/customers", json={"email": "ann@x.com", "first_name": SCRIPT,
                                            "last_name": "O'Brien & <b>Co</b>", "attributes": {"note": SCRIPT}})
    assert response.status_code == 201
    customer_id = response.json["id"]

    body = api.get(f"/customers/{customer_id}").json
    assert body["first_name"] == SCRIPT
    assert body["last_name"] == "O'Brien & <b>Co</b>"
    assert body["attributes"] == {"note": SCRIPT}
    assert api.get(f"/customers/{customer_id}").headers["Content-Type"].startswith("application/json")
    stored = db.session.get(Customer, customer_id)
    assert (stored.first_name, stored.last_name) == (SCRIPT, "O'Brien & <b>Co</b>")
    listed = api.get("/customers", query_string={"q": "<script>"}).json["data"]
    assert [c["first_name"] for c in listed] == [SCRIPT]


def test_script_tags_in_activity_properties_are_stored_verbatim(api):
    customer_id = api.post("/customers", json={"email": "ann@x.com"}).json["id"]
    api.post("/activities", json={"customer_id": customer_id, "type": "note", "properties": {"text": SCRIPT}})
    timeline = api.get(f"/customers/{customer_id}/timeline").json["data"]
    assert timeline[0]["properties"] == {"text": SCRIPT}
    assert db.session.scalar(select(CustomerActivity.properties)) == {"text": SCRIPT}


def test_ids_out_of_any_range_are_a_404_not_a_500(api):
    for path in ["/customers/99999999999999999999999", "/customers/9223372036854775808", "/customers/0",
                 "/customers/2147483648", "/customers/" + "9" * 5000]:
        assert_error(api.get(path), 404, case=path)
        assert_error(api.get(path + "/timeline"), 404, case=path)
        assert_error(api.patch(path, json={"first_name": "A"}), 404, case=path)
        assert_error(api.delete(path), 404, case=path)


def test_activity_customer_ids_out_of_any_range_are_a_422_naming_customer_id(api):
    for customer_id in [99999999999999999999999, 2**63, 2**31, -1, 0]:
        response = api.post("/activities", json={"customer_id": customer_id, "type": "signup"})
        assert_error(response, 422, field="customer_id", case=customer_id)


EXTREME_CUSTOMERS = [
    {"email": "ann@x.com", "orders_count": 10**30},
    {"email": "ann@x.com", "orders_count": 2**31},
    {"email": "ann@x.com", "total_spent": 1e12},
    {"email": "ann@x.com", "total_spent": 1e300},
    {"email": "ann@x.com", "attributes": {"n": 10**40}},
    {"email": "ann@x.com", "external_id": "\x00"},
    {"email": "ann@x.com", "first_name": "\x00"},
    {"email": "ann@x.com", "attributes": {"k": "\x00"}},
    {"email": "ann@x.com", "attributes": {"\x00": 1}},
    {"email": "ann@x.com", "tags": ["\x00"]},
    {"email": "ann@x.com", "timezone": "\x00"},
    {"email": "ann\x00@x.com"},
    {"email": "ann@x.com", "attributes": {"deep": DEEP}},
    {"email": "ann@x.com", "total_spent": 999999999999.99, "orders_count": 2**31 - 1},
]


def test_extreme_customer_values_never_cause_a_500(api):
    for body in EXTREME_CUSTOMERS:
        response = api.post("/customers", json=body)
        assert response.status_code in (200, 201, 422), (body, response.status_code, response.get_data()[:300])
        if response.status_code == 422:
            assert_error(response, 422, case=body)
        else:
            assert api.get(f"/customers/{response.json['id']}").status_code == 200


EXTREME_PURCHASES = [
    {"order_total": 1e12},
    {"order_total": 10**13},
    {"order_total": 999999999999.99, "order_id": "big"},
    {"order_total": 5, "order_id": "x" * 500},
    {"order_total": 5, "order_id": 10**300},
    {"order_total": 5, "event": {"id": "e" * 201, "name": "Jazz"}},
    {"order_total": 5, "order_id": "\x00"},
    {"order_total": 5, "event": {"id": "e", "starts_at": "soon"}},
    {"order_total": 5, "event": "Jazz"},
    {"order_total": 5, "text": "\x00"},
    {"order_total": 5, "tickets": 10**30},
]


def test_extreme_purchase_values_never_cause_a_500(api):
    for i, properties in enumerate(EXTREME_PURCHASES):
        # A customer each: the largest order total fits once, not on top of another order.
        customer_id = api.post("/customers", json={"email": f"c{i}@x.com"}).json["id"]
        properties = {"order_id": f"o-{i}", **properties}
        response = api.post("/activities", json={"customer_id": customer_id, "type": "purchase",
                                                 "properties": properties})
        assert response.status_code in (201, 422), (properties, response.status_code, response.get_data()[:300])
        if response.status_code == 422:
            assert_error(response, 422, case=properties)
        assert api.get(f"/customers/{customer_id}").status_code == 200


def test_non_finite_numbers_are_refused(api):
    customer_id = api.post("/customers", json={"email": "ann@x.com"}).json["id"]
    for text in ["NaN", "Infinity", "-Infinity", "1e400"]:
        body = f'{{"customer_id": {customer_id}, "type": "purchase", "properties": {{"order_total": {text}}}}}'
        response = api.post("/activities", data=body, content_type="application/json")
        assert response.status_code in (400, 422), (text, response.status_code)
        assert_error(response, response.status_code, case=text)
    assert api.get(f"/customers/{customer_id}").json["orders_count"] == 0


def test_nul_characters_in_a_body_are_a_422_naming_the_field(api):
    customer_id = api.post("/customers", json={"email": "ann@x.com"}).json["id"]
    assert_error(api.post("/customers", json={"email": "ann@x.com", "first_name": "A\x00"}), 422, field="first_name")
    assert_error(api.patch(f"/customers/{customer_id}", json={"attributes": {"a": ["ok", "b\x00"]}}), 422,
                 field="attributes.a[1]")
    assert_error(api.post("/activities", json={"customer_id": customer_id, "type": "note",
                                               "properties": {"text": "\x00"}}), 422, field="properties.text")
    assert db.session.get(Customer, customer_id).attributes == {}


def test_nul_characters_in_a_query_are_a_422_naming_the_parameter(api):
    for query in [{"q": "a\x00"}, {"tag": "\x00"}, {"cursor": "\x00"}]:
        assert_error(api.get("/customers", query_string=query), 422, field=next(iter(query)), case=query)


def test_nul_characters_in_a_timeline_type_are_a_422(api):
    customer_id = api.post("/customers", json={"email": "ann@x.com"}).json["id"]
    assert_error(api.get(f"/customers/{customer_id}/timeline", query_string={"type": "note,\x00x"}), 422,
                 field="type[1]")


def test_invalid_utf8_is_a_400_not_a_500(api):
    response = api.post("/customers", data=b'{"email": "\xff\xfe@x.com"}', content_type="application/json")
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)


def test_unknown_api_paths_and_methods_answer_json(api):
    assert_error(api.get("/nothing-here"), 404)
    assert_error(api.put("/customers"), 405)
    assert_error(api.post("/customers/1/timeline", json={}), 405)


def test_ids_out_of_range_in_campaign_bodies_and_queries_are_a_422_naming_them(api):
    """Found by Schemathesis on PostgreSQL: an id above the column's range reached the
    database ("integer out of range", a 500)."""
    created = api.post("/campaigns", json={"name": "N", "subject": "S", "content": "<p>x</p>"})
    assert created.status_code == 201, created.get_data(as_text=True)
    campaign_id = created.get_json()["id"]
    for too_big in (2**31, 21160951808507204, 2**63):
        cases = [
            (api.post("/campaigns", json={"name": "N", "subject": "S", "content": "x", "segment_id": too_big}),
             "segment_id"),
            (api.patch(f"/campaigns/{campaign_id}", json={"segment_id": too_big}), "segment_id"),
            (api.post(f"/campaigns/{campaign_id}/preview", json={"customer_id": too_big}), "customer_id"),
            (api.post(f"/campaigns/{campaign_id}/test", json={"emails": ["a@example.com"], "customer_id": too_big}),
             "customer_id"),
            (api.get(f"/campaigns/stats?campaign_id={too_big}"), "campaign_id"),
        ]
        for response, field in cases:
            assert_error(response, 422, case=(too_big, field))
            assert field in {d["field"] for d in response.get_json()["error"]["details"]}, response.get_json()
