"""Marketer templates cannot escape the sandbox or exhaust a worker: escapes are refused at
save (422 naming field and line), blow-ups fail only the recipient they hit, with the
reason on the row. Headers cannot be injected, from the campaign or from customer data."""

from __future__ import annotations

import time

import pytest
from campaign_support import (
    add_audience,
    assert_counters_match_rows,
    assert_error,
    audience_segment,
    new_campaign,
    ready_tenant,
    recipient_rows,
    run_burst_worker,
)

from webapp.mail.templating import RenderFailed, render
from webapp.services import campaigns, customers

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x|attr('__class__') }}",
    "{{ customer|attr('__init__') }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ request.application }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ namespace() }}",
    "{{ customer['__class__'] }}",
    "{{ range.__self__ }}",
    "{% include 'base.html' %}",
    "{% import 'x' as y %}",
    "{{ customer | map(attribute='__class__') | list }}",
]

# Pass the save-time check (nothing in them is an escape), blow up when rendered.
BLOW_UPS = {
    "{% for i in range(10**9) %}x{% endfor %}": "too large a number",
    "{% set r = range(1000) %}{% for i in r %}{% for j in r %}{% for k in r %}{% endfor %}{% endfor %}{% endfor %}":
        "longer than",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}x{% endfor %}{% endfor %}"
    "{% endfor %}": "(larger|longer) than",
    "{{ 'x' * 10**9 }}": "too large",
    "{{ 10**9 * 'x' }}": "too large",
    "{{ 'a'.center(10**9) }}": "too large a number",
    "{{ 'a' | indent(10**9) }}": "too large a number",
    "{{ '%999999999d' % 1 }}": "format widths",
    "{{ '{:>999999999}'.format(1) }}": "format widths",
    "{% set s = 'x' * 1000000 %}{% set s = s ~ s %}{% set s = s ~ s %}{% set s = s ~ s %}{{ s }}": "too large",
    "{{ ('a' * 1000000).replace('a', 'aaaa') }}": "too large",
    "{{ 2 ** 64 ** 64 ** 64 }}": "number too large",
}


def create(api, segment_id=None, **fields):
    body = {"name": "n", "subject": "Hello", "content": "<p>Hi</p>", "segment_id": segment_id, **fields}
    return api.post("/campaigns", json=body)


@pytest.fixture
def segment_id(app, tenant_a, smtp_mail):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 3)  # fan0..fan2
    return audience_segment(tenant_a.id)


@pytest.mark.parametrize("payload", ESCAPES)
def test_sandbox_escapes_are_refused_at_save_naming_field_and_line(api, payload):
    content = f"<p>Hello</p>\n<p>there</p>\n<p>{payload}</p>"

    error = assert_error(create(api, content=content), 422, field="html_content")

    assert "line 3" in error["message"], error


@pytest.mark.parametrize("field, api_name", [("subject", "subject"), ("preheader", "preheader"),
                                             ("text_content", "text_content")])
def test_every_templated_field_is_checked(api, field, api_name):
    error = assert_error(create(api, **{api_name: "{{ ''.__class__ }}"}), 422, field=field)
    assert "__class__" in error["message"]


@pytest.mark.parametrize("content, line", [("<p>{% if %}</p>", 1), ("<p>ok</p>\n<p>{{ customer.first_name </p>", 2),
                                           ("<p>a</p>\n\n{% for x in y %}", 3), ("{{ x | nosuchfilter }}", 1)])
def test_syntax_errors_are_422_with_the_line(api, content, line):
    error = assert_error(create(api, content=content), 422, field="html_content")
    assert f"line {line}" in error["message"], error


def test_an_update_is_checked_like_a_create(api):
    campaign_id = create(api).get_json()["id"]
    error = assert_error(api.patch(f"/campaigns/{campaign_id}", json={"content": "\n{{ self }}"}), 422,
                         field="html_content")
    assert "line 2" in error["message"]


@pytest.mark.parametrize("payload", list(BLOW_UPS))
def test_blow_ups_fail_cleanly_within_the_budget(payload, monkeypatch):
    from webapp.mail import templating

    monkeypatch.setattr(templating, "MAX_SECONDS", 0.5)  # the bound, shortened for the test
    started = time.monotonic()
    with pytest.raises(RenderFailed, match=BLOW_UPS[payload]):
        render(payload, {"customer": {"first_name": "A"}})
    assert time.monotonic() - started < 0.5 + 1.0


def test_ordinary_personalisation_still_works():
    out = render("{{ customer.first_name | default('there') }}|{{ customer.last_name }}|{{ '%05d' % 42 }}|"
                 "{{ '{:,}'.format(1234567) }}|{{ 'a-b' | replace('-', ' ') }}|{{ customer.tags | join(', ') }}|"
                 "{% for t in customer.tags %}{{ loop.index }}{{ t }}{% else %}none{% endfor %}|{{ 'x' ~ 'y' }}",
                 {"customer": {"first_name": None, "last_name": None, "tags": ["vip", "fan"]}})
    assert out == "there||00042|1,234,567|a b|vip, fan|1vip2fan|xy"


