"""Customers: upsert from the platform, edits from marketers, tags, erasure, lists."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.infra.sql import insert_ignoring_duplicates, like_pattern, savepoint
from webapp.infra.types import iso_or_none, utcnow
from webapp.infra.validation import check_storable
from webapp.models import EMAIL_STATUSES, Customer, CustomerActivity, CustomerCount, CustomerTag
from webapp.models.customer import search_name
from webapp.services import webhooks
from webapp.services.activity_log import log_activity
from webapp.services.changes import customer_changed
from webapp.services.consent import (
    Evidence,
    check_topic_ids,
    email_status_changed,
    set_subscribed_topics,
    topic_ids_by_customer,
)
from webapp.services.segments import forget_customer
from webapp.services.tenants import check_timezone, normalise_email
from webapp.services.webhooks import customer_ref

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 _\-:./]{0,99}$")
MAX_ATTRIBUTES = 100
# Fields a caller may set directly; aggregates move through purchases, or are set on import.
PROFILE_FIELDS = ("first_name", "last_name", "timezone", "email_status")


def normalise_tag(tag: str, field: str = "tag") -> str:
    value = " ".join(str(tag).split()).lower()
    if not TAG_RE.match(value):
        raise ValidationFailed(
            field, "tags are 1-100 characters: letters, digits, spaces and _ - : . /, "
                   "starting with a letter or digit")
    return value


def normalise_tags(tags: list[str], field: str = "tags") -> list[str]:
    seen: dict[str, None] = {}
    for i, tag in enumerate(tags):
        seen[normalise_tag(tag, f"{field}[{i}]")] = None
    return list(seen)


def _check_attributes(attributes: dict[str, Any], field: str = "attributes") -> dict[str, Any]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValidationFailed(field, f"at most {MAX_ATTRIBUTES} attributes")
    for key in attributes:
        if not key or len(key) > 100:
            raise ValidationFailed(f"{field}.{key}", "keys are 1-100 characters")
    check_storable(attributes, field)
    return attributes


def _check_profile(values: dict[str, Any]) -> None:
    if values.get("timezone"):
        check_timezone(values["timezone"])
    status = values.get("email_status")
    if status is not None and status not in EMAIL_STATUSES:
        raise ValidationFailed("email_status", f"'{status}' is not one of {', '.join(EMAIL_STATUSES)}")
    for name in ("first_name", "last_name"):
        if values.get(name) is not None:
            values[name] = values[name].strip() or None


def get_customer(tenant_id: int, customer_id: int) -> Customer:
    """The tenant's customer, or NotFound (also for other tenants' ids)."""
    customer = db.session.scalar(
        select(Customer).where(Customer.id == customer_id, Customer.tenant_id == tenant_id)
    )
    if customer is None:
        raise NotFound("customer not found")
    return customer


def find_customer(tenant_id: int, *, email: str | None = None,
                  external_id: str | None = None) -> Customer | None:
    if external_id is not None:
        return db.session.scalar(select(Customer).where(
            Customer.tenant_id == tenant_id, Customer.external_id == external_id))
    if email is not None:
        return db.session.scalar(select(Customer).where(
            Customer.tenant_id == tenant_id, Customer.email == email.strip().lower()))
    return None


def _set_tags(customer: Customer, tags: list[str], *, replace: bool) -> None:
    """Add `tags` (with replace: set exactly `tags`) on a flushed customer. Set-based
    statements, so concurrent requests adding or removing the same tag do not clash."""
    if replace:
        db.session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer.id,
                                                     CustomerTag.tag.not_in(tags)))
    if tags:
        db.session.execute(insert_ignoring_duplicates(CustomerTag.__table__),
                           [{"customer_id": customer.id, "tenant_id": customer.tenant_id, "tag": tag}
                            for tag in tags])
    db.session.expire(customer, ["tag_rows"])


def _flush_unique(field_by_constraint: dict[str, str]) -> None:
    """Flush, turning a unique-constraint clash into a 409 that names the field.

    A clash rolls back the innermost savepoint when there is one (upsert_customer gives a new
    customer's insert one of its own), else the transaction (PostgreSQL has aborted it
    anyway; a savepoint begun here would come too late, as begin_nested() flushes first), so
    the session stays usable and nothing of the refused change remains. Call it before
    adding other rows to the unit of work."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Inside a savepoint only the savepoint goes: what came before it stays.
        nested = db.session().get_nested_transaction()
        (nested or db.session).rollback()
        text = str(exc.orig).lower()
        for marker, field in field_by_constraint.items():
            if marker in text:
                raise taken(field) from None
        raise


