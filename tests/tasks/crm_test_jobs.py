"""Small job functions for the task tests. RQ imports them by module path in the worker,
so they live in a plain module (not a test module) and take ids, like the product's jobs."""

from __future__ import annotations


def record_customer(tenant_id: int, email: str) -> int:
    """Write a row through the app's database: proves the job ran inside the app context."""
    from webapp.services.customers import upsert_customer

    customer, _ = upsert_customer(tenant_id, {"email": email, "tags": ["from-worker"]})
    return customer.id


def count_ticks() -> str:
    """A periodic job stand-in."""
    return "tick"


def fail_loudly(tenant_id: int) -> None:
    raise RuntimeError(f"job for tenant {tenant_id} failed on purpose")
