"""The dashboard's figures come from the tenant's data; a new tenant sees what to do first."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from .conftest import add_purchase, make_customer


def stat(html: str, label: str) -> str:
    # The value is the link to what it counts: <a class="value" ...>, its number maybe in a span.
    match = re.search(rf'<span class="label">{re.escape(label)}</span>\s*<(?:span|a) class="value"[^>]*>'
                      rf'(?:<span[^>]*>)?([^<]+)<', html)
    assert match, f"no figure labelled {label!r}"
    return match.group(1).strip()


def test_figures_count_customers_subscribers_and_recent_revenue(owner_a, tenant_a):
    ada = make_customer(tenant_a.id, "ada@example.com", first_name="Ada")
    grace = make_customer(tenant_a.id, "grace@example.com", email_status="unsubscribed")
    make_customer(tenant_a.id, "alan@example.com")
    make_customer(tenant_a.id, "bounced@example.com", email_status="bounced")
    add_purchase(tenant_a.id, ada.id, 1200.50, order_id="A-1", days_ago=2)
    add_purchase(tenant_a.id, grace.id, 99.5, order_id="G-1", days_ago=29)
    add_purchase(tenant_a.id, grace.id, 500, order_id="G-0", days_ago=45)  # before the window

    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert stat(html, "Customers") == "4"
    assert stat(html, "Subscribed") == "50%"
    assert "2 can receive email" in html
    assert stat(html, "Revenue, last 30 days") == "£1,300.00"
    assert stat(html, "Orders, last 30 days") == "2"
    assert "No customers yet" not in html


def test_recent_activity_lists_the_newest_first_with_links(owner_a, tenant_a):
    ada = make_customer(tenant_a.id, "ada@example.com", first_name="Ada", last_name="Lovelace")
    add_purchase(tenant_a.id, ada.id, 45, order_id="A-1", days_ago=3, event_name="Opera Gala")
    add_purchase(tenant_a.id, ada.id, 20, order_id="A-2", days_ago=1, event_name="Jazz Night")

    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert html.index("Jazz Night") < html.index("Opera Gala")
    assert f'href="/customers/{ada.id}">Ada Lovelace</a>' in html


def test_new_tenant_sees_zeroes_and_how_to_start(owner_a):
    html = owner_a.get("/dashboard").get_data(as_text=True)

    assert stat(html, "Customers") == "0"
    assert stat(html, "Subscribed") == "0%"
    assert stat(html, "Revenue, last 30 days") == "£0.00"
    assert "No customers yet" in html
    assert 'href="/settings/"' in html and "/api/crm/customers" in html
    assert "Nothing has happened yet" in html


def test_dashboard_dates_are_in_the_tenants_timezone(owner_a, tenant_a):
    from webapp.extensions import db
    from webapp.models import Tenant

    ada = make_customer(tenant_a.id, "ada@example.com")
    activity = add_purchase(tenant_a.id, ada.id, 10, order_id="A-1")
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.timezone = "Asia/Tokyo"
    db.session.commit()

    html = owner_a.get("/dashboard").get_data(as_text=True)

    # Shown as a relative time, the exact local time (JST) in its title.
    local = activity.occurred_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f'title="{local:%a} {local.day} {local:%b %Y, %H:%M:%S} JST"' in html
