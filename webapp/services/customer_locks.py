"""The row lock a customer takes while its aggregates or segment memberships are written
(PostgreSQL; SQLite writes one transaction at a time). FOR NO KEY UPDATE, not UPDATE: a
recalculation inserting the customer's membership takes KEY SHARE through its foreign key
and never waits on it. Several customers are locked in id order, so two writers sharing
customers queue instead of deadlocking."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, String, bindparam, select

from webapp.extensions import db
from webapp.infra.sql import among, dialect
from webapp.models import Customer


def locking(which: Any):
    """SELECT the customers `which` picks, locked, in id order."""
    return select(Customer.id).where(which).order_by(Customer.id).with_for_update(key_share=True)


_MANY = locking(among(Customer.id, "customer_ids", "postgresql") & (Customer.tenant_id == bindparam(
    "tenant_id", type_=Integer())))
_NAMED = locking((Customer.tenant_id == bindparam("tenant_id", type_=Integer()))
                 & (among(Customer.email, "emails", "postgresql", String())
                    | among(Customer.external_id, "external_ids", "postgresql", String())))


def lock_named(tenant_id: int, emails: Iterable[str], external_ids: Iterable[str]) -> None:
    """Lock the tenant's customers having one of these (normalised) emails or external ids,
    in id order, in the caller's transaction (PostgreSQL): what a batch that names its
    customers by email does first, before it writes any of them one by one."""
    emails, external_ids = sorted(set(emails)), sorted(set(external_ids))
    if (emails or external_ids) and dialect() == "postgresql":
        db.session.execute(_NAMED, {"emails": emails, "external_ids": external_ids, "tenant_id": tenant_id})


def lock_customers(tenant_id: int, customer_ids: Iterable[int]) -> None:
    """Lock these customers of the tenant in the caller's transaction (PostgreSQL)."""
    ids = sorted(set(customer_ids))
    if ids and dialect() == "postgresql":
        db.session.execute(_MANY, {"customer_ids": ids, "tenant_id": tenant_id})
