"""The pieces event payloads share: who the customer is, in ids and in words. Payloads never
carry secrets (tokens, tracking ids, unsubscribe links)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, select

from webapp.extensions import db
from webapp.models import Customer

CUSTOMER_COLUMNS = (Customer.id, Customer.email, Customer.external_id, Customer.first_name, Customer.last_name)


def customer_ref(customer: Any) -> dict[str, Any]:
    """A customer (a model or a row with the same names) as every payload names one."""
    return {"id": customer.id, "email": customer.email, "external_id": customer.external_id,
            "first_name": customer.first_name, "last_name": customer.last_name}


def customer_refs(tenant_id: int, customer_ids: Any) -> dict[int, dict[str, Any]]:
    """customer_ref of each customer of the tenant among `customer_ids` (ids, or a subquery
    of one column of ids), in one query."""
    if isinstance(customer_ids, Subquery):
        customer_ids = select(next(iter(customer_ids.c)))
    else:
        customer_ids = list(customer_ids)
        if not customer_ids:
            return {}
    rows = db.session.execute(select(*CUSTOMER_COLUMNS).where(Customer.tenant_id == tenant_id,
                                                              Customer.id.in_(customer_ids)).order_by(Customer.id))
    return {row.id: customer_ref(row) for row in rows}
