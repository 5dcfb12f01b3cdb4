"""When people get campaign mail: at a wall-clock time in each recipient's own timezone (in
waves, on a frozen clock, with RQ's scheduled jobs released the way its scheduler would), and
no more than the tenant's frequency cap.

The clock: every module of the send that reads the time reads `clock.now`; RQ's scheduler is
played by `scheduler_tick`, which moves the jobs due by then from RQ's scheduled registry to
their queues, exactly as its loop does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from campaign_support import (
    add_audience,
    assert_counters_match_rows,
    audience_segment,
    campaign,
    new_campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import update

from webapp.extensions import db
from webapp.infra.queues import QUEUE_NAMES, get_queue
from webapp.models import CampaignRecipient, Customer, Tenant
from webapp.services import campaigns
from webapp.services.campaigns import claims, marks, outcomes, reconcile, sender, sending, waves
from webapp.services.campaigns.waves import waves_of
from webapp.tasks.delivery import reconcile_campaigns

# Far enough ahead that RQ keeps every job enqueued "at" these times in its scheduled registry.
DAY = datetime(2030, 3, 10, tzinfo=UTC)  # the US moves its clocks forward at 02:00 that morning
LOCAL = "2030-03-10T10:00"
TOKYO_WAVE = datetime(2030, 3, 10, 1, 0, tzinfo=UTC)  # 10:00 JST (UTC+9)
LONDON_WAVE = datetime(2030, 3, 10, 10, 0, tzinfo=UTC)  # 10:00 GMT
NEW_YORK_WAVE = datetime(2030, 3, 10, 14, 0, tzinfo=UTC)  # 10:00 EDT (UTC-4 from that morning, not EST's -5)
FIRST_POSSIBLE = datetime(2030, 3, 9, 20, 0, tzinfo=UTC)  # 10:00 at UTC+14


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock(DAY - timedelta(days=2))
    for module in (sending, waves, claims, reconcile, sender, marks, outcomes):
        monkeypatch.setattr(module, "utcnow", frozen)
    return frozen


def scheduler_tick(at: datetime) -> list[str]:
    """RQ's scheduler at `at`: every scheduled job due by then goes to its queue."""
    moved = []
    for name in QUEUE_NAMES:
        queue = get_queue(name)
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_jobs_to_schedule(int(at.timestamp())):
            queue._enqueue_job(Job.fetch(job_id, connection=queue.connection))
            registry.remove(job_id)
            moved.append(job_id)
    return moved


def scheduled_at() -> dict[str, datetime]:
    """Every job waiting in RQ's scheduled registries, and when it is due."""
    out = {}
    for name in QUEUE_NAMES:
        registry = ScheduledJobRegistry(queue=get_queue(name))
        for job_id in registry.get_job_ids():
            out[job_id] = registry.get_scheduled_time(job_id).replace(tzinfo=UTC)
    return out


def advance(clock: Clock, runner, to: datetime) -> None:
    """The clock moves to `to`; RQ's scheduler releases what is due; a worker runs it all."""
    clock.now = to
    scheduler_tick(to)
    run_burst_worker(runner)


@pytest.fixture
def world(tenant_a, smtp_mail):
    """Tenant A (London) and five fans: Tokyo, London, New York, none, and a zone that is not one."""
    ready_tenant(tenant_a.id)
    db.session.get(Tenant, tenant_a.id).timezone = "Europe/London"
    db.session.commit()
    ids = {}
    for name, zone in (("tokyo", "Asia/Tokyo"), ("london", "Europe/London"), ("newyork", "America/New_York"),
                       ("nozone", None)):
        ids[name] = add_audience(tenant_a.id, 1, prefix=name, **({"timezone": zone} if zone else {}))[0]
    ids["mars"] = add_audience(tenant_a.id, 1, prefix="mars")[0]
    # Stored before zones were checked (an import from an old system): not a zone we know.
    db.session.execute(update(Customer).where(Customer.id == ids["mars"]).values(timezone="Mars/Olympus"))
    db.session.commit()
    return ids


def got(smtp_mail) -> set[str]:
    return {address.removesuffix("0@example.com") for address in smtp_mail.per_recipient()}


