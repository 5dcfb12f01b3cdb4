"""The pages with paths: the builder adds a step on a path and reorders within it; the
enrollments list and the trace say which path each person took and why, in the tenant's
time; another tenant's step is no path of ours."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import AutomationStep, Tenant
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.customers import upsert_customer
from webapp.services.workflows.engine import run_due

from .conftest import HX

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html))


def split_workflow(tenant_id: int):
    workflow = workflows.create_workflow(tenant_id, {"name": "Split", "trigger_type": "purchase", "steps": [
        {"type": "split", "config": {"paths": [{"percent": 0}, {"percent": 100, "name": "Offer"}]}},
        {"type": "wait_for", "config": {"activity_type": "checked_in", "timeout": {"days": 2}}}]})
    split, wait_for = workflows.steps_of(workflow.id)
    return workflow, split, wait_for


def test_add_a_step_on_a_path_and_reorder_it_there(owner_a, tenant_a):
    workflow, split, _ = split_workflow(tenant_a.id)
    for step_type in ("add_tag", "wait"):
        response = owner_a.post(f"/workflows/{workflow.id}/steps",
                                {"type": step_type, "parent_step_id": split.id, "branch": 1}, headers=HX)
        assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="steps-{split.id}-1"' in html and "Path B “Offer” · 100%" in html
    tag, wait = workflows.steps_of(workflow.id)[1:3]
    assert (tag.parent_step_id, tag.branch, wait.branch) == (split.id, 1, 1)

    response = owner_a.post(f"/workflows/{workflow.id}/steps/order",
                            {"step_ids": [wait.id, tag.id], "parent_step_id": split.id, "branch": 1}, headers=HX)
    assert response.status_code == 200
    db.session.expire_all()
    assert [s.id for s in workflows.steps_of(workflow.id)][1:3] == [wait.id, tag.id]
    # A path that does not exist is a message, not an error page.
    response = owner_a.post(f"/workflows/{workflow.id}/steps", {"type": "add_tag", "parent_step_id": split.id,
                                                                "branch": 3}, headers=HX)
    assert response.status_code == 422 and "must be between 0 and 1" in response.get_data(as_text=True)


def test_another_tenants_split_is_not_a_path_here(owner_a, tenant_a, tenant_b):
    _, their_split, _ = split_workflow(tenant_b.id)
    mine = workflows.create_workflow(tenant_a.id, {"name": "Mine", "trigger_type": "purchase"})
    response = owner_a.post(f"/workflows/{mine.id}/steps", {"type": "add_tag", "parent_step_id": their_split.id,
                                                            "branch": 0}, headers=HX)
    assert response.status_code == 422
    assert db.session.query(AutomationStep).filter(AutomationStep.workflow_id == mine.id).count() == 0
    assert owner_a.post(f"/workflows/{their_split.workflow_id}/steps/order",
                        {"step_ids": [their_split.id]}).status_code == 404


def test_the_trace_says_which_path_was_taken_and_why_in_the_tenants_time(owner_a, tenant_a):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.timezone = "Europe/Paris"
    db.session.commit()
    workflow, split, wait_for = split_workflow(tenant_a.id)
    workflows.add_step(tenant_a.id, workflow.id, "add_tag", {"tag": "offered"}, parent_step_id=split.id, branch=1)
    workflows.add_step(tenant_a.id, workflow.id, "add_tag", {"tag": "came"}, parent_step_id=wait_for.id, branch=0)
    workflows.set_active(tenant_a.id, workflow.id, True)
    ada = upsert_customer(tenant_a.id, {"email": "ada@example.com"})[0]
    record_activity(tenant_a.id, "purchase", customer_id=ada.id, properties={"order_total": 10})
    run_due(rng=random.Random(2))
    scanned = utcnow().replace(microsecond=0) + timedelta(seconds=1)
    record_activity(tenant_a.id, "checked_in", customer_id=ada.id, occurred_at=scanned)
    run_due(now=scanned)
    [enrollment] = workflows.enrollments_page(tenant_a.id, workflow.id).items

    html = owner_a.get(f"/workflows/{workflow.id}/enrollments/{enrollment[0].id}").get_data(as_text=True)
    text = visible(html)
    assert "Paths taken Offer / happened" in text
    assert "Took path B “Offer” (random, 100%)" in text
    local = scanned.astimezone(ZoneInfo("Europe/Paris"))
    assert re.search(rf"Checked in happened at .*{local:%H:%M}.*, after (\d+ min|less than a minute): "
                     r"on the happened path", text)
    assert "step 1 › path Offer › step 1" in text and "step 2 › path happened › step 1" in text
    assert not ISO.search(text)
    rows = visible(owner_a.get(f"/workflows/{workflow.id}/enrollments").get_data(as_text=True))
    assert "took Offer / happened" in rows
