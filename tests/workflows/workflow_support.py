"""Helpers shared by the workflow tests."""

from __future__ import annotations

from webapp.services.customers import upsert_customer


def customer(tenant_id: int, email: str = "ada@example.com", **fields) -> int:
    return upsert_customer(tenant_id, {"email": email, "first_name": "Ada", **fields})[0].id
