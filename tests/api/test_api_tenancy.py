"""Tenant B's token on every tenant-A id route: 404 like a missing id, and A unchanged.

The sweep walks app.url_map, so routes added later are covered without editing this file;
a route with a new kind of id fails until ID_FACTORIES learns to make one.
"""

from __future__ import annotations

from collections.abc import Callable

from api_assertions import assert_error
from sqlalchemy import select
from werkzeug.routing import IntegerConverter, Rule

from webapp.api.registry import ENDPOINTS
from webapp.extensions import db
from webapp.models import Tenant
from webapp.services import (
    activities,
    campaigns,
    customers,
    imports,
    segments,
    sending_domains,
    tenant_settings,
    workflows,
)

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def make_customer(tenant_id: int) -> int:
    customer, _ = customers.upsert_customer(tenant_id, {"email": "victim@a.example.com", "first_name": "Vic",
                                                        "tags": ["vip"], "attributes": {"seat": "A1"}})
    activities.record_activity(tenant_id, "purchase", customer_id=customer.id,
                               properties={"order_total": 99, "order_id": "a-1"})
    activities.record_activity(tenant_id, "note", customer_id=customer.id, properties={"text": "A only"})
    return customer.id


def make_segment(tenant_id: int) -> int:
    return segments.create_segment(tenant_id, "A's VIPs", [{"type": "tag", "value": "vip"}]).id


def make_campaign(tenant_id: int) -> int:
    # A sendable campaign (postal address and sender set), so A's own control calls succeed.
    tenant = db.session.get(Tenant, tenant_id)
    sending_domains.add_domain(tenant_id, "arena.example.com")
    tenant_settings.update_settings(tenant, {"sender_name": "Arena", "sender_email": "hello@arena.example.com",
                                             "postal_address": "1 High Street, Leeds"})
    return campaigns.create_campaign(tenant_id, {"name": "A's launch", "subject": "Hello",
                                                 "html_content": "<p>Hi</p>",
                                                 "segment_id": make_segment(tenant_id)}).id


def make_import(tenant_id: int) -> int:
    # A finished import with a rejected row, so A's own download has a row of A's data.
    customer_import = imports.create_import(tenant_id, "a.csv", b"email,seat\nimported@a.example.com,A1\nnope,B2\n",
                                            start=True)
    imports.run_import(customer_import.id)
    return customer_import.id
def make_workflow(tenant_id: int) -> int:
    """One workflow with two steps per tenant (step routes need a step of this workflow; the
    first sends an email, so the step email routes reach it)."""
    from webapp.models import AutomationWorkflow

    existing = db.session.scalar(select(AutomationWorkflow.id).where(AutomationWorkflow.tenant_id == tenant_id))
    if existing is not None:
        return existing
    return workflows.create_workflow(tenant_id, {
        "name": "A's welcome", "trigger_type": "purchase",
        "steps": [{"type": "send_email", "config": {"subject": "Welcome", "content": "<p>Welcome</p>"}},
                  {"type": "wait", "config": {"days": 1}}]}).id


def make_step(tenant_id: int) -> int:
    return workflows.steps_of(make_workflow(tenant_id))[0].id


def make_sending_domain(tenant_id: int) -> int:
    return sending_domains.add_domain(tenant_id, "mail.arena.example.com").id


def make_asset(tenant_id: int) -> int:
    from tests.assets.images import png
    from webapp.services.assets import upload_asset

    return upload_asset(tenant_id, "logo.png", png()).id


def make_topic(tenant_id: int) -> int:
    from webapp.services.topics import create_topic

    return create_topic(tenant_id, {"name": "A's jazz listings", "description": "A only"}).id


def make_signup_form(tenant_id: int) -> int:
    from webapp.services.signup_forms import create_form

    return create_form(tenant_id, {"name": "A's newsletter"}).id


def make_event(tenant_id: int) -> int:
    from webapp.services.events.catalogue import upsert_event

    event = upsert_event(tenant_id, {"external_id": "a-show-1", "name": "A's show",
                                     "starts_at": "2099-05-01T19:30:00+01:00", "capacity": 100}).event
    activities.record_activity(tenant_id, "purchase", customer={"email": "holder@a.example.com"},
                               properties={"order_total": 40, "order_id": "a-show-order",
                                           "event": {"id": "a-show-1"}})
    return event.id


def make_waitlist_entry(tenant_id: int) -> int:
    from webapp.services.customers import upsert_customer
    from webapp.services.events import catalogue, waitlist

    event = catalogue.find_event(tenant_id, "a-show-1") or catalogue.get_event(tenant_id, make_event(tenant_id))
    fan, _ = upsert_customer(tenant_id, {"email": "waiting@a.example.com"})
    entry, _ = waitlist.join(tenant_id, event, fan.id, quantity=2)
    db.session.commit()
    return entry.id


def make_webhook_endpoint(tenant_id: int) -> int:
    from webapp.models import WebhookEndpoint
    from webapp.services.webhooks import create_endpoint

    existing = db.session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.tenant_id == tenant_id))
    if existing is not None:
        return existing
    return create_endpoint(tenant_id, {"url": "https://hooks.a.example.com/in", "event_types": ["email.sent"]})[0].id


