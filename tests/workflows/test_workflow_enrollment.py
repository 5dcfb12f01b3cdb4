"""Enrolling set-based: one trigger into many workflows, each workflow's first step run
exactly once with its trace. Workflows that open with a wait start on it in the trigger's
own transaction (no job); the rest are due at once and handed to a worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.workflows.workflow_support import customer
from webapp.extensions import db
from webapp.infra.queues import get_queue
from webapp.models import AutomationEnrollment, AutomationStepExecution, CustomerActivity, OutboxMessage
from webapp.services import workflows
from webapp.services.crm import CRMService
from webapp.services.customers import get_customer
from webapp.services.workflows.claims import due_enrollment_ids
from webapp.services.workflows.engine import run_due

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
EVENT = {"id": "gig-7", "name": "Harbour Lights", "starts_at": "2026-06-10T19:00:00+00:00"}


def workflow(tenant_id: int, name: str, steps: list[tuple[str, dict]], *, trigger: str = "purchase",
             config=None, reentry: str = "always") -> int:
    created = workflows.create_workflow(tenant_id, {
        "name": name, "trigger_type": trigger, "trigger_config": config or {}, "reentry": reentry,
        "steps": [{"type": t, "config": c} for t, c in steps]})
    workflows.set_active(tenant_id, created.id, True)
    return created.id


def enrollment_of(workflow_id: int) -> AutomationEnrollment:
    db.session.expire_all()
    return db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == workflow_id)
                              ).one()


def trace(enrollment_id: int) -> list[tuple[str, str]]:
    return [(x.step_type, x.outcome) for x in db.session.scalars(
        select(AutomationStepExecution).where(AutomationStepExecution.enrollment_id == enrollment_id)
        .order_by(AutomationStepExecution.id))]


def traces(flows: dict[str, int]) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    out = {}
    for name, workflow_id in flows.items():
        enrollment = enrollment_of(workflow_id)
        out[name] = (enrollment.status, trace(enrollment.id))
    return out


def queued_enrollment_ids() -> list[int]:
    return sorted(i for job in get_queue("default").jobs for i in job.args[0])


def test_a_purchase_into_many_workflows_runs_each_first_step_exactly_once_with_its_trace(tenant):
    ada = customer(tenant)
    flows = {
        "wait_day": workflow(tenant, "Wait a day", [("wait", {"days": 1}), ("add_tag", {"tag": "after-day"})]),
        # The same wait as above: one statement starts both.
        "wait_day_too": workflow(tenant, "Also a day", [("wait", {"days": 1}), ("add_tag", {"tag": "also"})]),
        "wait_hours": workflow(tenant, "Two hours", [("wait", {"hours": 2}), ("add_tag", {"tag": "after-hours"})]),
        "before_event": workflow(tenant, "Eve", [("wait_until", {"before_event_hours": 24}),
                                                 ("add_tag", {"tag": "eve"})]),
        # A wait whose time has already come is no wait: a worker passes it at once.
        "past_date": workflow(tenant, "Past", [("wait_until", {"at": "2026-05-01T00:00:00+00:00"}),
                                               ("add_tag", {"tag": "past"})]),
        "email": workflow(tenant, "Thanks", [("send_email", {"subject": "Thanks for {{ trigger.order_id }}",
                                                             "content": "<p>Thanks</p>"})]),
        "condition": workflow(tenant, "VIPs only", [("condition", {"conditions": [{"type": "tag", "value": "vip"}]}),
                                                    ("add_tag", {"tag": "never"})]),
        "tag": workflow(tenant, "Tag", [("add_tag", {"tag": "buyer"})]),
    }
    big_spenders = workflow(tenant, "Big", [("wait", {"days": 1})], config={"min_order_total": 500})
    get_queue("default").empty()

    ids = CRMService().process_trigger(tenant, "purchase", get_customer(tenant, ada),
                                       {"order_total": 150, "order_id": "A-1", "event": EVENT}, now=T0)
    db.session.commit()

    assert sorted(ids) == sorted(enrollment_of(w).id for w in flows.values())
    assert db.session.scalar(select(AutomationEnrollment.id).where(
        AutomationEnrollment.workflow_id == big_spenders)) is None
    assert traces(flows) == {
        "wait_day": ("waiting", [("wait", "waiting")]),
        "wait_day_too": ("waiting", [("wait", "waiting")]),
        "wait_hours": ("waiting", [("wait", "waiting")]),
        "before_event": ("waiting", [("wait_until", "waiting")]),
        "past_date": ("active", []),
        "email": ("active", []),
        "condition": ("active", []),
        "tag": ("active", []),
    }
    assert enrollment_of(flows["wait_day"]).next_run_at == T0 + timedelta(days=1)
    assert enrollment_of(flows["before_event"]).next_run_at == datetime(2026, 6, 9, 19, 0, tzinfo=UTC)
    started = enrollment_of(flows["wait_hours"])
    assert (started.next_run_at, started.step_entered_at) == (T0 + timedelta(hours=2), T0)
    [wait_row] = db.session.scalars(select(AutomationStepExecution).where(
        AutomationStepExecution.enrollment_id == started.id)).all()
    assert (wait_row.started_at, wait_row.finished_at, wait_row.step_id, wait_row.tenant_id) == \
        (T0, None, workflows.steps_of(flows["wait_hours"])[0].id, tenant)
    assert wait_row.detail == f"wait 2 hours, until {(T0 + timedelta(hours=2)).isoformat()}"
    # Only the enrollments with a step to run now went to the workers.
    assert queued_enrollment_ids() == sorted(enrollment_of(flows[k]).id
                                             for k in ("past_date", "email", "condition", "tag"))
    # One timeline entry for the trigger, naming every enrollment it made.
    [logged] = db.session.scalars(select(CustomerActivity).where(CustomerActivity.type == "workflow_enrolled")).all()
    assert sorted(logged.properties["enrollment_ids"]) == sorted(ids)

    for _ in range(2):  # a duplicate job or sweep runs nothing twice
        run_due(now=T0)
    # A date already past when the customer got there is passed over, and the trace says so.
    at_once = {"past_date": ("completed", [("wait_until", "skipped"), ("add_tag", "done")]),
               "email": ("completed", [("send_email", "done")]),
               "condition": ("exited", [("condition", "exited")]),
               "tag": ("completed", [("add_tag", "done")])}
    assert traces(flows) == {
        "wait_day": ("waiting", [("wait", "waiting")]),
        "wait_day_too": ("waiting", [("wait", "waiting")]),
        "wait_hours": ("waiting", [("wait", "waiting")]),
        "before_event": ("waiting", [("wait_until", "waiting")]),
        **at_once,
    }

    for _ in range(2):
        run_due(now=T0 + timedelta(days=1))
    assert traces(flows) == {
        "wait_day": ("completed", [("wait", "done"), ("add_tag", "done")]),
        "wait_day_too": ("completed", [("wait", "done"), ("add_tag", "done")]),
        "wait_hours": ("completed", [("wait", "done"), ("add_tag", "done")]),
        "before_event": ("waiting", [("wait_until", "waiting")]),
        **at_once,
    }

    run_due(now=datetime(2026, 6, 9, 19, 0, tzinfo=UTC))
    assert traces(flows)["before_event"] == ("completed", [("wait_until", "done"), ("add_tag", "done")])
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert message.subject == "Thanks for A-1"
    db.session.expire_all()
    assert sorted(get_customer(tenant, ada).tags) == ["after-day", "after-hours", "also", "buyer", "eve", "past"]


def test_a_trigger_into_workflows_that_all_open_with_a_wait_enqueues_no_job(tenant):
    ada = customer(tenant)
    workflow(tenant, "Later", [("wait", {"minutes": 30}), ("add_tag", {"tag": "later"})])
    get_queue("default").empty()

    [enrolled] = workflows.process_trigger(tenant, "purchase", ada, {"order_total": 5}, now=T0)
    db.session.commit()

    assert get_queue("default").count == 0
    # The periodic sweep is what finds it, once the wait is over.
    assert due_enrollment_ids(T0 + timedelta(minutes=29)) == []
    assert due_enrollment_ids(T0 + timedelta(minutes=30)) == [enrolled]
    run_due(now=T0 + timedelta(minutes=30))
    assert trace(enrolled) == [("wait", "done"), ("add_tag", "done")]


@pytest.mark.parametrize(("policy", "expected"), [("once", 1), ("one_at_a_time", 1), ("always", 2)])
def test_reentry_keeps_a_second_start_out_along_with_its_trace_row(tenant, policy, expected):
    ada = customer(tenant)
    flow = workflow(tenant, "Wait", [("wait", {"hours": 1}), ("add_tag", {"tag": "done"})], reentry=policy)

    first = workflows.process_trigger(tenant, "purchase", ada, {"order_total": 1}, now=T0)
    second = workflows.process_trigger(tenant, "purchase", ada, {"order_total": 2}, now=T0 + timedelta(minutes=1))
    db.session.commit()

    rows = db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == flow)
                              .order_by(AutomationEnrollment.id)).all()
    assert [r.id for r in rows] == first + second and len(rows) == expected
    assert [trace(r.id) for r in rows] == [[("wait", "waiting")]] * expected
    assert db.session.scalar(select(func.count()).select_from(AutomationStepExecution)) == expected


def test_manual_segment_and_event_day_enrollments_start_their_wait_at_once_too(tenant):
    from webapp.models import CustomerTag
    from webapp.services.activities import record_activity
    from webapp.services.segments import calculate_segment, create_segment

    fans = [customer(tenant, f"fan{i}@example.com") for i in range(3)]
    manual = workflow(tenant, "Manual", [("wait", {"days": 2})], trigger="custom", reentry="one_at_a_time")
    segment = create_segment(tenant, "VIPs", [{"type": "tag", "value": "vip"}])
    entered = workflow(tenant, "Entered", [("wait", {"hours": 3})], trigger="segment_entered",
                       config={"segment_id": segment.id})
    for n, fan in enumerate(fans[:2]):
        record_activity(tenant, "purchase", customer_id=fan, properties={
            "order_total": 10, "order_id": f"t-{n}", "event": EVENT})
    show_day = workflow(tenant, "Show day", [("wait", {"hours": 1})], trigger="event_day",
                        config={"offset_days": 0, "hour": 9})

    assert workflows.enroll_customers(tenant, manual, fans[:2], now=T0)["enrolled"] == fans[:2]
    assert workflows.enroll_customers(tenant, manual, fans, now=T0) == {"enrolled": [fans[2]],
                                                                        "skipped": fans[:2]}
    db.session.execute(CustomerTag.__table__.insert(), [{"customer_id": i, "tenant_id": tenant, "tag": "vip"}
                                                        for i in fans])
    db.session.commit()
    calculate_segment(tenant, segment.id, now=T0)
    show_at = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    assert workflows.enroll_event_day(now=show_at) == 2
    assert workflows.enroll_event_day(now=show_at + timedelta(minutes=5)) == 0

    for flow, count, until in ((manual, 3, T0 + timedelta(days=2)), (entered, 3, T0 + timedelta(hours=3)),
                               (show_day, 2, show_at + timedelta(hours=1))):
        rows = db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == flow)).all()
        assert len(rows) == count
        assert {(r.status, r.next_run_at) for r in rows} == {("waiting", until)}
        assert [trace(r.id) for r in rows] == [[("wait", "waiting")]] * count


def test_a_trigger_starts_only_its_own_tenants_workflows(tenant, tenant_b):
    ada, bea = customer(tenant), customer(tenant_b.id, "bea@example.com")
    mine = workflow(tenant, "Mine", [("wait", {"days": 1})])
    theirs = workflow(tenant_b.id, "Theirs", [("wait", {"days": 1})])

    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 5}, now=T0)
    db.session.commit()

    assert enrollment_of(mine).customer_id == ada
    assert db.session.scalar(select(AutomationEnrollment.id).where(AutomationEnrollment.workflow_id == theirs)) is None
    assert {x.tenant_id for x in db.session.scalars(select(AutomationStepExecution))} == {tenant}
    workflows.process_trigger(tenant_b.id, "purchase", bea, {"order_total": 5}, now=T0)
    db.session.commit()
    assert (enrollment_of(theirs).customer_id, enrollment_of(mine).customer_id) == (bea, ada)


@pytest.mark.parametrize("key", ["id", "external_id"])
def test_a_purchase_workflow_for_one_event_knows_it_by_either_name_of_the_platforms_id(tenant, key):
    ada = customer(tenant, "ada@example.com")
    gig = workflow(tenant, "Gig 7 buyers", [("wait", {"days": 1})], config={"event_id": "gig-7"})
    other = workflow(tenant, "Gig 8 buyers", [("wait", {"days": 1})], config={"event_id": "gig-8"})

    CRMService().process_trigger(tenant, "purchase", get_customer(tenant, ada),
                                 {"order_total": 20, "event": {key: "gig-7", "name": "Harbour Lights"}}, now=T0)
    db.session.commit()

    assert enrollment_of(gig).status == "waiting"
    assert db.session.scalar(select(AutomationEnrollment.id).where(AutomationEnrollment.workflow_id == other)) is None


def test_event_day_fires_on_a_rescheduled_shows_new_day_not_the_day_its_tickets_were_sold_for(tenant):
    from webapp.services.activities import record_activity
    from webapp.services.events.catalogue import upsert_event

    fan = customer(tenant, "fan@example.com")
    record_activity(tenant, "purchase", customer_id=fan, properties={"order_total": 10, "order_id": "r-1",
                                                                     "event": EVENT})
    upsert_event(tenant, {"external_id": EVENT["id"], "name": EVENT["name"], "starts_at": "2026-06-17T19:00:00+00:00"})
    workflow(tenant, "Show day", [("wait", {"hours": 1})], trigger="event_day", config={"offset_days": 0, "hour": 9})

    assert workflows.enroll_event_day(now=datetime(2026, 6, 10, 9, 0, tzinfo=UTC)) == 0
    assert workflows.enroll_event_day(now=datetime(2026, 6, 17, 9, 0, tzinfo=UTC)) == 1
