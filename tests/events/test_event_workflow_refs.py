"""An event's page lists the workflows its purchases and its own triggers set off, read by
the event reference every enrollment is written with: by the single purchase, the batch (both
databases' forms of its statement), the event's day, its reminders and a plain ORM insert.
Another tenant's enrollments naming the same platform id never count."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from tests.events.clock.clock_support import buy, customer, event, workflow
from webapp.extensions import db
from webapp.models import AutomationEnrollment, Event, IngestFollowup, Tenant
from webapp.models.workflow import event_reference
from webapp.services.enrollment.event_day import enroll_event_day
from webapp.services.events.overview import workflows_touching
from webapp.services.events.reminders import send_due_reminders
from webapp.tasks import ingest as jobs

OPEN = [("wait", {"days": 30}), ("add_tag", {"tag": "x"})]


def _touching(tenant_id: int, external_id: str) -> dict[str, int]:
    ours = db.session.scalar(select(Event).where(Event.tenant_id == tenant_id, Event.external_id == external_id))
    return {touch.name: touch.enrollments for touch in workflows_touching(tenant_id, ours)}


def _every_enrollment_names_its_payloads_event() -> None:
    rows = db.session.execute(select(AutomationEnrollment.trigger_payload, AutomationEnrollment.event_ref)).all()
    assert rows and all(ref == event_reference(payload) for payload, ref in rows)


def test_each_way_of_enrolling_writes_the_event_and_the_page_counts_it(api, tenant_a, api_b, tenant_b):
    tenant = tenant_a.id
    for t in (tenant, tenant_b.id):
        db.session.get(Tenant, t).timezone = "UTC"
    db.session.commit()
    event(tenant, "gig-1", "2027-01-20T19:30:00+00:00")
    event(tenant, "gig-2", "2027-02-20T19:30:00+00:00")
    event(tenant, "7", "2027-06-20T19:30:00+00:00")
    bought = workflow(tenant, "purchase", {}, OPEN, reentry="always")
    ada, bob = customer(tenant, "ada@example.com"), customer(tenant, "bob@example.com")

    buy(tenant, ada, "gig-1", "o-1")  # the single path
    response = api.post("/activities/batch", json={"activities": [  # the batch path
        {"customer_id": bob, "type": "purchase", "properties": {"order_total": 5, "order_id": "o-2",
                                                                 "event": {"id": "gig-1"}}},
        {"customer_id": bob, "type": "purchase", "properties": {"order_total": 5, "order_id": "o-3",
                                                                 "event": {"external_id": " gig-2 ", "id": "x"}}},
        {"customer_id": ada, "type": "purchase", "properties": {"order_total": 5, "order_id": "o-4"}}]})
    assert [r["status"] for r in response.get_json()["results"]] == [201, 201, 201]

    day = workflow(tenant, "event_day", {"offset_days": 0, "hour": 9}, OPEN)
    assert enroll_event_day(now=datetime(2027, 1, 20, 9, 0, tzinfo=UTC)) == 2  # ada and bob hold gig-1
    reminded = workflow(tenant, "event_reminder", {"offset": "-24h"}, OPEN)
    assert send_due_reminders(now=datetime(2027, 2, 19, 19, 30, tzinfo=UTC)) == 1  # bob holds gig-2
    db.session.add(AutomationEnrollment(tenant_id=tenant, workflow_id=bought, customer_id=ada, status="completed",
                                        trigger_type="purchase", trigger_payload={"event": {"id": 7}}))
    db.session.commit()

    # Another tenant's purchases of its own "gig-1" count on its page only.
    workflow(tenant_b.id, "purchase", {}, OPEN, reentry="always")
    cy = customer(tenant_b.id, "cy@example.com")
    buy(tenant_b.id, cy, "gig-1", "b-1")
    buy(tenant_b.id, cy, "gig-1", "b-2")

    names = {bought: "purchase flow", day: "event_day flow", reminded: "event_reminder flow"}
    assert set(names.values()) == {"purchase flow", "event_day flow", "event_reminder flow"}
    assert _touching(tenant, "gig-1") == {"purchase flow": 2, "event_day flow": 2}
    assert _touching(tenant, "gig-2") == {"purchase flow": 1, "event_reminder flow": 1}
    assert _touching(tenant, "7") == {"purchase flow": 1}
    assert _touching(tenant_b.id, "gig-1") == {"purchase flow": 2}
    assert db.session.scalar(select(AutomationEnrollment.event_ref).where(
        AutomationEnrollment.trigger_payload["order_id"].as_string() == "o-4")) is None
    _every_enrollment_names_its_payloads_event()


def test_a_large_batch_enrolls_in_its_worker_follow_up_with_the_event(api, tenant_a, app, monkeypatch):
    """A batch past the inline limit enrolls in its worker follow-up: the same statement,
    the same reference."""
    monkeypatch.setitem(app.config, "BATCH_FOLLOW_INLINE_MAX", 2)
    tenant = tenant_a.id
    event(tenant, "gig-9", "2027-03-01T19:30:00+00:00")
    workflow(tenant, "purchase", {}, OPEN, reentry="always")
    who = [customer(tenant, f"fan{i}@example.com") for i in range(3)]
    items = [{"customer_id": c, "type": "purchase", "properties": {"order_total": 5, "order_id": f"o-{c}",
                                                                    "event": {"id": "gig-9"}}} for c in who]
    assert api.post("/activities/batch", json={"activities": items}).status_code == 200
    assert _touching(tenant, "gig-9") == {}  # owed to the worker
    [owed] = db.session.scalars(select(IngestFollowup.id))
    assert jobs.follow_batch(owed) == 3
    assert _touching(tenant, "gig-9") == {"purchase flow": 3}
    _every_enrollment_names_its_payloads_event()