def make_webhook_delivery(tenant_id: int) -> int:
    from webapp.models import WebhookDelivery
    from webapp.services.webhooks import emit

    make_webhook_endpoint(tenant_id)
    emit(tenant_id, "email.sent", {"campaign": {"name": "A only"}})
    db.session.commit()
    return db.session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.tenant_id == tenant_id))


# How to make a tenant-A object for each kind of id in a URL.
ID_FACTORIES: dict[str, Callable[[int], int]] = {
    "customer_id": make_customer,
    "segment_id": make_segment,
    "campaign_id": make_campaign,
    "import_id": make_import,
    "workflow_id": make_workflow,
    "step_id": make_step,
    "domain_id": make_sending_domain,
    "asset_id": make_asset,
    "topic_id": make_topic,
    "form_id": make_signup_form,
    "event_id": make_event,
    "entry_id": make_waitlist_entry,
    "endpoint_id": make_webhook_endpoint,
    "delivery_id": make_webhook_delivery,
}

# A valid body for each endpoint that takes one, so a 404 proves tenancy, not validation.
SAMPLE_BODIES: dict[str, dict] = {
    "api.patch_customer": {"first_name": "Mallory", "tags": ["pwned"], "attributes": {"seat": None}},
    "api.patch_segment": {"name": "Hijacked"},
    "api.patch_campaign": {"name": "Hijacked"},
    "api.choose_winner": {"variant": "B"},
    "api.schedule_campaign": {"send_at": "2099-01-01T09:00:00+00:00"},
    "api.preview_campaign": {},
    "api.test_campaign": {"emails": ["mallory@example.com"]},
    "api.patch_workflow": {"name": "Hijacked"},
    "api.add_step": {"type": "add_tag", "config": {"tag": "pwned"}},
    "api.patch_step": {"config": {"subject": "Pwned", "content": "<p>pwned</p>"}},
    # The first workflow's steps are the database's first (ids 1 and 2) in every test.
    "api.reorder_steps": {"step_ids": [2, 1]},
    "api.enroll": {"customer_ids": [1]},
    "api.preview_step": {},
    "api.test_step": {"emails": ["mallory@example.com"]},
    "api.patch_topic": {"name": "Hijacked", "default_subscribed": False},
    "api.patch_form": {"name": "Hijacked", "status": "archived"},
    "api.patch_event": {"name": "Hijacked", "status": "cancelled"},
    "api.report_inventory": {"available": 0, "capacity": 100},
    "api.join_waitlist": {"customer": {"email": "mallory@example.com"}, "quantity": 2},
    "api.update_waitlist": {"offer_minutes": 5},
    "api.patch_webhook_endpoint": {"url": "https://mallory.example.com/in", "enabled": False},
}


