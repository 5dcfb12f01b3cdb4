"""Batch ingest: many activities or customers in one request, with the single path's meaning.

The platform sends a whole on-sale minute of purchases at once. Each item gets the answer
POST /activities would have given it (201 created, 200 already recorded, 4xx refused), but
the work is done over sets: the items are checked in Python first, then one SELECT finds
every referenced customer, one INSERT creates the missing ones, one SELECT finds the
idempotency keys and order ids already recorded, one INSERT stores the new activities. Then,
per round (each customer once a round: an on-sale batch is one), one UPDATE moves the
aggregates of every purchasing customer and the round's purchases are credited to campaigns.
The events purchases name are linked at once and each round's line items stored by one
INSERT (ingest/tickets.py). What follows the rows (segments, enrollments, goals, wake-ups:
ingest/follow.py) is done in the request for a batch of up to BATCH_FOLLOW_INLINE_MAX
stored activities, and by a worker right after commit for a larger one. Ticket scans go
through record_activity itself, in their place in the request.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, bindparam, insert, or_, select, text

from webapp.extensions import db
from webapp.infra.errors import DomainError, NotFound, ValidationFailed
from webapp.infra.sql import commits_so_far, dialect, insert_ignoring_duplicates
from webapp.infra.types import UTCDateTime, utcnow
from webapp.infra.validation import check_storable, utc_moment
from webapp.models import Customer, CustomerActivity
from webapp.services import rollups, webhooks
from webapp.services.activities import check_activity_type, read_purchase, record_activity
from webapp.services.campaigns.stats import attribute_purchase
from webapp.services.customers import MAX_MONEY
from webapp.services.ingest import follow
from webapp.services.ingest.items import Item
from webapp.services.ingest.results import Result, error_result, run_unit
from webapp.services.ingest.tickets import link_batch_events, store_tickets
from webapp.services.tenants import normalise_email
from webapp.services.webhooks import customer_ref


@dataclass
class _Plan:
    tenant_id: int
    results: dict[int, Result]
    bulk: list[Item] = field(default_factory=list)
    # The named customers' last_touched_at (the touched ones only), from the batch's one read of them.
    touched: dict[int, datetime] = field(default_factory=dict)


def _needs_single_path(data: dict[str, Any]) -> bool:
    # Ticket scans read the ticket and mark attendance: they go through record_activity itself.
    return data["type"] == "ticket_scanned"


def _check(index: int, data: dict[str, Any], now: datetime) -> Item:
    """What record_activity checks before it reads the database, for one item."""
    check_activity_type(data["type"])
    properties = dict(data.get("properties") or {})
    check_storable(properties, "properties")
    item = Item(index, data["type"], properties, now, data.get("customer_id"), dict(data.get("customer") or {}),
                 data.get("idempotency_key"))
    if item.type == "purchase":
        item.purchase = read_purchase(properties)
    if data.get("occurred_at") is not None:
        item.occurred_at = utc_moment(data["occurred_at"], "occurred_at")
    if item.customer_id is None and item.ref.get("email"):
        item.ref["email"] = normalise_email(item.ref["email"], "customer.email")
    if item.customer_id is None and item.ref.get("external_id") is not None:
        item.ref["external_id"] = str(item.ref["external_id"])
    if item.customer_id is None and not item.ref.get("email") and item.ref.get("external_id") is None:
        raise ValidationFailed("customer_id", "give customer_id, or customer with email or external_id")
    return item


class _Customers:
    """Every customer the batch names, read and locked in one SELECT (in id order, as
    customer_locks does: two batches sharing customers queue instead of deadlocking, whether
    they name them by id, email or external id); new ones are noted by email."""

    def __init__(self, tenant_id: int, items: list[Item]):
        ids = {i.customer_id for i in items if i.customer_id is not None}
        emails = {i.ref["email"] for i in items if i.customer_id is None and i.ref.get("email")}
        externals = {i.ref["external_id"] for i in items if i.customer_id is None and i.ref.get("external_id")}
        clauses = [column.in_(values) for column, values in
                   ((Customer.id, ids), (Customer.email, emails), (Customer.external_id, externals)) if values]
        rows = db.session.execute(select(Customer.id, Customer.email, Customer.external_id, Customer.total_spent,
                                         Customer.last_touched_at)
                                  .where(Customer.tenant_id == tenant_id, or_(*clauses))
                                  .order_by(Customer.id).with_for_update(key_share=True)).all() if clauses else []
        self.ids = {r.id for r in rows}
        self.by_email = {r.email: r.id for r in rows}
        self.by_external = {r.external_id: r.id for r in rows if r.external_id is not None}
        self.total = {r.id: Decimal(r.total_spent or 0) for r in rows}
        self.touched = {r.id: r.last_touched_at for r in rows if r.last_touched_at is not None}
        self.new: dict[str, dict[str, Any]] = {}  # email -> the row to insert
        self.new_by_external: dict[str, str] = {}

    def resolve(self, item: Item) -> None:
        """As activities._resolve_customer: by id, else external_id, else email (created)."""
        if item.customer_id is not None:
            if item.customer_id not in self.ids:
                raise NotFound("customer not found")
            item.target = item.customer_id
            return
        external, email = item.ref.get("external_id"), item.ref.get("email")
        if external is not None and external in self.by_external:
            item.target = self.by_external[external]
        elif external is not None and external in self.new_by_external:
            item.new_email = self.new_by_external[external]
        elif email and email in self.by_email:
            item.target = self.by_email[email]
        elif email and email in self.new:
            item.new_email = email
        elif email:
            self.new[email] = {"email": email, "external_id": external, "first_name": item.ref.get("first_name"),
                               "last_name": item.ref.get("last_name")}
            if external is not None:
                self.new_by_external[external] = email
            item.new_email = email
        else:
            raise NotFound("customer not found: no customer has this external_id; add customer.email to create one")

    def create(self, tenant_id: int) -> dict[str, int]:
        """Insert the new customers in one statement; their ids by email (a concurrent
        request that created one first: that one)."""
        if not self.new:
            return {}
        now = utcnow()
        # In email order: two batches creating the same new customers wait on each other's
        # unique entries in one order, never in a circle.
        rows = [{**row, "tenant_id": tenant_id, "attributes": {}, "email_status": "subscribed",
                 "total_spent": Decimal("0"), "orders_count": 0, "created_at": now, "updated_at": now}
                for _, row in sorted(self.new.items())]
        created = db.session.execute(insert_ignoring_duplicates(Customer.__table__).returning(
            Customer.id, Customer.email, Customer.external_id, Customer.first_name, Customer.last_name), rows).all()
        ids = {r.email: r.id for r in created}
        taken = [email for email in self.new if email not in ids]  # created by a concurrent request
        if taken:
            # Locked as the others were (after ours: they are newer than every customer we hold).
            ids.update((r.email, r.id) for r in db.session.execute(select(Customer.id, Customer.email).where(
                Customer.tenant_id == tenant_id, Customer.email.in_(taken))
                .order_by(Customer.id).with_for_update(key_share=True)))
        if created:
            webhooks.emit_many(tenant_id, "customer.created", lambda: [
                {"customer": {**customer_ref(r), "email_status": "subscribed", "tags": []}, "source": "api"}
                for r in created])
        return ids


def _walk(plan: _Plan, items: list[Item]) -> None:
    """In request order: already recorded (200), a repeat within the batch (200 pointing at
    the first), a customer that cannot be found (404), a purchase past MAX_MONEY (422)."""
    tenant_id = plan.tenant_id
    keys = {i.idempotency_key for i in items if i.idempotency_key}
    orders = {i.order_id for i in items if i.order_id}
    recorded_keys: dict[str, int] = {}
    recorded_orders: dict[str, int] = {}
    if keys or orders:
        clauses = [c.in_(v) for c, v in ((CustomerActivity.idempotency_key, keys),
                                         (CustomerActivity.order_id, orders)) if v]
        for row in db.session.execute(select(CustomerActivity.id, CustomerActivity.idempotency_key,
                                             CustomerActivity.order_id)
                                      .where(CustomerActivity.tenant_id == tenant_id, or_(*clauses))):
            if row.idempotency_key:
                recorded_keys[row.idempotency_key] = row.id
            if row.order_id:
                recorded_orders[row.order_id] = row.id
    customers = _Customers(tenant_id, items)
    plan.touched = customers.touched
    seen_keys: dict[str, int] = {}
    seen_orders: dict[str, int] = {}
    totals = dict(customers.total)
    new_totals: dict[str, Decimal] = {}
    for item in items:
        stored = recorded_keys.get(item.idempotency_key or "") or recorded_orders.get(item.order_id or "")
        if stored is not None:
            plan.results[item.index] = {"index": item.index, "status": 200, "id": stored}
            continue
        first = seen_keys.get(item.idempotency_key or "", seen_orders.get(item.order_id or ""))
        if first is not None:
            item.dup_of = first
            plan.bulk.append(item)
            continue
        try:
            customers.resolve(item)
            if item.amount is not None:
                running = totals if item.target is not None else new_totals
                key = item.target if item.target is not None else item.new_email
                after = running.get(key, Decimal("0")) + item.amount
                if after >= MAX_MONEY:
                    raise ValidationFailed("properties.order_total", "would take the customer's total spent above "
                                                                     f"{MAX_MONEY - Decimal('0.01'):,}")
                running[key] = after
        except DomainError as error:
            plan.results[item.index] = error_result(item.index, error)
            continue
        if item.idempotency_key:
            seen_keys[item.idempotency_key] = item.index
        if item.order_id:
            seen_orders[item.order_id] = item.index
        plan.bulk.append(item)
    new_ids = customers.create(tenant_id)
    for item in plan.bulk:
        if item.new_email is not None:
            item.target = new_ids[item.new_email]


def _insert(plan: _Plan) -> list[Item]:
    """Store the new activities; returns those stored (a concurrent duplicate is not)."""
    fresh = [i for i in plan.bulk if i.dup_of is None]
    if not fresh:
        return []
    now = utcnow()
    rows = [{"tenant_id": plan.tenant_id, "customer_id": i.target, "type": i.type, "properties": i.properties,
             "occurred_at": i.occurred_at, "created_at": now, "idempotency_key": i.idempotency_key,
             "order_id": i.order_id, "amount": i.amount, "event_id": i.event_id, "event_name": i.event_name}
            for i in fresh]
    keyed = [n for n, i in enumerate(fresh) if i.idempotency_key or i.order_id]
    plain = [n for n, i in enumerate(fresh) if not (i.idempotency_key or i.order_id)]
    if dialect() == "postgresql":
        _insert_postgres(plan.tenant_id, fresh, now, keyed, plain)
        return [i for i in fresh if i.id is not None]
    # Rows without a key cannot be duplicates: a plain INSERT, ids back in the rows' order.
    statement = insert(CustomerActivity.__table__).returning(CustomerActivity.id, sort_by_parameter_order=True)
    if plain:
        for n, row in zip(plain, db.session.execute(statement, [rows[n] for n in plain]).all(), strict=True):
            fresh[n].id = row.id
    if keyed:
        # ON CONFLICT DO NOTHING drops a row another request stored meanwhile, so the rows
        # that came back are matched by their key, and the others answered with the stored id.
        stored = db.session.execute(insert_ignoring_duplicates(CustomerActivity.__table__).returning(
            CustomerActivity.id, CustomerActivity.idempotency_key, CustomerActivity.order_id),
            [rows[n] for n in keyed]).all()
        by_key = {r.idempotency_key: r.id for r in stored if r.idempotency_key}
        by_order = {r.order_id: r.id for r in stored if r.order_id}
        for n in keyed:
            item = fresh[n]
            item.id = by_key.get(item.idempotency_key or "") or by_order.get(item.order_id or "")
    return [i for i in fresh if i.id is not None]


# The rows as one JSON document (psycopg parses a statement of 11,000 placeholders for a
# third of a second), inserted in the document's order so that identity values follow it.
_POSTGRES_INSERT = text("""
INSERT INTO customer_activities (tenant_id, customer_id, type, properties, occurred_at, created_at,
                                 idempotency_key, order_id, amount, event_id, event_name)