def test_three_zones_get_three_waves_each_at_ten_in_their_own_time(api, runner, clock, world, tenant_a,
                                                                    smtp_mail):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    clock.now = DAY - timedelta(days=1)

    response = api.post(f"/campaigns/{draft.id}/schedule", json={"local_time": LOCAL, "per_customer_timezone": True})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["local_time"]) == ("scheduled", LOCAL)
    # It starts when 10:00 first comes anywhere (UTC+14), so nobody's 10:00 has passed yet.
    assert datetime.fromisoformat(body["scheduled_at"]) == FIRST_POSSIBLE

    advance(clock, runner, FIRST_POSSIBLE)
    assert campaign(draft.id).snapshot_at is not None and smtp_mail.count() == 0
    waves_due = {at for job_id, at in scheduled_at().items() if f"deliver-{draft.id}-" in job_id}
    assert waves_due == {TOKYO_WAVE, LONDON_WAVE, NEW_YORK_WAVE}
    rows = {row.email.removesuffix("0@example.com"): row.wave_at for row in recipient_rows(draft.id)}
    assert rows == {"tokyo": TOKYO_WAVE, "london": LONDON_WAVE, "nozone": LONDON_WAVE, "mars": LONDON_WAVE,
                    "newyork": NEW_YORK_WAVE}

    advance(clock, runner, TOKYO_WAVE - timedelta(minutes=1))
    assert smtp_mail.count() == 0
    advance(clock, runner, TOKYO_WAVE)
    assert got(smtp_mail) == {"tokyo"}
    advance(clock, runner, LONDON_WAVE)
    # No timezone, or one that is not a zone: the organisation's (London).
    assert got(smtp_mail) == {"tokyo", "london", "nozone", "mars"}
    assert campaign(draft.id).status == "sending"
    advance(clock, runner, NEW_YORK_WAVE)

    assert smtp_mail.per_recipient() == {f"{n}0@example.com": 1 for n in ("tokyo", "london", "nozone", "mars",
                                                                         "newyork")}
    assert assert_counters_match_rows(draft.id).status == "sent"
    shown = [(w.at, w.zones, w.recipients, w.sent, w.passed_at_start) for w in waves_of(campaign(draft.id))]
    assert shown == [(TOKYO_WAVE, ["Asia/Tokyo"], 1, 1, False),
                     (LONDON_WAVE, ["Europe/London", ""], 3, 3, False),
                     (NEW_YORK_WAVE, ["America/New_York"], 1, 1, False)]


def test_a_lost_wave_job_is_sent_by_the_reconciler_and_nobody_gets_it_twice(runner, clock, world, tenant_a,
                                                                          smtp_mail, redis_server):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    clock.now = DAY - timedelta(days=1)
    campaigns.schedule_local(tenant_a.id, draft.id, datetime(2030, 3, 10, 10, 0), per_customer_timezone=True)
    advance(clock, runner, FIRST_POSSIBLE)
    advance(clock, runner, TOKYO_WAVE)
    assert got(smtp_mail) == {"tokyo"}

    Redis.from_url(redis_server.url).flushall()  # Redis restarts: every wave job is gone
    clock.now = LONDON_WAVE + timedelta(seconds=30)
    assert reconcile_campaigns()["batches_enqueued"] >= 1
    run_burst_worker(runner)
    assert got(smtp_mail) == {"tokyo", "london", "nozone", "mars"}

    # The start job runs again (a duplicate) and asks for the waves again: the rows decide.
    sending.start_delivery(draft.id)
    advance(clock, runner, NEW_YORK_WAVE + timedelta(minutes=5))
    reconcile_campaigns()
    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {f"{n}0@example.com": 1 for n in ("tokyo", "london", "nozone", "mars",
                                                                         "newyork")}
    assert assert_counters_match_rows(draft.id).status == "sent"


