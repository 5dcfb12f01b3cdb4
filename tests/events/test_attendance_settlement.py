"""Settling attendance when an event is over: no_show for exactly the holders never scanned
in (buyers and guests who became customers), the event ended, event_ended fired once per
holder with the right flag, cancelled and unfinished events left alone, idempotent, and a
late scan still counts. The API's attendance figures follow."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.api.api_assertions import assert_error
from tests.events.attendance_support import DUE, attendance_rows, buy, create_show, scan
from webapp.extensions import db
from webapp.infra.queues import get_queue
from webapp.models import AutomationEnrollment, Customer, CustomerActivity, Event, OutboxMessage
from webapp.services import activity_text, workflows
from webapp.services.events.attendance import segments_reading, settle_ended_events
from webapp.services.workflows.engine import run_due


def workflow(tenant_id: int, name: str, config: dict, subject: str | None = "Thanks") -> int:
    """An active event_ended workflow sending `subject` (None: it waits a day instead)."""
    step = {"type": "send_email", "config": {"subject": subject, "content": "<p>Hello {{ customer.first_name }}</p>"}} \
        if subject else {"type": "wait", "config": {"days": 1}}
    created = workflows.create_workflow(tenant_id, {
        "name": name, "trigger_type": "event_ended", "trigger_config": config, "steps": [step]})
    workflows.set_active(tenant_id, created.id, True)
    return created.id


def enrolled(workflow_id: int) -> dict[str, bool]:
    """{email: the payload's attended flag} of the workflow's enrollments."""
    db.session.expire_all()
    return {email: payload["attended"] for email, payload in db.session.execute(
        select(Customer.email, AutomationEnrollment.trigger_payload)
        .join(Customer, Customer.id == AutomationEnrollment.customer_id)
        .where(AutomationEnrollment.workflow_id == workflow_id))}


@pytest.fixture
def ready(tenant_a):
    """Tenant A can send (a postal address and a sender)."""
    from webapp.models import Tenant

    row = db.session.get(Tenant, tenant_a.id)
    row.postal_address, row.sender_email = "1 Stage Door, Leeds", "hello@alpha.example.com"
    db.session.commit()
    return tenant_a


@pytest.fixture
def show_with_holders(api):
    """Nils Frahm live: Ada (scanned), Ben (not) with Gil, a guest who consented, on his
    order; Quinn, a guest without consent (no customer); Cy holds a ticket for another night."""
    show = create_show(api)
    create_show(api, external_id="evt-101", starts_at="2027-03-21T20:00:00+01:00",
                doors_at="2027-03-21T19:00:00+01:00", ends_at="2027-03-21T22:30:00+01:00")
    buy(api, "ada@example.com", "o-1")
    buy(api, "ben@example.com", "o-2", items=[
        {"ticket_type": "GA", "quantity": 1},
        {"ticket_type": "GA", "quantity": 1, "attendee": {"email": "gil@example.com", "marketing_consent": True}},
        {"ticket_type": "GA", "quantity": 1, "attendee": {"email": "quinn@example.com"}}])
    buy(api, "cy@example.com", "o-3", event="evt-101")
    assert scan(api, "ada@example.com", ticket="T-1").status_code == 201
    return show


def test_settling_writes_no_show_for_exactly_the_holders_never_scanned_in(show_with_holders):
    show = show_with_holders

    [settled] = settle_ended_events(now=DUE)

    assert (settled.event_id, settled.no_shows) == (show["id"], 2)
    rows = attendance_rows(show["id"])
    assert {email: status for email, (status, _, _) in rows.items()} == {
        "ada@example.com": "attended", "ben@example.com": "no_show", "gil@example.com": "no_show"}
    assert rows["ben@example.com"][1:] == (0, None)
    event = db.session.get(Event, show["id"])
    assert (event.status, event.settled_at) == ("ended", DUE)
    from webapp.models import EventAttendance

    assert set(db.session.scalars(select(EventAttendance.event_starts_at))) == {event.starts_at}


def test_the_sweep_is_idempotent_and_costs_nothing_once_settled(show_with_holders):
    assert len(settle_ended_events(now=DUE)) == 1
    assert settle_ended_events(now=DUE + timedelta(minutes=5)) == []
    assert settle_ended_events(now=DUE + timedelta(days=1)) == []
    assert len(attendance_rows(show_with_holders["id"])) == 3


def test_events_not_over_yet_cancelled_or_long_past_are_not_settled(api):
    create_show(api)  # ends 21:30 UTC: due at 23:30
    create_show(api, external_id="no-end", ends_at=None)  # starts 19:00 UTC, taken to last 4 hours: due 01:00
    create_show(api, external_id="called-off", status="cancelled")
    create_show(api, external_id="history", starts_at="2027-02-01T20:00:00+01:00",
                doors_at="2027-02-01T19:00:00+01:00", ends_at="2027-02-01T22:00:00+01:00")
    for email, event in (("a@example.com", "evt-100"), ("b@example.com", "no-end"), ("c@example.com", "called-off"),
                         ("d@example.com", "history")):
        buy(api, email, f"o-{event}", event=event)

    def status() -> dict[str, tuple[str, bool]]:
        db.session.expire_all()
        return {e.external_id: (e.status, e.settled_at is not None) for e in db.session.scalars(select(Event))}

    assert settle_ended_events(now=DUE - timedelta(seconds=1)) == []
    assert [s.no_shows for s in settle_ended_events(now=DUE)] == [1]
    assert status()["no-end"] == ("on_sale", False)
    assert len(settle_ended_events(now=DUE + timedelta(hours=1, minutes=30))) == 1
    assert status() == {"evt-100": ("ended", True), "no-end": ("ended", True), "called-off": ("cancelled", False),
                        "history": ("on_sale", False)}
    # An operator may reach further back on purpose.
    assert len(settle_ended_events(now=DUE, lookback=timedelta(days=60))) == 1
    assert status()["history"] == ("ended", True) and status()["called-off"] == ("cancelled", False)


def test_event_ended_fires_once_per_holder_with_whether_they_came(ready, api, show_with_holders):
    tenant_id, show = ready.id, show_with_holders
    thanks = workflow(tenant_id, "Thanks for coming", {"attended": True}, subject="Thanks for coming")
    win_back = workflow(tenant_id, "We missed you", {"attended": False, "event_id": show["id"]},
                        subject="We missed you at {{ trigger.event.name }}")
    everyone = workflow(tenant_id, "Survey", {})
    other_night = workflow(tenant_id, "Other night", {"event_id": show["id"] + 1})

    settle_ended_events(now=DUE)
    settle_ended_events(now=DUE + timedelta(minutes=5))

    assert enrolled(thanks) == {"ada@example.com": True}
    assert enrolled(win_back) == {"ben@example.com": False, "gil@example.com": False}
    assert enrolled(everyone) == {"ada@example.com": True, "ben@example.com": False, "gil@example.com": False}
    assert enrolled(other_night) == {}
    payload = db.session.scalars(select(AutomationEnrollment.trigger_payload)
                                 .where(AutomationEnrollment.workflow_id == thanks)).one()
    assert payload["event"]["name"] == "Nils Frahm live" and payload["event"]["event_id"] == show["id"]
    assert payload["event"]["when"] == "Sun 14 Mar 2027, 20:00 (CET)"
    said = activity_text.for_triggers(tenant_id, [payload]).trigger("event_ended", payload)
    assert "".join(part.text for part in said) == "The end of Nils Frahm live, came"  # the enrollment page

    run_due(now=DUE)
    sent = sorted((m.recipient, m.subject) for m in db.session.scalars(select(OutboxMessage)))
    assert sent == [("ada@example.com", "Thanks"), ("ada@example.com", "Thanks for coming"),
                    ("ben@example.com", "Thanks"), ("ben@example.com", "We missed you at Nils Frahm live"),
                    ("gil@example.com", "Thanks"), ("gil@example.com", "We missed you at Nils Frahm live")]
    assert db.session.scalar(select(func.count()).select_from(CustomerActivity)
                             .where(CustomerActivity.type == "workflow_enrolled")) == 6


def test_a_late_scan_after_settlement_turns_a_no_show_into_attended(api, show_with_holders):
    show = show_with_holders
    settle_ended_events(now=DUE)

    response = scan(api, "ben@example.com", ticket="T-2", at="2027-03-14T22:50:00+01:00")

    assert response.status_code == 201
    assert attendance_rows(show["id"])["ben@example.com"][:2] == ("attended", 1)
    figures = api.get(f"/events/{show['id']}").get_json()["attendance"]
    assert (figures["attended"], figures["no_show"], figures["rate"]) == (2, 1, 0.6667)


def test_the_api_figures_attendance_before_during_and_after(api):
    show = create_show(api)
    assert api.get(f"/events/{show['id']}").get_json()["attendance"] == {
        "attended": 0, "no_show": 0, "rate": None, "settled_at": None}
    for n, email in enumerate(["a@example.com", "b@example.com", "c@example.com", "d@example.com"]):
        buy(api, email, f"o-{n}")
    scan(api, "a@example.com", ticket="T-1")
    assert api.get(f"/events/{show['id']}").get_json()["attendance"]["rate"] == 0.25  # 1 of 4 holders so far

    scan(api, "b@example.com", ticket="T-2")
    settle_ended_events(now=DUE)

    [listed] = api.get("/events").get_json()["data"]
    assert listed["attendance"] == {"attended": 2, "no_show": 2, "rate": 0.5, "settled_at": DUE.isoformat()}


def test_settling_one_organisations_event_touches_no_other_organisation(api, api_b, tenant_b, show_with_holders):
    create_show(api_b)
    buy(api_b, "ben@example.com", "o-b")
    theirs = workflow(tenant_b.id, "Bravo no-shows", {"attended": False}, subject=None)

    assert len(settle_ended_events(now=DUE)) == 2

    assert enrolled(theirs) == {"ben@example.com": False}
    db.session.expire_all()
    bravo_ben = db.session.scalar(select(Customer).where(Customer.tenant_id == tenant_b.id))
    enrollment = db.session.scalar(select(AutomationEnrollment).where(AutomationEnrollment.workflow_id == theirs))
    assert enrollment.customer_id == bravo_ben.id and enrollment.tenant_id == tenant_b.id
    assert api_b.get("/events/3").get_json()["attendance"]["no_show"] == 1


def test_the_event_ended_trigger_checks_its_settings(api, api_b):
    show = create_show(api)
    theirs = create_show(api_b, external_id="bravo-1")

    def post(config):
        return api.post("/workflows", json={"name": "After the show", "trigger_type": "event_ended",
                                            "trigger_config": config})

    assert post({"event_id": show["id"], "attended": False}).status_code == 201
    assert post({}).status_code == 201
    assert_error(post({"event_id": theirs["id"]}), 422, field="trigger_config.event_id")
    assert_error(post({"event_id": 999}), 422, field="trigger_config.event_id")
    assert_error(post({"event_id": "1"}), 422, field="trigger_config.event_id")
    assert_error(post({"attended": "maybe"}), 422, field="trigger_config.attended")
    assert_error(post({"attended": 1}), 422, field="trigger_config.attended")
    assert_error(post({"came": True}), 422, field="trigger_config.came")


def test_the_event_ended_trigger_reads_as_a_sentence(api, tenant_a):
    from webapp.services.triggers import TriggerNames, describe_trigger

    show = create_show(api)
    names = TriggerNames(tenant_a.id)
    assert describe_trigger("event_ended", {"event_id": show["id"], "attended": False}, names) == \
        "When an event ends: no-shows of Nils Frahm live"
    assert describe_trigger("event_ended", {"attended": True}, names) == "When an event ends: those who came"
    assert describe_trigger("event_ended", {"event_id": show["id"]}, names) == \
        "When an event ends: everyone who held a ticket for Nils Frahm live"
    assert describe_trigger("event_ended", {"event_id": 999}, names) == \
        "When an event ends: everyone who held a ticket for an event that was deleted"


def test_segments_reading_a_table_are_found_from_their_sql(api, tenant_a):
    bought = api.post("/segments", json={"name": "Bought", "conditions": [
        {"type": "purchased_event", "operator": "id", "value": "evt-100"}]}).get_json()
    api.post("/segments", json={"name": "VIP", "conditions": [{"type": "tag", "value": "vip"}]})
    nested = api.post("/segments", json={"name": "Nested", "conditions": [{"match": "any", "conditions": [
        {"type": "tag", "value": "vip"},
        {"type": "activity", "activity_type": "ticket_scanned", "operator": "at_least", "value": 2}]}]}).get_json()

    assert segments_reading(tenant_a.id, "customer_activities") == [bought["id"], nested["id"]]
    assert segments_reading(tenant_a.id, "event_attendance") == []


def test_settling_queues_no_segment_work_when_no_segment_reads_attendance(api, show_with_holders):
    api.post("/segments", json={"name": "VIP", "conditions": [{"type": "tag", "value": "vip"}]})
    settle_ended_events(now=DUE)
    assert [j.func_name for j in get_queue("bulk").jobs] == []


def test_flask_crm_settle_events_runs_the_sweep_once(app, api, runner):
    create_show(api, starts_at="2026-11-01T20:00:00+01:00", doors_at="2026-11-01T19:00:00+01:00",
                ends_at="2026-11-01T22:00:00+01:00")
    buy(api, "ada@example.com", "o-1")

    result = runner.invoke(args=["crm", "settle-events", "--lookback-days", "3650"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"settled": 1}
    assert json.loads(runner.invoke(args=["crm", "settle-events", "--lookback-days", "3650"]).output) == \
        {"settled": 0}
