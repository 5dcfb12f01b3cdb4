"""When people get workflow mail: quiet hours hold a marketing email until they end (in the
customer's local time, across midnight and changes of the clocks), the frequency cap skips it
with the reason and the enrollment goes on, and transactional emails pass both. The engine
runs on its own controllable clock (run_due(now=...))."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.workflows.workflow_support import customer
from webapp.extensions import db
from webapp.models import (
    AutomationEnrollment,
    AutomationStepExecution,
    CampaignRecipient,
    EmailCampaign,
    OutboxMessage,
    Tenant,
)
from webapp.services import workflows
from webapp.services.customers import get_customer
from webapp.services.workflows.engine import run_due
from webapp.services.workflows.quiet_hours import held_until, in_window

SUMMER_EVENING = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)  # 22:30 in Paris (CEST, UTC+2)
PARIS_EIGHT = datetime(2026, 6, 2, 6, 0, tzinfo=UTC)  # 08:00 CEST the next morning
EMAIL = {"subject": "Your summer picks", "content": "<p>Hello</p>"}


def settings(tenant_id: int, *, quiet: tuple[str, str] | None = ("21:00", "08:00"),
             cap: tuple[int, int] | None = None, zone: str = "Europe/London") -> None:
    tenant = db.session.get(Tenant, tenant_id)
    tenant.quiet_hours = {"start": quiet[0], "end": quiet[1]} if quiet else None
    tenant.frequency_cap = {"max_emails": cap[0], "days": cap[1]} if cap else None
    tenant.timezone = zone
    db.session.commit()


def flow(tenant_id: int, steps: list[tuple[str, dict]], trigger: str = "custom"):
    created = workflows.create_workflow(tenant_id, {
        "name": "Picks", "trigger_type": trigger, "trigger_config": {},
        "steps": [{"type": t, "config": c} for t, c in steps]})
    workflows.set_active(tenant_id, created.id, True)
    return created


def enroll(tenant_id: int, customer_id: int, now: datetime) -> None:
    workflows.process_trigger(tenant_id, "custom", customer_id, {}, now=now)
    db.session.commit()


def the_enrollment() -> AutomationEnrollment:
    db.session.expire_all()
    return db.session.scalars(select(AutomationEnrollment)).one()


def trace(enrollment_id: int) -> list[tuple[str, str, str]]:
    return [(x.step_type, x.outcome, x.detail) for x in db.session.scalars(
        select(AutomationStepExecution).where(AutomationStepExecution.enrollment_id == enrollment_id)
        .order_by(AutomationStepExecution.id))]


def outbox() -> list[str]:
    return [m.subject for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_an_email_due_in_quiet_hours_is_held_until_they_end_and_then_sent(tenant):
    settings(tenant)
    paris = customer(tenant, timezone="Europe/Paris")
    flow(tenant, [("send_email", EMAIL), ("add_tag", {"tag": "after"})])
    enroll(tenant, paris, SUMMER_EVENING)

    run_due(now=SUMMER_EVENING)

    held = the_enrollment()
    assert (held.status, held.next_run_at) == ("waiting", PARIS_EIGHT)
    assert trace(held.id) == [("send_email", "waiting", "Held until 08:00 (quiet hours)")]
    assert outbox() == []

    run_due(now=PARIS_EIGHT - timedelta(minutes=1))
    assert outbox() == []
    run_due(now=PARIS_EIGHT)

    done = the_enrollment()
    assert done.status == "completed" and outbox() == ["Your summer picks"]
    assert [(t, o) for t, o, _ in trace(done.id)] == [("send_email", "held"), ("send_email", "done"),
                                                      ("add_tag", "done")]
    assert trace(done.id)[0][2] == "Held until 08:00 (quiet hours)"
    assert "after" in get_customer(tenant, paris).tags


def test_outside_quiet_hours_an_email_goes_at_once(tenant):
    settings(tenant)
    paris = customer(tenant, timezone="Europe/Paris")
    flow(tenant, [("send_email", EMAIL)])
    noon = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    enroll(tenant, paris, noon)

    run_due(now=noon)

    assert the_enrollment().status == "completed" and outbox() == ["Your summer picks"]


def test_a_transactional_email_is_not_held(tenant):
    settings(tenant)
    paris = customer(tenant, timezone="Europe/Paris")
    flow(tenant, [("send_email", {**EMAIL, "subject": "Your tickets", "transactional": True})])
    enroll(tenant, paris, SUMMER_EVENING)

    run_due(now=SUMMER_EVENING)

    assert the_enrollment().status == "completed" and outbox() == ["Your tickets"]


def test_a_customer_without_a_zone_is_held_by_the_organisations(tenant):
    settings(tenant, zone="Asia/Tokyo")
    nozone = customer(tenant)
    flow(tenant, [("send_email", EMAIL)])
    tokyo_ten_pm = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
    enroll(tenant, nozone, tokyo_ten_pm)

    run_due(now=tokyo_ten_pm)

    assert the_enrollment().next_run_at == datetime(2026, 6, 1, 23, 0, tzinfo=UTC)  # 08:00 JST


@pytest.mark.parametrize(("now", "zone", "window", "until"), [
    # Across midnight, before it and after it.
    (datetime(2026, 6, 1, 22, 0, tzinfo=UTC), "UTC", ("21:00", "08:00"), datetime(2026, 6, 2, 8, 0, tzinfo=UTC)),
    (datetime(2026, 6, 2, 3, 0, tzinfo=UTC), "UTC", ("21:00", "08:00"), datetime(2026, 6, 2, 8, 0, tzinfo=UTC)),
    # Start is inside, end is not.
    (datetime(2026, 6, 1, 21, 0, tzinfo=UTC), "UTC", ("21:00", "08:00"), datetime(2026, 6, 2, 8, 0, tzinfo=UTC)),
    (datetime(2026, 6, 2, 8, 0, tzinfo=UTC), "UTC", ("21:00", "08:00"), None),
    (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), "UTC", ("21:00", "08:00"), None),
    # A window within a day.
    (datetime(2026, 6, 1, 12, 30, tzinfo=UTC), "UTC", ("12:00", "14:00"), datetime(2026, 6, 1, 14, 0, tzinfo=UTC)),
    (datetime(2026, 6, 1, 23, 0, tzinfo=UTC), "UTC", ("12:00", "14:00"), None),
    # London's clocks go forward at 01:00 GMT on 29 March 2026: 08:00 that morning is 07:00 UTC.
    (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "Europe/London", ("21:00", "08:00"),
     datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
    # ...and back at 01:00 UTC on 25 October: 08:00 that morning is 08:00 UTC.
    (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), "Europe/London", ("21:00", "08:00"),
     datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
    # A window ending at 01:30 on the night 01:00-02:00 does not exist: held until the clocks jump, 02:30 BST.
    (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "Europe/London", ("00:00", "01:30"),
     datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
    # New York, the US change (8 March 2026, 02:00 EST -> 03:00 EDT): 08:00 EDT is 12:00 UTC.
    (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), "America/New_York", ("22:00", "08:00"),
     datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
])
def test_quiet_hours_end_at_the_local_wall_clock_time_across_midnight_and_changes_of_the_clocks(
        now, zone, window, until):
    assert held_until(now, ZoneInfo(zone), *window) == until


def test_the_window_check_reads_start_as_inside_and_end_as_outside():
    from datetime import time
    assert in_window(time(21, 0), time(21, 0), time(8, 0)) and not in_window(time(8, 0), time(21, 0), time(8, 0))
    assert in_window(time(0, 0), time(21, 0), time(8, 0)) and not in_window(time(20, 59), time(21, 0), time(8, 0))


# --- the frequency cap ----------------------------------------------------------------------------

def test_a_workflow_email_to_someone_at_the_cap_is_skipped_with_the_reason_and_the_enrollment_goes_on(tenant):
    settings(tenant, quiet=None, cap=(1, 7))
    ada = customer(tenant)
    flow(tenant, [("send_email", EMAIL), ("send_email", {**EMAIL, "subject": "Second"}), ("add_tag", {"tag": "on"})])
    noon = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    enroll(tenant, ada, noon)

    run_due(now=noon)

    done = the_enrollment()
    assert done.status == "completed" and outbox() == ["Your summer picks"]
    assert trace(done.id)[1] == ("send_email", "skipped", "not sent: frequency cap: 1 email in 7 days")
    skipped = db.session.scalars(select(CampaignRecipient).where(CampaignRecipient.status == "skipped")).one()
    assert skipped.error == "frequency cap: 1 email in 7 days"
    assert "on" in get_customer(tenant, ada).tags


def test_transactional_workflow_emails_go_past_the_cap_and_do_not_count_towards_it(tenant):
    settings(tenant, quiet=None, cap=(1, 7))
    ada = customer(tenant)
    flow(tenant, [("send_email", {**EMAIL, "subject": "Your tickets", "transactional": True}),
                  ("send_email", EMAIL),
                  ("send_email", {**EMAIL, "subject": "Your receipt", "transactional": True})])
    noon = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    enroll(tenant, ada, noon)

    run_due(now=noon)

    # The tickets did not count, so the marketing email fits; the receipt goes though she is at the cap now.
    assert outbox() == ["Your tickets", "Your summer picks", "Your receipt"]
    kinds = dict(db.session.execute(select(EmailCampaign.subject, EmailCampaign.transactional)
                                    .where(EmailCampaign.kind == "workflow")).all())
    assert kinds == {"Your tickets": True, "Your summer picks": False, "Your receipt": True}


def test_the_step_config_takes_transactional_as_a_boolean_only(tenant):
    from webapp.infra.errors import ValidationFailed
    from webapp.services.workflows.steps import validate_step

    assert validate_step("send_email", {**EMAIL, "transactional": True})["transactional"] is True
    with pytest.raises(ValidationFailed) as refused:
        validate_step("send_email", {**EMAIL, "transactional": "yes"})
    assert refused.value.field == "config.transactional"
