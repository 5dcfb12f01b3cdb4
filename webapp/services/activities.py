"""Customer activities: purchases and other events from the platform, and the timeline."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, NoReturn

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy import Row, bindparam, case, func, or_, select, text, update

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.infra.sql import dialect, insert_ignoring_duplicates
from webapp.infra.types import UTCDateTime, utcnow
from webapp.infra.validation import (
    LooseMoment,
    check_storable,
    number_only,
    utc_moment,
    validate,
)
from webapp.models import SYSTEM_ACTIVITY_TYPES, Customer, CustomerActivity, Tenant
from webapp.services.activity_log import log_activity
from webapp.services.campaigns.stats import attribute_purchase
from webapp.services.changes import customer_changed
from webapp.services.customers import MAX_MONEY, find_customer, get_customer, upsert_customer
from webapp.services.enrollment import wake_awaiting
from webapp.services.events.attendance import mark_attended, read_scan
from webapp.services.events.purchases import MAX_ITEMS, LineItem, link_event, store_items
from webapp.services.events.reminders import remind_late_buyer
from webapp.services.tenants import normalise_email

ACTIVITY_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _fits_key_column(value: str | int) -> str | int:
    # Order and event ids are stored as text in String(200) columns.
    if len(str(value)) > 200:
        raise ValueError("at most 200 characters")
    return value


ExternalKey = Annotated[str | int, AfterValidator(_fits_key_column)]


class EventInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    # The platform's id of the event: `external_id`, or `id` as purchases have always said.
    external_id: ExternalKey | None = None
    id: ExternalKey | None = None
    name: str | None = Field(default=None, max_length=300)
    starts_at: LooseMoment | None = None
    venue: str | None = Field(default=None, max_length=300)


class PurchaseProperties(BaseModel):
    """What a purchase must carry; other keys are kept as given."""

    model_config = ConfigDict(extra="allow")

    # Numeric(14, 2): below 10**12, in cents.
    order_total: Annotated[Decimal, BeforeValidator(number_only)] = Field(ge=0, lt=10**12, decimal_places=2)
    order_id: ExternalKey | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    tickets: int | list[dict[str, Any]] | None = None
    event: EventInfo | None = None
    items: Annotated[list[LineItem], Field(max_length=MAX_ITEMS)] | None = None

    @field_validator("tickets")
    @classmethod
    def _tickets_non_negative(cls, value):
        if isinstance(value, int) and value < 0:
            raise ValueError("must be >= 0")
        return value


@dataclass(frozen=True)
class Purchase:
    """A purchase's properties, checked: what record_activity and the batch store of it."""

    details: PurchaseProperties
    amount: Decimal
    order_id: str | None
    event_id: str | None  # the platform's id of the event it names
    event_name: str | None

    @property
    def starts_at(self) -> datetime | None:
        """The event's start as the purchase gives it, when it says its zone."""
        event = self.details.event
        return event.starts_at if event is not None and event.starts_at is not None \
            and event.starts_at.tzinfo is not None else None

    @staticmethod
    def raw_event(properties: dict[str, Any]) -> dict[str, Any]:
        return properties["event"] if isinstance(properties.get("event"), dict) else {}


def read_purchase(properties: dict[str, Any]) -> Purchase:
    """Check a purchase's properties (4xx naming the field); its order_total is kept in them
    as the JSON number the platform sent."""
    purchase = validate(PurchaseProperties, properties, "properties")
    # An empty order id identifies nothing: it is no order id (else every purchase sent
    # with "" would be a retry of the first).
    order_id = str(purchase.order_id).strip() or None if purchase.order_id is not None else None
    event_id = event_name = None
    if purchase.event is not None:
        platform_id = purchase.event.external_id if purchase.event.external_id is not None else purchase.event.id
        event_id = str(platform_id).strip() or None if platform_id is not None else None
        event_name = purchase.event.name
    for index, item in enumerate(purchase.items or ()):
        if item.attendee is not None and item.attendee.email:
            normalise_email(item.attendee.email, f"properties.items[{index}].attendee.email")
    properties["order_total"] = float(purchase.order_total)
    return Purchase(purchase, purchase.order_total, order_id, event_id, event_name)


