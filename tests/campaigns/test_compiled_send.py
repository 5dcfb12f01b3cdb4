"""A batch's messages come from the campaign's compiled HTML: for every recipient, every A/B
variant and a design, they are the messages render_for() makes one at a time."""

from __future__ import annotations

from campaign_support import audience_segment, new_campaign, ready_tenant
from sqlalchemy import select

from bench.bench_send import DESIGN
from tests.mail.mail_support import assert_same_message
from webapp.extensions import db
from webapp.mail.compose import CustomerView, compile_message
from webapp.models import Customer, Tenant
from webapp.services import customers
from webapp.services.campaigns import variants
from webapp.services.campaigns.rendering import _message_source, render_for, variant_renderer

STYLED = """<!doctype html><html><head><style>
  .hero h1 { font-size: 24px } a.button { background: #e8453c; color: #fff } p { margin: 0 0 8px }
</style></head><body>
<div class="hero"><h1>Hi {{ customer.first_name | default("there", true) }}</h1></div>
{% for tag in customer.tags %}<p>#{{ tag }}</p>{% endfor %}
{% if customer.orders_count > 1 %}<p>Welcome back, {{ customer.last_name }}.</p>{% endif %}
<p><a class="button" href="https://tickets.example.com/{{ customer.attributes.city | lower }}">Tickets</a>
<a href="{{ view_in_browser_url }}">View online</a></p>
</body></html>"""

HOSTILE = ["<b>O'Brien</b> & \"Sons\"", "Zoë 🎶", "a\r\nBcc: evil@example.com", "&copy; &amp &#0;", None,
           "{{ 7 * 7 }}", "\u202eevil", "x" * 190]


def _audience(tenant_id: int) -> list[CustomerView]:
    for i, name in enumerate(HOSTILE):
        customers.upsert_customer(tenant_id, {
            "email": f"fan{i}@example.com", "first_name": name, "last_name": HOSTILE[-1 - i],
            "tags": ["fans", *(["vip"] if i % 2 else [])], "attributes": {"city": name or "Leeds"}})
    db.session.commit()
    rows = db.session.scalars(select(Customer).where(Customer.tenant_id == tenant_id).order_by(Customer.id))
    return [CustomerView(id=c.id, tenant_id=c.tenant_id, email=c.email, first_name=c.first_name,
                         last_name=c.last_name, attributes=c.attributes, total_spent=c.total_spent,
                         orders_count=c.orders_count + i, tags=sorted(c.tags)) for i, c in enumerate(rows)]


def _compare(campaign, tenant: Tenant, audience: list[CustomerView], variant_of) -> None:
    rows = [(customer, customer.email, f"{i:032x}", variant_of(i)) for i, customer in enumerate(audience)]
    messages = variant_renderer(campaign, tenant, [c.id for c in audience])(rows)
    versions = variants.variants_of(campaign.id)
    for (customer, to, token, variant), message in zip(rows, messages, strict=True):
        version = variants.version_of(campaign, versions[variant or 0]) if versions else campaign
        assert_same_message(message, render_for(version, tenant, customer, to=to, token=token, track=True))


def test_batch_messages_from_the_compiled_html_are_render_fors(app, tenant_a):
    tenant = ready_tenant(tenant_a.id)
    audience = _audience(tenant.id)
    campaign = new_campaign(tenant.id, audience_segment(tenant.id), html_content=STYLED,
                            subject="Chloé, 🎉 {{ customer.first_name | default('fan', true) }}",
                            preheader="For {{ customer.attributes.city }} & friends")
    assert compile_message(**_message_source(campaign, tenant)) is not None
    _compare(campaign, tenant, audience, lambda i: None)


def test_every_ab_variant_is_compiled_and_matches(app, tenant_a):
    tenant = ready_tenant(tenant_a.id)
    audience = _audience(tenant.id)
    campaign = new_campaign(tenant.id, audience_segment(tenant.id), html_content=STYLED, variants=[
        {"subject": "A for {{ customer.first_name }}"},
        {"subject": "B", "preheader": "B's {{ customer.last_name }}",
         "content": "<style>p { color: red }</style><p>B for {{ customer.first_name }}</p>"
                    "<p><a href=\"{{ unsubscribe_url }}\">Leave</a></p>"},
        {"subject": "C", "content": "<p>C without a stylesheet, {{ customer.first_name }}</p>"}],
        ab_test={"share_percent": 60, "duration_minutes": 60, "metric": "opens"})
    _compare(campaign, tenant, audience, lambda i: [0, 1, 2, None][i % 4])


def test_a_design_campaign_matches_render_for(app, tenant_a):
    tenant = ready_tenant(tenant_a.id)
    audience = _audience(tenant.id)
    campaign = new_campaign(tenant.id, audience_segment(tenant.id), html_content=None, design=DESIGN,
                            preheader="Early birds in {{ customer.attributes.city }}")
    _compare(campaign, tenant, audience, lambda i: None)
