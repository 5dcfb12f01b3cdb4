"""Batch upsert of customers: each as POST /customers takes one, one transaction."""

from __future__ import annotations

from typing import Any

from webapp.extensions import db
from webapp.infra.errors import DomainError
from webapp.infra.sql import savepoint
from webapp.infra.types import utcnow
from webapp.services.customers import upsert_customer
from webapp.services.enrollment.goals import check_customers
from webapp.services.ingest.results import Result, error_result
from webapp.services.segment_refresh import refresh_segments_for


def ingest_customers(tenant_id: int, items: list[dict[str, Any] | DomainError]) -> list[Result]:
    """Upsert many customers (each as upsert_customer takes one) in one transaction: each
    item in a savepoint, so a refused one changes nothing; then the segments of all of
    them are re-evaluated at once and their goals and exits checked."""
    results: list[Result] = []
    touched: list[int] = []
    for index, data in enumerate(items):
        if isinstance(data, DomainError):
            results.append(error_result(index, data))
            continue
        try:
            with savepoint():
                customer, created = upsert_customer(tenant_id, data, commit=False)
        except DomainError as error:
            results.append(error_result(index, error))
            continue
        touched.append(customer.id)
        results.append({"index": index, "status": 201 if created else 200, "id": customer.id})
    if touched:
        # What customer_changed does for a change with no trigger, for all of them at once.
        refresh_segments_for(tenant_id, touched)
        check_customers(tenant_id, set(touched), utcnow())
    db.session.commit()
    return results