def test_where_the_time_has_passed_when_it_starts_people_get_it_at_once(runner, clock, world, tenant_a,
                                                                       smtp_mail):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    clock.now = datetime(2030, 3, 10, 5, 0, tzinfo=UTC)  # 14:00 in Tokyo already; 05:00 in London

    scheduled = campaigns.schedule_local(tenant_a.id, draft.id, datetime(2030, 3, 10, 10, 0),
                                         per_customer_timezone=True)
    assert scheduled.scheduled_at == clock.now  # its first possible wave has passed: it starts now
    advance(clock, runner, clock.now)

    assert got(smtp_mail) == {"tokyo"}
    [tokyo, london, new_york] = waves_of(campaign(draft.id))
    assert (tokyo.passed_at_start, tokyo.sent, london.passed_at_start, london.sent) == (True, 1, False, 0)
    advance(clock, runner, NEW_YORK_WAVE)
    assert len(smtp_mail.per_recipient()) == 5


def test_a_local_time_that_has_passed_everywhere_is_refused(api, clock, world, tenant_a):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    clock.now = datetime(2030, 3, 10, 22, 1, tzinfo=UTC)  # 10:00 at UTC-12 was a minute ago

    response = api.post(f"/campaigns/{draft.id}/schedule", json={"local_time": LOCAL, "per_customer_timezone": True})

    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "local_time"
    assert campaign(draft.id).status == "draft"


def test_local_time_without_per_customer_timezone_is_that_time_in_the_organisations_zone(api, clock, world,
                                                                                       tenant_a):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    db.session.get(Tenant, tenant_a.id).timezone = "America/New_York"
    db.session.commit()

    body = api.post(f"/campaigns/{draft.id}/schedule", json={"local_time": LOCAL}).get_json()

    assert datetime.fromisoformat(body["scheduled_at"]) == NEW_YORK_WAVE and body["local_time"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({}, "send_at"),
    ({"send_at": "2030-03-10T10:00:00+00:00", "local_time": LOCAL}, "local_time"),
    ({"send_at": "2030-03-10T10:00:00+00:00", "per_customer_timezone": True}, "per_customer_timezone"),
    ({"local_time": "2030-03-10T10:00+01:00", "per_customer_timezone": True}, "local_time"),
    ({"local_time": "tomorrow at ten"}, "local_time"),
    ({"local_time": "9999-12-31T23:59", "per_customer_timezone": True}, "local_time"),
    ({"local_time": "0001-01-01T00:00", "per_customer_timezone": True}, "local_time"),
    ({"local_time": LOCAL, "per_customer_timezone": "yes"}, "per_customer_timezone"),
    ({"local_time": 1893456000}, "local_time"),
])
def test_the_schedule_takes_exactly_one_of_send_at_or_local_time(api, clock, world, tenant_a, body, field):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    response = api.post(f"/campaigns/{draft.id}/schedule", json=body)

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"][0]["field"] == field
    assert campaign(draft.id).status == "draft"


def test_sending_now_forgets_a_local_time_schedule(api, clock, world, tenant_a):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))
    campaigns.schedule_local(tenant_a.id, draft.id, datetime(2030, 3, 10, 10, 0), per_customer_timezone=True)

    campaigns.send_campaign(tenant_a.id, draft.id)

    assert campaign(draft.id).local_send_time is None  # everyone at once, as "Send now" says


# --- the frequency cap ----------------------------------------------------------------------------

def set_cap(tenant_id: int, emails: int | None, days: int | None) -> None:
    tenant = db.session.get(Tenant, tenant_id)
    tenant.frequency_cap_emails, tenant.frequency_cap_days = emails, days
    db.session.commit()


def test_the_second_campaign_skips_the_person_at_the_cap_with_the_reason(api, runner, tenant_a, smtp_mail):
    ready_tenant(tenant_a.id)
    both = add_audience(tenant_a.id, 1, prefix="both", tags=["first", "second"])
    add_audience(tenant_a.id, 1, prefix="firstonly", tags=["first"])
    add_audience(tenant_a.id, 1, prefix="secondonly", tags=["second"])
    set_cap(tenant_a.id, 1, 7)
    first = new_campaign(tenant_a.id, audience_segment(tenant_a.id, "first"))
    campaigns.send_campaign(tenant_a.id, first.id)
    run_burst_worker(runner)
    second = new_campaign(tenant_a.id, audience_segment(tenant_a.id, "second"))

    campaigns.send_campaign(tenant_a.id, second.id)
    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"both0@example.com": 1, "firstonly0@example.com": 1,
                                         "secondonly0@example.com": 1}
    rows = {row.customer_id: row for row in recipient_rows(second.id)}
    assert (rows[both[0]].status, rows[both[0]].error) == ("skipped", "frequency cap: 1 email in 7 days")
    row = assert_counters_match_rows(second.id)
    assert (row.status, row.sent_count, row.skipped_count) == ("sent", 1, 1)
    # The report's recipient list shows the reason beside the status, and filters by it.
    report = api.get(f"/campaigns/{second.id}/stats").get_json()
    assert report["skipped"] == 1


