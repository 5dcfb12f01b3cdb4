"""An on-sale burst: several clients at once sending purchases, purchase batches and customer
batches over the same customers, new and known. Nothing is lost or counted twice, nobody gets
a 500, and what PostgreSQL rolls back for contention (a deadlock) runs again by itself."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from tests.campaigns.campaign_support import ready_tenant
from webapp.extensions import db
from webapp.infra.sql import commits_so_far, savepoint
from webapp.models import AutomationEnrollment, Customer, CustomerActivity, CustomerSegment, CustomerSegmentMember
from webapp.services.segments import calculate_segment

EMAILS = [f"fan{n}@x.com" for n in range(12)]


def _burst_client(app, token: str, seed: int) -> list[tuple[str, int, dict]]:
    """Thirty requests of one client: single purchases, purchase batches of fifteen and
    customer batches of six, over the same twelve emails as the other clients."""
    rng = random.Random(seed)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    log = []
    for r in range(30):
        kind = rng.random()
        if kind < 0.4:
            response = client.post("/api/crm/activities", headers=headers, json={
                "customer": {"email": rng.choice(EMAILS)}, "type": "purchase",
                "properties": {"order_total": 30, "order_id": f"c{seed}-{r}"}})
            log.append(("single", response.status_code, response.get_json()))
        elif kind < 0.8:
            items = [{"customer": {"email": rng.choice(EMAILS)}, "type": "purchase",
                      "properties": {"order_total": 30, "order_id": f"c{seed}-{r}-{k}"}} for k in range(15)]
            response = client.post("/api/crm/activities/batch", headers=headers, json={"activities": items})
            log.append(("batch", response.status_code, response.get_json()))
        else:
            response = client.post("/api/crm/customers/batch", headers=headers, json={"customers": [
                {"email": email, "tags": ["vip"] if rng.random() < 0.5 else []} for email in rng.sample(EMAILS, 6)]})
            log.append(("customers", response.status_code, response.get_json()))
    return log


def test_a_burst_from_four_clients_counts_every_purchase_once_and_answers_no_500(app, api, tenant_a,
                                                                                  run_in_threads):
    ready_tenant(tenant_a.id)
    for conditions in ([{"type": "total_spent", "operator": ">=", "value": 100}],
                       [{"type": "orders_count", "operator": ">=", "value": 3}],
                       [{"type": "tag", "value": "vip"}]):
        assert api.post("/segments", json={"name": conditions[0]["type"], "conditions": conditions}).status_code == 201
    workflow = api.post("/workflows", json={"name": "Thanks", "trigger_type": "purchase", "steps": [
        {"type": "send_email", "config": {"subject": "Thanks", "content": "<p>x</p>"}}]}).get_json()
    assert api.post(f"/workflows/{workflow['id']}/toggle", json={"active": True}).status_code == 200

    logs = run_in_threads(app, 4, lambda i: _burst_client(app, tenant_a.token, i))

    assert not [log for log in logs if isinstance(log, BaseException)], logs
    answers = [entry for log in logs for entry in log]
    assert [(kind, status) for kind, status, _ in answers if status >= 500] == []
    accepted = sum(status == 201 for kind, status, _ in answers if kind == "single")
    for kind, status, body in answers:
        if kind == "batch":
            assert status == 200, body
            accepted += sum(result["status"] == 201 for result in body["results"])
    db.session.remove()
    customers = db.session.execute(select(Customer.email, Customer.total_spent, Customer.orders_count)
                                   .where(Customer.tenant_id == tenant_a.id)).all()
    assert sorted(c.email for c in customers) == sorted(EMAILS)  # each created once
    purchases = db.session.execute(select(func.count(), func.count(func.distinct(CustomerActivity.order_id)))
                                   .where(CustomerActivity.tenant_id == tenant_a.id,
                                          CustomerActivity.type == "purchase")).one()
    assert tuple(purchases) == (accepted, accepted)
    assert sum(c.orders_count for c in customers) == accepted
    assert sum(c.total_spent for c in customers) == Decimal(30 * accepted)
    # The workflow takes each buyer once however many of their purchases raced.
    assert db.session.scalar(select(func.count(func.distinct(AutomationEnrollment.customer_id)))
                             .where(AutomationEnrollment.tenant_id == tenant_a.id)) == \
        db.session.scalar(select(func.count()).select_from(AutomationEnrollment)
                          .where(AutomationEnrollment.tenant_id == tenant_a.id))
    for segment in db.session.scalars(select(CustomerSegment).where(CustomerSegment.tenant_id == tenant_a.id)):
        live = set(db.session.scalars(select(CustomerSegmentMember.customer_id)
                                      .where(CustomerSegmentMember.segment_id == segment.id)))
        calculate_segment(tenant_a.id, segment.id)
        db.session.commit()
        assert live == set(db.session.scalars(select(CustomerSegmentMember.customer_id)
                                              .where(CustomerSegmentMember.segment_id == segment.id))), segment.name


# --- the same races, one at a time, on PostgreSQL (a second connection holds the other side) ---

def _waiting_on_a_lock(marker: str, seconds: float = 10.0) -> None:
    """Until a backend whose query contains `marker` waits on a lock."""
    deadline = time.monotonic() + seconds
    with db.engine.connect() as probe:
        while time.monotonic() < deadline:
            waiting = probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                         "AND query LIKE :marker"), {"marker": f"%{marker}%"}).scalar()
            if waiting:
                return
            probe.rollback()  # pg_stat_activity is read once a transaction
            time.sleep(0.02)
    raise AssertionError(f"nothing waited on a lock in {marker!r}")


def _in_thread(app, work):
    """work() in a thread with its own app context; returns a function that joins it and gives its result."""
    result: dict = {}

    def run() -> None:
        with app.app_context():
            try:
                result["value"] = work()
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()

    def join():
        thread.join(30)
        assert not thread.is_alive()
        return result["value"]
    return join


def _insert_customer(connection, tenant_id: int, email: str) -> int:
    return connection.execute(text(
        "INSERT INTO customers (tenant_id, email, first_name, attributes, email_status, total_spent, orders_count, "
        "created_at, updated_at) VALUES (:t, :e, 'Early', '{}', 'subscribed', 0, 0, now(), now()) RETURNING id"),
        {"t": tenant_id, "e": email}).scalar()


@pytest.mark.parametrize("item", [{"email": "new@x.com", "first_name": "Ada", "email_status": "subscribed"},
                                  {"email": "new@x.com", "first_name": "Ada"}], ids=["item by item", "set-based"])
def test_a_customer_created_by_another_request_meanwhile_is_updated_not_refused(app, tenant_a, other, item):
    """The batch's insert waits on the other request's new row; once that commits, the item
    is an update of it (it was a 500 when the item ran in a savepoint)."""
    transaction = other.begin()
    created = _insert_customer(other, tenant_a.id, "new@x.com")
    db.session.commit()
    client = app.test_client()
    join = _in_thread(app, lambda: client.post("/api/crm/customers/batch", json={"customers": [
        {"email": "bo@x.com"}, item]}, headers={"Authorization": f"Bearer {tenant_a.token}"}))
    _waiting_on_a_lock("INSERT INTO customers")
    transaction.commit()
    response = join()
    assert response.status_code == 200, response.get_json()
    first, second = response.get_json()["results"]
    assert (first["status"], second["status"], second["id"]) == (201, 200, created)
    db.session.remove()
    assert db.session.scalar(select(Customer.first_name).where(Customer.id == created)) == "Ada"


def test_a_purchase_batch_buys_for_a_customer_another_request_created_meanwhile(app, tenant_a, other):
    transaction = other.begin()
    created = _insert_customer(other, tenant_a.id, "new@x.com")
    db.session.commit()
    client = app.test_client()
    join = _in_thread(app, lambda: client.post("/api/crm/activities/batch", json={"activities": [
        {"customer": {"email": "new@x.com"}, "type": "purchase",
         "properties": {"order_total": 25, "order_id": "o-1"}}]},
        headers={"Authorization": f"Bearer {tenant_a.token}"}))
    _waiting_on_a_lock("INSERT INTO customers")
    transaction.commit()
    response = join()
    assert response.status_code == 200
    [result] = response.get_json()["results"]
    assert result["status"] == 201
    db.session.remove()
    buyer = db.session.execute(select(Customer.id, Customer.total_spent, Customer.orders_count)
                               .where(Customer.email == "new@x.com")).one()
    assert tuple(buyer) == (created, Decimal("25.00"), 1)


def test_a_request_rolled_back_for_a_deadlock_runs_again_and_succeeds(app, tenant_a, other):
    """A real deadlock: another transaction holds Bo and then asks for Ada while the batch
    holds Ada and waits for Bo. PostgreSQL rolls the batch back (its deadlock check comes
    first); the batch runs again once the other commits, and answers 200 as if nothing was."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tenant_a.token}"}
    for email in ("ada@x.com", "bo@x.com"):
        assert client.post("/api/crm/customers", json={"email": email}, headers=headers).status_code == 201
    ada, bo = (db.session.scalar(select(Customer.id).where(Customer.email == email)) for email in ("ada@x.com",
                                                                                                  "bo@x.com"))
    deadlocks_before = db.session.scalar(text("SELECT deadlocks FROM pg_stat_database "
                                              "WHERE datname = current_database()")) \
        if db.engine.dialect.name == "postgresql" else 0
    db.session.commit()
    transaction = other.begin()
    other.execute(text("SET LOCAL deadlock_timeout = '10s'"))  # the batch's check (1 s) finds the cycle
    other.execute(text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": bo})
    join = _in_thread(app, lambda: client.post("/api/crm/customers/batch", json={"customers": [
        {"email": "ada@x.com", "tags": ["vip"]}, {"email": "bo@x.com", "tags": ["vip"]}]}, headers=headers))
    _waiting_on_a_lock("FOR NO KEY UPDATE")  # the batch holds Ada and waits for Bo
    other.execute(text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": ada})  # the circle closes
    transaction.commit()
    response = join()
    assert response.status_code == 200, response.get_json()
    assert [r["status"] for r in response.get_json()["results"]] == [200, 200]
    db.session.remove()
    assert db.session.scalar(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")) \
        == deadlocks_before + 1
    assert sorted(db.session.scalars(text("SELECT customer_id FROM customer_tags WHERE tag = 'vip'"))) == [ada, bo]


def test_only_what_the_database_made_durable_counts_as_committed(app, tenant_a):
    """The retry's guard: a savepoint's release is not a commit, the transaction's is."""
    before = commits_so_far()
    with savepoint():
        db.session.execute(text("UPDATE tenants SET name = name WHERE id = :id"), {"id": tenant_a.id})
    assert commits_so_far() == before
    db.session.commit()
    assert commits_so_far() == before + 1


@pytest.mark.parametrize("refused, status", [(2, 200), (3, 503)])
def test_a_write_lost_to_contention_is_run_again_three_times_then_answered_503(
        app, api, tenant_a, refusing_customer_writes, refused, status):
    ada = api.post("/customers", json={"email": "ada@x.com"}).get_json()["id"]
    db.session.commit()
    refusing_customer_writes(refused)  # each attempt's UPDATE of Ada is refused until none are left
    response = api.patch(f"/customers/{ada}", json={"first_name": "Ada"})
    assert response.status_code == status, response.get_json()
    db.session.remove()
    name = db.session.scalar(select(Customer.first_name).where(Customer.id == ada))
    if status == 200:
        assert name == "Ada"
    else:
        # Ours, not the rate limit window's reset that Flask-Limiter would write (a minute away).
        assert response.get_json()["error"]["code"] == "busy" and response.headers["Retry-After"] == "1"
        assert name is None  # nothing of it was saved


@pytest.mark.parametrize("refused", [2, 3])
def test_after_a_ticket_scan_commits_a_run_refused_for_contention_is_run_again_or_answered_busy(
        app, api, tenant_a, refusing_customer_writes, refused):
    """A batch commits before and after each ticket scan, so the API cannot run it again from
    the start; what follows a commit is run again in place (3 attempts), then its items are
    answered 503 busy while the items committed before keep their answers (it was a 500)."""
    bo = api.post("/customers", json={"email": "bo@x.com"}).get_json()["id"]
    db.session.commit()
    refusing_customer_writes(refused, email="bo@x.com")  # only Bo's row: the run after the scan
    response = api.post("/activities/batch", json={"activities": [
        {"customer": {"email": "ann@x.com"}, "type": "purchase",
         "properties": {"order_total": 30, "order_id": "o-ann",
                        "event": {"id": "ev-1", "name": "Gala", "starts_at": "2027-02-01T19:00:00+01:00"}}},
        {"customer": {"email": "ann@x.com"}, "type": "ticket_scanned",
         "properties": {"event": {"external_id": "ev-1"}, "ticket": "T-1"}},
        {"customer_id": bo, "type": "purchase", "properties": {"order_total": 12, "order_id": "o-bo"}}]})
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ([201, 201, 201] if refused < 3 else [201, 201, 503])
    db.session.remove()
    stored = dict(db.session.execute(select(CustomerActivity.type, func.count()).where(
        CustomerActivity.tenant_id == tenant_a.id).group_by(CustomerActivity.type)).all())
    bought = dict(db.session.execute(select(Customer.email, Customer.orders_count)
                                     .where(Customer.tenant_id == tenant_a.id)).all())
    if refused < 3:
        assert (stored["purchase"], stored["ticket_scanned"], bought) == (2, 1, {"ann@x.com": 1, "bo@x.com": 1})
    else:
        assert results[2]["error"]["code"] == "busy" and "send it again" in results[2]["error"]["message"]
        # Ann's purchase and scan stay stored; nothing of Bo's purchase was.
        assert (stored["purchase"], stored["ticket_scanned"], bought) == (1, 1, {"ann@x.com": 1, "bo@x.com": 0})