# The upsert's refusals, one definition for the API, batches and imports (imports/writers.py).
def taken(field: str) -> Conflict:
    return Conflict(f"{field}: another customer already has this {field}",
                    details=[{"field": field, "message": "already taken"}])


def external_id_mismatch() -> Conflict:
    return Conflict("external_id: this email belongs to a customer with another external_id",
                    details=[{"field": "external_id", "message": "does not match the email's customer"}])


def email_required() -> ValidationFailed:
    return ValidationFailed("email", "is required to create a customer")


_UNIQUE_FIELDS = {"external_id": "external_id", "email": "email"}


# Column sizes: longer input is refused naming the field, never cut or a database error.
FIELD_LENGTHS = {"email": 320, "external_id": 200, "first_name": 200, "last_name": 200, "timezone": 64}
MAX_MONEY = Decimal("1000000000000")  # Numeric(14, 2)
MAX_COUNT = 2**31 - 1


def clean_customer_data(data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise upsert input: the one set of rules for the API and CSV imports.

    Returns the given fields only (email lower-cased, names stripped, tags normalised,
    money as Decimal), plus `tags` and `attributes` (empty when not given). Raises
    ValidationFailed naming the first field at fault. Requires email or external_id.
    """
    for name, limit in FIELD_LENGTHS.items():
        value = data.get(name)
        if value is not None and len(str(value)) > limit:
            raise ValidationFailed(name, f"at most {limit} characters")
    clean: dict[str, Any] = {}
    if data.get("email"):
        clean["email"] = normalise_email(data["email"])
    if data.get("external_id") is not None:
        clean["external_id"] = data["external_id"]
    if "email" not in clean and "external_id" not in clean:
        raise ValidationFailed("email", "email or external_id is required")
    values = {k: data[k] for k in PROFILE_FIELDS if data.get(k) is not None}
    _check_profile(values)
    clean.update(values)
    clean["tags"] = normalise_tags(data.get("tags") or [])
    clean["attributes"] = _check_attributes(data.get("attributes") or {})
    if data.get("total_spent") is not None:
        money = Decimal(str(data["total_spent"]))
        if not money.is_finite() or not 0 <= money < MAX_MONEY:
            raise ValidationFailed("total_spent", "must be a number from 0 to 999,999,999,999.99")
        clean["total_spent"] = money
    if data.get("orders_count") is not None:
        count = data["orders_count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            raise ValidationFailed("orders_count", f"must be a whole number from 0 to {MAX_COUNT:,}")
        clean["orders_count"] = count
    return clean


API_EVIDENCE = Evidence("api")


def upsert_customer(tenant_id: int, data: dict[str, Any], *, commit: bool = True,
                    _retry: bool = True, evidence: Evidence = API_EVIDENCE) -> tuple[Customer, bool]:
    """Create or update a customer found by external_id, else by email.

    Tags in `data` are added to the customer's tags, attributes are merged; `topics` (ids)
    become exactly the topics they get; returns (customer, created). Concurrent upserts of
    one new customer create it once. With commit=False the caller finishes the transaction
    (one unit of work with its own rows). A change of email status or topics is recorded as
    consent with `evidence`.
    """
    clean = clean_customer_data(data)
    topic_ids = check_topic_ids(tenant_id, data["topics"]) if data.get("topics") is not None else None
    email, external_id = clean.get("email"), data.get("external_id")
    values = {k: clean[k] for k in PROFILE_FIELDS if k in clean}
    tags, attributes = clean["tags"], clean["attributes"]

    customer = None
    if external_id is not None:
        customer = find_customer(tenant_id, external_id=external_id)
    if customer is None and email is not None:
        customer = find_customer(tenant_id, email=email)
        if customer is not None and external_id is not None and customer.external_id not in (None, external_id):
            raise external_id_mismatch()
    created = customer is None
    status_before = None if created else customer.email_status
    if created:
        if email is None:
            raise email_required()
        customer = Customer(tenant_id=tenant_id, email=email, external_id=external_id,
                            attributes={}, total_spent=Decimal("0"), orders_count=0)
    else:
        if email is not None:
            customer.email = email
        if external_id is not None:
            customer.external_id = external_id
    for key, value in values.items():
        setattr(customer, key, value)
    if "total_spent" in clean:
        customer.total_spent = clean["total_spent"]
    if "orders_count" in clean:
        customer.orders_count = clean["orders_count"]
    if attributes:
        customer.attributes = {**(customer.attributes or {}), **attributes}
    customer.updated_at = utcnow()
    if not created:
        _flush_unique(_UNIQUE_FIELDS)
    else:
        try:
            # The new row in a savepoint of its own (added inside it: savepoint() flushes what is
            # pending first). A concurrent request that created the same customer first rolls
            # back only this insert, not the caller's earlier writes nor its own savepoint (a
            # batch item), and that customer is updated instead.
            with savepoint():
                db.session.add(customer)
                _flush_unique(_UNIQUE_FIELDS)
        except Conflict:
            if not _retry:
                raise
            return upsert_customer(tenant_id, data, commit=commit, _retry=False, evidence=evidence)
    _set_tags(customer, tags, replace=False)
    if created:
        webhooks.emit(tenant_id, "customer.created", lambda: {
            "customer": {**customer_ref(customer), "email_status": customer.email_status or "subscribed",
                         "tags": sorted(tags)}, "source": evidence.source})
    if "email_status" in values:  # a new customer's default status is nobody's say
        email_status_changed(customer, status_before, evidence)
    if topic_ids is not None:
        set_subscribed_topics(customer, topic_ids, evidence)
    if created and data.get("signup"):
        log_activity(customer, "signup", {"source": "api"})
        db.session.flush()
        # Segments follow below when this call commits; a caller's unit of work refreshes them.
        customer_changed(tenant_id, customer.id, trigger="signup", payload={"source": "api"}, segments=False)
    if commit:
        customer_changed(tenant_id, customer.id)
        db.session.commit()
    return customer, created


def update_customer(tenant_id: int, customer_id: int, changes: dict[str, Any],
                    evidence: Evidence = API_EVIDENCE) -> Customer:
    """Apply a partial update: given keys change, attributes merge (null removes a key),
    tags replace the list, `topics` (ids) become exactly the topics they get. Everything is
    checked before anything is applied; a change of email status or topics is recorded as
    consent with `evidence`."""
    customer = get_customer(tenant_id, customer_id)
    if changes.get("topics") is None and "topics" in changes:
        raise ValidationFailed("topics", "must be a list of topic ids ([] for none)")
    topic_ids = check_topic_ids(tenant_id, changes["topics"]) if changes.get("topics") is not None else None
    status_before = customer.email_status
    values = {k: changes[k] for k in PROFILE_FIELDS if k in changes}
    if "email_status" in values and values["email_status"] is None:
        raise ValidationFailed("email_status", "must not be null")
    _check_profile(values)
    if "email" in changes:
        if not changes["email"]:
            raise ValidationFailed("email", "must not be empty")
        values["email"] = normalise_email(changes["email"])
    if "external_id" in changes:
        values["external_id"] = changes["external_id"] or None
    attributes = _check_attributes(changes["attributes"]) if changes.get("attributes") is not None else None
    tags = normalise_tags(changes["tags"]) if changes.get("tags") is not None else None

    for key, value in values.items():
        setattr(customer, key, value)
    if attributes is not None:
        merged = dict(customer.attributes or {})
        for key, value in attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        customer.attributes = merged
    customer.updated_at = utcnow()
    _flush_unique(_UNIQUE_FIELDS)
    if tags is not None:
        _set_tags(customer, tags, replace=True)
    email_status_changed(customer, status_before, evidence)
    if topic_ids is not None:
        set_subscribed_topics(customer, topic_ids, evidence)
    customer_changed(tenant_id, customer.id)
    db.session.commit()
    return customer


def delete_customer(tenant_id: int, customer_id: int) -> None:
    """Erase a customer with all their activities and tags (the right to be forgotten)."""
    customer = get_customer(tenant_id, customer_id)
    forget_customer(customer.id)
    db.session.execute(delete(CustomerActivity).where(CustomerActivity.customer_id == customer.id))
    db.session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer.id))
    db.session.execute(delete(Customer).where(Customer.id == customer.id))
    db.session.commit()


def change_tag(tenant_id: int, customer_id: int, tag: str, *, add: bool, properties: dict[str, Any] | None = None,
               now: datetime | None = None) -> bool:
    """The one way a tag is added or removed (the profile, the API, workflow steps): the tag
    row, `tag_added` / `tag_removed` on the timeline (with `properties`, e.g. the workflow),
    and the customer-changed path; in the caller's transaction. False when nothing changed."""
    if add:
        changed = db.session.execute(insert_ignoring_duplicates(CustomerTag.__table__).values(
            customer_id=customer_id, tenant_id=tenant_id, tag=tag)).rowcount
    else:
        changed = db.session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id,
                                                               CustomerTag.tag == tag)).rowcount
    if not changed:
        return False
    now = now or utcnow()
    db.session.execute(insert(CustomerActivity.__table__).values(
        tenant_id=tenant_id, customer_id=customer_id, type="tag_added" if add else "tag_removed",
        properties={"tag": tag, **(properties or {})}, occurred_at=now, created_at=now))
    db.session.execute(update(Customer).where(Customer.id == customer_id).values(updated_at=now)
                       .execution_options(synchronize_session=False))
    customer_changed(tenant_id, customer_id)
    return True