def id_routes(app) -> list[tuple[Rule, str]]:
    """(rule, method) for every /api/crm rule with an <int:...> argument."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/crm") or not any(
                isinstance(conv, IntegerConverter) for conv in rule._converters.values()):
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            found.append((rule, method))
    return found


def tenant_snapshot(tenant_id: int) -> dict[str, list[tuple]]:
    """Every row of every table that belongs to the tenant, read straight from the database."""
    snapshot = {}
    for table in db.metadata.sorted_tables:
        if table.name == "tenants":
            stmt = select(table).where(table.c.id == tenant_id)
        elif "tenant_id" in table.c:
            stmt = select(table).where(table.c.tenant_id == tenant_id)
        else:
            continue
        snapshot[table.name] = sorted((tuple(map(repr, row)) for row in db.session.execute(stmt)), key=str)
    db.session.commit()  # end the read transaction so the requests see a fresh database
    return snapshot


def body_for(endpoint: str, method: str) -> dict | None:
    spec = next((ep for ep in ENDPOINTS if getattr(ep, "view_name", None) == endpoint and ep.method == method), None)
    if spec is None or spec.body is None:
        return None
    assert endpoint in SAMPLE_BODIES, (
        f"{method} {endpoint} takes a {spec.body.__name__} body: add a valid sample to SAMPLE_BODIES in "
        f"{__file__} so the tenancy sweep can reach its 404")
    return SAMPLE_BODIES[endpoint]


def build_path(rule: Rule, a_ids: dict[str, int], tenant_a_id: int) -> str:
    """The rule's URL with each argument filled by the id of a tenant-A object."""
    for name in sorted(rule.arguments):
        if name not in a_ids:
            assert name in ID_FACTORIES, (
                f"route {rule.rule} has an argument <{name}> the tenancy sweep cannot make: add a factory "
                f"for {name!r} to ID_FACTORIES in {__file__} (create a tenant-A object, return its id)")
            a_ids[name] = ID_FACTORIES[name](tenant_a_id)
    built = rule.build({name: a_ids[name] for name in rule.arguments}, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def api_view(api, a_ids: dict[str, int]) -> dict:
    """What tenant A sees of its objects through the API."""
    view = {}
    if "customer_id" in a_ids:
        cid = a_ids["customer_id"]
        view["customer"] = api.get(f"/customers/{cid}").get_json()
        view["timeline"] = api.get(f"/customers/{cid}/timeline").get_json()
    if "segment_id" in a_ids:
        view["segment"] = api.get(f"/segments/{a_ids['segment_id']}").get_json()
    return view


def test_the_sweep_finds_the_customer_routes(app):
    rules = {(rule.rule, method) for rule, method in id_routes(app)}
    assert {("/api/crm/customers/<int:customer_id>", "GET"), ("/api/crm/customers/<int:customer_id>", "PATCH"),
            ("/api/crm/customers/<int:customer_id>", "DELETE"),
            ("/api/crm/customers/<int:customer_id>/timeline", "GET")} <= rules


def test_tenant_b_gets_404_on_every_tenant_a_id_route_and_a_is_unchanged(app, api, api_b, tenant_a):
    routes = id_routes(app)
    a_ids: dict[str, int] = {}
    calls = [(build_path(rule, a_ids, tenant_a.id), method, rule.endpoint) for rule, method in routes]
    api_before = api_view(api, a_ids)
    rows_before = tenant_snapshot(tenant_a.id)
    assert rows_before["customers"] and rows_before["customer_activities"] and rows_before["customer_tags"]

    for path, method, endpoint in calls:
        body = body_for(endpoint, method)
        response = api_b._call(method, path.removeprefix("/api/crm"),
                               **({"json": body} if body is not None else {}))
        assert_error(response, 404, code="not_found")
        assert str(tenant_a.id) not in response.get_json()["error"]["message"]

    assert tenant_snapshot(tenant_a.id) == rows_before
    assert api_view(api, a_ids) == api_before

    # Control: the same calls with A's own token reach the objects (reads, then writes,
    # deletions last), so the 404s above came from tenancy, not from broken routes. A
    # state machine may refuse a call in A's sequence (deleting a campaign just
    # scheduled is a 409), but never as "not found".
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    for path, method, endpoint in sorted(calls, key=lambda c: order.get(c[1], 1)):
        body = body_for(endpoint, method)
        response = api._call(method, path.removeprefix("/api/crm"), **({"json": body} if body is not None else {}))
        assert response.status_code < 300 or response.status_code == 409, (
            method, path, response.status_code, response.get_json())


def test_tenant_b_cannot_log_an_activity_for_a_customer_of_a(api, api_b, tenant_a):
    customer_id = make_customer(tenant_a.id)
    before = tenant_snapshot(tenant_a.id)

    assert_error(api_b.post("/activities", json={"customer_id": customer_id, "type": "purchase",
                                                 "properties": {"order_total": 5, "order_id": "b-1"}}), 404)
    assert tenant_snapshot(tenant_a.id) == before


def test_tenant_b_naming_a_customer_of_a_by_email_or_external_id_gets_its_own_customer(api, api_b, tenant_a):
    customer_id = make_customer(tenant_a.id)
    customers.update_customer(tenant_a.id, customer_id, {"external_id": "shared-1"})
    before = tenant_snapshot(tenant_a.id)

    assert_error(api_b.post("/activities", json={"customer": {"external_id": "shared-1"}, "type": "signup"}), 404)
    by_email = api_b.post("/activities", json={"customer": {"email": "victim@a.example.com"}, "type": "signup"})

    assert by_email.status_code == 201
    assert by_email.get_json()["customer_id"] != customer_id
    assert tenant_snapshot(tenant_a.id) == before


def test_tenant_b_does_not_see_a_in_lists_or_searches(api, api_b, tenant_a):
    make_customer(tenant_a.id)
    make_segment(tenant_a.id)
    assert api_b.get("/customers").get_json()["data"] == []
    assert api_b.get("/customers", query_string={"q": "victim"}).get_json()["data"] == []
    assert api_b.get("/customers", query_string={"tag": "vip"}).get_json()["data"] == []
    assert api_b.get("/segments").get_json()["data"] == []
    assert len(api.get("/customers").get_json()["data"]) == 1


def test_tenant_b_cannot_take_over_a_customer_of_a_by_upserting_its_external_id(api, api_b, tenant_a):
    customer_id = make_customer(tenant_a.id)
    customers.update_customer(tenant_a.id, customer_id, {"external_id": "shared-1"})
    before = tenant_snapshot(tenant_a.id)

    response = api_b.post("/customers", json={"external_id": "shared-1", "email": "victim@a.example.com"})

    assert response.status_code == 201
    assert response.get_json()["id"] != customer_id
    assert tenant_snapshot(tenant_a.id) == before


def test_a_cursor_from_tenant_a_shows_tenant_b_nothing_of_a(api, api_b, tenant_a):
    for i in range(3):
        customers.upsert_customer(tenant_a.id, {"email": f"a{i}@a.example.com"})
    cursor = api.get("/customers", query_string={"limit": 1}).get_json()["next_cursor"]
    assert cursor
    assert api_b.get("/customers", query_string={"cursor": cursor}).get_json()["data"] == []
