"""A workflow is not switched on while an email step has an empty subject, the placeholder
"Add step" put in, or a merge tag that is not a field we know; once fixed, it is. The same
refusal over the API (422) and beside the builder's toggle."""

from __future__ import annotations

import pytest

from tests.web.pages import csrf_from
from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import AutomationWorkflow
from webapp.services import workflows
from webapp.services.workflows.steps import DEFAULT_STEP_CONFIG
from webapp.services.workflows.steps.send_email import PLACEHOLDER_SUBJECT

WRITTEN = {"subject": "Your tickets for {{ trigger.event.name | default('the show') }}",
           "content": "<p>Hi {{ customer.first_name | default('there') }}, doors open at seven.</p>"}


def flow(tenant_id: int, *steps: tuple[str, dict | None]) -> AutomationWorkflow:
    created = workflows.create_workflow(tenant_id, {"name": "After purchase", "trigger_type": "purchase"})
    for step_type, config in steps:
        workflows.add_step(tenant_id, created.id, step_type, config)
    return created


def refusal(tenant_id: int, workflow_id: int) -> str:
    with pytest.raises(ValidationFailed) as caught:
        workflows.set_active(tenant_id, workflow_id, True)
    assert caught.value.field == "active"
    db.session.rollback()
    assert db.session.get(AutomationWorkflow, workflow_id).active is False
    return caught.value.reason


def test_the_step_editors_placeholder_is_refused_then_a_written_email_goes_on(tenant):
    created = flow(tenant, ("wait", {"hours": 1}), ("send_email", None))

    reason = refusal(tenant, created.id)

    assert reason == "step 2 (send email): the email is not written yet: write its subject and message first"
    step = workflows.steps_of(created.id)[1]
    workflows.update_step(tenant, created.id, step.id, WRITTEN)
    assert workflows.set_active(tenant, created.id, True).active is True


def test_a_new_email_step_starts_from_the_brand_kits_design_with_a_subject_to_write(tenant):
    from webapp.models import Tenant

    db.session.get(Tenant, tenant).brand = {"primary_color": "#aa0033", "footer_text": "See you at the Arena"}
    db.session.commit()
    created = flow(tenant, ("send_email", None))

    config = workflows.steps_of(created.id)[0].config
    assert config["subject"] == PLACEHOLDER_SUBJECT
    assert [b["type"] for b in config["design"]["blocks"]] == ["heading", "text", "button", "footer"]
    assert config["design"]["blocks"][-1]["text"] == "See you at the Arena"  # the tenant's brand kit
    assert "See you at the Arena" in config["content"]


def test_a_written_subject_on_the_starting_design_is_refused_for_its_placeholder_text(tenant):
    created = flow(tenant, ("send_email", None))
    step = workflows.steps_of(created.id)[0]
    workflows.update_step(tenant, created.id, step.id, {"subject": "Your tickets", "design": step.config["design"]})

    assert refusal(tenant, created.id) == ("step 1 (send email): the email is still the placeholder text: "
                                           "write the message first")

    design = step.config["design"]
    design["blocks"][0]["text"] = "Doors open at seven"
    workflows.update_step(tenant, created.id, step.id, {"subject": "Your tickets", "design": design})
    assert "placeholder text" in refusal(tenant, created.id)  # the paragraph still says "Tell your fans…"
    design["blocks"][1]["html"] = "<p>Bring your ticket on your phone.</p>"
    workflows.update_step(tenant, created.id, step.id, {"subject": "Your tickets", "design": design})
    assert workflows.set_active(tenant, created.id, True).active is True


def test_a_written_email_under_the_placeholder_subject_is_refused_for_the_subject(tenant):
    created = flow(tenant, ("send_email", {**WRITTEN, "subject": PLACEHOLDER_SUBJECT}))

    assert refusal(tenant, created.id) == "step 1 (send email): the subject is not written yet: write one first"


@pytest.mark.parametrize("content", ["Hello {{first_name}},", "<p>Hello {{ first_name }},</p>",
                                     '<p>Hello {{ customer.first_name | default("there") }},</p>',
                                     "<p>Hello {{ customer.first_name | default('there') }},</p>"])
