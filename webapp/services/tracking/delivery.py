"""Tracking at delivery: the campaign_links rows of a message's links, and the compose()
hook that rewrites its links and adds the open pixel."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.mail import tracking as ids
from webapp.models import CampaignLink, EmailCampaign

# (campaign_id, campaign created_at, url) -> campaign_links.id. Per process: a big send
# asks the database once per distinct link, not once per link per message.
_LINK_CACHE: dict[tuple[int, str, str], int] = {}
_LINK_CACHE_MAX = 50_000


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


# --- delivery: link rows and the HTML hook ----------------------------------------------

def link_ids(campaign: EmailCampaign, urls: list[str]) -> dict[str, int]:
    """campaign_links ids of `urls` for `campaign`, creating missing rows (insert ignoring
    duplicates, so concurrent workers agree) in their own short transaction."""
    stamp = campaign.created_at.isoformat() if campaign.created_at else ""
    found = {url: _LINK_CACHE[key] for url in urls if (key := (campaign.id, stamp, url)) in _LINK_CACHE}
    missing = [url for url in urls if url not in found]
    if missing:
        hashes = {hashlib.sha256(url.encode()).hexdigest(): url for url in missing}
        table = CampaignLink.__table__
        # A connection of its own: the row must exist (committed) before any message
        # pointing at it leaves, whatever becomes of the caller's transaction.
        with db.engine.begin() as conn:
            conn.execute(insert_ignoring_duplicates(table), [
                {"tenant_id": campaign.tenant_id, "campaign_id": campaign.id, "url": url, "url_hash": digest,
                 "created_at": datetime.now(UTC)} for digest, url in hashes.items()])
            rows = conn.execute(select(table.c.id, table.c.url_hash).where(
                table.c.campaign_id == campaign.id, table.c.url_hash.in_(list(hashes)))).all()
        if len(_LINK_CACHE) + len(rows) > _LINK_CACHE_MAX:
            _LINK_CACHE.clear()
        for link_id, digest in rows:
            found[hashes[digest]] = link_id
            _LINK_CACHE[(campaign.id, stamp, hashes[digest])] = link_id
    return found


def instrumenters(campaign: EmailCampaign) -> Callable[[str], ids.Tracker]:
    """token -> the compose() hook of that recipient's real delivery (tracked links and the
    pixel); the campaign's settings are read once for all its recipients."""
    utm = {"utm_source": campaign.utm_source, "utm_medium": campaign.utm_medium,
           "utm_campaign": campaign.utm_campaign}
    secret, base_url = _secret(), current_app.config["BASE_URL"]

    def campaign_link_ids(urls: list[str]) -> dict[str, int]:
        return link_ids(campaign, urls)

    def for_recipient(token: str) -> ids.Tracker:
        return ids.Tracker(secret, base_url, token, utm, campaign_link_ids)

    return for_recipient
