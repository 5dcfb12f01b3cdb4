"""Batch upsert of customers, with POST /customers' meaning for each item.

Items that only set profile fields, attributes and tags go set-based, through the CSV
import's writer (imports/writers.py): one lookup by email, one by external_id, one INSERT
of the new customers with their tags (their ids come back from it), one UPDATE of the
others, one INSERT of their tags.
Items that change consent (topics, email_status) or sign up go through upsert_customer one
by one, in a savepoint each, as does the whole batch when two items name the same email or
external_id (the second must see what the first did). Then the segments of every customer
touched are re-evaluated at once and their goals and exits checked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.infra.errors import DomainError
from webapp.infra.sql import savepoint
from webapp.services.customer_locks import lock_named
from webapp.services.customers import clean_customer_data, upsert_customer
from webapp.services.enrollment.goals import check_customers
from webapp.services.imports.writers import Good, bulk_upsert
from webapp.services.ingest.results import Result, error_result
from webapp.services.segment_refresh import refresh_segments_for
from webapp.services.tenants import normalise_email


def _set_based(data: dict[str, Any]) -> bool:
    """Whether an item only sets what the import writer writes (no consent, no signup)."""
    return data.get("topics") is None and not data.get("email_status") and not data.get("signup")


def _email_key(email: Any) -> str:
    """An item's email as the upsert will match it (normalise_email), or as given when it is
    not valid (the upsert refuses that item)."""
    try:
        return normalise_email(str(email))
    except DomainError:
        return str(email)


def ingest_customers(tenant_id: int, items: list[dict[str, Any] | DomainError]) -> list[Result]:
    """Upsert many customers (each as upsert_customer takes one) in one transaction; a
    refused item changes nothing, the others are stored."""
    results: dict[int, Result] = {}
    touched: list[int] = []
    bulk: list[Good] = []
    single: list[tuple[int, dict[str, Any]]] = []
    for index, data in enumerate(items):
        if isinstance(data, DomainError):
            results[index] = error_result(index, data)
        elif _set_based(data):
            try:
                bulk.append(Good(index, clean_customer_data(data)))
            except DomainError as error:
                results[index] = error_result(index, error)
        else:
            single.append((index, data))
    emails = [g.data.get("email") for g in bulk if g.data.get("email")] + \
        [_email_key(d["email"]) for _, d in single if d.get("email")]
    externals = [g.data["external_id"] for g in bulk if g.data.get("external_id") is not None] + \
        [d["external_id"] for _, d in single if d.get("external_id") is not None]
    named_twice = len(set(emails)) < len(emails) or len(set(externals)) < len(externals)
    # The customers the batch names, locked in id order before any is written (item by item
    # or set-based): two batches sharing customers queue instead of deadlocking.
    lock_named(tenant_id, emails, [str(external) for external in externals])
    # One customer named twice goes item by item (the second must see what the first did), and
    # so does a set the writer could not store.
    if named_twice or (bulk and not _write_bulk(tenant_id, bulk, results, touched)):
        single = sorted(single + [(g.line, items[g.line]) for g in bulk])  # type: ignore[misc]
    for index, data in single:
        try:
            with savepoint():
                customer, created = upsert_customer(tenant_id, data, commit=False)
        except DomainError as error:
            results[index] = error_result(index, error)
            continue
        touched.append(customer.id)
        results[index] = {"index": index, "status": 201 if created else 200, "id": customer.id}
    if touched:
        # What customer_changed does for a change with no trigger, for all of them at once.
        refresh_segments_for(tenant_id, touched)
        check_customers(tenant_id, set(touched))
    db.session.commit()
    return [results[index] for index in range(len(items))]


def _write_bulk(tenant_id: int, bulk: list[Good], results: dict[int, Result], touched: list[int]) -> bool:
    """The set-based items in one go; False (nothing written) when a concurrent request
    took one of their emails or external ids meanwhile: the caller goes item by item."""
    try:
        with savepoint():
            written, refused = bulk_upsert(tenant_id, bulk, context="api", source="api")
    except IntegrityError:
        return False
    for good, error in refused:
        results[good.line] = error_result(good.line, error)
    for line, (customer_id, created) in written.items():
        touched.append(customer_id)
        results[line] = {"index": line, "status": 201 if created else 200, "id": customer_id}
    return True