def test_old_and_requoted_placeholders_are_refused_too(tenant, content):
    created = flow(tenant, ("send_email", {"subject": "Hi", "content": content}))

    assert "placeholder" in refusal(tenant, created.id)


def test_a_blank_subject_is_refused(tenant):
    created = flow(tenant, ("send_email", {**WRITTEN, "subject": "   "}))

    assert refusal(tenant, created.id) == "step 1 (send email): the subject is empty"


def test_an_unknown_merge_tag_is_refused_with_what_was_meant_then_allowed_once_fixed(tenant):
    created = flow(tenant, ("send_email", {**WRITTEN, "content": "<p>Hi {{ customer.frist_name }}</p>"}))

    assert refusal(tenant, created.id) == ("step 1 (send email): {{ customer.frist_name }} is not a field we know "
                                           "— did you mean customer.first_name?")
    step = workflows.steps_of(created.id)[0]
    workflows.update_step(tenant, created.id, step.id, {**WRITTEN, "content": "<p>Hi {{ customer.first_name }}</p>"})
    assert workflows.set_active(tenant, created.id, True).active is True


def test_an_unknown_tag_in_a_designed_email_is_found_in_what_it_compiled_to(tenant):
    design = {"version": 1, "blocks": [{"type": "heading", "text": "Hi {{ customer.frist_name }}"},
                                       {"type": "text", "html": "<p>Doors open at seven.</p>"}]}
    created = flow(tenant, ("send_email", {"subject": "Tonight", "design": design}))

    assert "customer.frist_name" in refusal(tenant, created.id)


def test_trigger_keys_and_template_variables_are_not_unknown(tenant):
    content = ("{% set total = trigger.order_total %}<p>{{ total }} for {{ trigger.event.name }}"
               "{% for t in trigger.tickets %}{{ t.seat }}{% endfor %}</p>")
    created = flow(tenant, ("send_email", {**WRITTEN, "content": content}))

    assert workflows.set_active(tenant, created.id, True).active is True


def test_switching_off_is_never_refused(tenant):
    created = flow(tenant, ("send_email", WRITTEN))
    workflows.set_active(tenant, created.id, True)
    step = workflows.steps_of(created.id)[0]
    db.session.get(type(step), step.id).config = DEFAULT_STEP_CONFIG["send_email"]
    db.session.commit()

    assert workflows.set_active(tenant, created.id, False).active is False


# --- API and web ----------------------------------------------------------------------------


def test_the_api_toggle_answers_422_naming_the_step_then_200_once_fixed(api, tenant):
    created = flow(tenant, ("send_email", None))

    refused = api.post(f"/workflows/{created.id}/toggle", json={"active": True})

    assert refused.status_code == 422
    assert "step 1 (send email)" in refused.get_json()["error"]["message"]
    step = workflows.steps_of(created.id)[0]
    workflows.update_step(tenant, created.id, step.id, WRITTEN)
    assert api.post(f"/workflows/{created.id}/toggle", json={"active": True}).get_json()["active"] is True


def test_another_tenants_workflow_is_a_404(api_b, tenant):
    created = flow(tenant, ("send_email", WRITTEN))

    assert api_b.post(f"/workflows/{created.id}/toggle").status_code == 404
    assert db.session.get(AutomationWorkflow, created.id).active is False


def test_the_builders_toggle_shows_the_problem_beside_it(app, tenant, tenant_a, password):
    created = flow(tenant, ("send_email", {**WRITTEN, "subject": "Hi {{ first_name }}"}))
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": tenant_a.owner_email, "password": password, "csrf_token": token})
    token = csrf_from(client.get(f"/workflows/{created.id}").get_data(as_text=True))

    response = client.post(f"/workflows/{created.id}/toggle", headers={"HX-Request": "true", "X-CSRFToken": token})

    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'class="field-error" role="alert"' in html
    assert "step 1 (send email): {{ first_name }} is not a field we know — did you mean customer.first_name?" in \
        html.replace("&#34;", '"').replace("&#39;", "'")
