"""A batch above BATCH_FOLLOW_INLINE_MAX answers once its rows, aggregates and tickets are
stored, and a worker follows it (segments, enrollments, goals) exactly once, with the
single path's result; a failure keeps the work and its reason for the next try."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from tests.api.test_api_batch import _enrolled_timeline, _enrollments, _flows, aggregates, batch, buy
from webapp.extensions import db
from webapp.infra.queues import get_queue
from webapp.infra.types import utcnow
from webapp.models import AutomationEnrollment, Customer, CustomerActivity, CustomerSegmentMember, IngestFollowup
from webapp.services.ingest import follow
from webapp.tasks import ingest as jobs
from webapp.tasks.schedule import periodic_jobs


@pytest.fixture
def deferred(app, monkeypatch):
    """Batches of more than three stored activities are followed by a worker."""
    monkeypatch.setitem(app.config, "BATCH_FOLLOW_INLINE_MAX", 3)


def _setup(client) -> int:
    _flows(client)
    created = client.post("/segments", json={"name": "Big", "conditions": [
        {"type": "total_spent", "operator": ">=", "value": 60}]})
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def _members(tenant_id: int) -> list[str]:
    return sorted(db.session.scalars(select(Customer.email).join(
        CustomerSegmentMember, CustomerSegmentMember.customer_id == Customer.id)
        .where(Customer.tenant_id == tenant_id)))


def _enrolled(tenant_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AutomationEnrollment)
                             .where(AutomationEnrollment.tenant_id == tenant_id))


def _owed() -> list[IngestFollowup]:
    """The follow-ups owed, as they are now (detached: reading them later queries nothing)."""
    db.session.expire_all()
    rows = list(db.session.scalars(select(IngestFollowup).order_by(IngestFollowup.id)))
    for row in rows:
        db.session.expunge(row)
    return rows


def _queued() -> list:
    """The follow-up jobs waiting in Redis."""
    return [(job.id, job.func_name, job.args) for job in get_queue("default").jobs
            if job.func_name.startswith("webapp.tasks.ingest.")]


def test_a_large_batch_answers_first_and_one_worker_job_gives_the_single_paths_result(
        api, api_b, tenant_a, tenant_b, deferred):
    for client in (api, api_b):
        _setup(client)
    # Each customer once (one round): what the worker sees is what the request would have.
    items = [buy({"email": f"c{n}@x.com"}, [20, 60, 75][n % 3], order_id=f"o-{n}") for n in range(10)]
    results = batch(api, items)
    assert [r["status"] for r in results] == [201] * 10
    for item in items:
        assert api_b.post("/activities", json=item).status_code == 201

    # Answered: the rows and the aggregates are in; what follows them is owed, with its job queued.
    assert {k: v[:2] for k, v in aggregates(tenant_a.id).items()} == \
        {k: v[:2] for k, v in aggregates(tenant_b.id).items()}
    assert _enrolled(tenant_a.id) == 0 and _members(tenant_a.id) == []
    [owed] = _owed()
    assert owed.tenant_id == tenant_a.id and owed.attempts == 0 and owed.failed_at is None
    assert [len(r["activities"]) for r in owed.rounds] == [10]
    assert _queued() == [(f"ingest-follow-{owed.id}", "webapp.tasks.ingest.follow_batch", (owed.id,))]

    assert jobs.follow_batch(owed.id) == 10
    assert _owed() == []
    assert _enrollments(tenant_a.id) == _enrollments(tenant_b.id)
    assert _enrolled_timeline(tenant_a.id) == _enrolled_timeline(tenant_b.id)
    assert _members(tenant_a.id) == _members(tenant_b.id) != []
    entered = [db.session.scalar(select(func.count()).select_from(CustomerActivity).where(
        CustomerActivity.tenant_id == t, CustomerActivity.type == "segment_entered"))
        for t in (tenant_a.id, tenant_b.id)]
    assert entered[0] == entered[1] > 0

    # The job again (a duplicate, or the sweep's) finds nothing to do and changes nothing.
    before = _enrollments(tenant_a.id)
    assert jobs.follow_batch(owed.id) == 0
    assert _enrollments(tenant_a.id) == before


def test_a_batch_at_the_limit_is_followed_in_its_request(api, tenant_a, deferred):
    _setup(api)
    batch(api, [buy({"email": f"c{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(3)])
    assert _owed() == [] and _queued() == []
    assert _enrolled(tenant_a.id) > 0 and len(_members(tenant_a.id)) == 3


def test_customers_buying_twice_are_followed_in_the_request_and_the_rest_by_the_worker(
        api, api_b, tenant_a, tenant_b, deferred):
    """A customer with two orders in the batch is followed round by round in the request
    (the second order's goal check sees the first order's enrollment, as a second request
    would); customers appearing once are left to the worker, whose view of them is final.
    Together: the single path's enrollments, conversions, timeline and segments."""
    for client in (api, api_b):
        _setup(client)
    items = [buy({"email": f"c{n % 5}@x.com"}, [20, 60, 75][n % 3], order_id=f"o-{n}") for n in range(7)]
    batch(api, items)
    for item in items:
        api_b.post("/activities", json=item)
    twice = ["c0@x.com", "c1@x.com"]  # items 5 and 6 are their second orders
    assert sorted({row[1] for row in _enrollments(tenant_a.id)}) == twice
    [owed] = _owed()
    assert [len(r["activities"]) for r in owed.rounds] == [3]
    assert jobs.follow_batch(owed.id) == 3

    mine = _enrollments(tenant_a.id)
    assert mine == _enrollments(tenant_b.id)
    assert any(row[2] == "converted" for row in mine)  # a second order converts the first's enrollment
    assert _enrolled_timeline(tenant_a.id) == _enrolled_timeline(tenant_b.id)
    assert _members(tenant_a.id) == _members(tenant_b.id) != []


