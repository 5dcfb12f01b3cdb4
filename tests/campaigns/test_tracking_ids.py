"""Tracking ids carry the recipient's token encrypted: a pixel or link URL seen by a proxy,
a log or a forwarded message cannot be turned into the unsubscribe or view-in-browser
handle. Ids of the first format (token in clear), already in mail sent, keep counting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct

import pytest
from sqlalchemy import select

from tests.campaigns.tracking_support import (
    age_delivery,
    hit,
    html_part,
    send_to_audience,
    token_shows_in,
    tracking_urls,
    write_hits,
)
from webapp.extensions import db
from webapp.infra.queues import redis_connection
from webapp.mail import tracking as ids
from webapp.models import CampaignLink, CampaignRecipient
from webapp.services.tracking import STREAM, confirm_hits


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _first_format_id(secret: str, kind: bytes, token: str, *link: int) -> str:
    """An id as mail sent before the change has it: 0x10, the token in clear, for clicks the
    link id and links in the message, then HMAC-SHA256 (key derived from SECRET_KEY) cut to
    10 bytes; base64url without padding."""
    key = hashlib.sha256(b"crm-tracking-ids\0" + secret.encode()).digest()
    payload = b"\x10" + bytes.fromhex(token) + (struct.pack(">QH", *link) if link else b"")
    return _b64(payload + hmac.digest(key, kind + payload, "sha256")[:10])


def _recipients(campaign_id: int) -> dict[str, CampaignRecipient]:
    db.session.expire_all()
    return {r.email: r for r in db.session.scalars(
        select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id))}


def test_no_tracking_url_of_a_delivered_message_shows_the_recipients_token(app, tenant_a, runner, smtp_mail):
    cid = send_to_audience(runner, tenant_a.id, 3)
    recipients = _recipients(cid)
    assert len(smtp_mail.received) == 3
    for message in smtp_mail.received:
        token = recipients[message.to].token
        html = html_part(message.data)
        pixel, clicks = tracking_urls(html)
        assert len(clicks) == 2
        for url in [pixel, *clicks]:
            assert token_shows_in(url, token) == [], url
        # The message itself still holds the token where it belongs: its unsubscribe link.
        assert f"http://crm.test/u/{token}" in html
    # The check above finds a token where there is one: in an id of the first format.
    token = next(iter(recipients.values())).token
    legacy = f"/api/crm/track/open/{_first_format_id(app.config['SECRET_KEY'], b'o', token)}"
    assert token_shows_in(legacy, token)


def test_ids_that_hide_the_token_still_count_for_their_own_recipient_and_link(client, tenant_a, runner,
                                                                             smtp_mail):
    cid = send_to_audience(runner, tenant_a.id, 3)
    age_delivery(cid)
    tokens = {email: r.token for email, r in _recipients(cid).items()}
    urls = {m.to: tracking_urls(html_part(m.data)) for m in smtp_mail.received}
    pixel, click = urls["fan0@example.com"][0], urls["fan1@example.com"][1][1]
    assert not token_shows_in(pixel, tokens["fan0@example.com"])
    assert not token_shows_in(click, tokens["fan1@example.com"])

    assert hit(client, pixel).status_code == 200
    clicked = hit(client, click)
    assert (clicked.status_code, clicked.headers["Location"]) == (302, "https://venue.example.com/map")

    assert write_hits() == {"read": 2, "written": 2, "discarded": 0}
    counts = {email: (r.opens, r.clicks) for email, r in _recipients(cid).items()}
    assert counts == {"fan0@example.com": (1, 0), "fan1@example.com": (0, 1), "fan2@example.com": (0, 0)}
    links = dict(db.session.execute(select(CampaignLink.url, CampaignLink.clicks)
                                    .where(CampaignLink.campaign_id == cid)).all())
    assert links == {"https://venue.example.com/map": 1, "https://tickets.example.com/show?id=7&ref=mail": 0}


def test_ids_of_the_first_format_no_longer_made_still_count_and_redirect(client, tenant_a, runner, app):
    cid = send_to_audience(runner, tenant_a.id, 1)
    age_delivery(cid)
    [recipient] = _recipients(cid).values()
    link = db.session.scalar(select(CampaignLink).where(CampaignLink.url == "https://venue.example.com/map"))
    secret = app.config["SECRET_KEY"]
    opened = _first_format_id(secret, b"o", recipient.token)
    clicked = _first_format_id(secret, b"c", recipient.token, link.id, 2)
    assert opened != ids.open_id(secret, recipient.token)  # no longer made, but still in inboxes

    assert hit(client, f"/api/crm/track/open/{opened}").status_code == 200
    response = hit(client, f"/api/crm/track/click/{clicked}")
    assert (response.status_code, response.headers["Location"]) == (302, "https://venue.example.com/map")
    # Altered, they fail the signature as they always did.
    altered = clicked[:-1] + ("A" if clicked[-1] != "A" else "B")
    assert hit(client, f"/api/crm/track/click/{altered}").status_code == 404
    assert hit(client, f"/api/crm/track/click/{opened}").status_code == 404  # an open id is no click id

    assert write_hits() == {"read": 2, "written": 2, "discarded": 0}
    [recipient] = _recipients(cid).values()
    assert (recipient.opens, recipient.clicks) == (1, 1)


def test_ids_of_the_first_format_are_refused_when_tracking_legacy_ids_is_off(client, tenant_a, runner, app,
                                                                            monkeypatch, smtp_mail):
    cid = send_to_audience(runner, tenant_a.id, 1)
    [recipient] = _recipients(cid).values()
    link_id = db.session.scalar(select(CampaignLink.id).where(CampaignLink.url == "https://venue.example.com/map"))
    secret = app.config["SECRET_KEY"]
    monkeypatch.setitem(app.config, "TRACKING_LEGACY_IDS", False)

    response = hit(client, f"/api/crm/track/click/{_first_format_id(secret, b'c', recipient.token, link_id, 2)}")
    assert response.status_code == 404 and "Location" not in response.headers
    assert hit(client, f"/api/crm/track/open/{_first_format_id(secret, b'o', recipient.token)}").status_code == 200
    confirm_hits()
    assert redis_connection().xlen(STREAM) == 0  # the pixel answered, and queued nothing
    # Ids of the current format are not affected.
    pixel, clicks = tracking_urls(html_part(smtp_mail.received[0].data))
    assert hit(client, clicks[1]).status_code == 302
    assert hit(client, pixel).status_code == 200
    assert write_hits()["written"] == 2


def test_ids_keep_their_documented_form_so_links_mailed_from_now_on_keep_working():
    # The token's 16 bytes through a 4-round Feistel network (halves of 8 bytes, round i:
    # BLAKE2b-64 keyed with SHA-256("crm-tracking-token-cipher\0" + SECRET_KEY) of i and the
    # half), then for clicks the link id and links in the message (>QH), then HMAC-SHA256
    # under SHA-256("crm-tracking-ids\0" + SECRET_KEY) of "O" or "C" and all that, cut to
    # 10 bytes; base64url without padding.
    token, secret = "0123456789abcdef0123456789abcdef", "s3cret"
    cipher_key = hashlib.sha256(b"crm-tracking-token-cipher\0" + secret.encode()).digest()
    sign_key = hashlib.sha256(b"crm-tracking-ids\0" + secret.encode()).digest()
    left, right = bytes.fromhex(token)[:8], bytes.fromhex(token)[8:]
    for i in range(4):
        mask = hashlib.blake2b(bytes([i]) + right, key=cipher_key, digest_size=8).digest()
        left, right = right, bytes(a ^ b for a, b in zip(left, mask, strict=True))
    sealed = left + right
    link = sealed + struct.pack(">QH", 42, 3)

    assert ids.open_id(secret, token) == _b64(sealed + hmac.digest(sign_key, b"O" + sealed, "sha256")[:10])
    assert ids.click_id(secret, token, 42, 3) == _b64(link + hmac.digest(sign_key, b"C" + link, "sha256")[:10])
    assert ids.parse_open_id(secret, ids.open_id(secret, token)) == token
    assert ids.parse_click_id(secret, ids.click_id(secret, token, 42, 3)) == (token, 42, 3)


def test_ids_are_short_url_safe_and_one_per_recipient_and_key():
    tokens = [secrets.token_hex(16) for _ in range(500)]
    opens = [ids.open_id("k1", t) for t in tokens]
    clicks = [ids.click_id("k1", t, 2**40, 7) for t in tokens]
    assert {len(o) for o in opens} == {35} and {len(c) for c in clicks} == {48}
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in opens + clicks)
    assert len(set(opens)) == len(tokens)
    assert [ids.parse_open_id("k1", o) for o in opens] == tokens
    # Another SECRET_KEY: other ciphertexts, and ids of the first key are not genuine under it.
    assert not set(ids.seal_token("k2", t) for t in tokens) & set(ids.seal_token("k1", t) for t in tokens)
    assert all(ids.parse_open_id("k2", o) is None for o in opens[:50])


def test_only_recipient_tokens_are_made_into_ids():
    # Previews and test sends ("preview", "test") are never tracked; a token that is not one
    # of 32 hex digits has no ciphertext, rather than going out in clear.
    for token in ("preview", "test", "AB" * 16, "ab" * 15):
        with pytest.raises(ValueError):
            ids.open_id("s", token)