def add_tag(tenant_id: int, customer_id: int, tag: str) -> Customer:
    """Add one tag; logs `tag_added` on the timeline if the customer did not have it."""
    customer = get_customer(tenant_id, customer_id)
    change_tag(tenant_id, customer.id, normalise_tag(tag), add=True)
    db.session.commit()
    db.session.refresh(customer)
    return customer


def remove_tag(tenant_id: int, customer_id: int, tag: str) -> Customer:
    """Remove one tag; logs `tag_removed` if the customer had it."""
    customer = get_customer(tenant_id, customer_id)
    change_tag(tenant_id, customer.id, " ".join(str(tag).split()).lower(), add=False)
    db.session.commit()
    db.session.refresh(customer)
    return customer


def customer_dict(customer: Customer, topics: list[int] | None = None) -> dict:
    """A customer as integrators see it: the API's customer, and the one a workflow's
    webhook step posts. `topics`: the topic ids they get, when the caller read a page's."""
    if topics is None:
        topics = topic_ids_by_customer(customer.tenant_id, [customer.id])[customer.id]
    return {
        "id": customer.id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "external_id": customer.external_id,
        "timezone": customer.timezone,
        "tags": customer.tags,
        "attributes": customer.attributes or {},
        "email_status": customer.email_status,
        "total_spent": float(customer.total_spent or 0),
        "orders_count": customer.orders_count or 0,
        "last_order_at": iso_or_none(customer.last_order_at),
        "created_at": iso_or_none(customer.created_at),
        "updated_at": iso_or_none(customer.updated_at),
        "topics": topics,
    }


