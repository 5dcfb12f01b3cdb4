"""Recording a hit: the public endpoints check the id, append one line to the process's
hit spool (webapp/infra/hit_spool.py) and answer; the line's format is read back here too."""

from __future__ import annotations

import functools
import secrets
import time

import limits
from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra import hit_spool
from webapp.infra.queues import redis_connection
from webapp.mail import tracking as ids
from webapp.models import CampaignLink, CampaignRecipient
from webapp.services.tracking.delivery import _secret

STREAM = "crm:tracking:hits"
HEADER_LIMIT = 1000
# The GIF every open request gets, whether or not its id exists.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


# --- the public endpoints ---------------------------------------------------------------

def _clip(value: str | None) -> str:
    return (value or "")[:HEADER_LIMIT]


_SEP = "\x1f"  # ASCII unit separator: never valid in the values we store
# The last field, u, is the hit's own id (entries queued before it existed have none).
_FIELDS = ("k", "t", "l", "n", "at", "m", "ip", "ua", "ref", "u")
_CLEAN = str.maketrans({_SEP: " ", "\n": " ", "\r": " "})


def _append(kind: str, token: str, link_id: int, links: int, *, method: str, ip: str | None,
            user_agent: str | None, referer: str | None) -> None:
    # One line into this process's spool (webapp/infra/hit_spool.py): a write(2), no
    # network. The spool's thread sends the lines to the stream in batches.
    values = (kind, token, str(link_id), str(links), f"{time.time():.6f}", method[:10], _clip(ip)[:64],
              _clip(user_agent), _clip(referer))
    line = _SEP.join(v.translate(_CLEAN) for v in values) + _SEP
    try:
        spool = _spool()
    except OSError:
        # No spool (the folder cannot be created or written; hit_spool says so once per
        # retry period): straight to Redis, as a hit must never fail its request.
        redis_connection().xadd(STREAM, {"h": line + secrets.token_hex(12)})
        return
    spool.append((line + spool.next_uid()).encode(), ip or "")


def _spool() -> hit_spool.HitSpool:
    config = current_app.config
    limit = _per_address_limit(config["RATELIMIT_PUBLIC"]) if config.get("RATELIMIT_ENABLED", True) else None
    return hit_spool.spool_for(config["TRACKING_SPOOL_DIR"], config["REDIS_URL"], STREAM, limit)


@functools.lru_cache(maxsize=8)
def _per_address_limit(text: str) -> tuple[int, int]:
    """("1200 per minute") -> (1200, 60): the RATELIMIT_PUBLIC syntax (Flask-Limiter's)."""
    item = limits.parse(text)
    return item.amount, item.get_expiry()


def retry_after(address: str | None) -> int:
    """Seconds until the tracking endpoints answer `address` again; 0 when it is within
    RATELIMIT_PUBLIC (counted with the spool's batches: see hit_spool)."""
    try:
        return _spool().retry_after(address or "")
    except OSError:
        return 0  # no spool, no counts: the limit is skipped, as when Redis is away


def confirm_hits() -> None:
    """Every hit this process answered, and every hit a dead process left spooled, is in
    the stream when this returns (the writer before draining; tests before reading it)."""
    config = current_app.config
    hit_spool.ship_all(config["TRACKING_SPOOL_DIR"], config["REDIS_URL"], STREAM)


def _unpack(fields: dict[str, str]) -> dict[str, str]:
    if "h" in fields:
        return dict(zip(_FIELDS, fields["h"].split(_SEP, len(_FIELDS) - 1), strict=False))
    return fields


def record_open(open_id: str, *, method: str, ip: str | None, user_agent: str | None,
                referer: str | None) -> bool:
    """Queue an open if the id is genuine (signature only: no database access)."""
    token = ids.parse_open_id(_secret(), open_id, legacy=current_app.config["TRACKING_LEGACY_IDS"])
    if token is None:
        return False
    _append("o", token, 0, 0, method=method, ip=ip, user_agent=user_agent, referer=referer)
    return True


def record_click(click_id: str, *, method: str, ip: str | None, user_agent: str | None,
                 referer: str | None) -> str | None:
    """The stored target of a genuine click id whose link belongs to the recipient's
    campaign (one indexed read), with the click queued; None otherwise."""
    parsed = ids.parse_click_id(_secret(), click_id, legacy=current_app.config["TRACKING_LEGACY_IDS"])
    if parsed is None:
        return None
    token, link_id, links = parsed
    url = db.session.scalar(
        select(CampaignLink.url).join(CampaignRecipient, CampaignRecipient.campaign_id == CampaignLink.campaign_id)
        .where(CampaignLink.id == link_id, CampaignRecipient.token == token))
    db.session.rollback()  # end the read transaction at once
    if url is None:
        return None
    _append("c", token, link_id, links, method=method, ip=ip, user_agent=user_agent, referer=referer)
    return url
