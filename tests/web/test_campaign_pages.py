"""Campaign pages: the list, the editor with its sandboxed live preview, test sends,
scheduling in the tenant's timezone, sending after a confirmation that gives the count,
the self-polling progress, and the Outbox; CSRF, roles and tenancy on every route."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html import unescape

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import EmailCampaign, OutboxMessage, Tenant
from webapp.services import campaigns, segments
from webapp.services.sending_domains import add_domain_of

from .conftest import HX, make_customer, snapshot
from .pages import field_errors

HOSTILE = "<script>alert(1)</script>"
VIP = [{"type": "tag", "operator": "has", "value": "vip"}]
CONTENT = ("<html><body><h1>Hello {{ customer.first_name | default('there') }}</h1>"
           "<p>See you at the show.</p></body></html>")


def editor_data(**changes) -> dict:
    data = {"name": "Summer Jazz Night", "segment_id": "", "subject": "Your seats are waiting",
            "preheader": "", "from_name": "", "from_email": "", "reply_to": "", "html_content": CONTENT,
            "text_content": ""}
    return {**data, **changes}


@pytest.fixture
def shop_a(tenant_a):
    """Tenant A: a sender, a postal address, three customers (two vip, one of them unsubscribed)
    and the VIP segment; returns their ids."""
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.sender_name, tenant.sender_email = "Arena Alpha Box Office", "tickets@alpha.example.com"
    tenant.postal_address, tenant.timezone = "1 Arena Way, Berlin", "Europe/Berlin"
    add_domain_of(tenant_a.id, tenant.sender_email)
    db.session.commit()
    ids = {
        "ada": make_customer(tenant_a.id, "ada@example.com", first_name="Ada", tags=["vip"]).id,
        "bo": make_customer(tenant_a.id, "bo@example.com", first_name="Bo", tags=["vip"],
                            email_status="unsubscribed").id,
        "mallory": make_customer(tenant_a.id, "mallory@example.com", first_name=HOSTILE).id,
    }
    ids["segment"] = segments.create_segment(tenant_a.id, "VIPs", VIP).id
    db.session.commit()
    return ids


def new_campaign(tenant_id: int, segment_id: int | None = None, **fields) -> EmailCampaign:
    data = {"name": "Summer Jazz Night", "subject": "Hi {{ customer.first_name | default('there') }}",
            "html_content": CONTENT, "segment_id": segment_id, **fields}
    return campaigns.create_campaign(tenant_id, data)


@pytest.fixture
def draft(tenant_a, shop_a) -> EmailCampaign:
    return new_campaign(tenant_a.id, shop_a["segment"])


def finished(campaign: EmailCampaign, status: str = "sent", *, sent=2, failed=1, skipped=0, recipients=3):
    """Put a campaign in a delivery state without running the workers."""
    campaign.status = status
    campaign.recipients_count, campaign.sent_count = recipients, sent
    campaign.failed_count, campaign.skipped_count = failed, skipped
    campaign.snapshot_at = campaign.started_at = utcnow() - timedelta(minutes=5)
    campaign.finished_at = utcnow() if status in ("sent", "cancelled") else None
    db.session.commit()
    return campaign


def store_message(tenant_id: int, *, to="ada@example.com", subject="Hello", html="<p>Hi <b>Ada</b></p>",
                  text="Hi Ada", campaign_id=None) -> OutboxMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "Box Office <tickets@alpha.example.com>", to, subject
    message["Message-ID"] = "<1@alpha.example.com>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    row = OutboxMessage(tenant_id=tenant_id, campaign_id=campaign_id, recipient=to, sender="tickets@alpha.example.com",
                        subject=subject, message_id="<1@alpha.example.com>", raw=message.as_bytes())
    db.session.add(row)
    db.session.commit()
    return row


def campaign_count() -> int:
    return db.session.scalar(select(func.count()).select_from(EmailCampaign))


def srcdoc(html: str) -> str:
    """The document inside the preview iframe, as the browser reads the attribute."""
    match = re.search(r'<iframe[^>]*\ssrcdoc="([^"]*)"', html)
    assert match, "no iframe with srcdoc"
    return unescape(match.group(1))


def iframe_tag(html: str) -> str:
    return re.search(r"<iframe[^>]*>", html).group(0)


# --- the list -------------------------------------------------------------------------------

def test_empty_list_says_what_to_do_next(owner_a):
    html = owner_a.get("/campaigns/").get_data(as_text=True)

    assert "No campaigns yet" in html
    assert 'href="/campaigns/new"' in html
    assert 'href="/segments/new"' in html  # no segment to send to yet either


def test_list_shows_status_segment_recipients_progress_and_times(owner_a, tenant_a, shop_a, draft):
    sent = finished(new_campaign(tenant_a.id, shop_a["segment"], name="Autumn season"), sent=2, failed=1)

    html = owner_a.get("/campaigns/").get_data(as_text=True)

    rows = re.findall(r'<tr class="campaign-row".*?</tr>', html, re.S)
    assert len(rows) == 2
    autumn = next(r for r in rows if "Autumn season" in r)
    assert "campaign-sent" in autumn and ">Sent<" in autumn
    assert "VIPs" in autumn
    assert "2 / 3 sent" in autumn and "1 failed" in autumn
    assert "Finished" in autumn and f'href="/campaigns/{sent.id}"' in autumn
    summer = next(r for r in rows if "Summer Jazz Night" in r)
    assert "campaign-draft" in summer and f'href="/campaigns/{draft.id}/edit"' in summer
    assert 'href="/campaigns/new"' in html


def test_list_filters_by_status(owner_a, tenant_a, shop_a, draft):
    finished(new_campaign(tenant_a.id, shop_a["segment"], name="Autumn season"))

    sent_only = owner_a.get("/campaigns/?status=sent").get_data(as_text=True)
    drafts_only = owner_a.get("/campaigns/?status=draft").get_data(as_text=True)
    scheduled = owner_a.get("/campaigns/?status=scheduled").get_data(as_text=True)

    assert "Autumn season" in sent_only and "Summer Jazz Night" not in sent_only
    assert "Summer Jazz Night" in drafts_only and "Autumn season" not in drafts_only
    assert "No scheduled campaigns." in scheduled
    assert 'aria-current="page">Sent<' in sent_only


def test_viewer_sees_the_list_without_write_controls(viewer_a, tenant_a, draft):
    html = viewer_a.get("/campaigns/").get_data(as_text=True)

    assert "Summer Jazz Night" in html
    assert "/campaigns/new" not in html and f"/campaigns/{draft.id}/edit" not in html
    assert f'href="/campaigns/{draft.id}"' in html


# --- the editor -----------------------------------------------------------------------------

def test_new_campaign_editor_has_every_field_the_preview_and_sender_placeholders(owner_a, shop_a):
    html = owner_a.get("/campaigns/new").get_data(as_text=True)

    # A new campaign starts as a design (the email builder); its HTML is what the design compiles to.
    for name in ("name", "segment_id", "subject", "preheader", "from_name", "from_email", "reply_to",
                 "design", "text_content"):
        assert f'name="{name}"' in html, name
    assert 'name="html_content"' not in html
    assert f'<option value="{shop_a["segment"]}">VIPs</option>' in html
    assert 'placeholder="Arena Alpha Box Office"' in html and 'placeholder="tickets@alpha.example.com"' in html
    assert 'hx-post="/campaigns/preview"' in html and 'hx-trigger="load, input delay:600ms from:#campaign-form' in html
    assert 'value="mobile"' in html and 'id="preview-as"' in html
    assert "Save the draft first" in html  # test, schedule and send need a saved campaign


def test_saving_a_new_campaign_opens_its_editor(owner_a, tenant_a, shop_a):
    response = owner_a.post("/campaigns/new", editor_data(segment_id=str(shop_a["segment"]), preheader="Doors at 8",
                                                          reply_to="Help@Alpha.example.com"))

    campaign = db.session.scalar(select(EmailCampaign))
    assert response.status_code == 302 and response.headers["Location"] == f"/campaigns/{campaign.id}/edit"
    assert (campaign.name, campaign.segment_id, campaign.preheader) == ("Summer Jazz Night", shop_a["segment"],
                                                                        "Doors at 8")
    assert campaign.reply_to == "help@alpha.example.com" and campaign.from_email is None
    assert campaign.text_content is None and campaign.status == "draft"
    html = owner_a.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert "Draft saved" in html and 'id="test-send"' in html and 'id="schedule-form"' in html


def test_template_syntax_error_is_shown_beside_the_content_with_its_line_and_nothing_is_lost(owner_a, shop_a):
    broken = "<p>Hello</p>\n<p>{{ customer.first_name </p>\n"
    data = editor_data(name="Kept name", preheader="Kept preheader", html_content=broken)

    response = owner_a.post("/campaigns/new", data)

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    errors = field_errors(html)
    assert len(errors["html_content"]) == 1 and "line 2" in errors["html_content"][0]
    assert errors["name"] == [] and errors["subject"] == []
    assert 'value="Kept name"' in html and 'value="Kept preheader"' in html
    assert str(escape(broken)) in html  # the content is back in its textarea, as typed
    assert campaign_count() == 0


def test_line_break_in_the_subject_is_refused_beside_the_subject(owner_a, shop_a):
    response = owner_a.post("/campaigns/new", editor_data(subject="Hello\r\nBcc: everyone@example.com"))

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["subject"] == ["must not contain line breaks"]
    assert campaign_count() == 0


def test_missing_fields_and_a_bad_reply_to_are_marked_beside_them(owner_a, shop_a):
    missing = owner_a.post("/campaigns/new", editor_data(name="", html_content=""))
    bad_address = owner_a.post("/campaigns/new", editor_data(reply_to="not an address"))

    errors = field_errors(missing.get_data(as_text=True))
    assert missing.status_code == 422
    assert errors["name"] == ["Give the campaign a name."]
    assert errors["html_content"] == ["Write the email's content."]
    assert bad_address.status_code == 422 and field_errors(bad_address.get_data(as_text=True))["reply_to"]
    assert campaign_count() == 0


def test_another_tenants_segment_is_not_a_choice(owner_a, tenant_b):
    theirs = segments.create_segment(tenant_b.id, "Bravo VIPs", VIP).id

    response = owner_a.post("/campaigns/new", editor_data(segment_id=str(theirs)))

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True))["segment_id"]
    assert "Bravo VIPs" not in response.get_data(as_text=True)
    assert campaign_count() == 0


def test_editing_saves_changes_and_keeps_everything_on_an_error(owner_a, draft):
    saved = owner_a.post(f"/campaigns/{draft.id}/edit", editor_data(name="Renamed", subject="New subject"))
    refused = owner_a.post(f"/campaigns/{draft.id}/edit", editor_data(name="Typed again", html_content="{% if %}"))

    assert saved.status_code == 302
    db.session.refresh(draft)
    assert (draft.name, draft.subject) == ("Renamed", "New subject")
    assert refused.status_code == 422
    assert 'value="Typed again"' in refused.get_data(as_text=True)
    assert "line 1" in field_errors(refused.get_data(as_text=True))["html_content"][0]
    db.session.refresh(draft)
    assert draft.name == "Renamed"


@pytest.mark.parametrize("status", ["sending", "sent", "cancelled"])
def test_a_campaign_that_went_out_is_read_only(owner_a, draft, status):
    finished(draft, status)
    before = snapshot()

    editor = owner_a.get(f"/campaigns/{draft.id}/edit")
    post = owner_a.post(f"/campaigns/{draft.id}/edit", editor_data(name="Changed"))
    page = owner_a.get(f"/campaigns/{draft.id}").get_data(as_text=True)

    assert editor.status_code == 302 and editor.headers["Location"] == f"/campaigns/{draft.id}"
    assert post.status_code == 302 and snapshot() == before
    assert "<textarea" not in page and f"/campaigns/{draft.id}/edit" not in page
    assert 'sandbox=""' in page and "Hello there" in srcdoc(page)


def test_a_campaigns_page_links_its_segment_without_counting_its_members(owner_a, draft):
    """The page shows the segment's name and link; who it reaches now is counted by the editor
    and the send confirmation only (a count over a million members took 120 ms a view)."""
    from tests.sql_support import sql_sent

    finished(draft)
    with sql_sent() as sent:
        page = owner_a.get(f"/campaigns/{draft.id}").get_data(as_text=True)
    assert f'href="/segments/{draft.segment_id}">VIPs</a>' in page
    assert not [s for s in sent if "customer_segment_members" in s], sent


def test_audience_partial_counts_the_subscribed_members_of_the_segment(owner_a, shop_a):
    html = owner_a.get(f"/campaigns/audience?segment_id={shop_a['segment']}", headers=HX).get_data(as_text=True)
    nothing = owner_a.get("/campaigns/audience?segment_id=", headers=HX).get_data(as_text=True)

    assert re.search(r'data-testid="audience-count">1 person</strong>\s*will get this', html)  # Bo unsubscribed
    assert "<html" not in html
    assert "Choose a segment" in nothing


def test_segment_select_refreshes_the_count(owner_a, draft, shop_a):
    html = owner_a.get(f"/campaigns/{draft.id}/edit").get_data(as_text=True)

    select_tag = re.search(r'<select[^>]*name="segment_id"[^>]*>', html).group(0)
    assert 'hx-get="/campaigns/audience"' in select_tag and 'hx-target="#audience"' in select_tag
    assert re.search(r'audience-count">1 person<', html)


# --- preview --------------------------------------------------------------------------------

def test_preview_renders_unsaved_content_as_the_chosen_customer_in_a_sandboxed_iframe(owner_a, shop_a):
    data = editor_data(subject="Hi {{ customer.first_name }}", html_content=CONTENT, preview_as="ada@example.com")

    response = owner_a.hx_post("/campaigns/preview", data)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'sandbox=""', iframe_tag(html))
    assert "allow-" not in iframe_tag(html)
    assert "<h1>Hello Ada</h1>" in srcdoc(html)
    assert "Hi Ada" in html and "ada@example.com" in html  # subject and To line
    assert "Arena Alpha Box Office &lt;tickets@alpha.example.com&gt;" in html  # the tenant's sender
    assert campaign_count() == 0


def test_preview_escapes_personalisation_from_customer_data(owner_a, shop_a):
    response = owner_a.hx_post("/campaigns/preview", editor_data(preview_as="mallory@example.com"))

    html = response.get_data(as_text=True)
    assert HOSTILE not in html and HOSTILE not in srcdoc(html)  # not even inside the sandbox
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;" in srcdoc(html)


def test_preview_of_an_unknown_email_uses_a_sample_customer(owner_a, shop_a):
    html = owner_a.hx_post("/campaigns/preview", editor_data(preview_as="nobody@example.com")).get_data(as_text=True)

    assert "No customer has the email" in html and "Hello there" in srcdoc(html)


def test_preview_reports_a_template_error_with_its_line(owner_a, shop_a):
    response = owner_a.hx_post("/campaigns/preview", editor_data(html_content="<p>ok</p>\n\n{{ customer. }}"))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-error-field="html_content"' in html and "line 3" in html
    assert "<iframe" not in html


def test_preview_of_an_empty_editor_invites_to_write(owner_a, shop_a):
    response = owner_a.hx_post("/campaigns/preview", editor_data(subject="", html_content=""))

    assert response.status_code == 200 and "<iframe" not in response.get_data(as_text=True)


def test_saved_preview_as_a_customer_is_open_to_viewers(viewer_a, draft, shop_a):
    response = viewer_a.get(f"/campaigns/{draft.id}/preview?preview_as=ada@example.com", headers=HX)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Hello Ada</h1>" in srcdoc(html) and "Hi Ada" in html


def test_customer_suggestions_for_preview_as_are_the_tenants_own(owner_a, owner_b, shop_a, tenant_b):
    make_customer(tenant_b.id, "ada.b@bravo.example.com", first_name="Ada")

    mine = owner_a.get("/campaigns/customers?preview_as=ada", headers=HX).get_data(as_text=True)
    theirs = owner_b.get("/campaigns/customers?preview_as=ada", headers=HX).get_data(as_text=True)

    assert '<option value="ada@example.com">' in mine and "bravo" not in mine
    assert "ada@example.com" not in theirs


# --- test send, schedule, send now, cancel, delete --------------------------------------------

def test_test_send_lands_in_the_outbox_marked_as_a_test(owner_a, draft, shop_a, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")

    response = owner_a.hx_post(f"/campaigns/{draft.id}/test",
                               {"emails": "me@example.com, boss@example.com", "preview_as": "ada@example.com"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "me@example.com" in html and "boss@example.com" in html and 'href="/outbox/"' in html
    stored = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [m.recipient for m in stored] == ["me@example.com", "boss@example.com"]
    assert stored[0].subject == "[TEST] Hi Ada" and b"Subject: [TEST] Hi Ada" in stored[0].raw
    db.session.refresh(draft)
    assert draft.status == "draft" and draft.sent_count == 0


def test_test_send_refuses_more_than_ten_addresses_or_a_bad_one_beside_the_field(owner_a, draft, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    eleven = ", ".join(f"t{i}@example.com" for i in range(11))

    too_many = owner_a.hx_post(f"/campaigns/{draft.id}/test", {"emails": eleven})
    bad = owner_a.hx_post(f"/campaigns/{draft.id}/test", {"emails": "ok@example.com, nope"})

    assert too_many.status_code == 422
    assert field_errors(too_many.get_data(as_text=True))["emails"] == ["at most 10 test addresses"]
    assert bad.status_code == 422 and field_errors(bad.get_data(as_text=True))["emails"]
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_schedule_takes_the_time_in_the_tenants_timezone(owner_a, draft):
    response = owner_a.post(f"/campaigns/{draft.id}/schedule", {"send_at": "2030-07-01T09:00"})

    assert response.status_code == 302
    db.session.refresh(draft)
    assert draft.status == "scheduled"
    assert draft.scheduled_at == datetime(2030, 7, 1, 7, 0, tzinfo=UTC)  # 09:00 in Berlin, summer time
    html = owner_a.get(f"/campaigns/{draft.id}/edit").get_data(as_text=True)
    assert "01 Jul 2030 at 09:00" in html and 'value="2030-07-01T09:00"' in html
    assert "Cancel campaign" in html


def test_schedule_in_the_past_or_unreadable_is_refused_beside_the_field(owner_a, draft):
    past = owner_a.post(f"/campaigns/{draft.id}/schedule", {"send_at": "2020-01-01T09:00"})
    garbage = owner_a.post(f"/campaigns/{draft.id}/schedule", {"send_at": "next tuesday"})

    assert past.status_code == 422
    assert field_errors(past.get_data(as_text=True))["send_at"] == ["must be in the future"]
    assert field_errors(garbage.get_data(as_text=True))["send_at"] == ["Pick a date and time."]
    db.session.refresh(draft)
    assert draft.status == "draft"


def test_send_confirmation_says_exactly_how_many_people_get_it(owner_a, draft):
    response = owner_a.get(f"/campaigns/{draft.id}/send")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    count = re.search(r'data-testid="confirm-count">\s*<strong>([^<]+)</strong>\s*will get this email', html)
    assert count and count.group(1) == "1 person"  # Ada; Bo unsubscribed
    assert "Send to 1 person now" in html
    db.session.refresh(draft)
    assert draft.status == "draft"  # looking at the confirmation sends nothing


def test_send_confirmation_says_how_long_sending_takes_at_the_tenants_rate(owner_a, tenant_a, draft):
    db.session.get(Tenant, tenant_a.id).send_rate_per_second = 1
    db.session.commit()
    html = owner_a.get(f"/campaigns/{draft.id}/send").get_data(as_text=True)
    sending_time = re.search(r'data-testid="sending-time">([^<]+)<', html).group(1)
    assert " ".join(sending_time.split()) == "under a minute, at 1 message per second ("
    assert 'href="/settings/"' in html


def test_send_now_starts_sending_and_shows_the_progress(owner_a, draft):
    response = owner_a.post(f"/campaigns/{draft.id}/send")

    assert response.status_code == 302 and response.headers["Location"] == f"/campaigns/{draft.id}"
    db.session.refresh(draft)
    assert draft.status == "sending"
    html = owner_a.get(f"/campaigns/{draft.id}").get_data(as_text=True)
    assert "Sending has started" in html
    assert f'hx-get="/campaigns/{draft.id}/progress" hx-trigger="every 2s"' in html


def test_sending_without_a_postal_address_says_where_to_set_it(owner_a, tenant_a, draft):
    db.session.get(Tenant, tenant_a.id).postal_address = None
    db.session.commit()

    response = owner_a.post(f"/campaigns/{draft.id}/send")

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "postal address" in html and 'href="/settings/"' in html
    db.session.refresh(draft)
    assert draft.status == "draft"


def test_a_sent_campaign_cannot_be_sent_again(owner_a, draft):
    finished(draft, "sent")

    response = owner_a.post(f"/campaigns/{draft.id}/send")

    assert response.status_code == 302
    assert "already sent" in owner_a.get(response.headers["Location"]).get_data(as_text=True)


def test_cancel_stops_a_scheduled_campaign(owner_a, draft):
    campaigns.schedule_campaign(draft.tenant_id, draft.id, utcnow() + timedelta(days=2))

    response = owner_a.post(f"/campaigns/{draft.id}/cancel")

    assert response.status_code == 302
    db.session.refresh(draft)
    assert draft.status == "cancelled"


def test_only_drafts_are_deleted(owner_a, tenant_a, draft, shop_a):
    sent = finished(new_campaign(tenant_a.id, shop_a["segment"], name="Gone out"))

    deleted = owner_a.post(f"/campaigns/{draft.id}/delete")
    kept = owner_a.post(f"/campaigns/{sent.id}/delete")

    assert deleted.status_code == 302 and deleted.headers["Location"] == "/campaigns/"
    assert kept.status_code == 302
    assert [c.name for c in db.session.scalars(select(EmailCampaign))] == ["Gone out"]


# --- progress -------------------------------------------------------------------------------

def test_progress_partial_polls_itself_while_sending(owner_a, draft):
    finished(draft, "sending", recipients=10, sent=4, failed=1, skipped=2)

    response = owner_a.get(f"/campaigns/{draft.id}/progress", headers=HX)

    html = response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"] and "<html" not in html
    assert 'hx-trigger="every 2s"' in html and f'hx-get="/campaigns/{draft.id}/progress"' in html
    counts = dict(re.findall(r'data-testid="count-(\w+)">([\d,]+)<', html))
    assert counts == {"recipients": "10", "sent": "4", "failed": "1", "skipped": "2", "remaining": "3"}
    assert 'value="70"' in html  # 7 of 10 are final


def time_left(html: str) -> str | None:
    found = re.search(r'data-testid="time-left">([^<]+)<', html)
    return found.group(1) if found else None


def test_progress_says_how_long_is_left_at_the_pace_so_far(owner_a, tenant_a, draft):
    # 100 of 1,000 in the five minutes since the list was taken: 900 more take 45 minutes.
    finished(draft, "sending", recipients=1000, sent=100, failed=0)
    html = owner_a.get(f"/campaigns/{draft.id}/progress", headers=HX).get_data(as_text=True)
    assert time_left(html) == "About 45 minutes left at the pace so far."

    # Never faster than the tenant's rate: 900 done in five minutes is 3 a second, the
    # rate is 1 a second, so the last 100 take about two minutes.
    db.session.get(Tenant, tenant_a.id).send_rate_per_second = 1
    finished(draft, "sending", recipients=1000, sent=900, failed=0)
    html = owner_a.get(f"/campaigns/{draft.id}/progress", headers=HX).get_data(as_text=True)
    assert time_left(html) == "About 2 minutes left at the pace so far."


def test_progress_says_nothing_of_time_left_before_the_first_message_or_after_the_last(owner_a, draft):
    finished(draft, "sending", recipients=1000, sent=0, failed=0)
    assert time_left(owner_a.get(f"/campaigns/{draft.id}/progress", headers=HX).get_data(as_text=True)) is None
    finished(draft, "sent", recipients=3, sent=3, failed=0)
    assert time_left(owner_a.get(f"/campaigns/{draft.id}/progress", headers=HX).get_data(as_text=True)) is None


def test_progress_partial_stops_polling_once_sent(owner_a, draft):
    finished(draft, "sent", recipients=3, sent=3, failed=0)

    html = owner_a.get(f"/campaigns/{draft.id}/progress", headers=HX).get_data(as_text=True)

    assert "hx-trigger" not in html and "hx-get" not in html
    assert 'data-status="sent"' in html and 'data-testid="count-remaining">0<' in html


# --- outbox ---------------------------------------------------------------------------------

def test_outbox_lists_the_tenants_messages_newest_first(owner_a, tenant_a, tenant_b, draft):
    store_message(tenant_a.id, subject="First", campaign_id=draft.id)
    store_message(tenant_a.id, subject="[TEST] Second")
    store_message(tenant_b.id, subject="Bravo only")

    html = owner_a.get("/outbox/").get_data(as_text=True)

    subjects = re.findall(r'class="outbox-subject">([^<]+)<', html)
    assert subjects == ["[TEST] Second", "First"]
    assert "Summer Jazz Night" in html and "test send" in html


def test_outbox_pages_by_fifty(owner_a, tenant_a):
    for n in range(52):
        store_message(tenant_a.id, subject=f"Message {n}")

    first = owner_a.get("/outbox/").get_data(as_text=True)
    cursor = unescape(re.search(r'href="/outbox/\?cursor=([^"]+)"', first).group(1))
    second = owner_a.get(f"/outbox/?cursor={cursor}").get_data(as_text=True)

    assert first.count('class="outbox-row"') == 50 and "Message 51" in first
    assert re.findall(r'class="outbox-subject">([^<]+)<', second) == ["Message 1", "Message 0"]


def test_outbox_message_shows_headers_html_in_a_sandbox_and_text_escaped(owner_a, tenant_a):
    message = store_message(tenant_a.id, html="<p>Hi <b>Ada</b></p><script>parent.x=1</script>",
                            text="Hi <b>Ada</b>")

    html = owner_a.get(f"/outbox/{message.id}").get_data(as_text=True)

    assert "<dt>From</dt><dd>Box Office &lt;tickets@alpha.example.com&gt;</dd>" in html
    assert "<dt>Message-ID</dt>" in html
    tag = iframe_tag(html)
    assert 'sandbox=""' in tag and "allow-" not in tag
    assert "<p>Hi <b>Ada</b></p>" in srcdoc(html)
    assert "<script>parent.x=1</script>" not in html
    assert "Hi &lt;b&gt;Ada&lt;/b&gt;" in html  # the text part, escaped


def test_nav_links_the_outbox_only_when_mail_is_kept_locally(owner_a, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    assert 'href="/outbox/"' in owner_a.get("/campaigns/").get_data(as_text=True)

    monkeypatch.setitem(app.config, "MAIL_URL", "smtp://127.0.0.1:2525")
    html = owner_a.get("/campaigns/").get_data(as_text=True)
    assert 'href="/outbox/"' not in html and 'href="/campaigns/"' in html


# --- CSRF, roles, tenancy, escaping ------------------------------------------------------------

def post_routes(campaign_id: int) -> list[tuple[str, dict]]:
    return [
        ("/campaigns/new", editor_data()),
        (f"/campaigns/{campaign_id}/edit", editor_data(name="Changed")),
        ("/campaigns/preview", editor_data()),
        (f"/campaigns/{campaign_id}/test", {"emails": "me@example.com"}),
        (f"/campaigns/{campaign_id}/schedule", {"send_at": "2031-01-01T09:00"}),
        (f"/campaigns/{campaign_id}/send", {}),
        (f"/campaigns/{campaign_id}/cancel", {}),
        (f"/campaigns/{campaign_id}/delete", {}),
    ]


def test_every_campaign_post_refuses_a_missing_csrf_token(owner_a, draft, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    before = snapshot()

    for path, data in post_routes(draft.id):
        for headers in ({}, HX):
            response = owner_a.post(path, data, csrf=False, headers=headers)
            assert response.status_code == 400, path

    assert snapshot() == before


def test_viewers_get_403_on_every_campaign_post(viewer_a, draft, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    before = snapshot()

    for path, data in post_routes(draft.id):
        assert viewer_a.post(path, data).status_code == 403, path
    assert viewer_a.get("/campaigns/new").status_code == 403
    assert viewer_a.get(f"/campaigns/{draft.id}/send").status_code == 403
    assert snapshot() == before


def test_tenant_b_gets_404_for_tenant_a_campaign_and_outbox_ids(owner_b, draft, tenant_a, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    message = store_message(tenant_a.id, subject="Alpha secret", campaign_id=draft.id)
    gets = [f"/campaigns/{draft.id}", f"/campaigns/{draft.id}/edit", f"/campaigns/{draft.id}/preview",
            f"/campaigns/{draft.id}/send", f"/campaigns/{draft.id}/progress", f"/outbox/{message.id}"]
    before = snapshot()

    for path in gets:
        for headers in ({}, HX):
            response = owner_b.get(path, headers=headers)
            assert response.status_code == 404, path
            assert "Summer Jazz Night" not in response.get_data(as_text=True)
    for path, data in post_routes(draft.id):
        if str(draft.id) in path:
            assert owner_b.post(path, data).status_code == 404, path
    assert snapshot() == before
    assert "Alpha secret" not in owner_b.get("/outbox/").get_data(as_text=True)
    assert "Summer Jazz Night" not in owner_b.get("/campaigns/").get_data(as_text=True)
    assert owner_b.get(f"/campaigns/audience?segment_id={draft.segment_id}").get_data(as_text=True).count("VIPs") == 0


def test_a_campaign_name_with_markup_is_escaped_everywhere(owner_a, tenant_a, shop_a, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    campaign = new_campaign(tenant_a.id, shop_a["segment"], name=HOSTILE)
    sent = finished(new_campaign(tenant_a.id, shop_a["segment"], name=HOSTILE + " sent"))
    message = store_message(tenant_a.id, subject=HOSTILE, campaign_id=sent.id)
    pages = ["/campaigns/", "/campaigns/?status=draft", f"/campaigns/{campaign.id}", f"/campaigns/{campaign.id}/edit",
             f"/campaigns/{campaign.id}/send", f"/campaigns/{sent.id}", f"/campaigns/{sent.id}/progress",
             "/outbox/", f"/outbox/{message.id}"]

    for path in pages:
        html = owner_a.get(path).get_data(as_text=True)
        assert HOSTILE not in html, path
        assert str(escape(HOSTILE)) in html or path.endswith("/progress"), path
    assert f"<title>{escape(HOSTILE)} · " in owner_a.get(f"/campaigns/{campaign.id}").get_data(as_text=True)


def test_campaign_pages_have_unique_ids_and_labels_that_point_at_controls(owner_a, tenant_a, draft, shop_a):
    message = store_message(tenant_a.id, campaign_id=draft.id)
    sent = finished(new_campaign(tenant_a.id, shop_a["segment"], name="Gone out"))
    for path in ["/campaigns/", "/campaigns/new", f"/campaigns/{draft.id}/edit", f"/campaigns/{draft.id}",
                 f"/campaigns/{draft.id}/send", f"/campaigns/{sent.id}", "/outbox/", f"/outbox/{message.id}"]:
        html = owner_a.get(path).get_data(as_text=True)
        ids = re.findall(r'\sid="([^"]+)"', html)
        assert [i for i, n in Counter(ids).items() if n > 1] == [], path
        for target in re.findall(r'<label for="([^"]+)"', html):
            assert target in ids, f"{path}: label for missing #{target}"
        assert '="None"' not in html and ">None<" not in html, path


def test_subjects_with_merge_tags_read_as_field_names_in_the_list_and_summary(owner_a, tenant_a):
    campaign = campaigns.create_campaign(tenant_a.id, {
        "name": "Presale", "subject": "{{ customer.first_name | default('Hi') }}, your presale code",
        "preheader": "For {{ next_event.name }} only", "html_content": "<p>Code</p>"})
    listed = owner_a.get("/campaigns/").get_data(as_text=True)
    summary = owner_a.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "[First name], your presale code" in listed and "{{" not in listed
    assert "[First name], your presale code" in summary and "For [Event name] only" in summary
    assert "{{ customer" not in summary