def check_activity_type(activity_type: str, *, allow_system: bool = False) -> str:
    if not ACTIVITY_TYPE_RE.fullmatch(activity_type or ""):
        raise ValidationFailed("type", "must be snake_case: a lower-case letter, then letters, "
                                       "digits or underscores (at most 64)")
    if activity_type in SYSTEM_ACTIVITY_TYPES and not allow_system:
        raise ValidationFailed("type", f"'{activity_type}' is reserved for activities the product "
                                       "records itself")
    return activity_type


def _resolve_customer(tenant_id: int, customer_id: int | None,
                      ref: dict[str, Any] | None) -> Customer:
    if customer_id is not None:
        return get_customer(tenant_id, customer_id)
    ref = ref or {}
    if ref.get("external_id") is not None:
        customer = find_customer(tenant_id, external_id=str(ref["external_id"]))
        if customer is not None:
            return customer
    if ref.get("email"):
        email = normalise_email(ref["email"], "customer.email")
        customer = find_customer(tenant_id, email=email)
        if customer is not None:
            return customer
        data = {k: ref.get(k) for k in ("first_name", "last_name", "external_id", "timezone")}
        data["email"] = email
        customer, _ = upsert_customer(tenant_id, data, commit=False)
        return customer
    if ref.get("external_id") is not None:
        raise NotFound("customer not found: no customer has this external_id; "
                       "add customer.email to create one")
    raise ValidationFailed("customer_id", "give customer_id, or customer with email or external_id")


def resolve_customer(tenant_id: int, customer_id: int | None, ref: dict[str, Any] | None) -> Customer:
    """The customer an API body names, as activities find it: by customer_id, else by
    customer.external_id, else by customer.email (created from the reference when unknown);
    the caller commits."""
    return _resolve_customer(tenant_id, customer_id, ref)


def _existing(tenant_id: int, idempotency_key: str | None, order_id: str | None) -> CustomerActivity | None:
    conditions = []
    if idempotency_key:
        conditions.append(CustomerActivity.idempotency_key == idempotency_key)
    if order_id:
        conditions.append(CustomerActivity.order_id == order_id)
    if not conditions:
        return None
    return db.session.scalar(select(CustomerActivity).where(
        CustomerActivity.tenant_id == tenant_id, or_(*conditions)).limit(1))


