"""A workflow's send_email step built with the email builder: a design compiled when saved,
its own sender fields, preview as a customer and test sends, and the email it really sends."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest
from sqlalchemy import select

from tests.api.api_assertions import assert_error
from tests.workflows.workflow_support import customer
from webapp.extensions import db
from webapp.models import EmailCampaign, OutboxMessage
from webapp.services import workflows
from webapp.services.sending_domains import add_domain_of
from webapp.services.workflows.engine import run_due

DESIGN = {"version": 1, "blocks": [
    {"type": "heading", "text": 'Parking for you, {{ customer.first_name | default("friend") }}'},
    {"type": "text", "html": "<p>Order {{ trigger.order_id }}: the car park opens at six.</p>"},
    {"type": "button", "text": "Directions", "url": "https://venue.example/parking"},
    {"type": "footer"},
]}


def flow(api, config: dict) -> dict:
    add_domain_of(api.tenant.id, "hello@alpha.example.com")
    response = api.post("/workflows", json={"name": "Parking guide", "trigger_type": "purchase",
                                            "steps": [{"type": "send_email", "config": config}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_step_saved_with_a_design_keeps_it_and_sends_what_it_compiled_to(api, tenant):
    add_domain_of(tenant, "box-office@alpha.example.com")
    created = flow(api, {"subject": "Parking", "design": DESIGN, "preheader": "Doors at seven",
                         "from_name": "Box Office", "from_email": "box-office@alpha.example.com"})
    config = created["steps"][0]["config"]
    assert config["design"]["blocks"][0]["type"] == "heading" and "mj-column" in config["content"]

    step_id = created["steps"][0]["id"]
    campaign = db.session.scalar(select(EmailCampaign).where(EmailCampaign.kind == "workflow"))
    assert (campaign.from_name, campaign.from_email, campaign.preheader) == (
        "Box Office", "box-office@alpha.example.com", "Doors at seven")
    assert campaign.design == config["design"] and campaign.html_content == config["content"]

    toggled = api.post(f"/workflows/{created['id']}/toggle", json={"active": True})
    assert toggled.status_code == 200, toggled.get_json()
    workflows.process_trigger(tenant, "purchase", customer(tenant, "ava@example.com", first_name="Ava"),
                              {"order_id": "A-77"})
    db.session.commit()
    run_due()
    [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "ava@example.com"))
    parsed = email.message_from_bytes(message.raw, policy=default_policy)
    html = parsed.get_body(("html",)).get_content()
    assert "Parking for you, Ava" in html and "Order A-77" in html and "@media only screen" in html
    assert parsed["From"] == "Box Office <box-office@alpha.example.com>"
    assert step_id


@pytest.mark.parametrize(("config", "field"), [
    ({"subject": "s"}, "config.content"),
    ({"subject": "s", "design": {"version": 1, "blocks": [{"type": "button", "text": "x", "url": "x"}]}},
     "config.design.blocks[0].url"),
    ({"subject": "s", "design": {"version": 1, "blocks": [{"type": "image", "asset_id": 999_999}]}},
     "config.design.blocks[0].asset_id"),
    ({"subject": "s", "content": "<p>x</p>", "from_email": "news@not-ours.example.org"}, "config.from_email"),
    ({"subject": "s", "content": "<p>x</p>", "from_name": "Box\r\nBcc: x@y.z"}, "config.from_name"),
])
def test_a_step_with_a_bad_email_is_refused_naming_the_field(api, tenant, config, field):
    created = flow(api, {"subject": "Hello", "content": "<p>Hello</p>"})
    step = created["steps"][0]
    assert_error(api.patch(f"/workflows/{created['id']}/steps/{step['id']}", json={"config": config}), 422,
                 field=field)
    unchanged = api.get(f"/workflows/{created['id']}").get_json()["steps"][0]["config"]
    assert unchanged == step["config"]


def test_preview_as_a_customer_and_a_test_send_of_a_step(api, tenant):
    created = flow(api, {"subject": "Parking, {{ customer.first_name }}", "design": DESIGN})
    path = f"/workflows/{created['id']}/steps/{created['steps'][0]['id']}"
    leo = customer(tenant, "leo@example.com", first_name="Leo")

    preview = api.post(f"{path}/preview", json={"customer_id": leo}).get_json()
    assert preview["subject"] == "Parking, Leo" and "Parking for you, Leo" in preview["html"]
    assert "Order ORDER-1001" in preview["html"]  # {{ trigger.* }} reads a sample purchase
    sample = api.post(f"{path}/preview", json={}).get_json()
    assert "Parking for you, friend" in sample["html"]

    sent = api.post(f"{path}/test", json={"emails": ["me@alpha.example.com"], "customer_id": leo}).get_json()
    assert [r["email"] for r in sent["data"]] == ["me@alpha.example.com"]
    [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "me@alpha.example.com"))
    assert message.subject == "[TEST] Parking, Leo"


def test_step_preview_and_test_are_walls_between_tenants_and_only_for_email_steps(api, api_b, tenant, tenant_b):
    created = flow(api, {"subject": "Hi", "design": DESIGN})
    path = f"/workflows/{created['id']}/steps/{created['steps'][0]['id']}"
    assert_error(api_b.post(f"{path}/preview", json={}), 404)
    assert_error(api_b.post(f"{path}/test", json={"emails": ["b@example.com"]}), 404)
    wait = api.post(f"/workflows/{created['id']}/steps", json={"type": "wait", "config": {"days": 1}}).get_json()
    assert_error(api.post(f"/workflows/{created['id']}/steps/{wait['id']}/preview", json={}), 404)
    other_customer = customer(tenant_b.id, "b@example.com")
    assert_error(api.post(f"{path}/preview", json={"customer_id": other_customer}), 404)