SELECT :tenant_id, (e->>'customer_id')::bigint, e->>'type', e->'properties', (e->>'occurred_at')::timestamptz,
       :now, e->>'idempotency_key', e->>'order_id', (e->>'amount')::numeric, e->>'event_id', e->>'event_name'
FROM jsonb_array_elements(CAST(:data AS jsonb)) WITH ORDINALITY AS t(e, n) ORDER BY n
ON CONFLICT DO NOTHING
RETURNING id, idempotency_key, order_id""").bindparams(bindparam("now", type_=UTCDateTime))


def _insert_postgres(tenant_id: int, fresh: list[Item], now: datetime, keyed: list[int], plain: list[int]) -> None:
    data = json.dumps([{"customer_id": i.target, "type": i.type, "properties": i.properties,
                        "occurred_at": i.occurred_at.isoformat(), "idempotency_key": i.idempotency_key,
                        "order_id": i.order_id, "amount": None if i.amount is None else str(i.amount),
                        "event_id": i.event_id, "event_name": i.event_name}
                       for i in fresh])
    stored = db.session.execute(_POSTGRES_INSERT, {"tenant_id": tenant_id, "now": now, "data": data}).all()
    # Rows with a key or order id are matched by it (ON CONFLICT DO NOTHING drops one another
    # request stored meanwhile); the others cannot conflict, and the sequence numbered them in
    # the SELECT's order (SQLAlchemy's own insertmanyvalues relies on the same).
    by_key = {r.idempotency_key: r.id for r in stored if r.idempotency_key}
    by_order = {r.order_id: r.id for r in stored if r.order_id}
    for n in keyed:
        fresh[n].id = by_key.get(fresh[n].idempotency_key or "") or by_order.get(fresh[n].order_id or "")
    unkeyed = sorted(r.id for r in stored if not (r.idempotency_key or r.order_id))
    for n, activity_id in zip(plain, unkeyed, strict=True):
        fresh[n].id = activity_id


_SQLITE_MOMENT = "%Y-%m-%d %H:%M:%S.%f"
_SQLITE_SUMS = ("SELECT json_extract(value, '$.id') AS id, CAST(json_extract(value, '$.spent') AS NUMERIC) AS spent, "
                "json_extract(value, '$.n') AS n, json_extract(value, '$.last') AS last FROM json_each(:data)")
_POSTGRES_SUMS = ("SELECT * FROM jsonb_to_recordset(CAST(:data AS jsonb)) "
                  "AS b(id bigint, spent numeric, n integer, last timestamptz)")
# What _apply_purchase does for one purchase, for every customer's sum at once.
_AGGREGATES = """
UPDATE customers SET total_spent = customers.total_spent + b.spent, orders_count = customers.orders_count + b.n,
    last_order_at = CASE WHEN customers.last_order_at IS NULL OR customers.last_order_at < b.last
                         THEN b.last ELSE customers.last_order_at END,
    updated_at = :now