def record_activity(tenant_id: int, activity_type: str, *, customer_id: int | None = None,
                    customer: dict[str, Any] | None = None, properties: dict[str, Any] | None = None,
                    occurred_at: datetime | None = None,
                    idempotency_key: str | None = None) -> tuple[CustomerActivity, bool]:
    """Store an activity from the platform and apply what it means, in one transaction.

    A purchase moves the customer's total_spent, orders_count and last_order_at with a
    single atomic UPDATE (safe under concurrent purchases). A retried delivery (same
    idempotency_key, or a purchase with the same order_id) returns the stored activity
    and changes nothing: returns (activity, created).
    """
    check_activity_type(activity_type)
    properties = dict(properties or {})
    check_storable(properties, "properties")
    amount = order_id = event_id = event_name = purchase = None
    if activity_type == "purchase":
        purchase = read_purchase(properties)
        amount, order_id, event_id, event_name = purchase.amount, purchase.order_id, purchase.event_id, \
            purchase.event_name
    scan = read_scan(tenant_id, properties) if activity_type == "ticket_scanned" else None
    if scan is not None:
        event_id, event_name = scan.event.external_id, scan.event.name
        occurred_at = occurred_at or scan.scanned_at
    if occurred_at is not None:
        occurred_at = utc_moment(occurred_at, "occurred_at")

    if scan is not None:
        existing = _existing(tenant_id, idempotency_key, order_id)
        if existing is None and scan.key is not None:
            # A ticket scanned again is the same scan (services/events/attendance.py): its key is the ticket's.
            existing = _existing(tenant_id, scan.key, None)
            idempotency_key = scan.key
        if existing is not None:
            return existing, False

    occurred = occurred_at or utcnow()
    bought = purchase is not None and customer_id is not None  # the buyer's UPDATE finds them and moves the totals
    target = _buyer(tenant_id, customer_id, amount, occurred) if bought else \
        _resolve_customer(tenant_id, customer_id, customer)
    if target is None:  # past what total_spent holds: a retried delivery still gets its stored activity
        existing = _existing(tenant_id, idempotency_key, order_id)
        if existing is not None:
            return existing, False
        _refuse_total()
    last_touched_at = target.last_touched_at
    # One statement stores it or finds it already stored: a retried delivery (same
    # idempotency key or order id), earlier or concurrent, inserts nothing.
    values = {"tenant_id": tenant_id, "customer_id": target.id, "type": activity_type, "properties": properties,
              "occurred_at": occurred, "created_at": utcnow(), "idempotency_key": idempotency_key,
              "order_id": order_id, "amount": amount, "event_id": event_id, "event_name": event_name}
    stored = db.session.execute(_store_statement(dialect()), {f"new_{k}": v for k, v in values.items()}).first()
    if stored is None:
        # Already recorded: nothing of this request is kept (not even a customer it named
        # by an email no one has any more), and the stored activity is the answer.
        db.session.rollback()
        existing = _existing(tenant_id, idempotency_key, order_id)
        if existing is None:
            raise ValidationFailed("idempotency_key", "an activity with this key or order id was being stored "
                                                      "and then was not; send it again")
        return existing, False
    # The stored row as an object outside the session (the commit does not expire it: the
    # caller reads it back without another SELECT), built from the INSERT's RETURNING.
    activity = CustomerActivity(**dict(zip(_STORED_ATTRIBUTES, stored, strict=True)))

    guests: set[int] = set()
    if purchase is not None:
        if not bought:
            _apply_purchase(target.id, amount, occurred)
        attribute_purchase(activity, last_touched_at=last_touched_at,
                           window_days=target.attribution_days if bought else None)
        event = None
        if event_id is not None:
            event = link_event(tenant_id, event_id, purchase.raw_event(properties), purchase.starts_at)
        guests = store_items(activity, event, purchase.details.items, purchase.details.tickets)
        if event is not None:
            # A reminder whose time passed before this purchase: sent now, or not, as its workflow says.
            remind_late_buyer(activity, event)
    if scan is not None:
        mark_attended(tenant_id, target.id, scan.event, occurred)
    # Aggregates and activity counts moved: the customer's segments follow in this transaction,
    # and purchases and sign-ups start their workflows.
    customer_changed(tenant_id, target.id, trigger=activity_type if activity_type in ("purchase", "signup") else None,
                     payload=properties, locked=activity_type == "purchase")
    # Customers waiting for this activity (wait_for steps) go on at once, on "happened".
    wake_awaiting(tenant_id, target.id, activity_type, properties, occurred)
    # Guests named on the tickets hold them now: their ticket segments follow too.
    for guest_id in sorted(guests):
        customer_changed(tenant_id, guest_id)
    db.session.commit()
    return activity, True


# A purchase's statements, built once with parameters: building the expressions (and their
# cache keys) again for every request cost more than a tenth of a purchase's Python.
_ACTIVITY_COLUMNS = ("tenant_id", "customer_id", "type", "properties", "occurred_at", "created_at", "idempotency_key",
                     "order_id", "amount", "event_id", "event_name")


