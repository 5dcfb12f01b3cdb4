"""Opens and clicks from really delivered messages: ids, redirects, recording, classification."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from tests.campaigns.tracking_support import (
    BROWSER_UA,
    age_delivery,
    hit,
    html_part,
    outbox_html,
    send_to_audience,
    tracking_urls,
    write_hits,
)
from webapp.extensions import db
from webapp.infra.queues import redis_connection
from webapp.mail import tracking as ids
from webapp.models import CampaignLink, CampaignRecipient, CustomerActivity, TrackingHit
from webapp.services import campaigns
from webapp.services.tracking import PIXEL, STREAM, confirm_hits


def _recipient(campaign_id: int, email: str) -> CampaignRecipient:
    db.session.expire_all()
    return db.session.scalar(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id,
                                                             CampaignRecipient.email == email))


def test_opens_and_clicks_from_a_real_delivered_message(client, api, tenant_a, runner, smtp_mail):
    cid = send_to_audience(runner, tenant_a.id, 2, utm_source="newsletter", utm_campaign="summer")
    [message] = smtp_mail.to("fan0@example.com")
    html = html_part(message.data)
    pixel, clicks = tracking_urls(html)
    # Two http(s) links tracked; mailto, tel, the anchor and the unsubscribe link left alone.
    assert len(clicks) == 2
    for kept in ('href="mailto:box@example.com"', 'href="tel:+441234"', 'href="#top"', 'href="http://crm.test/u/'):
        assert kept in html
    age_delivery(cid)

    opened = hit(client, pixel)
    assert opened.status_code == 200 and opened.data == PIXEL and opened.mimetype == "image/gif"
    assert "no-store" in opened.headers["Cache-Control"]
    tickets = hit(client, clicks[0])
    assert tickets.status_code == 302
    target = urlsplit(tickets.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "tickets.example.com", "/show")
    # The stored target keeps its own parameters and gains the campaign's UTM ones.
    assert parse_qs(target.query) == {"id": ["7"], "ref": ["mail"], "utm_source": ["newsletter"],
                                      "utm_campaign": ["summer"]}
    assert hit(client, clicks[0]).status_code == 302  # a second click on the same link

    assert write_hits() == {"read": 3, "written": 3, "discarded": 0}
    recipient = _recipient(cid, "fan0@example.com")
    assert (recipient.opens, recipient.human_opens, recipient.clicks, recipient.human_clicks) == (1, 1, 2, 2)
    assert recipient.first_opened_at is not None and recipient.first_human_clicked_at is not None
    assert _recipient(cid, "fan1@example.com").opens == 0

    stats = api.get(f"/campaigns/{cid}/stats").get_json()
    assert stats["opens"] == {"all": 1, "human": 1} and stats["unique_opens"] == {"all": 1, "human": 1}
    assert stats["clicks"] == {"all": 2, "human": 2} and stats["unique_clicks"] == {"all": 1, "human": 1}
    assert stats["open_rate"] == {"all": 0.5, "human": 0.5} and stats["click_to_open_rate"]["human"] == 1.0
    by_url = {urlsplit(link["url"]).netloc: link for link in stats["links"]}
    assert by_url["tickets.example.com"]["clicks"] == {"all": 2, "human": 2}
    assert by_url["tickets.example.com"]["unique_clicks"] == {"all": 1, "human": 1}
    assert by_url["venue.example.com"]["clicks"] == {"all": 0, "human": 0}
    assert sum(h["opens"]["all"] for h in stats["hourly"]) == 1

    timeline = api.get(f"/customers/{recipient.customer_id}/timeline").get_json()["data"]
    kinds = [item["type"] for item in timeline]
    assert kinds.count("email_opened") == 1 and kinds.count("email_clicked") == 2
    clicked = next(item for item in timeline if item["type"] == "email_clicked")
    assert clicked["properties"]["campaign_id"] == cid
    assert clicked["properties"]["url"].startswith("https://tickets.example.com/show?")
    assert clicked["properties"]["user_agent"] == BROWSER_UA


def test_links_are_stored_once_per_campaign_and_url(client, tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 3)
    links = db.session.scalars(select(CampaignLink.url).where(CampaignLink.campaign_id == cid)).all()
    assert sorted(links) == ["https://tickets.example.com/show?id=7&ref=mail", "https://venue.example.com/map"]
    # Every message points at the same two link rows, with its own recipient's ids.
    paths = [tracking_urls(html) for html in outbox_html(cid).values()]
    assert len({pixel for pixel, _ in paths}) == 3
    assert len({click for _, clicks in paths for click in clicks}) == 6


def test_previews_and_test_sends_are_not_tracked(tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 1)
    preview = campaigns.preview_campaign(tenant_a.id, cid)
    assert "/api/crm/track/" not in preview["html"]
    assert 'href="https://tickets.example.com/show?id=7&amp;ref=mail"' in preview["html"]


def test_forged_altered_and_sequential_ids_are_404_without_location(client, tenant_a, runner, app):
    cid = send_to_audience(runner, tenant_a.id, 1)
    pixel, clicks = tracking_urls(next(iter(outbox_html(cid).values())))
    good = clicks[0].rsplit("/", 1)[1]
    token = db.session.scalar(select(CampaignRecipient.token).where(CampaignRecipient.campaign_id == cid))
    link_ids = sorted(db.session.scalars(select(CampaignLink.id).where(CampaignLink.campaign_id == cid)))
    secret = app.config["SECRET_KEY"]
    forged = [
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # one character changed
        good[:-4],  # truncated
        "1", "2", str(link_ids[0]), "../../../etc/passwd", "%00", "A" * 48,
        ids.click_id("another-secret", token, link_ids[0], 2),  # signed with the wrong key
        ids.click_id(secret, "0" * 32, link_ids[0], 2),  # a genuine-looking id of no recipient
        ids.click_id(secret, token, link_ids[-1] + 1, 2),  # the next link id, not in this campaign
        pixel.rsplit("/", 1)[1],  # an open id is not a click id
    ]
    for click_id in forged:
        response = hit(client, f"/api/crm/track/click/{click_id}")
        assert response.status_code == 404, click_id
        assert "Location" not in response.headers
    # The pixel answers the same GIF to any id, and queues nothing for a forged one.
    for open_id in ("nope", good, pixel.rsplit("/", 1)[1][:-2] + "xx"):
        response = hit(client, f"/api/crm/track/open/{open_id}")
        assert response.status_code == 200 and response.data == PIXEL
    confirm_hits()
    assert redis_connection().xlen(STREAM) == 0


def test_another_tenants_link_cannot_be_reached_with_my_token(client, tenant_a, tenant_b, runner, app):
    mine = send_to_audience(runner, tenant_a.id, 1, prefix="a")
    theirs = send_to_audience(runner, tenant_b.id, 1, prefix="b")
    my_token = db.session.scalar(select(CampaignRecipient.token).where(CampaignRecipient.campaign_id == mine))
    their_link = db.session.scalar(select(CampaignLink.id).where(CampaignLink.campaign_id == theirs))
    # Even correctly signed, a token of tenant A with a link of tenant B's campaign is unknown.
    click_id = ids.click_id(app.config["SECRET_KEY"], my_token, their_link, 2)
    response = hit(client, f"/api/crm/track/click/{click_id}")
    assert response.status_code == 404 and "Location" not in response.headers


def test_query_parameters_never_choose_the_redirect(client, tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 1)
    _, clicks = tracking_urls(next(iter(outbox_html(cid).values())))
    for query in ({"url": "https://evil.example.net/"}, {"next": "//evil.example.net"},
                  {"redirect": "https://evil.example.net"}, {"u": "javascript:alert(1)"}):
        response = hit(client, clicks[1], query=query)
        assert response.status_code == 302
        assert response.headers["Location"] == "https://venue.example.com/map"


def test_hits_of_a_forged_signature_are_never_recorded_and_unknown_recipients_are_discarded(client, tenant_a,
                                                                                          runner, app):
    cid = send_to_audience(runner, tenant_a.id, 1)
    ghost = ids.open_id(app.config["SECRET_KEY"], "f" * 32)  # signed, but no such recipient
    hit(client, f"/api/crm/track/open/{ghost}")
    assert write_hits() == {"read": 1, "written": 0, "discarded": 1}
    assert db.session.scalar(select(func.count()).select_from(TrackingHit)) == 0
    assert not db.session.scalars(select(CustomerActivity).where(CustomerActivity.type == "email_opened")).all()
    assert cid


def test_ids_survive_round_trips_and_reject_every_altered_byte():
    token = "0123456789abcdef0123456789abcdef"
    click = ids.click_id("s", token, 42, 3)
    assert ids.parse_click_id("s", click) == (token, 42, 3)
    assert ids.parse_open_id("s", ids.open_id("s", token)) == token
    raw = ids._unb64(click)
    for index in range(len(raw)):
        altered = bytearray(raw)
        altered[index] ^= 0x01
        assert ids.parse_click_id("s", ids._b64(bytes(altered))) is None


def test_a_changed_utm_setting_changes_the_targets_of_the_next_messages():
    html = '<body><a href="https://tickets.example.com/show?x=1">Go</a></body>'
    asked: list[list[str]] = []

    def link_ids(urls: list[str]) -> dict[str, int]:
        asked.append(urls)
        return {url: 1 for url in urls}

    for source in ("spring", "summer", None):
        ids.instrument_html(html, secret="s", base_url="http://crm.test", token="0123456789abcdef" * 2,
                            utm={"utm_source": source}, link_ids=link_ids)

    assert asked == [["https://tickets.example.com/show?x=1&utm_source=spring"],
                     ["https://tickets.example.com/show?x=1&utm_source=summer"],
                     ["https://tickets.example.com/show?x=1"]]


def test_utm_settings_through_the_api(api):
    created = api.post("/campaigns", json={"name": "Launch", "subject": "Hi", "content": "<p>Hi</p>",
                                           "utm_source": "newsletter", "utm_medium": "email"})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["utm_source"], body["utm_medium"], body["utm_campaign"]) == ("newsletter", "email", None)
    patched = api.patch(f"/campaigns/{body['id']}", json={"utm_campaign": "launch", "utm_medium": ""}).get_json()
    assert (patched["utm_source"], patched["utm_medium"], patched["utm_campaign"]) == ("newsletter", None, "launch")
    refused = api.patch(f"/campaigns/{body['id']}", json={"utm_source": "a\r\nSet-Cookie: x"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["field"] == "utm_source"
    too_long = api.patch(f"/campaigns/{body['id']}", json={"utm_source": "x" * 101})
    assert too_long.status_code == 422 and too_long.get_json()["error"]["details"][0]["field"] == "utm_source"


def test_hard_bounces_count_in_the_campaign_stats(api, tenant_a, runner, smtp_mail):
    smtp_mail.permanent.add("fan1@example.com")
    cid = send_to_audience(runner, tenant_a.id, 3)
    stats = api.get(f"/campaigns/{cid}/stats").get_json()
    assert (stats["sent"], stats["failed"], stats["bounced"]) == (2, 1, 1)
    assert stats["open_rate"] == {"all": 0.0, "human": 0.0}


def test_stats_of_another_tenants_campaign_are_404(api_b, tenant_a, runner):
    cid = send_to_audience(runner, tenant_a.id, 1)
    assert api_b.get(f"/campaigns/{cid}/stats").status_code == 404
    assert api_b.get("/campaigns/stats", query_string={"campaign_id": cid}).status_code == 404


def test_stored_targets_cannot_carry_header_breaks_or_non_http_schemes():
    stored: list[str] = []

    def link_ids(urls):
        stored.extend(urls)
        return {url: i for i, url in enumerate(urls, 1)}

    html = ('<body><a href="https://ok.example.com/a b\r\nSet-Cookie: x=1">one</a>'
            '<a href="javascript:alert(1)">js</a><a href="data:text/html,hi">data</a>'
            '<a href="//evil.example.net/">relative</a><a data-notrack href="https://skip.example.com/">no</a>'
            '<a href="https://caf\u00e9.example.com/men\u00fc">two</a></body>')
    out = ids.instrument_html(html, secret="s", base_url="http://crm.test", token="ab" * 16, utm={},
                              link_ids=link_ids)
    assert stored == ["https://caf%C3%A9.example.com/men%C3%BC", "https://ok.example.com/a%20b%0D%0ASet-Cookie:%20x=1"]
    assert all(ord(c) < 128 and c not in "\r\n " for url in stored for c in url)
    for kept in ('href="javascript:alert(1)"', 'href="data:text/html,hi"', 'href="//evil.example.net/"',
                 'href="https://skip.example.com/"'):
        assert kept in out
    assert out.count("/api/crm/track/click/") == 2 and out.count("/api/crm/track/open/") == 1