def test_a_template_that_blows_up_for_one_customer_fails_only_that_recipient(
        api, runner, tenant_a, segment_id, smtp_mail):
    # Customer data decides the loop size: only the customer with a huge value breaks it.
    customers.update_customer(tenant_a.id, customers.find_customer(tenant_a.id, email="fan1@example.com").id,
                              {"attributes": {"seats": 10**9}})
    campaign = new_campaign(tenant_a.id, segment_id, html_content=(
        "<p>Hi {{ customer.first_name }}</p>\n"
        "{% for i in range(customer.attributes.seats | default(1)) %}<span>seat</span>{% endfor %}"))

    campaigns.send_campaign(tenant_a.id, campaign.id)
    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"fan0@example.com": 1, "fan2@example.com": 1}
    failed = next(r for r in recipient_rows(campaign.id) if r.email == "fan1@example.com")
    assert failed.status == "failed"
    assert failed.error == "could not render: 1000000000 is too large a number for a template function"
    final = assert_counters_match_rows(campaign.id)
    assert (final.status, final.sent_count, final.failed_count) == ("sent", 2, 1)


def test_a_template_that_times_out_fails_its_recipients_and_the_job_finishes(
        api, runner, tenant_a, segment_id, smtp_mail, monkeypatch):
    from webapp.mail import templating

    monkeypatch.setattr(templating, "MAX_SECONDS", 0.2)  # the worker is a fork: it inherits this
    campaign = new_campaign(tenant_a.id, segment_id, html_content=(
        "{% set r = range(1000) %}{% if customer.first_name == 'Fan1' %}"
        "{% for i in r %}{% for j in r %}{% for k in r %}{% endfor %}{% endfor %}{% endfor %}{% endif %}ok"))

    campaigns.send_campaign(tenant_a.id, campaign.id)
    run_burst_worker(runner)

    assert smtp_mail.per_recipient() == {"fan0@example.com": 1, "fan2@example.com": 1}
    failed = next(r for r in recipient_rows(campaign.id) if r.email == "fan1@example.com")
    assert failed.error == "could not render: template took longer than 0.2 s to render"


@pytest.mark.parametrize("field", ["subject", "from_name", "reply_to", "preheader"])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_breaks_in_header_fields_are_422(api, field, newline):
    value = {"subject": "Hi", "from_name": "Arena", "reply_to": "help@example.com", "preheader": "Doors"}[field]
    error = assert_error(create(api, **{field: f"{value}{newline}Bcc: evil@example.com"}), 422, field=field)
    assert "line breaks" in error["message"]
    campaign_id = create(api).get_json()["id"]
    assert_error(api.patch(f"/campaigns/{campaign_id}", json={field: f"{value}{newline}X: y"}), 422, field=field)


def test_a_customer_name_with_a_line_break_cannot_add_a_header(runner, tenant_a, segment_id, smtp_mail):
    evil, _ = customers.upsert_customer(tenant_a.id, {"email": "mallory@example.com", "tags": ["fans"],
                                                      "first_name": "Mal\r\nBcc: evil@example.com"})
    campaign = new_campaign(tenant_a.id, segment_id, subject="Hello {{ customer.first_name }}!",
                            preheader="For {{ customer.first_name }}")

    campaigns.send_campaign(tenant_a.id, campaign.id)
    run_burst_worker(runner)

    [received] = smtp_mail.to("mallory@example.com")
    assert received.rcpt_tos == ["mallory@example.com"]
    assert "evil@example.com" not in smtp_mail.per_recipient()
    message = received.message
    assert sorted(message.keys()) == sorted(["From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
                                             "List-Unsubscribe-Post", "MIME-Version", "Content-Type", "List-Id",
                                             "Feedback-ID", "X-CRM-Message", "X-SMTPAPI", "X-Mailgun-Variables",
                                             "X-PM-Metadata-crm-message"])
    assert message["Bcc"] is None
    assert message["Subject"] == "Hello Mal Bcc: evil@example.com!"
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in head and b"\rBcc:" not in head
    assert evil.id in {r.customer_id for r in recipient_rows(campaign.id)}


def test_preview_as_a_customer_the_template_breaks_for_is_422_with_the_reason(api, tenant_a, segment_id):
    customer, _ = customers.upsert_customer(tenant_a.id, {"email": "big@example.com", "attributes": {"seats": 10**9}})
    campaign_id = create(api, segment_id, content="{% for i in range(customer.attributes.seats) %}x{% endfor %}"
                         ).get_json()["id"]

    error = assert_error(api.post(f"/campaigns/{campaign_id}/preview", json={"customer_id": customer.id}), 422,
                         field="html_content")

    assert "too large a number" in error["message"]


def test_view_in_browser_of_a_message_that_no_longer_renders_is_not_a_server_error(
        app, runner, tenant_a, segment_id, smtp_mail):
    campaign = new_campaign(tenant_a.id, segment_id, html_content=(
        "{% for i in range(customer.attributes.seats | default(1)) %}<p>seat</p>{% endfor %}"))
    campaigns.send_campaign(tenant_a.id, campaign.id)
    run_burst_worker(runner)
    row = next(r for r in recipient_rows(campaign.id) if r.email == "fan0@example.com")
    assert app.test_client().get(f"/v/{row.token}").status_code == 200
    customers.update_customer(tenant_a.id, row.customer_id, {"attributes": {"seats": 10**9}})

    response = app.test_client().get(f"/v/{row.token}")

    assert response.status_code == 404
