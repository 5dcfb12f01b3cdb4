"""The workflow pages: list and switches, the builder's steps (add, reorder, edit inline with
errors beside the field, remove), enrollments, the trace, read-only viewers, escaping."""

from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AutomationWorkflow, Tenant
from webapp.services import workflows
from webapp.services.workflows.engine import run_due

from .pages import field_errors


def step_ids(workflow_id: int) -> list[int]:
    db.session.expire_all()
    return [s.id for s in workflows.steps_of(workflow_id)]


def owner_a_tenant(workflow_id: int) -> int:
    return db.session.get(AutomationWorkflow, workflow_id).tenant_id


def test_empty_list_says_what_to_do_next(owner_a):
    html = owner_a.get("/workflows/").get_data(as_text=True)

    assert "No workflows yet" in html and "Create workflow" in html
    assert 'href="/workflows/"' in owner_a.get("/dashboard").get_data(as_text=True)  # the nav link is live


def test_create_a_workflow_and_land_in_the_builder(owner_a, tenant_a):
    response = owner_a.post("/workflows/new", {"name": "After purchase", "trigger_type": "purchase"})

    workflow = db.session.scalars(select(AutomationWorkflow)).one()
    assert response.headers["Location"] == f"/workflows/{workflow.id}"
    html = owner_a.get(f"/workflows/{workflow.id}").get_data(as_text=True)
    assert "No steps yet" in html and "Add a step" in html


def test_missing_name_is_shown_beside_the_field(owner_a):
    response = owner_a.post("/workflows/new", {"name": "", "trigger_type": "purchase"})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["name"] == ["Give the workflow a name."]


def test_list_shows_trigger_switch_and_counts(owner_a, world_a):
    html = owner_a.get("/workflows/").get_data(as_text=True)

    row = re.search(rf'<tr class="workflow-row" data-workflow-id="{world_a["workflow_id"]}">.*?</tr>', html,
                    re.S).group(0)
    assert "Manual enrollment" in row and 'aria-checked="true"' in row
    figures = dict(re.findall(r'data-testid="([a-z-]+)">(?:<a[^>]*>)?([^<]+)<', row))
    assert (figures["in-now"], figures["completed"], figures["emails-sent"]) == ("1", "0", "0")
    assert "1 enrolled in all" in row


def test_htmx_switch_flips_and_answers_with_itself(owner_a, world_a):
    response = owner_a.hx_post(f"/workflows/{world_a['workflow_id']}/toggle")

    assert response.status_code == 200
    assert 'aria-checked="false"' in response.get_data(as_text=True)
    assert db.session.get(AutomationWorkflow, world_a["workflow_id"]).active is False


def test_switching_on_a_workflow_without_steps_shows_why(owner_a, tenant_a):
    empty = workflows.create_workflow(tenant_a.id, {"name": "Empty", "trigger_type": "signup"})

    response = owner_a.hx_post(f"/workflows/{empty.id}/toggle")

    assert response.status_code == 422
    assert "add at least one step" in response.get_data(as_text=True)


def test_add_reorder_edit_and_remove_steps_through_htmx(owner_a, world_a):
    wid = world_a["workflow_id"]
    tag, wait = step_ids(wid)

    added = owner_a.hx_post(f"/workflows/{wid}/steps", {"type": "send_email"})
    assert added.status_code == 200 and "Send email" in added.get_data(as_text=True)
    email = step_ids(wid)[-1]

    reordered = owner_a.hx_post(f"/workflows/{wid}/steps/order", {"step_ids": [str(email), str(tag), str(wait)]})
    assert reordered.status_code == 200
    assert step_ids(wid) == [email, tag, wait]

    # The email is edited on its own page (tests/web/test_step_email_page.py); the step links there.
    assert f'href="/workflows/{wid}/steps/{email}/email"' in reordered.get_data(as_text=True)
    saved = owner_a.hx_post(f"/workflows/{wid}/steps/{wait}", {"amount": "3", "unit": "hours"})
    assert "Wait 3 hours" in saved.get_data(as_text=True)

    owner_a.hx_post(f"/workflows/{wid}/steps/{tag}/delete")
    assert step_ids(wid) == [email, wait]


def test_a_stale_order_is_refused_and_the_saved_one_shown(owner_a, world_a):
    wid = world_a["workflow_id"]
    before = step_ids(wid)

    response = owner_a.hx_post(f"/workflows/{wid}/steps/order", {"step_ids": [str(before[0])]})

    assert response.status_code == 409
    assert step_ids(wid) == before


def test_builder_shows_who_is_on_each_step_and_email_figures(owner_a, world_a, tenant_a):
    wid = world_a["workflow_id"]
    workflows.add_step(tenant_a.id, wid, "send_email", {"subject": "Hi", "content": "<p>Hi</p>"}, position=0)
    workflows.enroll_customers(tenant_a.id, wid, [world_a["customer_id"]])
    run_due()

    html = owner_a.get(f"/workflows/{wid}").get_data(as_text=True)

    figures = re.findall(r'data-testid="on-step-now">(\d+) on it now.*?data-testid="passed">(\d+) passed', html, re.S)
    # world_a's enrollment was already past the new first step (it pointed at the tag step):
    # only the new one got the email; both passed the tag step and wait on the last one.
    assert figures == [("0", "1"), ("0", "2"), ("2", "0")]
    assert re.search(r'data-testid="email-figures">1 sent', html)


