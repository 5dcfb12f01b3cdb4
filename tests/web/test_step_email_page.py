"""A workflow's email step on its own page: the builder opens the step's design, saving a
design compiles it into the step, a refused design comes back 422 naming its block with
everything typed kept, the sender is checked beside its field, the preview personalises the
unsaved email with a sample trigger, a test lands in the outbox marked [TEST], an HTML step
keeps its code editor, and the walls hold (other tenants, other steps, viewers)."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationStep, EmailCampaign, OutboxMessage, Tenant
from webapp.services import workflows
from webapp.services.sending_domains import add_domain_of
from webapp.services.workflows.steps.send_email import PLACEHOLDER_SUBJECT

from .conftest import HX, make_customer, snapshot
from .pages import field_errors

DESIGN = {"version": 1, "blocks": [
    {"type": "heading", "text": "Hi {{ customer.first_name | default(\"there\") }}"},
    {"type": "text", "html": "<p>Your order {{ trigger.order_id }} is confirmed.</p>"},
    {"type": "button", "text": "See your tickets", "url": "https://tickets.example.com/orders"},
    {"type": "footer"}]}


@pytest.fixture
def flow(tenant_a):
    """A purchase workflow of tenant A with a wait and a new email step (as "Add step" makes
    it), the sender on a verified domain and a postal address; ids by name."""
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.sender_name, tenant.sender_email = "Arena Alpha", "tickets@alpha.example.com"
    tenant.postal_address = "1 Arena Way, Berlin"
    add_domain_of(tenant_a.id, tenant.sender_email)
    created = workflows.create_workflow(tenant_a.id, {"name": "Thank you", "trigger_type": "purchase",
                                                      "steps": [{"type": "wait", "config": {"hours": 1}}]})
    email = workflows.add_step(tenant_a.id, created.id, "send_email")
    customer = make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    db.session.commit()
    return {"workflow_id": created.id, "step_id": email.id, "wait_id": workflows.steps_of(created.id)[0].id,
            "customer_id": customer.id}


def page_url(flow: dict, suffix: str = "") -> str:
    return f"/workflows/{flow['workflow_id']}/steps/{flow['step_id']}/email{suffix}"


def step_config(step_id: int) -> dict:
    db.session.expire_all()
    return db.session.get(AutomationStep, step_id).config


def builder_config(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="design-builder-config">(.*?)</script>', html, re.S)
    assert match, "no builder on the page"
    return json.loads(match.group(1))


def design_input(html: str) -> dict:
    match = re.search(r'<input[^>]*name="design"[^>]*value="([^"]*)"', html)
    assert match, "no design input"
    return json.loads(unescape(match.group(1)))


def srcdoc(html: str) -> str:
    match = re.search(r'<iframe[^>]*\ssrcdoc="([^"]*)"', html)
    assert match, "no iframe with srcdoc"
    return unescape(match.group(1))


def save_data(**fields) -> dict:
    return {"subject": "Thanks for order {{ trigger.order_id }}", "design": json.dumps(DESIGN), **fields}


# --- the page -------------------------------------------------------------------------------------

def test_the_page_opens_the_steps_design_in_the_builder_with_the_trigger_fields(owner_a, flow):
    response = owner_a.get(page_url(flow))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert [b["type"] for b in design_input(html)["blocks"]] == ["heading", "text", "button", "footer"]
    tags = {t["tag"]: t["group"] for t in builder_config(html)["mergeTags"]}
    assert tags["trigger.order_id"] == "Trigger" and tags["customer.first_name"] == "Customer"
    # Where the marketer is: the workflow (a link back), the step's number and what starts it.
    assert f'href="/workflows/{flow["workflow_id"]}"' in html and "Thank you" in html
    assert "Step 2: Send email" in html
    assert re.search(r'data-testid="step-context">.*A purchase', html, re.S)
    # The subject "Add step" had to put in is shown as an empty field to write.
    assert PLACEHOLDER_SUBJECT not in html
    assert re.search(r'<input[^>]*name="subject"[^>]*value=""', html)


def test_saving_a_design_compiles_it_into_the_step_and_its_email(owner_a, flow):
    response = owner_a.post(page_url(flow), save_data(from_name="Arena Box Office", preheader="Doors at 7"))

    assert response.status_code == 302 and response.headers["Location"] == page_url(flow)
    config = step_config(flow["step_id"])
    assert config["subject"] == "Thanks for order {{ trigger.order_id }}"
    assert config["design"]["blocks"][2]["url"] == "https://tickets.example.com/orders"
    assert "See your tickets" in config["content"]  # compiled at save time
    assert (config["from_name"], config["preheader"]) == ("Arena Box Office", "Doors at 7")
    campaign = db.session.get(EmailCampaign, db.session.get(AutomationStep, flow["step_id"]).campaign_id)
    assert campaign.design == config["design"] and campaign.from_name == "Arena Box Office"
    # Saved: the page opens the saved design again.
    html = owner_a.get(page_url(flow)).get_data(as_text=True)
    assert design_input(html)["blocks"][2]["text"] == "See your tickets"
    assert "Thanks for order {{ trigger.order_id }}" in unescape(html)


def test_a_bad_design_is_refused_naming_its_block_with_what_was_typed_kept(owner_a, flow):
    design = json.loads(json.dumps(DESIGN))
    design["blocks"][0]["text"] = "Typed before saving"
    design["blocks"][2]["url"] = "tickets page"
    before = snapshot()

    response = owner_a.post(page_url(flow), save_data(design=json.dumps(design)))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Not saved: Block 3 (Button), Link" in html
    assert list(builder_config(html)["errors"]) == ["design.blocks[2].url"]  # the builder marks the block
    assert design_input(html)["blocks"][0]["text"] == "Typed before saving"
    assert "Thanks for order {{ trigger.order_id }}" in unescape(html)  # the subject typed, too
    assert snapshot() == before


def test_a_sender_off_the_sending_domains_is_refused_beside_its_field(owner_a, flow):
    before = snapshot()

    response = owner_a.post(page_url(flow), save_data(from_email="promo@gmail.com"))

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert errors["from_email"] and "sending domain" in errors["from_email"][0]
    assert snapshot() == before


def test_an_empty_subject_is_refused_beside_it(owner_a, flow):
    response = owner_a.post(page_url(flow), save_data(subject=""))

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["subject"] == ["Write a subject line."]
    assert step_config(flow["step_id"])["subject"] == PLACEHOLDER_SUBJECT


def test_a_broken_merge_tag_in_the_subject_is_refused_beside_it(owner_a, flow):
    response = owner_a.post(page_url(flow), save_data(subject="Hi {{ customer."))

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["subject"]


# --- preview and test sends -----------------------------------------------------------------------

def test_the_preview_shows_the_unsaved_email_as_the_customer_after_a_sample_purchase(owner_a, flow):
    before = snapshot()

    response = owner_a.hx_post(page_url(flow, "/preview"), {**save_data(), "preview_as": "ada@example.com"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    document = srcdoc(html)
    assert "Hi Ada" in document and "Your order ORDER-1001 is confirmed." in document
    assert re.search(r'data-testid="preview-subject">Thanks for order ORDER-1001<', html)
    assert 'data-testid="preview-from">Arena Alpha &lt;tickets@alpha.example.com&gt;' in html
    assert snapshot() == before


def test_the_preview_names_the_block_of_a_bad_design(owner_a, flow):
    design = json.loads(json.dumps(DESIGN))
    design["blocks"][2]["url"] = "tickets page"

    response = owner_a.hx_post(page_url(flow, "/preview"), save_data(design=json.dumps(design)))

    assert response.status_code == 422
    assert 'data-error-field="Block 3 (Button), Link"' in response.get_data(as_text=True)


def test_a_test_send_of_the_saved_email_lands_in_the_outbox_marked_as_a_test(owner_a, flow, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    owner_a.post(page_url(flow), save_data())

    response = owner_a.hx_post(page_url(flow, "/test"), {"emails": "me@example.com", "preview_as": "ada@example.com"})

    assert response.status_code == 200
    assert 'data-testid="test-results"' in response.get_data(as_text=True)
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert (message.recipient, message.subject) == ("me@example.com", "[TEST] Thanks for order ORDER-1001")
    assert b"Hi Ada\r\n\r\nYour order ORDER-1001 is confirmed." in message.raw  # the plain-text part
    assert workflows.step_counts(flow["workflow_id"]) == {}  # a test enrolls nobody


def test_a_test_without_addresses_is_refused_beside_the_field(owner_a, flow):
    response = owner_a.hx_post(page_url(flow, "/test"), {"emails": ""})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["emails"] == ["Enter at least one address."]


# --- HTML steps and converting ----------------------------------------------------------------------

def test_an_html_step_keeps_its_code_editor_and_a_posted_design_is_ignored(owner_a, tenant_a, flow):
    html_step = workflows.add_step(tenant_a.id, flow["workflow_id"], "send_email",
                                   {"subject": "Hi", "content": "<p>Mine, by hand</p>"})
    url = f"/workflows/{flow['workflow_id']}/steps/{html_step.id}/email"

    page = owner_a.get(url).get_data(as_text=True)
    assert 'name="content"' in page and "Mine, by hand" in page
    assert "design-builder-config" not in page and "Convert to HTML" not in page
    assert "{{ trigger.order_id }}" in unescape(page)  # the trigger's fields, listed beside the code

    response = owner_a.post(url, {"subject": "Hi again", "content": "<p>Still mine</p>",
                                  "design": json.dumps(DESIGN)})

    assert response.status_code == 302
    config = step_config(html_step.id)
    assert "design" not in config and config["content"] == "<p>Still mine</p>"


def test_convert_to_html_is_one_way_and_keeps_what_the_design_compiled_to(owner_a, flow):
    owner_a.post(page_url(flow), save_data())
    compiled = step_config(flow["step_id"])["content"]

    response = owner_a.post(page_url(flow, "/convert-html"))

    assert response.status_code == 302
    config = step_config(flow["step_id"])
    assert "design" not in config and config["content"] == compiled
    page = owner_a.get(page_url(flow)).get_data(as_text=True)
    assert 'name="content"' in page and "design-builder-config" not in page


# --- the workflow builder -----------------------------------------------------------------------------

def test_the_builder_shows_the_email_steps_summary_and_a_link_to_its_page(owner_a, flow):
    owner_a.post(page_url(flow), save_data(from_email="tickets@alpha.example.com"))

    html = owner_a.get(f"/workflows/{flow['workflow_id']}").get_data(as_text=True)

    step = re.search(rf'<li[^>]*data-step-id="{flow["step_id"]}".*?</li>', html, re.S).group(0)
    assert f'href="{page_url(flow)}"' in step and "Edit email" in step
    # The subject with its merge tags by name, not as template code.
    assert "Send “Thanks for order [Order number]”" in step and "built with blocks" in step
    assert "From" in step and "tickets@alpha.example.com" in step
    assert 'name="content"' not in step and 'name="subject"' not in step  # no inline email editor
    wait = re.search(rf'<li[^>]*data-step-id="{flow["wait_id"]}".*?</li>', html, re.S).group(0)
    assert 'name="amount"' in wait  # other step types keep theirs


def test_a_new_email_step_reads_as_not_written_yet_in_the_builder(owner_a, flow):
    html = owner_a.get(f"/workflows/{flow['workflow_id']}").get_data(as_text=True)

    step = re.search(rf'<li[^>]*data-step-id="{flow["step_id"]}".*?</li>', html, re.S).group(0)
    assert "An email not written yet" in step and PLACEHOLDER_SUBJECT not in step


# --- walls -----------------------------------------------------------------------------------------

ROUTES = [("GET", ""), ("POST", ""), ("POST", "/preview"), ("POST", "/test"), ("POST", "/convert-html")]


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
def test_another_tenants_workflow_and_step_are_404_on_every_route(owner_b, flow, method, suffix):
    before = snapshot()

    for headers in ({}, HX):
        response = owner_b.client.open(page_url(flow, suffix), method=method, headers=headers,
                                       data={**save_data(), "emails": "me@example.com", "csrf_token": owner_b.csrf()})

        assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
def test_a_step_that_sends_no_email_or_is_in_another_workflow_is_404(owner_a, tenant_a, flow, method, suffix):
    other = workflows.create_workflow(tenant_a.id, {"name": "Other", "trigger_type": "signup"})
    before = snapshot()
    data = {**save_data(), "emails": "me@example.com", "csrf_token": owner_a.csrf()}

    wait = owner_a.client.open(f"/workflows/{flow['workflow_id']}/steps/{flow['wait_id']}/email{suffix}",
                               method=method, data=data)
    elsewhere = owner_a.client.open(f"/workflows/{other.id}/steps/{flow['step_id']}/email{suffix}",
                                    method=method, data=data)

    assert (wait.status_code, elsewhere.status_code) == (404, 404)
    assert snapshot() == before


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
def test_viewers_cannot_open_or_change_the_email(viewer_a, flow, method, suffix):
    before = snapshot()

    response = viewer_a.client.open(page_url(flow, suffix), method=method,
                                    data={**save_data(), "emails": "me@example.com", "csrf_token": viewer_a.csrf()})

    assert response.status_code == 403
    assert snapshot() == before


def test_viewers_see_the_email_steps_summary_without_the_link(viewer_a, flow):
    html = viewer_a.get(f"/workflows/{flow['workflow_id']}").get_data(as_text=True)

    assert "An email not written yet" in html and page_url(flow) not in html


# --- hostile designs ------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda children: st.lists(children, max_size=4) |
                           st.dictionaries(st.sampled_from(["type", "blocks", "text", "url", "columns", "version",
                                                            "html", "height", "level", "settings"]), children,
                                           max_size=4), max_leaves=20)
BLOCKS = st.lists(st.fixed_dictionaries({"type": st.sampled_from(["heading", "text", "button", "image", "spacer",
                                                                  "columns", "divider", "social", "event"])},
                                        optional={"text": JSON_VALUES, "url": JSON_VALUES, "html": JSON_VALUES,
                                                  "columns": JSON_VALUES, "height": JSON_VALUES}), max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(design=st.one_of(JSON_VALUES, st.fixed_dictionaries({"version": st.just(1), "blocks": BLOCKS})))
def test_any_design_is_saved_or_refused_never_a_5xx(owner_a, flow, design):
    response = owner_a.post(page_url(flow), save_data(design=json.dumps(design)))
    preview = owner_a.hx_post(page_url(flow, "/preview"), save_data(design=json.dumps(design)))

    assert response.status_code in (302, 422), response.get_data(as_text=True)[:1000]
    assert preview.status_code in (200, 422), preview.get_data(as_text=True)[:1000]
