"""Building blocks for the tracking tests: a campaign really delivered (SMTP sink or outbox),
the tracking URLs read back from the delivered HTML, hits sent like a mail client would."""

from __future__ import annotations

import base64
import binascii
import email
import re
from email.policy import default as default_policy
from html import unescape
from urllib.parse import unquote

from sqlalchemy import select

from tests.campaigns.campaign_support import (
    add_audience,
    audience_segment,
    new_campaign,
    ready_tenant,
    run_burst_worker,
)
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import campaigns
from webapp.services.tracking import drain_hits

BROWSER_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.0 Safari/605.1.15")
LINKS_HTML = ('<html><body><p>Hi {{ customer.first_name }}</p>'
              '<p><a href="https://tickets.example.com/show?id=7&amp;ref=mail">Tickets</a> '
              '<a href="https://venue.example.com/map">Map</a> '
              '<a href="mailto:box@example.com">Mail us</a> <a href="tel:+441234">Call</a> '
              '<a href="#top">Top</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


def html_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=default_policy)
    return message.get_body(preferencelist=("html",)).get_content()


def tracking_urls(html: str, base_url: str = "http://crm.test") -> tuple[str, list[str]]:
    """(the open pixel's path, the click paths in document order) of one delivered message."""
    [pixel] = re.findall(r'src="' + re.escape(base_url) + r'(/api/crm/track/open/[^"]+)"', html)
    clicks = [unescape(u) for u in re.findall(r'href="' + re.escape(base_url) + r'(/api/crm/track/click/[^"]+)"',
                                              html)]
    return pixel, clicks


def send_to_audience(runner, tenant_id: int, count: int = 2, *, html: str = LINKS_HTML, prefix: str = "fan",
                     **fields) -> int:
    """A campaign to `count` new customers, delivered by a real worker run; returns its id."""
    ready_tenant(tenant_id)
    add_audience(tenant_id, count, prefix=prefix, tag=f"{prefix}-tag")
    segment_id = audience_segment(tenant_id, tag=f"{prefix}-tag")
    campaign = new_campaign(tenant_id, segment_id, html_content=html, **fields)
    campaigns.send_campaign(tenant_id, campaign.id)
    run_burst_worker(runner)
    return campaign.id


def outbox_html(campaign_id: int) -> dict[str, str]:
    """{recipient address: delivered HTML} of a campaign sent to the outbox."""
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id))
    return {row.recipient: html_part(row.raw) for row in rows}


def hit(client, path: str, *, ua: str | None = BROWSER_UA, ip: str = "198.51.100.7", referer: str | None = None,
        method: str = "GET", query: dict | None = None):
    headers = {"User-Agent": ua or ""}  # None: a request without a user agent
    if referer is not None:
        headers["Referer"] = referer
    return client.open(path, method=method, headers=headers, query_string=query,
                       environ_base={"REMOTE_ADDR": ip})


def write_hits() -> dict[str, int]:
    db.session.commit()
    written = drain_hits(reclaim_idle_ms=0)
    db.session.expire_all()
    return written


def age_delivery(campaign_id: int, minutes: int = 60) -> None:
    """Move the campaign's delivery back in time, so clicks are not 'seconds after delivery'."""
    from datetime import timedelta

    from sqlalchemy import update

    from webapp.infra.types import utcnow
    from webapp.models import CampaignRecipient

    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
                       .values(sent_at=utcnow() - timedelta(minutes=minutes)))
    db.session.commit()


def token_shows_in(url: str, token: str) -> list[str]:
    """How `token` (32 hex digits) can be read from a tracking URL without any key: as text
    in the usual encodings (hex either case, base64, base64url, base32), or as bytes (the
    whole token or either half) in what the URL's last segment decodes to as base64url,
    read from each of its first four characters. Empty when it cannot."""
    raw = bytes.fromhex(token)
    texts = {"hex": token, "HEX": token.upper(),
             "base64": base64.b64encode(raw).decode().rstrip("="),
             "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
             "base32": base64.b32encode(raw).decode().rstrip("=")}
    plain = unquote(url)
    found = [name for name, text in texts.items() if text in plain or text.lower() in plain.lower()]
    segment = plain.rsplit("/", 1)[-1]
    for start in range(4):
        chunk = segment[start:]
        try:
            decoded = base64.urlsafe_b64decode(chunk + "=" * (-len(chunk) % 4))
        except (binascii.Error, ValueError):
            continue
        found += [f"{what} in the bytes of the id read from character {start}"
                  for what, part in (("token", raw), ("first half", raw[:8]), ("second half", raw[8:]))
                  if part in decoded]
    return found