def test_enrollments_and_trace_show_the_path_and_why_it_ended(owner_a, world_a, tenant_a):
    wid = world_a["workflow_id"]
    cond = workflows.add_step(tenant_a.id, wid, "condition",
                              {"conditions": [{"type": "tag", "value": "nobody-has-this"}]}, position=1)
    run_due()
    enrollment_id = world_a["enrollment_id"]

    listing = owner_a.get(f"/workflows/{wid}/enrollments?status=exited").get_data(as_text=True)
    assert f'data-enrollment-id="{enrollment_id}"' in listing and "Conditions not met" in listing
    trace = owner_a.get(f"/workflows/{wid}/enrollments/{enrollment_id}").get_data(as_text=True)
    assert re.search(r'data-testid="exit-reason">Conditions not met', trace)
    path = trace[trace.index("<h2>Path</h2>"):]
    assert path.index("Add tag") < path.index("Condition")
    assert cond.id
    customer_page = owner_a.get(f"/customers/{world_a['customer_id']}").get_data(as_text=True)
    assert f'/workflows/{wid}/enrollments/{enrollment_id}' in customer_page


def test_viewers_see_the_builder_without_controls(viewer_a, owner_a, world_a):
    path = f"/workflows/{world_a['workflow_id']}"
    owner_html, viewer_html = owner_a.get(path).get_data(as_text=True), viewer_a.get(path).get_data(as_text=True)

    for marker in ("drag-handle", "Add a step", "/toggle", "Save step", "Delete workflow"):
        assert marker in owner_html, marker
        assert marker not in viewer_html, marker
    assert "Add tag welcomed" in viewer_html


def test_names_and_step_content_are_escaped(owner_a, tenant_a, world_a):
    hostile = '<img src=x onerror="alert(1)">'
    workflows.update_workflow(tenant_a.id, world_a["workflow_id"], {"name": hostile})
    workflows.add_step(tenant_a.id, world_a["workflow_id"], "update_attribute", {"key": hostile, "value": hostile})

    for path in ("/workflows/", f"/workflows/{world_a['workflow_id']}",
                 f"/workflows/{world_a['workflow_id']}/enrollments/{world_a['enrollment_id']}"):
        html = owner_a.get(path).get_data(as_text=True)
        assert hostile not in html, path
        assert "&lt;img src=x" in html, path


def test_settings_keep_a_webhook_allowlist(owner_a, tenant_a):
    response = owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC",
                                                 "webhook_allowlist": "hooks.internal.example\n93.184.216.34\n"})

    assert response.status_code == 302
    assert db.session.get(Tenant, tenant_a.id).webhook_allowlist == "hooks.internal.example\n93.184.216.34"
    refused = owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC",
                                                "webhook_allowlist": "not a host!"})
    assert refused.status_code == 422
    assert "webhook_allowlist" in field_errors(refused.get_data(as_text=True))


def test_settings_refuse_a_private_address_in_the_webhook_allowlist_beside_the_field(owner_a, tenant_a):
    response = owner_a.post("/settings/tenant", {"name": "Arena Alpha", "timezone": "UTC",
                                                 "webhook_allowlist": "hooks.example.com\n169.254.169.254\n"})

    assert response.status_code == 422
    [message] = field_errors(response.get_data(as_text=True))["webhook_allowlist"]
    assert "'169.254.169.254' is a link-local address" in message and "public hosts only" in message
    assert db.session.get(Tenant, tenant_a.id).webhook_allowlist is None


def test_the_toggle_never_redirects_off_site(owner_a, world_a):
    response = owner_a.post(f"/workflows/{world_a['workflow_id']}/toggle", {},
                            headers={"Referer": "https://evil.example/workflows/"})

    assert response.headers["Location"] == f"/workflows/{world_a['workflow_id']}"




def test_trigger_settings_save_and_show_errors_beside_their_field(owner_a, world_a):
    wid = world_a["workflow_id"]
    path = f"/workflows/{wid}/settings"

    assert owner_a.post(path, {"name": "Buyers", "trigger_type": "purchase", "reentry": "once"}).status_code == 302
    saved = owner_a.post(path, {"name": "Buyers", "trigger_type": "purchase", "reentry": "once",
                                "min_order_total": "100", "event_name": "Jazz Night"})
    assert saved.status_code == 302
    workflow = db.session.get(AutomationWorkflow, wid)
    db.session.refresh(workflow)
    assert workflow.trigger_config == {"min_order_total": 100.0, "event_name": "Jazz Night"}
    assert "of at least 100 for “Jazz Night”" in owner_a.get(f"/workflows/{wid}").get_data(as_text=True)

    refused = owner_a.post(path, {"name": "Buyers", "trigger_type": "purchase", "min_order_total": "lots"})
    assert refused.status_code == 422
    assert field_errors(refused.get_data(as_text=True))["min_order_total"] == ["must be a number"]


def test_a_refused_step_keeps_what_was_typed_beside_the_message(owner_a, world_a):
    wid = world_a["workflow_id"]
    owner_a.hx_post(f"/workflows/{wid}/steps", {"type": "condition"})
    condition = step_ids(wid)[-1]
    typed = '[{"type": "orders_count", "operator": ">=", "value": 10000000000000}]'

    refused = owner_a.hx_post(f"/workflows/{wid}/steps/{condition}", {"conditions": typed, "match": "all"})

    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "conditions" in field_errors(page)
    assert str(escape(typed)) in page
    owner_a.hx_post(f"/workflows/{wid}/steps", {"type": "send_email"})
    email = step_ids(wid)[-1]
    workflows.update_step(owner_a_tenant(wid), wid, email, {"subject": "Hi", "content": "<p>x</p>"})  # HTML
    refused = owner_a.post(f"/workflows/{wid}/steps/{email}/email",
                           {"subject": "Hi {{ customer.", "content": "<p>Mine</p>"})
    assert refused.status_code == 422 and "subject" in field_errors(refused.get_data(as_text=True))
    assert str(escape("Hi {{ customer.")) in refused.get_data(as_text=True)
    assert str(escape("<p>Mine</p>")) in refused.get_data(as_text=True)
