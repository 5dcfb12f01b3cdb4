"""The merge tags a marketer can put into an email: what the builder's picker lists.

Each tag is a name in the personalisation context (webapp/mail/compose.py: `customer`,
`tenant`, `unsubscribe_url`, `view_in_browser_url`), with a label for people and the
fallback the picker writes with it, so a missing value reads naturally ("Hi there")."""

from __future__ import annotations

from typing import Any

CUSTOMER_TAGS = (
    ("customer.first_name", "First name", "there"),
    ("customer.last_name", "Last name", ""),
    ("customer.email", "Email address", None),
    ("customer.orders_count", "Number of orders", None),
    ("customer.total_spent", "Total spent", None),
)
ORGANISATION_TAGS = (
    ("tenant.name", "Organisation name", None),
    ("tenant.postal_address", "Postal address", None),
)
LINK_TAGS = (
    ("unsubscribe_url", "Unsubscribe link", None),
    ("view_in_browser_url", "View in browser link", None),
)


def available(tenant_id: int) -> list[dict[str, Any]]:
    """The tags the builder offers for the tenant's emails, grouped for the picker:
    [{"tag", "label", "group", "fallback"}], fallback None when the value is always there."""
    groups = (("Customer", CUSTOMER_TAGS), ("Organisation", ORGANISATION_TAGS), ("Links", LINK_TAGS))
    return [{"tag": tag, "label": label, "group": group, "fallback": fallback or None}
            for group, tags in groups for tag, label, fallback in tags]
