"""Property-based: extreme values in every numeric, date and JSON field of every write
endpoint never reach a 5xx, a refusal changes nothing, and whatever was accepted never
breaks a later request or job of the tenant.

Each case puts one generated value at one place of an otherwise valid body (or query),
sends it as raw JSON text (so NaN, Infinity, 1e400 and deep nesting arrive as a client
would send them), and checks the answer and the tenant's rows.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.db_state import database_state
from webapp.extensions import db

# --- the values ----------------------------------------------------------------------------

DEEP = "[" * 3000 + "]" * 3000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
EDGE_DATES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01", "9999-12-31",
              "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00Z", "2026-02-30", "2026-13-01T00:00:00+00:00",
              "1970-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999+14:00"]
# Raw JSON fragments a hostile or careless client sends: one or two of each class, sent to
# every place every run (hypothesis adds its own on top).
FRAGMENTS = ["NaN", "-Infinity", "1e400", "1e20", "1" + "0" * 30, "-" + "1" * 30, str(2**31), str(2**63),
             str(-(2**63) - 1), "-1", "0", "1.7976931348623157e308", "true", "null", '"a\\u0000b"', '"\\ud800"',
             '"' + "x" * 5000 + '"', DEEP, DEEP_OBJECT, '{"n": NaN}', '{"\\u0000": 1}',
             *(json.dumps(d) for d in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31",
                                       "0001-01-01", "2026-02-30"))]


def _json_number(value: float | int) -> str:
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
    return json.dumps(value)


def _edge_datetime_text(moment: datetime, hours: int) -> str:
    from datetime import timezone

    return moment.replace(tzinfo=timezone(timedelta(hours=hours))).isoformat()


extreme_fragments = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(_json_number),
    st.builds(_edge_datetime_text,
              st.one_of(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3)),
                        st.datetimes(min_value=datetime(9999, 12, 29), max_value=datetime(9999, 12, 31, 23, 59))),
              st.integers(min_value=-23, max_value=23)).map(json.dumps),
    st.dates().map(lambda d: json.dumps(d.isoformat())),
    st.text(max_size=40).map(json.dumps),
    st.integers(min_value=50, max_value=4000).map(lambda n: "[" * n + "]" * n),
)

PLACEHOLDER = "__HOSTILE_VALUE__"


def raw_body(base: dict, path: tuple, fragment: str) -> str:
    """`base` as JSON with the value at `path` replaced by the raw fragment."""
    body = json.loads(json.dumps(base))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = PLACEHOLDER
    return json.dumps(body).replace(json.dumps(PLACEHOLDER), fragment, 1)


# --- the tenant's world --------------------------------------------------------------------

def build_world(api) -> dict:
    customer = api.post("/customers", json={"email": "ann@alpha.example.com", "first_name": "Ann",
                                            "attributes": {"score": 5}}).get_json()
    api.post("/activities", json={"customer_id": customer["id"], "type": "purchase",
                                  "properties": {"order_total": 40, "order_id": "o-1",
                                                 "event": {"id": "evt-1", "name": "Jazz Night",
                                                           "starts_at": "2027-01-05T20:00:00+01:00"}}})
    segment = api.post("/segments", json={"name": "Buyers", "conditions": [
        {"type": "orders_count", "operator": ">=", "value": 1}]}).get_json()
    campaign = api.post("/campaigns", json={"name": "News", "subject": "Hi", "content": "<p>Hi</p>",
                                            "segment_id": segment["id"]}).get_json()
    workflow = api.post("/workflows", json={"name": "After purchase", "trigger_type": "purchase",
                                            "steps": [{"type": "add_tag", "config": {"tag": "buyer"}}]}).get_json()
    step_id = workflow["steps"][0]["id"]
    api.post(f"/workflows/{workflow['id']}/toggle", json={"active": True})
    return {"customer": customer["id"], "segment": segment["id"], "campaign": campaign["id"],
            "workflow": workflow["id"], "step": step_id}


def _condition(ctype: str, operator: str, **extra) -> dict:
    return {"type": ctype, "operator": operator, "value": 1, **extra}


# (name, method, path, base body, where the value goes). Paths use {customer}, {segment}...
SITES: list[tuple[str, str, str, dict, tuple]] = []


def site(name: str, method: str, path: str, body: dict, *where: str | int) -> None:
    SITES.append((name, method, path, body, tuple(where)))


CUSTOMER = {"email": "bob@alpha.example.com", "attributes": {"level": 1}}
for field in ("total_spent", "orders_count", "attributes", "first_name", "timezone", "tags", "email_status"):
    site(f"customer.{field}", "POST", "/customers", CUSTOMER, field)
site("customer.attributes.level", "POST", "/customers", CUSTOMER, "attributes", "level")
site("customer.patch.attributes.level", "PATCH", "/customers/{customer}", {"attributes": {"level": 1}},
     "attributes", "level")
site("customer.patch.email", "PATCH", "/customers/{customer}", {"email": "ann2@alpha.example.com"}, "email")

PURCHASE = {"customer_id": 0, "type": "purchase",
            "properties": {"order_total": 20, "order_id": "o-2", "tickets": 2,
                           "event": {"id": "evt-2", "name": "Gala", "starts_at": "2027-02-01T19:00:00+01:00"}}}
for where in (("customer_id",), ("occurred_at",), ("properties",), ("properties", "order_total"),
              ("properties", "tickets"), ("properties", "order_id"), ("properties", "event"),
              ("properties", "event", "starts_at"), ("properties", "event", "id"), ("idempotency_key",)):
    site("activity." + ".".join(where), "POST", "/activities", PURCHASE, *where)
site("activity.custom.properties.x", "POST", "/activities",
     {"customer_id": 0, "type": "ticket_scan", "properties": {"x": 1}}, "properties", "x")

CONDITION_SITES = [
    _condition("total_spent", ">="), _condition("orders_count", "="), _condition("attribute", ">", key="score"),
    _condition("attribute", "=", key="score"), _condition("activity", "at_least", activity_type="purchase"),
    {**_condition("activity", "at_least", activity_type="purchase"), "within_last_days": 3},
    {"type": "last_order_at", "operator": "on", "value": "2026-01-01"},
    {"type": "created_at", "operator": "before", "value": "2026-01-01T00:00:00+00:00"},
    {"type": "last_order_at", "operator": "within_last_days", "value": 3},
    {"type": "last_order_at", "operator": "between", "value": ["2026-01-01", "2026-02-01"]},
    {"type": "purchased_event", "operator": "id", "value": "evt-1", "from": "2026-01-01"},
    {"type": "email_engagement", "operator": "opened", "campaign_id": 1},
    {"type": "email_engagement", "operator": "clicked", "within_last_days": 3},
]
for i, cond in enumerate(CONDITION_SITES):
    keys = [k for k in cond if k not in ("type", "operator")]
    for key in keys:
        where = ("conditions", 0, key) if not isinstance(cond[key], list) else ("conditions", 0, key, 1)
        site(f"segment[{i}:{cond['type']}].{key}", "POST", "/segments",
             {"name": "S", "conditions": [cond]}, *where)
        if i < 3:  # the same parser as saving: a few are enough to show preview answers alike
            site(f"preview[{i}:{cond['type']}].{key}", "POST", "/segments/preview", {"conditions": [cond]}, *where)
        site(f"condition-step[{i}:{cond['type']}].{key}", "POST", "/workflows/{workflow}/steps",
             {"type": "condition", "config": {"conditions": [cond]}}, "config", *where)
site("segment.patch.conditions", "PATCH", "/segments/{segment}", {"conditions": []}, "conditions")
site("segment.conditions.group", "POST", "/segments",
     {"name": "S", "conditions": [{"match": "any", "conditions": []}]}, "conditions", 0, "conditions")

CAMPAIGN = {"name": "C", "subject": "Hello", "content": "<p>Hello</p>"}
for field in ("segment_id", "subject", "content", "from_email", "preheader", "name"):
    site(f"campaign.{field}", "POST", "/campaigns", CAMPAIGN, field)
site("campaign.patch.segment_id", "PATCH", "/campaigns/{campaign}", {"segment_id": 1}, "segment_id")
site("campaign.schedule.send_at", "POST", "/campaigns/{campaign}/schedule",
     {"send_at": "2030-01-01T00:00:00+00:00"}, "send_at")
site("campaign.preview.customer_id", "POST", "/campaigns/{campaign}/preview", {"customer_id": 1}, "customer_id")

WORKFLOW = {"name": "W", "trigger_type": "purchase", "trigger_config": {"min_order_total": 1}}
site("workflow.trigger_config", "POST", "/workflows", WORKFLOW, "trigger_config")
site("workflow.trigger_config.min_order_total", "POST", "/workflows", WORKFLOW, "trigger_config", "min_order_total")
site("workflow.event_day.offset_days", "POST", "/workflows",
     {"name": "W", "trigger_type": "event_day", "trigger_config": {"offset_days": 0}}, "trigger_config", "offset_days")
site("workflow.segment_entered.segment_id", "POST", "/workflows",
     {"name": "W", "trigger_type": "segment_entered", "trigger_config": {"segment_id": 1}},
     "trigger_config", "segment_id")
for stype, config, key in (("wait", {"days": 1}, "days"), ("wait", {"minutes": 1}, "minutes"),
                           ("wait_until", {"at": "2030-01-01T00:00:00+00:00"}, "at"),
                           ("wait_until", {"before_event_hours": 2}, "before_event_hours"),
                           ("update_attribute", {"key": "k", "value": 1}, "value"),
                           ("condition", {"conditions": [{"type": "tag", "value": "vip"}], "else_step": 1},
                            "else_step"),
                           ("send_email", {"subject": "s", "content": "c"}, "subject")):
    site(f"step.{stype}.{key}", "POST", "/workflows/{workflow}/steps", {"type": stype, "config": config},
         "config", key)
    site(f"step-patch.{stype}.{key}", "PATCH", "/workflows/{workflow}/steps/{step}", {"config": config},
         "config", key)
GOAL = {"conditions": [{"type": "purchased_since_entry"}, {"type": "total_spent", "operator": ">=", "value": 10}],
        "match": "any", "within_days": 30}
for where in (("goal",), ("goal", "within_days"), ("goal", "match"), ("goal", "conditions"),
              ("goal", "conditions", 0), ("goal", "conditions", 1, "value")):
    site("workflow." + ".".join(map(str, where)), "POST", "/workflows", {**WORKFLOW, "goal": GOAL}, *where)
    site("workflow-patch." + ".".join(map(str, where)), "PATCH", "/workflows/{workflow}", {"goal": GOAL}, *where)
site("workflow.exit_conditions.value", "POST", "/workflows",
     {**WORKFLOW, "exit_conditions": {"conditions": [{"type": "tag", "value": "stop"}]}},
     "exit_conditions", "conditions", 0, "value")
site("step.holdout.percent", "POST", "/workflows/{workflow}/steps", {"type": "holdout", "config": {"percent": 10}},
     "config", "percent")
site("step.position", "POST", "/workflows/{workflow}/steps", {"type": "add_tag", "config": {"tag": "x"}},
     "position")
site("step.order", "PUT", "/workflows/{workflow}/steps/order", {"step_ids": [1]}, "step_ids", 0)
site("enroll.customer_ids", "POST", "/workflows/{workflow}/enroll", {"customer_ids": [1]}, "customer_ids", 0)
site("enroll.payload", "POST", "/workflows/{workflow}/enroll", {"customer_ids": [1], "payload": {}}, "payload")
site("trigger.customer_id", "POST", "/triggers", {"type": "custom", "customer_id": 1}, "customer_id")
site("trigger.payload", "POST", "/triggers", {"type": "custom", "customer_id": 1, "payload": {"a": 1}},
     "payload", "a")
site("toggle.active", "POST", "/workflows/{workflow}/toggle", {"active": False}, "active")
site("sending-domain.domain", "POST", "/sending-domains", {"domain": "mail.alpha.example.com"}, "domain")
for field, value in (("name", "Arena"), ("currency", "EUR"), ("locale", "de_DE"), ("timezone", "UTC"),
                     ("send_rate_per_second", 10), ("attribution_days", 5), ("postal_address", "1 Way"),
                     ("webhook_allowlist", ["hooks.example.com"])):
    site(f"settings.{field}", "PATCH", "/settings", {field: value}, field)

# Query parameters: (name, path, parameter).
QUERY_SITES = [("timeline.since", "/customers/{customer}/timeline", "since"),
               ("timeline.until", "/customers/{customer}/timeline", "until"),
               ("timeline.cursor", "/customers/{customer}/timeline", "cursor"),
               ("customers.cursor", "/customers", "cursor"), ("segments.cursor", "/segments", "cursor"),
               ("campaigns.cursor", "/campaigns", "cursor"), ("workflows.cursor", "/workflows", "cursor"),
               ("members.cursor", "/segments/{segment}/members", "cursor"),
               ("enrollments.cursor", "/workflows/{workflow}/enrollments", "cursor"),
               ("customers.limit", "/customers", "limit"), ("stats.campaign_id", "/campaigns/stats", "campaign_id"),
               ("export.segment_id", "/customers/export.csv", "segment_id")]


# --- what "unchanged" and "still healthy" mean -------------------------------------------------

VOLATILE = {("api_tokens", "last_used_at")}


def snapshot() -> dict:
    """Every row of every table: a refusal must leave all of it as it was."""
    db.session.commit()
    return database_state(VOLATILE)


def assert_still_healthy(api, world: dict) -> None:
    """Whatever the hostile requests stored, the tenant keeps working: lists, timelines,
    segment calculation, a purchase through every active workflow, the scheduler's sweeps."""
    from webapp.services.workflows import enroll_event_day
    from webapp.services.workflows.engine import run_due

    for path in ("/customers", "/segments", "/campaigns", "/workflows", "/campaigns/stats",
                 f"/customers/{world['customer']}/timeline", f"/workflows/{world['workflow']}/enrollments"):
        response = api.get(path)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
        json.loads(response.get_data(as_text=True), parse_constant=_refuse)  # a stored NaN would show here
    segments = api.get("/segments?limit=200").get_json()["data"]
    for segment in segments:
        response = api.post(f"/segments/{segment['id']}/calculate")
        assert response.status_code == 200, (segment["conditions"], response.get_data(as_text=True)[:300])
    for workflow in api.get("/workflows?limit=200").get_json()["data"]:
        if not workflow["active"]:
            api.post(f"/workflows/{workflow['id']}/toggle", json={"active": True})  # may refuse: not a 5xx
    response = api.post("/activities", json={
        "customer_id": world["customer"], "type": "purchase",
        "properties": {"order_total": 15, "order_id": "health-" + datetime.now(UTC).isoformat()}})
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    run_due(now=datetime.now(UTC) + timedelta(days=400))
    enroll_event_day(now=datetime.now(UTC))