@functools.cache
def _store_statement(backend: str):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the activity, for `backend` (the caller's dialect)."""
    del backend  # the key of the cache: insert_ignoring_duplicates builds for the session's backend
    table = CustomerActivity.__table__
    return insert_ignoring_duplicates(table).values(
        {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in _ACTIVITY_COLUMNS}
    ).returning(*table.c)


_STORED_ATTRIBUTES = tuple(CustomerActivity.__mapper__.get_property_by_column(column).key
                           for column in CustomerActivity.__table__.c)


def _purchase_update_statement(target: Any = Customer):
    # One UPDATE reading the row's current values: concurrent purchases each add theirs. A
    # purchase that would take the total past what the column holds moves nothing and is
    # refused (PostgreSQL would fail the statement; SQLite would store a rounded float).
    amount = bindparam("amount", type_=Customer.__table__.c.total_spent.type)
    at = bindparam("at", type_=UTCDateTime())
    return (update(target)
            .where(Customer.id == bindparam("buyer_id"), Customer.total_spent + amount < MAX_MONEY)
            .values(total_spent=Customer.total_spent + amount, orders_count=Customer.orders_count + 1,
                    last_order_at=case((or_(Customer.last_order_at.is_(None), Customer.last_order_at < at), at),
                                       else_=Customer.last_order_at),
                    updated_at=bindparam("now", type_=UTCDateTime()))
            .execution_options(synchronize_session=False))


_ADD_PURCHASE = _purchase_update_statement()
# The buyer's UPDATE on the table, returning what a purchase reads: no ORM object loaded into
# the session (and expired at commit) for a row nothing else here reads; and the tenant's
# attribution window, for a buyer a campaign reached, without a round trip of its own.
_BUY = _purchase_update_statement(Customer.__table__).where(Customer.tenant_id == bindparam("buyer_tenant")).returning(
    Customer.__table__.c.id, Customer.__table__.c.last_touched_at,
    func.coalesce(select(Tenant.attribution_days).where(Tenant.id == bindparam("buyer_tenant")).scalar_subquery(),
                  0).label("attribution_days"))


def _apply_purchase(customer_id: int, amount: Decimal, occurred_at: datetime) -> None:
    if not db.session.execute(_ADD_PURCHASE, {"buyer_id": customer_id, "amount": amount, "at": occurred_at,
                                              "now": utcnow()}).rowcount:
        _refuse_total()


def _buyer(tenant_id: int, customer_id: int, amount: Decimal, occurred_at: datetime) -> Row | None:
    """The buyer a purchase names by id, found and their aggregates moved in one UPDATE ...
    RETURNING (one round trip where a lookup and an UPDATE were two); the activity's INSERT
    follows, and a retry's rolls this back. None when the total would pass what the column
    holds; NotFound when the id is not one of the tenant's customers."""
    buyer = db.session.execute(_BUY, {"buyer_id": customer_id, "buyer_tenant": tenant_id, "amount": amount,
                                     "at": occurred_at, "now": utcnow()}).first()
    if buyer is None:
        get_customer(tenant_id, customer_id)  # NotFound for another tenant's or no customer
    return buyer


def _refuse_total() -> NoReturn:
    raise ValidationFailed("properties.order_total",
                           f"would take the customer's total spent above {MAX_MONEY - Decimal('0.01'):,}")


def add_note(tenant_id: int, customer_id: int, text: str, *, author: str | None = None) -> CustomerActivity:
    """A marketer's note on the customer's timeline."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("text", "must not be empty")
    if len(text) > 5000:
        raise ValidationFailed("text", "at most 5000 characters")
    customer = get_customer(tenant_id, customer_id)
    activity = log_activity(customer, "note", {"text": text, "author": author} if author else {"text": text})
    db.session.commit()
    return activity


# A loose index scan: the next type after the last one found, by the (tenant_id, type, ...)
# index, so the cost follows the number of types, not of activities.
_TENANT_TYPES = text("""
WITH RECURSIVE found(type) AS (
    SELECT min(type) FROM customer_activities WHERE tenant_id = :tenant_id
    UNION ALL
    SELECT (SELECT min(a.type) FROM customer_activities a WHERE a.tenant_id = :tenant_id AND a.type > found.type)
    FROM found WHERE found.type IS NOT NULL
)
SELECT type FROM found WHERE type IS NOT NULL""")


def activity_types(tenant_id: int) -> list[str]:
    """Every activity type the tenant has, custom ones included: what a timeline can be
    filtered by."""
    return list(db.session.scalars(_TENANT_TYPES, {"tenant_id": tenant_id}))