def test_mail_older_than_the_window_does_not_count(runner, tenant_a, smtp_mail):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 2)
    segment = audience_segment(tenant_a.id)
    set_cap(tenant_a.id, 1, 7)
    first = new_campaign(tenant_a.id, segment)
    campaigns.send_campaign(tenant_a.id, first.id)
    run_burst_worker(runner)
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.campaign_id == first.id)
                       .values(sent_at=datetime.now(UTC) - timedelta(days=7, minutes=1)))
    db.session.commit()
    second = new_campaign(tenant_a.id, segment)

    campaigns.send_campaign(tenant_a.id, second.id)
    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"fan0@example.com": 2, "fan1@example.com": 2}


def test_without_a_cap_nobody_is_skipped(runner, tenant_a, smtp_mail):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 2)
    segment = audience_segment(tenant_a.id)
    for _ in range(3):
        draft = new_campaign(tenant_a.id, segment)
        campaigns.send_campaign(tenant_a.id, draft.id)
        run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"fan0@example.com": 3, "fan1@example.com": 3}


LOCAL_VALUES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.isoformat()),
    st.text(max_size=40), st.integers(min_value=-(10**20), max_value=10**20), st.floats(), st.none(),
    st.sampled_from(["2030-02-29T10:00", "2030-03-10T02:30", "2030-11-03T01:30", "2030-03-10T10:00\u0000",
                     "2030-03-10T24:00", "+275760-09-13T00:00", "2030-03-10T10:00Z", "\ud800"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=LOCAL_VALUES, per_customer=st.one_of(st.booleans(), st.none(), st.just("true")))
def test_any_local_time_is_scheduled_or_refused_naming_its_field_never_a_500(api, clock, world, tenant_a, value,
                                                                             per_customer):
    draft = new_campaign(tenant_a.id, audience_segment(tenant_a.id))

    response = api.post(f"/campaigns/{draft.id}/schedule",
                        json={"local_time": value, "per_customer_timezone": per_customer})

    assert response.status_code in (200, 400, 422), (value, response.status_code)  # 400: JSON no parser reads
    if response.status_code == 422:
        assert response.get_json()["error"]["details"][0]["field"] in ("local_time", "per_customer_timezone", "send_at")
    if response.status_code != 200:
        assert campaign(draft.id).status == "draft"
    else:
        assert campaign(draft.id).scheduled_at >= clock.now


@pytest.mark.parametrize(("wall", "zone", "expected"), [
    # The clocks skip 02:00-03:00 in New York that morning: 02:30 is read as just after, 03:30 EDT.
    (datetime(2030, 3, 10, 2, 30), "America/New_York", datetime(2030, 3, 10, 7, 30, tzinfo=UTC)),
    # 01:30 happens twice on 3 November 2030: the first time (EDT).
    (datetime(2030, 11, 3, 1, 30), "America/New_York", datetime(2030, 11, 3, 5, 30, tzinfo=UTC)),
    # Lord Howe Island moves by half an hour; Kathmandu is +05:45.
    (datetime(2030, 7, 1, 10, 0), "Australia/Lord_Howe", datetime(2030, 6, 30, 23, 30, tzinfo=UTC)),
    (datetime(2030, 7, 1, 10, 0), "Asia/Kathmandu", datetime(2030, 7, 1, 4, 15, tzinfo=UTC)),
])
def test_a_wall_clock_time_on_a_change_of_the_clocks_lands_once_just_after_it(wall, zone, expected):
    assert waves.wall_time_in(wall, waves.zone_or(zone, None)) == expected