def _matching(tenant_id: int, *, q: str | None = None, tag: str | None = None, email_status: str | None = None,
              ordered_since: datetime | None = None):
    stmt = select(Customer).where(Customer.tenant_id == tenant_id)
    if q and q.strip():
        pattern = like_pattern(q.strip().lower())
        # The very expressions of the trigram indexes (see models.customer): email is stored
        # lower-cased, so it is matched as it is.
        stmt = stmt.where(or_(Customer.email.like(pattern, escape="\\"),
                              search_name(Customer.first_name, Customer.last_name).like(pattern, escape="\\")))
    if tag:
        stmt = stmt.where(Customer.id.in_(
            select(CustomerTag.customer_id).where(CustomerTag.tenant_id == tenant_id,
                                                  CustomerTag.tag == tag.strip().lower())))
    if email_status:
        stmt = stmt.where(Customer.email_status == email_status)
    if ordered_since is not None:
        # Who placed an order since then: the purchases the dashboard's revenue counts.
        stmt = stmt.where(Customer.id.in_(
            select(CustomerActivity.customer_id).where(CustomerActivity.tenant_id == tenant_id,
                                                       CustomerActivity.type == "purchase",
                                                       CustomerActivity.occurred_at >= ordered_since)))
    return stmt


def list_customers(tenant_id: int, *, q: str | None = None, tag: str | None = None, email_status: str | None = None,
                   ordered_since: datetime | None = None, limit: int = 50, cursor: str | None = None) -> Page:
    """Newest customers first, searched by email or name, filtered by tag, email status or an
    order since a moment; keyset pages."""
    # Lists show each customer's tags: loaded for the whole page in one statement.
    stmt = _matching(tenant_id, q=q, tag=tag, email_status=email_status, ordered_since=ordered_since) \
        .options(selectinload(Customer.tag_rows))
    return keyset_by_id(stmt, Customer.id, limit=limit, cursor=cursor)


def count_matching(tenant_id: int, **filters) -> int:
    """How many customers list_customers would page through with the same filters."""
    stmt = _matching(tenant_id, **filters)
    return db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def count_customers(tenant_id: int) -> int:
    """The tenant's customers, from the count the database's triggers keep (CustomerCount)."""
    return db.session.scalar(select(CustomerCount.customers).where(CustomerCount.tenant_id == tenant_id)) or 0
