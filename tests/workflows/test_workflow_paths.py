"""Branches are real paths: a random split and a wait_for step send each enrollment down
one of their paths, which rejoin after them; wait_for is woken by the activity itself."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.sql_support import sql_sent
from tests.workflows.workflow_support import customer
from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.queues import get_queue
from webapp.models import AutomationEnrollment, AutomationStep, AutomationStepExecution
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.customers import get_customer
from webapp.services.workflows.engine import run_due
from webapp.services.workflows.steps.split import choose_path

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def flow(tenant_id: int, steps: list[tuple[str, dict]], *, active: bool = False):
    return workflows.create_workflow(tenant_id, {
        "name": "Paths", "trigger_type": "purchase", "steps": [{"type": t, "config": c} for t, c in steps]})


def on(tenant_id: int, workflow_id: int, parent, branch: int, step_type: str, config: dict) -> AutomationStep:
    return workflows.add_step(tenant_id, workflow_id, step_type, config, parent_step_id=parent.id, branch=branch)


def switch_on(tenant_id: int, workflow_id: int) -> None:
    workflows.set_active(tenant_id, workflow_id, True)


def enrollment(workflow_id: int, customer_id: int) -> AutomationEnrollment:
    db.session.expire_all()
    return db.session.scalar(select(AutomationEnrollment).where(
        AutomationEnrollment.workflow_id == workflow_id, AutomationEnrollment.customer_id == customer_id))


def details(enrollment_id: int) -> list[tuple[str, str, str]]:
    return [(x.step_type, x.outcome, x.detail) for x in db.session.scalars(
        select(AutomationStepExecution).where(AutomationStepExecution.enrollment_id == enrollment_id)
        .order_by(AutomationStepExecution.id))]


def tags(tenant_id: int, customer_id: int) -> list[str]:
    db.session.expire_all()
    return sorted(get_customer(tenant_id, customer_id).tags)


def enroll(tenant_id: int, customer_id: int, payload: dict | None = None, at: datetime = T0) -> None:
    workflows.process_trigger(tenant_id, "purchase", customer_id, payload or {"order_total": 10}, now=at)
    db.session.commit()


# --- split -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("percents", [[50, 50], [30, 70], [10, 20, 30, 40], [25, 25, 25, 25]])
def test_split_shares_stay_within_binomial_bounds_over_10000_enrollments(percents):
    rng = random.Random(20261204)
    counts = [0] * len(percents)
    n = 10_000
    for _ in range(n):
        counts[choose_path(percents, rng)] += 1
    for count, percent in zip(counts, percents, strict=True):
        p = percent / 100
        sigma = math.sqrt(n * p * (1 - p))
        assert abs(count - n * p) <= 4 * sigma, (percents, counts)  # 4 sigma: 1 in 15,000 by chance


def test_a_split_sends_each_enrollment_down_one_path_which_rejoins_after_it(tenant):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 30}, {"percent": 70, "name": "Offer"}]}),
                             ("add_tag", {"tag": "after"})])
    split, after = workflows.steps_of(workflow.id)
    on(tenant, workflow.id, split, 0, "add_tag", {"tag": "path-a"})
    on(tenant, workflow.id, split, 1, "add_tag", {"tag": "path-b"})
    on(tenant, workflow.id, split, 1, "add_tag", {"tag": "path-b-2"})
    switch_on(tenant, workflow.id)
    people = [customer(tenant, f"p{i}@example.com") for i in range(300)]
    for who in people:
        enroll(tenant, who)
    run_due(now=T0, rng=random.Random(7))

    by_path = {"A": 0, "Offer": 0}  # a named path is recorded by its name
    for who in people:
        row = enrollment(workflow.id, who)
        assert row.status == "completed"
        by_path[row.path] += 1
        expected = ["after", "path-a"] if row.path == "A" else ["after", "path-b", "path-b-2"]
        assert tags(tenant, who) == expected
    # 300 draws at 30%: 90 expected, sigma about 8.
    assert abs(by_path["A"] - 90) <= 4 * math.sqrt(300 * 0.3 * 0.7), by_path
    split_row = next(d for d in details(enrollment(workflow.id, people[0]).id) if d[0] == "split")
    assert split_row[2] in ("took path A (random, 30%)", "took path B “Offer” (random, 70%)")


def test_an_empty_path_continues_after_the_split(tenant):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 100}, {"percent": 0}]}),
                             ("add_tag", {"tag": "after"})])
    split, _ = workflows.steps_of(workflow.id)
    on(tenant, workflow.id, split, 1, "add_tag", {"tag": "never"})
    switch_on(tenant, workflow.id)
    ada = customer(tenant)
    enroll(tenant, ada)
    run_due(now=T0, rng=random.Random(1))
    assert tags(tenant, ada) == ["after"] and enrollment(workflow.id, ada).path == "A"


def test_a_split_nested_in_a_path_rejoins_its_parents_path_then_the_main_path(tenant):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 100}, {"percent": 0}]}), ("add_tag", {"tag": "end"})])
    outer, _ = workflows.steps_of(workflow.id)
    inner = on(tenant, workflow.id, outer, 0, "split", {"paths": [{"percent": 0}, {"percent": 100}]})
    on(tenant, workflow.id, outer, 0, "add_tag", {"tag": "after-inner"})
    on(tenant, workflow.id, inner, 1, "add_tag", {"tag": "inner-b"})
    on(tenant, workflow.id, inner, 1, "wait", {"hours": 1})
    switch_on(tenant, workflow.id)
    ada = customer(tenant)
    enroll(tenant, ada)

    run_due(now=T0, rng=random.Random(3))
    assert tags(tenant, ada) == ["inner-b"] and enrollment(workflow.id, ada).status == "waiting"
    run_due(now=T0 + timedelta(hours=1), rng=random.Random(3))  # the bulk pass over waits knows paths too

    row = enrollment(workflow.id, ada)
    assert tags(tenant, ada) == ["after-inner", "end", "inner-b"]
    assert (row.status, row.path) == ("completed", "A / B")
    assert [d[0] for d in details(row.id)] == ["split", "split", "add_tag", "wait", "add_tag", "add_tag"]


def test_a_split_needs_2_to_4_paths_of_whole_percentages_adding_up_to_100(tenant):
    workflow = flow(tenant, [])
    for config, field in [({"paths": [{"percent": 100}]}, "config.paths"),
                          ({"paths": [{"percent": 50}, {"percent": 40}]}, "config.paths"),
                          ({"paths": [{"percent": 20}] * 5}, "config.paths"),
                          ({"paths": [{"percent": 50.5}, {"percent": 49.5}]}, "config.paths[0].percent"),
                          ({"paths": [{"percent": 150}, {"percent": -50}]}, "config.paths[0].percent")]:
        with pytest.raises(ValidationFailed) as caught:
            workflows.add_step(tenant, workflow.id, "split", config)
        assert caught.value.field == field, config


def test_a_split_keeps_a_path_that_has_steps(tenant):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 50}, {"percent": 25}, {"percent": 25}]})])
    [split] = workflows.steps_of(workflow.id)
    on(tenant, workflow.id, split, 2, "add_tag", {"tag": "c"})
    with pytest.raises(ValidationFailed, match="path C has steps"):
        workflows.update_step(tenant, workflow.id, split.id, {"paths": [{"percent": 50}, {"percent": 50}]})


# --- wait_for --------------------------------------------------------------------------------------

def waiting_for_check_in(tenant_id: int, then: list[tuple[str, dict]]) -> tuple[int, int]:
    """A workflow waiting up to 3 days for `checked_in` (tag "came" on happened, "no-show"
    on timed out, then `then`), and a customer on the wait since T0: (workflow, customer)."""
    workflow = flow(tenant_id, [("wait_for", {"activity_type": "checked_in", "timeout": {"days": 3}}), *then])
    wait_for = workflows.steps_of(workflow.id)[0]
    on(tenant_id, workflow.id, wait_for, 0, "add_tag", {"tag": "came"})
    on(tenant_id, workflow.id, wait_for, 1, "add_tag", {"tag": "no-show"})
    switch_on(tenant_id, workflow.id)
    ada = customer(tenant_id)
    enroll(tenant_id, ada)
    run_due(now=T0)
    return workflow.id, ada


def test_wait_for_happened_continues_at_once_on_the_happened_path_without_polling(tenant):
    workflow_id, ada = waiting_for_check_in(tenant, [("add_tag", {"tag": "after"})])
    row = enrollment(workflow_id, ada)
    assert (row.status, row.waiting_for, row.next_run_at) == ("waiting", "checked_in", T0 + timedelta(days=3))

    get_queue("default").empty()
    scanned = T0 + timedelta(hours=2, minutes=10)
    record_activity(tenant, "checked_in", customer_id=ada, occurred_at=scanned)
    row = enrollment(workflow_id, ada)
    # Due the moment it happened, with a run job on the queue: no sweep has to notice it.
    assert (row.next_run_at, row.awaited_at, row.waiting_for) == (scanned, scanned, None)
    assert row.id in [i for job in get_queue("default").jobs for i in job.args[0]]

    run_due(now=scanned)
    row = enrollment(workflow_id, ada)
    assert (row.status, row.path) == ("completed", "happened")
    assert tags(tenant, ada) == ["after", "came"]
    assert ("wait_for", "done", f"checked in happened at {scanned.isoformat()}, after 2 h 10 min: on the happened "
                                "path") in details(row.id)


def test_changing_what_a_wait_for_waits_for_moves_those_already_waiting(tenant):
    workflow_id, ada = waiting_for_check_in(tenant, [])
    wait_for = workflows.steps_of(workflow_id)[0]
    workflows.update_step(tenant, workflow_id, wait_for.id, {"activity_type": "ticket_scanned",
                                                             "timeout": {"days": 3}})
    record_activity(tenant, "checked_in", customer_id=ada, occurred_at=T0 + timedelta(hours=1))
    row = enrollment(workflow_id, ada)
    assert (row.waiting_for, row.awaited_at) == ("ticket_scanned", None)


def test_wait_for_times_out_on_the_timed_out_path(tenant):
    workflow_id, ada = waiting_for_check_in(tenant, [])
    run_due(now=T0 + timedelta(days=3) - timedelta(seconds=1))
    assert enrollment(workflow_id, ada).status == "waiting"

    run_due(now=T0 + timedelta(days=3))
    row = enrollment(workflow_id, ada)
    assert (row.status, row.path) == ("completed", "timed out")
    assert tags(tenant, ada) == ["no-show"]
    assert ("wait_for", "done", "timed out after 3 days without checked in: on the timed out path") in details(row.id)
    # Too late: the activity after the timeout wakes nothing.
    record_activity(tenant, "checked_in", customer_id=ada, occurred_at=T0 + timedelta(days=4))
    assert enrollment(workflow_id, ada).awaited_at is None


def test_wait_for_matches_a_property_and_ignores_other_customers_and_earlier_activities(tenant):
    workflow = flow(tenant, [("wait_for", {"activity_type": "checked_in", "match": {"gate": "north"},
                                           "timeout": {"hours": 5}})])
    switch_on(tenant, workflow.id)
    ada, bob = customer(tenant), customer(tenant, "bob@example.com")
    enroll(tenant, ada)
    run_due(now=T0)

    record_activity(tenant, "checked_in", customer_id=ada, properties={"gate": "south"},
                    occurred_at=T0 + timedelta(minutes=1))
    record_activity(tenant, "checked_in", customer_id=bob, properties={"gate": "north"},
                    occurred_at=T0 + timedelta(minutes=2))
    record_activity(tenant, "checked_in", customer_id=ada, properties={"gate": "north"},
                    occurred_at=T0 - timedelta(minutes=5))  # before the customer reached the step
    assert enrollment(workflow.id, ada).awaited_at is None

    record_activity(tenant, "checked_in", customer_id=ada, properties={"gate": "north"},
                    occurred_at=T0 + timedelta(minutes=3))
    assert enrollment(workflow.id, ada).awaited_at == T0 + timedelta(minutes=3)


def test_wait_for_a_ticket_scanned_for_the_trigger_event(tenant, api):
    """The issue's example: after a purchase for an event, wait for the ticket's scan at
    that event; a scan at another event does not count."""
    workflow = flow(tenant, [("wait_for", {"activity_type": "ticket_scanned", "match": {"event": "{{ trigger.event }}"},
                                           "timeout": {"days": 2}})])
    [wait_for] = workflows.steps_of(workflow.id)
    on(tenant, workflow.id, wait_for, 0, "add_tag", {"tag": "attended"})
    switch_on(tenant, workflow.id)
    for event_id in ("gig-1", "gig-2"):
        assert api.post("/events", json={"external_id": event_id, "name": event_id,
                                         "starts_at": "2026-06-02T19:00:00+00:00"}).status_code == 201
    ada = customer(tenant)
    # On the real clock: the purchase enrolls now.
    record_activity(tenant, "purchase", customer_id=ada,
                    properties={"order_total": 40, "order_id": "o1", "event": {"id": "gig-1", "name": "Gig"}})
    run_due()
    assert enrollment(workflow.id, ada).waiting_for == "ticket_scanned"

    record_activity(tenant, "ticket_scanned", customer_id=ada,
                    properties={"event": {"external_id": "gig-2"}, "ticket": "T-2"})
    assert enrollment(workflow.id, ada).awaited_at is None
    record_activity(tenant, "ticket_scanned", customer_id=ada,
                    properties={"event": {"external_id": "gig-1"}, "ticket": "T-1"})
    run_due()
    row = enrollment(workflow.id, ada)
    assert (row.status, row.path) == ("completed", "happened") and tags(tenant, ada) == ["attended"]


def test_a_tenant_without_wait_for_steps_pays_no_query_for_the_wake_up(tenant):
    ada = customer(tenant)
    flow(tenant, [("wait_for", {"activity_type": "checked_in", "timeout": {"days": 1}})])  # switched off
    switch_on(tenant, flow(tenant, [("add_tag", {"tag": "x"})]).id)
    record_activity(tenant, "checked_in", customer_id=ada, occurred_at=T0)  # fills the cache
    with sql_sent() as statements:
        record_activity(tenant, "checked_in", customer_id=ada, occurred_at=T0)
    assert not [s for s in statements if "automation_enrollments" in s and "waiting_for" in s]


# --- editing paths ---------------------------------------------------------------------------------

def test_deleting_a_split_deletes_its_paths_and_moves_their_customers_after_it(tenant):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 100}, {"percent": 0}]}), ("add_tag", {"tag": "after"})])
    split, after = workflows.steps_of(workflow.id)
    waiting = on(tenant, workflow.id, split, 0, "wait", {"days": 1})
    inner = on(tenant, workflow.id, split, 1, "split", {"paths": [{"percent": 50}, {"percent": 50}]})
    on(tenant, workflow.id, inner, 0, "add_tag", {"tag": "deep"})
    condition = workflows.add_step(tenant, workflow.id, "condition",
                                   {"conditions": [{"type": "tag", "value": "vip"}], "else_step": after.id})
    switch_on(tenant, workflow.id)
    ada = customer(tenant)
    enroll(tenant, ada)
    run_due(now=T0, rng=random.Random(1))
    assert enrollment(workflow.id, ada).current_step_id == waiting.id

    workflows.delete_step(tenant, workflow.id, split.id, now=T0 + timedelta(minutes=1))
    remaining = workflows.steps_of(workflow.id)
    assert [s.id for s in remaining] == [after.id, condition.id]
    assert [s.position for s in remaining] == [0, 1]
    assert enrollment(workflow.id, ada).current_step_id == after.id
    assert db.session.scalar(select(AutomationStep).where(AutomationStep.parent_step_id.isnot(None))) is None


def test_reordering_inside_a_path_leaves_other_paths_alone(tenant):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 50}, {"percent": 50}]}), ("add_tag", {"tag": "z"})])
    split, main_tag = workflows.steps_of(workflow.id)
    a1 = on(tenant, workflow.id, split, 0, "add_tag", {"tag": "a1"})
    a2 = on(tenant, workflow.id, split, 0, "add_tag", {"tag": "a2"})
    b1 = on(tenant, workflow.id, split, 1, "add_tag", {"tag": "b1"})

    workflows.reorder_steps(tenant, workflow.id, [a2.id, a1.id], parent_step_id=split.id, branch=0)
    assert [s.id for s in workflows.steps_of(workflow.id)] == [split.id, a2.id, a1.id, b1.id, main_tag.id]
    with pytest.raises(ValidationFailed) as caught:
        workflows.reorder_steps(tenant, workflow.id, [a1.id, b1.id], parent_step_id=split.id, branch=0)
    assert caught.value.field == "step_ids"
    # The main path is listed without the paths' steps, as before paths existed.
    workflows.reorder_steps(tenant, workflow.id, [main_tag.id, split.id])
    assert [s.id for s in workflows.steps_of(workflow.id)][0] == main_tag.id


def test_a_condition_may_only_jump_within_its_own_path(tenant):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 50}, {"percent": 50}]}), ("add_tag", {"tag": "z"})])
    split, main_tag = workflows.steps_of(workflow.id)
    b1 = on(tenant, workflow.id, split, 1, "add_tag", {"tag": "b1"})
    jump_out = {"conditions": [{"type": "tag", "value": "vip"}], "else_step": main_tag.id}
    with pytest.raises(ValidationFailed) as caught:
        on(tenant, workflow.id, split, 0, "condition", jump_out)
    assert caught.value.field == "config.else_step"
    on(tenant, workflow.id, split, 1, "condition", {"conditions": [{"type": "tag", "value": "vip"}],
                                                    "else_step": b1.id})


@pytest.mark.parametrize(("where", "field"), [
    ({"parent_step_id": "tag", "branch": 0}, "parent_step_id"),
    ({"parent_step_id": "split", "branch": 2}, "branch"),
    ({"parent_step_id": "split"}, "branch"),
    ({"branch": 0}, "branch"),
    ({"parent_step_id": "wait_for", "branch": 2}, "branch"),
])
def test_a_step_goes_only_on_a_path_that_exists(tenant, where, field):
    workflow = flow(tenant, [("split", {"paths": [{"percent": 50}, {"percent": 50}]}), ("add_tag", {"tag": "z"}),
                             ("wait_for", {"activity_type": "checked_in", "timeout": {"days": 1}})])
    by_type = {s.type.replace("add_", ""): s.id for s in workflows.steps_of(workflow.id)}
    if "parent_step_id" in where:
        where = {**where, "parent_step_id": by_type[where["parent_step_id"]]}
    with pytest.raises(ValidationFailed) as caught:
        workflows.add_step(tenant, workflow.id, "add_tag", {"tag": "x"}, **where)
    assert caught.value.field == field