def test_each_tenants_followup_moves_only_its_own_customers(api, api_b, tenant_a, tenant_b, deferred):
    for client in (api, api_b):
        _setup(client)
    batch(api, [buy({"email": f"a{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(5)])
    batch(api_b, [buy({"email": f"b{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(4)])
    mine, theirs = _owed()
    assert (mine.tenant_id, theirs.tenant_id) == (tenant_a.id, tenant_b.id)
    assert jobs.follow_batch(theirs.id) == 4
    assert _enrolled(tenant_a.id) == 0 and _members(tenant_a.id) == []
    assert _members(tenant_b.id) == [f"b{n}@x.com" for n in range(4)]
    assert jobs.follow_batch(mine.id) == 5
    assert _members(tenant_a.id) == [f"a{n}@x.com" for n in range(5)]
    enrolled_emails = db.session.scalars(select(Customer.email).join(
        AutomationEnrollment, AutomationEnrollment.customer_id == Customer.id)
        .where(AutomationEnrollment.tenant_id == tenant_b.id)).all()
    assert enrolled_emails and all(email.startswith("b") for email in enrolled_emails)


def test_a_customer_erased_before_the_job_is_left_out_and_the_others_are_followed(api, tenant_a, deferred):
    _setup(api)
    results = batch(api, [buy({"email": f"c{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(5)])
    gone = db.session.scalar(select(CustomerActivity.customer_id).where(CustomerActivity.id == results[0]["id"]))
    assert api.delete(f"/customers/{gone}").status_code in (200, 204)
    [owed] = _owed()
    assert jobs.follow_batch(owed.id) == 4
    assert _members(tenant_a.id) == [f"c{n}@x.com" for n in range(1, 5)]


def test_a_lost_job_is_handed_over_by_the_sweep_once_its_time_has_come(api, tenant_a, redis_server, deferred):
    _setup(api)
    batch(api, [buy({"email": f"c{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(4)])
    [owed] = _owed()
    get_queue("default").empty()  # Redis lost the job
    assert follow.enqueue_due(utcnow()) == 0  # not yet: its job may still be on the way
    assert follow.enqueue_due(utcnow() + follow.LOST_AFTER + timedelta(seconds=1)) == 1
    assert _queued() == [(f"ingest-follow-{owed.id}", "webapp.tasks.ingest.follow_batch", (owed.id,))]
    # A second sweep while the job still waits adds no second job.
    assert follow.enqueue_due(utcnow() + follow.LOST_AFTER + timedelta(seconds=2)) == 1
    assert len(_queued()) == 1
    assert jobs.follow_batch(owed.id) == 4
    assert follow.enqueue_due(utcnow() + timedelta(days=1)) == 0
    assert "ingest-followups" in {job.id for job in periodic_jobs()}


def _fail_while_locked(followup_id: int) -> None:
    """The follow-up's job, run while another connection holds the enrollments table: it
    fails on its lock timeout (a real failure in the middle of the work, not a stand-in)."""
    db.session.commit()
    blocker = db.engine.connect()
    blocker.begin()
    blocker.execute(sa.text("LOCK TABLE automation_enrollments IN ACCESS EXCLUSIVE MODE"))
    try:
        db.session.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(sa.exc.OperationalError):
            jobs.follow_batch(followup_id)
    finally:
        blocker.rollback()
        blocker.close()


def test_a_failed_followup_keeps_its_row_and_reason_and_is_retried_until_its_tries_are_spent(
        app, api, tenant_a, deferred):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a lock held by another connection times out only on PostgreSQL here")
    _setup(api)
    batch(api, [buy({"email": f"c{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(4)])
    [owed] = _owed()
    _fail_while_locked(owed.id)
    [kept] = _owed()
    assert kept.id == owed.id and kept.attempts == 1 and kept.failed_at is None
    assert "lock timeout" in kept.last_error
    assert kept.next_try_at > utcnow() + timedelta(seconds=50)  # a minute's pause before the next try
    assert _enrolled(tenant_a.id) == 0 and _members(tenant_a.id) == []  # nothing half done

    # The last try spent: the sweep leaves it, with its reason, for an operator.
    db.session.execute(sa.update(IngestFollowup).values(attempts=follow.MAX_ATTEMPTS - 1))
    db.session.commit()
    _fail_while_locked(owed.id)
    [spent] = _owed()
    assert spent.attempts == follow.MAX_ATTEMPTS and spent.failed_at is not None
    assert follow.enqueue_due(utcnow() + timedelta(days=1)) == 0

    # Run by hand once the cause is gone, it still does the work, once.
    assert jobs.follow_batch(owed.id) == 4
    assert _owed() == [] and len(_members(tenant_a.id)) == 4


def test_a_followup_failing_far_past_its_tries_keeps_a_date_in_range_and_a_short_reason(api, tenant_a, deferred):
    """Run by hand again and again after its tries were spent, the next try stays a real
    moment (2 ** attempts minutes would leave the calendar), and a database error's reason
    is the driver's message, not the statement with the customers' addresses in it."""
    _setup(api)
    batch(api, [buy({"email": f"c{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(4)])
    [owed] = _owed()
    db.session.execute(sa.update(IngestFollowup).values(attempts=500))
    db.session.commit()
    try:
        db.session.execute(sa.text("SELECT * FROM no_such_table WHERE email = :e"), {"e": "c1@x.com"})
    except sa.exc.DBAPIError as error:
        db.session.rollback()
        follow._note_failure(owed.id, error)
    [kept] = _owed()
    assert kept.attempts == 501 and kept.failed_at is not None
    assert utcnow() < kept.next_try_at < utcnow() + timedelta(days=1)
    assert "no_such_table" in kept.last_error and "c1@x.com" not in kept.last_error


def test_the_doctor_reports_a_spent_followup_and_repair_hands_it_back_to_the_sweep(
        runner, api, tenant_a, tenant_b, deferred):
    _setup(api)
    batch(api, [buy({"email": f"c{n}@x.com"}, 75, order_id=f"o-{n}") for n in range(4)])
    [owed] = _owed()
    db.session.execute(sa.update(IngestFollowup).values(
        attempts=follow.MAX_ATTEMPTS, failed_at=utcnow(), last_error="canceling statement due to lock timeout"))
    db.session.commit()
    assert follow.enqueue_due(utcnow() + timedelta(days=1)) == 0  # spent: the sweep leaves it

    report = runner.invoke(args=["crm", "doctor"])
    assert report.exit_code == 1, report.output
    assert f"ingest_followups #{owed.id} (tenant {tenant_a.id})" in report.output
    assert "a batch of 4 activities failed 6 times (last: canceling statement due to lock timeout)" in report.output
    assert _owed()[0].failed_at is not None  # reported, not changed

    repaired = runner.invoke(args=["crm", "doctor", "--repair"])
    assert "1 repaired, 0 left" in repaired.output, repaired.output
    [again] = _owed()
    assert (again.failed_at, again.attempts) == (None, 0)
    assert follow.enqueue_due(utcnow() + timedelta(seconds=1)) == 1
    assert jobs.follow_batch(owed.id) == 4
    assert _owed() == [] and len(_members(tenant_a.id)) == 4 and _members(tenant_b.id) == []
    assert runner.invoke(args=["crm", "doctor"]).exit_code == 0
