"""The workflow engine through its services: triggers, waits on a controllable clock,
conditions, re-entry, event_day, switching off and on, editing a live workflow, failures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.workflows.workflow_support import customer
from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.models import (
    AutomationEnrollment,
    AutomationStepExecution,
    CampaignRecipient,
    OutboxMessage,
    Tenant,
)
from webapp.services import workflows
from webapp.services.activities import record_activity
from webapp.services.crm import CRMService
from webapp.services.customers import get_customer
from webapp.services.workflows.claims import due_enrollment_ids
from webapp.services.workflows.engine import run_batch, run_due
from webapp.services.workflows.runner import MAX_ATTEMPTS

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def workflow(tenant_id: int, steps: list[tuple[str, dict]], *, trigger: str = "purchase", config=None,
             reentry: str = "one_at_a_time", active: bool = True):
    created = workflows.create_workflow(tenant_id, {
        "name": f"{trigger} flow", "trigger_type": trigger, "trigger_config": config or {}, "reentry": reentry,
        "steps": [{"type": t, "config": c} for t, c in steps]})
    if active:
        workflows.set_active(tenant_id, created.id, True)
    return created


def enrollments(workflow_id: int) -> list[AutomationEnrollment]:
    db.session.expire_all()
    return list(db.session.scalars(select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == workflow_id)
                                   .order_by(AutomationEnrollment.id)))


def trace(enrollment_id: int) -> list[tuple[str, str]]:
    return [(x.step_type, x.outcome) for x in db.session.scalars(
        select(AutomationStepExecution).where(AutomationStepExecution.enrollment_id == enrollment_id)
        .order_by(AutomationStepExecution.id))]


def tags(tenant_id: int, customer_id: int) -> list[str]:
    db.session.expire_all()
    return get_customer(tenant_id, customer_id).tags


def test_the_seed_example_enrolls_a_150_purchase_into_the_100_workflow_not_the_500_one(tenant):
    ada = customer(tenant, tags=["vip"])
    parking = workflow(tenant, [("wait", {"days": 2}),
                                ("send_email", {"subject": "Parking guide", "content": "<p>Park here</p>"}),
                                ("condition", {"conditions": [{"type": "tag", "value": "vip"}]}),
                                ("add_tag", {"tag": "upsell"})], config={"min_order_total": 100})
    big = workflow(tenant, [("add_tag", {"tag": "big-spender"})], config={"min_order_total": 500})

    ids = CRMService().process_trigger(tenant, "purchase", get_customer(tenant, ada), {"order_total": 150}, now=T0)
    db.session.commit()

    assert [e.id for e in enrollments(parking.id)] == ids
    assert enrollments(big.id) == []
    run_due(now=T0)
    [enrolled] = enrollments(parking.id)
    assert (enrolled.status, enrolled.next_run_at) == ("waiting", T0 + timedelta(days=2))

    run_due(now=T0 + timedelta(days=1, hours=23))  # not yet
    assert enrollments(parking.id)[0].status == "waiting"
    assert db.session.scalar(select(OutboxMessage.id)) is None

    run_due(now=T0 + timedelta(days=2))
    [done] = enrollments(parking.id)
    assert done.status == "completed"
    assert [o for _, o in trace(done.id)] == ["done", "done", "done", "done"]
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert message.recipient == "ada@example.com" and message.subject == "Parking guide"
    assert "upsell" in tags(tenant, ada)


def test_a_purchase_activity_triggers_inside_its_own_transaction(tenant):
    ada = customer(tenant)
    flow = workflow(tenant, [("add_tag", {"tag": "bought"})], config={"event_name": "Summer Jazz"})

    record_activity(tenant, "purchase", customer_id=ada, properties={
        "order_total": 20, "order_id": "o-1", "event": {"id": "e1", "name": "summer jazz"}})
    record_activity(tenant, "purchase", customer_id=ada, properties={
        "order_total": 20, "order_id": "o-1"})  # a retried delivery changes nothing twice

    [enrolled] = enrollments(flow.id)
    assert enrolled.trigger_payload["order_id"] == "o-1"
    run_due()
    assert tags(tenant, ada) == ["bought"]


def test_send_email_sees_the_trigger_payload(tenant, client):
    ada = customer(tenant)
    flow = workflow(tenant, [("send_email", {"subject": "Order {{ trigger.order_id }}",
                                             "content": "<p>You spent {{ trigger.order_total }}</p>"})])
    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 150, "order_id": "X-9"}, now=T0)
    db.session.commit()

    run_due(now=T0)

    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.subject == "Order X-9"
    assert b"You spent 150" in message.raw
    [row] = db.session.scalars(select(CampaignRecipient)).all()
    assert (row.status, row.enrollment_id) == ("sent", enrollments(flow.id)[0].id)
    # "View in browser" shows the message as sent, trigger data included.
    assert "You spent 150" in client.get(f"/v/{row.token}").get_data(as_text=True)


def test_a_false_condition_exits_with_the_reason_and_else_step_jumps(tenant):
    ada = customer(tenant)
    exits = workflow(tenant, [("condition", {"conditions": [{"type": "tag", "value": "vip"}]}),
                              ("add_tag", {"tag": "never"})])
    jumps = workflow(tenant, [("condition", {"conditions": [{"type": "tag", "value": "vip"}]}),
                              ("add_tag", {"tag": "vip-path"})], trigger="signup")
    fallback = workflows.add_step(tenant, jumps.id, "add_tag", {"tag": "regular-path"})
    cond = workflows.steps_of(jumps.id)[0]
    workflows.update_step(tenant, jumps.id, cond.id, {**cond.config, "else_step": fallback.id})

    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 5}, now=T0)
    workflows.process_trigger(tenant, "signup", ada, {}, now=T0)
    db.session.commit()
    run_due(now=T0)

    [exited] = enrollments(exits.id)
    assert (exited.status, exited.exit_reason) == ("exited", "conditions not met")
    [jumped] = enrollments(jumps.id)
    assert jumped.status == "completed"
    assert [o for _, o in trace(jumped.id)] == ["jumped", "done"]
    assert tags(tenant, ada) == ["regular-path"]


@pytest.mark.parametrize(("policy", "expected"), [("once", 1), ("one_at_a_time", 2), ("always", 3)])
def test_reentry_policies(tenant, policy, expected):
    ada = customer(tenant)
    flow = workflow(tenant, [("wait", {"hours": 1})], reentry=policy)

    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 1}, now=T0)
    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 2}, now=T0)  # while the first waits
    db.session.commit()
    run_due(now=T0)
    run_due(now=T0 + timedelta(hours=2))  # the first (and a second, if allowed) completes
    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 3}, now=T0 + timedelta(hours=3))
    db.session.commit()

    assert len(enrollments(flow.id)) == expected


def test_event_day_enrolls_ticket_holders_once_per_event_in_the_tenants_timezone(tenant):
    row = db.session.get(Tenant, tenant)
    row.timezone = "America/New_York"
    db.session.commit()
    ada, bob = customer(tenant), customer(tenant, "bob@example.com")
    # 01:30 UTC on 6 June is 21:30 on 5 June in New York: the event's day is the 5th there.
    for n, who in enumerate((ada, bob, ada)):
        record_activity(tenant, "purchase", customer_id=who, properties={
            "order_total": 10, "order_id": f"t-{n}",
            "event": {"id": "gig-1", "name": "Late Show", "starts_at": "2026-06-06T01:30:00+00:00"}})
    flow = workflow(tenant, [("add_tag", {"tag": "show-day"})], trigger="event_day",
                    config={"offset_days": 0, "hour": 9})
    ny_9am_5th = datetime(2026, 6, 5, 13, 0, tzinfo=UTC)

    assert workflows.enroll_event_day(now=ny_9am_5th - timedelta(minutes=1)) == 0
    assert workflows.enroll_event_day(now=ny_9am_5th) == 2
    assert workflows.enroll_event_day(now=ny_9am_5th + timedelta(minutes=5)) == 0  # a duplicate run
    assert workflows.enroll_event_day(now=ny_9am_5th + timedelta(hours=20)) == 0  # a late one
    run_due(now=ny_9am_5th)
    assert workflows.enroll_event_day(now=ny_9am_5th + timedelta(hours=21)) == 0  # after they completed

    rows = enrollments(flow.id)
    assert sorted(e.customer_id for e in rows) == sorted([ada, bob])
    assert {e.dedupe_key for e in rows} == {"event:gig-1"}
    assert all(e.trigger_payload["event"]["name"] == "Late Show" for e in rows)


def test_event_day_fires_late_when_the_scheduler_missed_the_hour(tenant):
    ada = customer(tenant)
    record_activity(tenant, "purchase", customer_id=ada, properties={
        "order_total": 10, "order_id": "t-1", "event": {"id": "e", "starts_at": "2026-06-10T19:00:00+00:00"}})
    flow = workflow(tenant, [("add_tag", {"tag": "eve"})], trigger="event_day", config={"offset_days": -1, "hour": 8})

    assert workflows.enroll_event_day(now=datetime(2026, 6, 9, 15, 0, tzinfo=UTC)) == 1
    assert len(enrollments(flow.id)) == 1


def test_deactivate_holds_and_reactivate_resumes_with_expired_waits_continuing_at_once(tenant):
    ada = customer(tenant)
    flow = workflow(tenant, [("wait", {"hours": 1}), ("add_tag", {"tag": "after-wait"})])
    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 1}, now=T0)
    db.session.commit()
    run_due(now=T0)

    workflows.set_active(tenant, flow.id, False, now=T0 + timedelta(minutes=5))
    assert enrollments(flow.id)[0].status == "held"
    assert workflows.process_trigger(tenant, "purchase", customer(tenant, "new@example.com"), {}) == []
    run_due(now=T0 + timedelta(hours=3))
    assert enrollments(flow.id)[0].status == "held" and tags(tenant, ada) == []

    workflows.set_active(tenant, flow.id, True, now=T0 + timedelta(hours=3))
    assert enrollments(flow.id)[0].status == "active"  # its wait ran out meanwhile
    run_due(now=T0 + timedelta(hours=3))
    assert enrollments(flow.id)[0].status == "completed"
    assert tags(tenant, ada) == ["after-wait"]


def test_a_wait_until_whose_time_had_passed_on_arrival_is_skipped_one_that_ran_out_is_done(tenant):
    """The trace tells a customer who waited (even past the time, while the workflow was
    off) from one who reached a date already gone and was not held at all."""
    ada, bob = customer(tenant), customer(tenant, "bob@example.com")
    due = T0 + timedelta(hours=1)
    flow = workflow(tenant, [("add_tag", {"tag": "in"}), ("wait_until", {"at": due.isoformat()}),
                             ("add_tag", {"tag": "out"})])
    workflows.process_trigger(tenant, "purchase", ada, {}, now=T0)
    db.session.commit()
    run_due(now=T0)
    workflows.set_active(tenant, flow.id, False, now=T0 + timedelta(minutes=5))
    workflows.set_active(tenant, flow.id, True, now=T0 + timedelta(hours=3))
    workflows.process_trigger(tenant, "purchase", bob, {}, now=T0 + timedelta(hours=3))
    db.session.commit()
    run_due(now=T0 + timedelta(hours=3))

    waited, late = enrollments(flow.id)
    assert (waited.customer_id, late.customer_id) == (ada, bob)
    assert trace(waited.id) == [("add_tag", "done"), ("wait_until", "done"), ("add_tag", "done")]
    assert trace(late.id) == [("add_tag", "done"), ("wait_until", "skipped"), ("add_tag", "done")]
    [skipped] = db.session.scalars(select(AutomationStepExecution.detail).where(
        AutomationStepExecution.enrollment_id == late.id, AutomationStepExecution.step_type == "wait_until"))
    assert skipped == f"{due.isoformat()} had passed when the customer reached this step: not waited"
    assert {e.status for e in (waited, late)} == {"completed"}


def test_deleting_a_step_moves_its_customers_to_the_next_one(tenant):
    ada, bob = customer(tenant), customer(tenant, "bob@example.com")
    flow = workflow(tenant, [("wait", {"days": 30}), ("add_tag", {"tag": "next"}), ("wait", {"days": 1})])
    for who in (ada, bob):
        workflows.process_trigger(tenant, "purchase", who, {}, now=T0)
    db.session.commit()
    run_due(now=T0)
    first, tag_step, last = workflows.steps_of(flow.id)

    workflows.delete_step(tenant, flow.id, first.id, now=T0 + timedelta(minutes=1))
    assert {e.current_step_id for e in enrollments(flow.id)} == {tag_step.id}
    run_due(now=T0 + timedelta(minutes=1))
    assert {(e.status, e.current_step_id) for e in enrollments(flow.id)} == {("waiting", last.id)}
    assert tags(tenant, ada) == ["next"] and tags(tenant, bob) == ["next"]

    workflows.delete_step(tenant, flow.id, last.id, now=T0 + timedelta(minutes=2))
    assert {e.status for e in enrollments(flow.id)} == {"completed"}


def test_reordering_applies_to_steps_not_yet_run(tenant):
    ada = customer(tenant)
    flow = workflow(tenant, [("wait", {"hours": 1}), ("add_tag", {"tag": "a"}), ("add_tag", {"tag": "b"})])
    workflows.process_trigger(tenant, "purchase", ada, {}, now=T0)
    db.session.commit()
    run_due(now=T0)
    wait, a, b = workflows.steps_of(flow.id)

    workflows.reorder_steps(tenant, flow.id, [b.id, wait.id, a.id])
    run_due(now=T0 + timedelta(hours=1))

    # b now comes before the wait, which this customer already passed: only a runs.
    assert tags(tenant, ada) == ["a"]
    with pytest.raises(ValidationFailed) as refused:
        workflows.reorder_steps(tenant, flow.id, [b.id, wait.id])
    assert refused.value.field == "step_ids"


def test_a_failing_step_retries_with_backoff_then_fails_visibly(tenant, app, monkeypatch):
    app.config["WORKFLOW_RETRY_BASE_SECONDS"] = 60
    ada = customer(tenant)
    monkeypatch.setitem(app.config, "WEBHOOK_PRIVATE_HOSTS", ("127.0.0.1",))
    # A host the operator opened where nothing listens: every attempt fails with a connection error.
    from webapp.testing import free_port

    flow = workflow(tenant, [("webhook", {"url": f"http://127.0.0.1:{free_port()}/hook"})])
    workflows.process_trigger(tenant, "purchase", ada, {}, now=T0)
    db.session.commit()

    at = T0
    for attempt in range(1, MAX_ATTEMPTS):
        run_due(now=at)
        [enrolled] = enrollments(flow.id)
        assert (enrolled.status, enrolled.attempts) == ("active", attempt)
        assert enrolled.next_run_at == at + timedelta(seconds=60 * 2 ** (attempt - 1))
        at = enrolled.next_run_at
    run_due(now=at)

    [failed] = enrollments(flow.id)
    assert failed.status == "failed"
    assert "webhook failed" in failed.exit_reason and f"after {MAX_ATTEMPTS} attempts" in failed.exit_reason
    assert [o for _, o in trace(failed.id)] == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]


def test_suppressed_customers_are_skipped_with_the_reason(tenant):
    ada = customer(tenant, email_status="unsubscribed")
    flow = workflow(tenant, [("send_email", {"subject": "Hi", "content": "<p>Hi</p>"})])
    workflows.process_trigger(tenant, "purchase", ada, {}, now=T0)
    db.session.commit()

    run_due(now=T0)

    [enrolled] = enrollments(flow.id)
    [execution] = db.session.scalars(select(AutomationStepExecution)).all()
    assert (enrolled.status, execution.outcome) == ("completed", "skipped")
    assert "unsubscribed" in execution.detail
    assert db.session.scalar(select(OutboxMessage.id)) is None


def test_activation_is_refused_without_steps_or_a_postal_address(tenant):
    empty = workflow(tenant, [], active=False)
    with pytest.raises(ValidationFailed, match="at least one step"):
        workflows.set_active(tenant, empty.id, True)
    mailer = workflow(tenant, [("send_email", {"subject": "Hi", "content": "<p>Hi</p>"})], active=False)
    row = db.session.get(Tenant, tenant)
    row.postal_address = None
    db.session.commit()
    with pytest.raises(ValidationFailed, match="postal address"):
        workflows.set_active(tenant, mailer.id, True)


def test_segment_entry_enrolls_everyone_who_enters_in_one_recalculation(tenant):
    from webapp.models import CustomerTag
    from webapp.services.customers import add_tag
    from webapp.services.segments import calculate_segment, create_segment

    segment = create_segment(tenant, "VIPs", [{"type": "tag", "value": "vip"}])
    flow = workflow(tenant, [("add_tag", {"tag": "welcomed-vip"})], trigger="segment_entered",
                    config={"segment_id": segment.id})
    ids = [customer(tenant, f"fan{i}@example.com") for i in range(3)]
    # Tagged behind the app's back (an import, say): only the recalculation sees them enter.
    db.session.execute(CustomerTag.__table__.insert(), [{"customer_id": i, "tenant_id": tenant, "tag": "vip"}
                                                        for i in ids])
    db.session.commit()
    assert enrollments(flow.id) == []

    calculate_segment(tenant, segment.id)

    assert sorted(e.customer_id for e in enrollments(flow.id)) == ids
    assert all(e.trigger_payload == {"segment_id": segment.id} for e in enrollments(flow.id))
    # One customer entering in real time (a tag added from the page) is enrolled too.
    late = customer(tenant, "late@example.com")
    add_tag(tenant, late, "vip")
    assert late in [e.customer_id for e in enrollments(flow.id)]


def test_the_periodic_sweep_enqueues_due_enrollments_in_batches_and_skips_while_a_backlog_waits(tenant):
    from webapp.infra.queues import get_queue
    from webapp.services.workflows.claims import BACKLOG_JOBS
    from webapp.tasks import workflows as jobs

    ids = [customer(tenant, f"fan{i}@example.com") for i in range(3)]
    flow = workflow(tenant, [("add_tag", {"tag": "swept"})], trigger="custom")
    workflows.enroll_customers(tenant, flow.id, ids)
    queue = get_queue("default")
    queue.empty()  # as if Redis lost the jobs the enrollment enqueued

    assert jobs.enqueue_due_enrollments() == 3
    [job] = queue.jobs
    assert sorted(job.args[0]) == sorted(e.id for e in enrollments(flow.id))
    for _ in range(BACKLOG_JOBS):
        queue.enqueue(jobs.run_enrollments, [])
    assert jobs.enqueue_due_enrollments() == 0
    assert jobs.run_enrollments(job.args[0]) == {"claimed": 3, "steps": 3}
    assert all(tags(tenant, i) == ["swept"] for i in ids)


def test_activation_is_refused_when_a_step_became_invalid(tenant):
    row = db.session.get(Tenant, tenant)
    row.webhook_allowlist = "hooks.internal.example"
    db.session.commit()
    flow = workflow(tenant, [("webhook", {"url": "http://hooks.internal.example/in"})], active=False)
    row.webhook_allowlist = None  # the host left the allowlist: plain http is no longer allowed
    db.session.commit()

    with pytest.raises(ValidationFailed) as refused:
        workflows.set_active(tenant, flow.id, True)

    assert refused.value.field == "active"
    assert "step 1 (webhook) is invalid" in refused.value.reason and "https" in refused.value.reason


def test_workflow_emails_are_tracked_like_campaigns(tenant, client):
    """A send_email step's message has the open pixel and rewritten links; a person's open
    shows in the step's figures (read from the hidden campaign's rollups)."""
    import re
    from email import message_from_bytes, policy

    from webapp.services.tracking import drain_hits
    from webapp.services.workflows.reading import step_figures

    ada = customer(tenant)
    flow = workflow(tenant, [("send_email", {"subject": "Your parking guide",
                                             "content": '<p><a href="https://arena.example.com/parking">Parking</a></p>'})])
    workflows.process_trigger(tenant, "purchase", ada, {"order_total": 150}, now=T0)
    db.session.commit()
    run_due(now=T0)

    raw = db.session.scalars(select(OutboxMessage)).one().raw
    html = message_from_bytes(raw, policy=policy.default).get_body(("html",)).get_content()
    assert "https://arena.example.com/parking" not in html
    [pixel] = re.findall(r'src="http://crm\.test(/api/crm/track/open/[^"]+)"', html)
    [link] = re.findall(r'href="http://crm\.test(/api/crm/track/click/[^"]+)"', html)
    browser = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"}
    assert client.get(pixel, headers=browser).status_code == 200
    clicked = client.get(link, headers=browser)
    assert (clicked.status_code, clicked.headers["Location"]) == (302, "https://arena.example.com/parking")
    drain_hits()

    step = workflows.steps_of(flow.id)[0]
    figures = step_figures([step.campaign_id])[step.campaign_id]
    assert (figures["sent"], figures["opened"]) == (1, 1)


def test_workflow_email_tracking_urls_do_not_show_the_recipients_token(tenant):
    import re
    from email import message_from_bytes, policy

    from tests.campaigns.tracking_support import token_shows_in

    workflow(tenant, [("send_email", {"subject": "Your parking guide",
                                      "content": '<p><a href="https://arena.example.com/parking">Parking</a></p>'})])
    workflows.process_trigger(tenant, "purchase", customer(tenant), {"order_total": 150}, now=T0)
    db.session.commit()
    run_due(now=T0)

    token = db.session.scalars(select(CampaignRecipient.token)).one()
    raw = db.session.scalars(select(OutboxMessage)).one().raw
    html = message_from_bytes(raw, policy=policy.default).get_body(("html",)).get_content()
    urls = re.findall(r'"(http://crm\.test/api/crm/track/(?:open|click)/[^"]+)"', html)
    assert len(urls) == 2  # the pixel and the link
    for url in urls:
        assert token_shows_in(url, token) == [], url


def mailing_enrollments(tenant_id: int, count: int, *, rate: int) -> tuple[int, list[int]]:
    """`count` customers enrolled on a workflow whose first step sends an email, at `rate`."""
    db.session.get(Tenant, tenant_id).send_rate_per_second = rate
    db.session.commit()
    flow = workflow(tenant_id, [("send_email", {"subject": "Your tickets", "content": "<p>See you there</p>"})])
    for i in range(count):
        workflows.process_trigger(tenant_id, "purchase", customer(tenant_id, f"fan{i}@example.com"), {}, now=T0)
    db.session.commit()
    return flow.id, [e.id for e in enrollments(flow.id)]


def outbox_recipients() -> list[str]:
    return sorted(db.session.scalars(select(OutboxMessage.recipient)))


def test_workflow_emails_keep_to_the_tenants_sending_rate(tenant):
    mailing_enrollments(tenant, 6, rate=10)

    started = time.monotonic()
    run_due(now=T0)

    # Six messages on slots 0.1 s apart: five intervals at least (campaigns share the slots).
    assert time.monotonic() - started >= 0.5 - 0.01
    assert outbox_recipients() == [f"fan{i}@example.com" for i in range(6)]


def test_a_batch_slowed_by_the_sending_rate_hands_back_what_it_has_not_started(tenant, app):
    saved = app.config["WORKFLOW_LEASE_SECONDS"]
    app.config["WORKFLOW_LEASE_SECONDS"] = 2  # hands back after 1 s
    try:
        flow_id, ids = mailing_enrollments(tenant, 8, rate=4)
        result = run_batch(ids, now=T0)
    finally:
        app.config["WORKFLOW_LEASE_SECONDS"] = saved

    sent = len(outbox_recipients())
    assert 1 <= sent < 8 and result["handed_back"] == 8 - sent, (sent, result)
    # Handed back unclaimed and still due, not failed or lost: the next sweep sends them.
    waiting = [e for e in enrollments(flow_id) if e.status != "completed"]
    assert len(waiting) == 8 - sent and all(e.claim_token is None for e in waiting)
    assert sorted(due_enrollment_ids(T0)) == sorted(e.id for e in waiting)
    run_due(now=T0)
    assert outbox_recipients() == sorted(f"fan{i}@example.com" for i in range(8))


def test_a_batch_on_the_real_clock_traces_when_each_step_really_ran(tenant):
    flow_id, ids = mailing_enrollments(tenant, 3, rate=5)  # slots 0.2 s apart

    before = datetime.now(UTC)
    run_batch(ids)  # no clock given: the real one, as the workers run it
    after = datetime.now(UTC)

    db.session.expire_all()
    rows = list(db.session.scalars(select(AutomationStepExecution).order_by(AutomationStepExecution.started_at)))
    assert [r.outcome for r in rows] == ["done"] * 3
    assert all(before <= r.started_at <= r.finished_at <= after for r in rows)
    # The emails went out two slots apart for the tenant's rate, and the trace says so: each
    # step finished when its email went, and the next began after it.
    assert rows[2].finished_at - rows[0].finished_at >= timedelta(seconds=0.35)
    assert rows[1].started_at >= rows[0].finished_at and rows[2].started_at >= rows[1].finished_at
    assert all(e.finished_at >= rows[0].started_at for e in enrollments(flow_id))