def _refuse(constant: str):
    raise AssertionError(f"{constant} in a response: not JSON")


# Every known-bad value is always sent; hypothesis adds this many of its own per place
# (CRM_HOSTILE_EXAMPLES=500 for a long hunt).
HOSTILE = settings(max_examples=int(os.environ.get("CRM_HOSTILE_EXAMPLES", "5")), deadline=None,
                   derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _fill(path: str, world: dict) -> str:
    return path.format(**world)


def _fill_body(body: dict, world: dict) -> dict:
    body = json.loads(json.dumps(body))
    if body.get("customer_id") == 0:
        body["customer_id"] = world["customer"]
    return body


@pytest.mark.slow
@pytest.mark.parametrize("name,method,path,body,where", SITES, ids=[s[0] for s in SITES])
def test_extreme_values_in_bodies_never_reach_a_5xx_nor_change_anything_when_refused(
        app, api, name, method, path, body, where):
    world = build_world(api)

    def check(fragment: str) -> None:
        before = snapshot()
        data = raw_body(_fill_body(body, world), where, fragment)
        response = api._call(method, _fill(path, world), data=data, content_type="application/json")
        assert response.status_code < 500, (fragment[:80], response.get_data(as_text=True)[:500])
        json.loads(response.get_data(as_text=True), parse_constant=_refuse)  # every answer is strict JSON
        if response.status_code >= 400:
            assert response.get_json()["error"]["message"]
            assert snapshot() == before, f"a refused request ({response.status_code}) changed data"

    for fragment in FRAGMENTS:  # every known-bad value, then what hypothesis makes up
        check(fragment)
    HOSTILE(given(fragment=extreme_fragments)(check))()
    assert_still_healthy(api, world)


@pytest.mark.slow
@pytest.mark.parametrize("name,path,param", QUERY_SITES, ids=[s[0] for s in QUERY_SITES])
def test_extreme_values_in_queries_never_reach_a_5xx(app, api, name, path, param):
    import base64

    world = build_world(api)
    cursors = st.one_of(
        extreme_fragments.map(lambda f: base64.urlsafe_b64encode(f"[{f}]".encode()).decode().rstrip("=")),
        extreme_fragments.map(lambda f: base64.urlsafe_b64encode(f'["{f}", {f}]'.encode()).decode().rstrip("=")),
        extreme_fragments)

    def check(value: str) -> None:
        response = api.get(_fill(path, world), query_string={param: value})
        assert response.status_code < 500, (value[:80], response.get_data(as_text=True)[:500])
        json.loads(response.get_data(as_text=True), parse_constant=_refuse) if response.is_json else None

    for fragment in FRAGMENTS:
        check(fragment.strip('"'))
        check(base64.urlsafe_b64encode(f"[{fragment}]".encode()).decode().rstrip("="))
    HOSTILE(given(value=cursors if param == "cursor" else extreme_fragments.map(lambda f: f.strip('"')))(check))()