FROM ({source}) AS b
WHERE customers.id = b.id AND customers.total_spent + b.spent < :max"""


def _move_aggregates(stored: list[Item]) -> None:
    """One UPDATE for every purchasing customer: the sum of their purchases, their count
    and the latest moment, exactly what one _apply_purchase per purchase adds up to."""
    sums: dict[int, tuple[Decimal, int, datetime]] = {}
    for item in stored:
        if item.amount is None:
            continue
        total, count, last = sums.get(item.target, (Decimal("0"), 0, item.occurred_at))  # type: ignore[arg-type]
        sums[item.target] = (total + item.amount, count + 1, max(last, item.occurred_at))  # type: ignore[index]
    if not sums:
        return
    sqlite = dialect() == "sqlite"
    data = json.dumps([{"id": cid, "spent": str(spent), "n": count,
                        # As each backend stores the column (SQLite: naive UTC text, webapp/infra/types.py).
                        "last": last.astimezone(UTC).strftime(_SQLITE_MOMENT) if sqlite else last.isoformat()}
                       for cid, (spent, count, last) in sorted(sums.items())])
    # The per-customer sums arrive as one JSON document: one bound value however many customers.
    source = _SQLITE_SUMS if sqlite else _POSTGRES_SUMS
    moved = db.session.execute(text(_AGGREGATES.format(source=source)).bindparams(
        bindparam("now", type_=UTCDateTime), bindparam("max", type_=Numeric(14, 2))),
        {"data": data, "now": utcnow(), "max": MAX_MONEY}).rowcount
    if moved != len(sums):
        # Only a concurrent purchase between our read and this UPDATE gets here: nothing of
        # the batch is kept, and the client sends it again.
        raise ValidationFailed("activities", "a customer's total spent moved meanwhile past what it holds; "
                                             "send the batch again")


def _rounds(stored: list[Item]) -> list[list[Item]]:
    """The stored activities in rounds where each customer appears once, in request order:
    a customer's second purchase of the batch is applied after everyone's first, so its
    aggregates, segments, goals and re-entry see what a second request would have seen.
    An on-sale batch (one order per buyer) is one round."""
    rounds: list[list[Item]] = []
    seen: dict[int, int] = {}
    for item in stored:
        n = seen.get(item.target, 0)  # type: ignore[arg-type]
        seen[item.target] = n + 1  # type: ignore[index]
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
    return rounds


def _credit(tenant_id: int, stored: list[Item], touched: dict[int, datetime]) -> None:
    """Each purchase's credit to the campaign that last touched its buyer, as record_activity
    gives it (customers created by this batch were never touched)."""
    for item in stored:
        if item.amount is not None and item.target in touched:
            attribute_purchase(item.as_activity(tenant_id), last_touched_at=touched[item.target])


def _record_one(tenant_id: int, results: dict[int, Result], index: int, data: dict[str, Any]) -> None:
    """One item through record_activity (a ticket scan), in its own transaction."""
    try:
        activity, created = record_activity(tenant_id, data["type"], customer_id=data.get("customer_id"),
                                            customer=data.get("customer"), properties=data.get("properties"),
                                            occurred_at=data.get("occurred_at"),
                                            idempotency_key=data.get("idempotency_key"))
    except DomainError as error:
        db.session.rollback()
        results[index] = error_result(index, error)
        return
    results[index] = {"index": index, "status": 201 if created else 200, "id": activity.id}


def ingest_activities(tenant_id: int, items: list[dict[str, Any] | DomainError]) -> list[Result]:
    """Record many activities (each as record_activity takes one, or the error its shape
    already earned) and answer each in request order: {"index", "status": 201|200, "id"} or
    {"index", "status": 4xx, "error"}. A refused item changes nothing; the others are
    stored, counted and followed as record_activity would. Consecutive items go set-based in
    one transaction; a ticket scan goes through record_activity in its own, in its place in
    the request (a scan may follow the purchase of its ticket in the same batch)."""
    results: dict[int, Result] = {}
    now = utcnow()
    # (through record_activity?, [(index, item as sent, checked Item or None)]) in request order
    runs: list[tuple[bool, list[tuple[int, dict[str, Any], Item | None]]]] = []
    for index, data in enumerate(items):
        if isinstance(data, DomainError):
            results[index] = error_result(index, data)
            continue
        single = _needs_single_path(data)
        try:
            checked = None if single else _check(index, data, now)
        except DomainError as error:
            results[index] = error_result(index, error)
            continue
        if not runs or runs[-1][0] != single:
            runs.append((single, []))
        runs[-1][1].append((index, data, checked))
    since = commits_so_far()
    for single, entries in runs:
        if single:
            for index, data, _ in entries:
                run_unit(functools.partial(_record_one, tenant_id, results, index, data), [index], results, since)
        else:
            run_unit(_bulk_unit(tenant_id, results, entries, now), [index for index, _, _ in entries], results,
                     since)
    return [results[index] for index in range(len(items))]


def _bulk_unit(tenant_id: int, results: dict[int, Result], entries: list[tuple[int, dict[str, Any], Item | None]],
               now: datetime) -> Callable[[], None]:
    """A run of checked items, set-based; run again, checked afresh (an attempt's Items carry
    what its rolled-back transaction found and stored)."""
    fresh: list[list[Item]] = [[item for _, _, item in entries]]  # type: ignore[misc]
    return lambda: _ingest_checked(_Plan(tenant_id, results), fresh.pop() if fresh else
                                   [_check(index, data, now) for index, data, _ in entries])


def _ingest_checked(plan: _Plan, checked: list[Item]) -> None:
    """Checked items, set-based, in one transaction."""
    tenant_id = plan.tenant_id
    _walk(plan, checked)  # locks the batch's customers (_Customers) before any UPDATE
    # The purchase rollups of what this batch inserts: set-based before commit, not row by row at it.
    with rollups.left_to_caller(db.session):
        stored = _insert(plan)
    stored_at = {i.index for i in stored}
    by_index = {i.index: i for i in plan.bulk}
    for item in plan.bulk:
        if item.dup_of is not None:
            item.id = by_index[item.dup_of].id
    for item in plan.bulk:
        if item.id is None:
            # Stored by a concurrent request meanwhile: answer with its row, as record_activity does.
            item.id = db.session.scalar(select(CustomerActivity.id).where(
                CustomerActivity.tenant_id == tenant_id,
                or_(CustomerActivity.idempotency_key == bindparam("k", item.idempotency_key),
                    CustomerActivity.order_id == bindparam("o", item.order_id))).limit(1))
        created = item.index in stored_at
        plan.results[item.index] = {"index": item.index, "status": 201 if created else 200, "id": item.id}
    events = link_batch_events(tenant_id, stored)
    # A large batch leaves the follow-up of customers who appear in it once to a worker: their
    # state is final once the first round is in, so the worker sees what the request would
    # have. Customers buying twice are followed here, round by round.
    appearances = Counter(i.target for i in stored)
    deferred = len(stored) > follow.inline_max()
    owed: list[int] = []
    owed_guests: set[int] = set()
    for round_ in _rounds(stored):
        _move_aggregates(round_)
        with rollups.left_to_caller(db.session):
            guests = store_tickets(tenant_id, round_, events)
        _credit(tenant_id, round_, plan.touched)
        here = [i for i in round_ if not deferred or appearances[i.target] > 1]
        if deferred:
            owed += [i.id for i in round_ if appearances[i.target] == 1]  # type: ignore[misc]
            owed_guests |= guests
            guests = set()
        if here or guests:
            follow.follow_round(tenant_id, [follow.Stored(i.target, i.type, i.properties, i.occurred_at)  # type: ignore
                                            for i in here], guests)
    rollups.apply_inserted(db.session, [i.id for i in stored])  # type: ignore[misc]
    if owed or owed_guests:
        follow.defer(tenant_id, owed, owed_guests)
    db.session.commit()
