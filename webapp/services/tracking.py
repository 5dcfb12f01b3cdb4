"""Open and click tracking: link rows at delivery, hits into a Redis stream, and the writer.

The public endpoints never wait on a row lock: an open appends one line to the web
process's hit spool (no database, no network: webapp/services/hit_spool.py, whose thread
sends the lines to the stream in batches), a click does one indexed read for its target
and the same append. Each hit carries an id of its own. A single writer at a time
(a Redis lock) reads the stream with a consumer group in batches, writes raw hits,
per-recipient counters, per-link counters, hourly rollups and timeline activities in one
transaction, then acknowledges. A writer that dies before acknowledging leaves its
entries pending; the next one claims them (XAUTOCLAIM). A hit written twice counts
once: tracking_hits.stream_id holds the hit's id, is unique, and written ids are skipped.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis.exceptions import ResponseError
from sqlalchemy import bindparam, insert, select, update

from webapp.extensions import db
from webapp.infra import hit_spool
from webapp.infra.queues import redis_connection
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.mail import tracking as ids
from webapp.models import CampaignLink, CampaignRecipient, CustomerActivity, EmailCampaign, TrackingHit
from webapp.models.tracking import CampaignEngagementHour
from webapp.services.hit_rules import machine_reason

STREAM = "crm:tracking:hits"
GROUP = "writers"
WRITER_LOCK = "crm:tracking:writer"
LOCK_SECONDS = 60
HEADER_LIMIT = 1000
# The GIF every open request gets, whether or not its id exists.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

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


def instrumenters(campaign: EmailCampaign) -> Callable[[str], Callable[[str], str]]:
    """token -> the compose() hook of that recipient's real delivery (tracked links and the
    pixel); the campaign's settings are read once for all its recipients."""
    utm = {"utm_source": campaign.utm_source, "utm_medium": campaign.utm_medium,
           "utm_campaign": campaign.utm_campaign}
    secret, base_url = _secret(), current_app.config["BASE_URL"]

    def campaign_link_ids(urls: list[str]) -> dict[str, int]:
        return link_ids(campaign, urls)

    def for_recipient(token: str) -> Callable[[str], str]:
        def instrument(html: str) -> str:
            return ids.instrument_html(html, secret=secret, base_url=base_url, token=token, utm=utm,
                                       link_ids=campaign_link_ids)

        return instrument

    return for_recipient


# --- the public endpoints ---------------------------------------------------------------

def _clip(value: str | None) -> str:
    return (value or "")[:HEADER_LIMIT]


_SEP = "\x1f"  # ASCII unit separator: never valid in the values we store
# The last field, u, is the hit's own id (entries queued before it existed have none).
_FIELDS = ("k", "t", "l", "n", "at", "m", "ip", "ua", "ref", "u")
_CLEAN = str.maketrans({_SEP: " ", "\n": " ", "\r": " "})


def _append(kind: str, token: str, link_id: int, links: int, *, method: str, ip: str | None,
            user_agent: str | None, referer: str | None) -> None:
    # One line into this process's spool (webapp/services/hit_spool.py): a write(2), no
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
    from limits import parse

    item = parse(text)
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


# --- the writer -------------------------------------------------------------------------

def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _ensure_group(redis) -> None:
    try:
        redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _decode(entries) -> list[tuple[str, dict[str, str]]]:
    """(hit id, fields) of stream entries: the id the hit got when it was answered, or
    the stream entry's id for an entry without one."""
    decoded = []
    for sid, fields in entries:
        if not fields:
            continue
        unpacked = _unpack({(k.decode() if isinstance(k, bytes) else k):
                            (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in fields.items()})
        decoded.append((unpacked.get("u") or (sid.decode() if isinstance(sid, bytes) else sid), unpacked))
    return decoded


def drain_hits(*, batch_size: int = 1000, max_seconds: float = 50.0, consumer: str | None = None,
               reclaim_idle_ms: int | None = None) -> dict[str, int]:
    """Write queued hits until the stream is empty (or max_seconds): the periodic job, and
    on demand in tests and benchmarks. Returns counts of entries read, hits written and
    entries discarded (unknown recipients or links)."""
    confirm_hits()
    redis = redis_connection()
    consumer = consumer or _consumer_name()
    idle = reclaim_idle_ms if reclaim_idle_ms is not None else int(
        current_app.config.get("TRACKING_RECLAIM_IDLE_MS", 30_000))
    totals = {"read": 0, "written": 0, "discarded": 0}
    if not redis.set(WRITER_LOCK, consumer, nx=True, ex=LOCK_SECONDS):
        return totals  # another writer is at work; the next period tries again
    try:
        _ensure_group(redis)
        deadline = time.monotonic() + max_seconds
        reclaiming = True
        while time.monotonic() < deadline:
            redis.expire(WRITER_LOCK, LOCK_SECONDS)
            if reclaiming:
                # Entries read by a writer that died before acknowledging them.
                _next, entries, *_ = redis.xautoclaim(STREAM, GROUP, consumer, min_idle_time=idle,
                                                      start_id="0-0", count=batch_size)
                reclaiming = bool(entries)
            else:
                entries = []
            if not entries:
                reply = redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=batch_size)
                entries = reply[0][1] if reply else []
            if not entries:
                break
            decoded = _decode(entries)
            written, discarded = write_batch(decoded)
            raw_ids = [sid for sid, _ in entries]
            redis.xack(STREAM, GROUP, *raw_ids)
            redis.xdel(STREAM, *raw_ids)
            totals["read"] += len(entries)
            totals["written"] += written
            totals["discarded"] += discarded
    finally:
        if (redis.get(WRITER_LOCK) or b"").decode() == consumer:
            redis.delete(WRITER_LOCK)
    return totals


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _well_formed(fields: dict[str, str]) -> bool:
    """An entry the writer can read (one that is not would otherwise come back forever)."""
    try:
        int(fields["l"]), int(fields.get("n") or 0), float(fields["at"])
    except (KeyError, ValueError):
        return False
    return fields.get("k") in ("o", "c") and bool(fields.get("t"))


def write_batch(entries: list[tuple[str, dict[str, str]]]) -> tuple[int, int]:
    """Write one batch of stream entries in one transaction; returns (written, discarded)."""
    if not entries:
        return 0, 0
    stream_ids = [sid for sid, _ in entries]
    seen = set(db.session.scalars(select(TrackingHit.stream_id).where(TrackingHit.stream_id.in_(stream_ids))))
    fresh, repeated = [], 0
    for sid, f in entries:  # a hit sent twice (a spool recovered after a crash) counts once
        if sid in seen:
            repeated += 1
        elif _well_formed(f):
            seen.add(sid)
            fresh.append((sid, f))
    tokens = {f["t"] for _, f in fresh}
    recipients = {r.token: r for r in db.session.execute(
        select(CampaignRecipient.id, CampaignRecipient.token, CampaignRecipient.tenant_id,
               CampaignRecipient.campaign_id, CampaignRecipient.customer_id, CampaignRecipient.sent_at,
               CampaignRecipient.opens, CampaignRecipient.human_opens, CampaignRecipient.clicks,
               CampaignRecipient.human_clicks).where(CampaignRecipient.token.in_(tokens)))} if tokens else {}
    link_ids_wanted = {int(f["l"]) for _, f in fresh if f["k"] == "c"}
    links = {row.id: row for row in db.session.execute(
        select(CampaignLink.id, CampaignLink.campaign_id, CampaignLink.url)
        .where(CampaignLink.id.in_(link_ids_wanted)))} if link_ids_wanted else {}

    hits: list[dict[str, Any]] = []
    for sid, f in fresh:
        recipient = recipients.get(f["t"])
        kind = "open" if f["k"] == "o" else "click"
        link_id = int(f["l"]) if kind == "click" else None
        if recipient is None or (kind == "click" and (link_id not in links
                                                      or links[link_id].campaign_id != recipient.campaign_id)):
            continue
        at = datetime.fromtimestamp(float(f["at"]), UTC)
        hits.append({"stream_id": sid, "tenant_id": recipient.tenant_id, "campaign_id": recipient.campaign_id,
                     "recipient_id": recipient.id, "customer_id": recipient.customer_id, "link_id": link_id,
                     "kind": kind, "occurred_at": at, "method": f.get("m") or "GET", "ip": f.get("ip") or None,
                     "user_agent": f.get("ua") or None, "referer": f.get("ref") or None,
                     "links_in_message": int(f.get("n") or 0), "_recipient": recipient})
    hits.sort(key=lambda h: (h["occurred_at"], h["stream_id"]))
    _classify(hits)
    _apply(hits, recipients, links)
    db.session.commit()
    return len(hits), len(entries) - repeated - len(hits)


def _classify(hits: list[dict[str, Any]]) -> None:
    window = float(current_app.config.get("TRACKING_MACHINE_CLICK_SECONDS", 10))
    for hit in hits:
        reason = machine_reason(kind=hit["kind"], method=hit["method"], user_agent=hit["user_agent"], ip=hit["ip"],
                                at=hit["occurred_at"], sent_at=hit["_recipient"].sent_at,
                                click_window_seconds=window)
        hit["machine_reason"], hit["is_machine"] = reason, reason is not None
    clicks = [h for h in hits if h["kind"] == "click"]
    if not clicks:
        return
    # Every link of a message clicked within one second: counted with this recipient's
    # earlier clicks in the same seconds (a scanner's hits can straddle two batches).
    earliest = min(h["occurred_at"] for h in clicks).replace(microsecond=0)
    earlier = db.session.execute(select(TrackingHit.recipient_id, TrackingHit.link_id, TrackingHit.occurred_at).where(
        TrackingHit.recipient_id.in_({h["recipient_id"] for h in clicks}), TrackingHit.kind == "click",
        TrackingHit.occurred_at >= earliest)).all()
    per_second: dict[tuple[int, int], set[int]] = {}
    for recipient_id, link_id, at in earlier:
        per_second.setdefault((recipient_id, int(at.timestamp())), set()).add(link_id)
    for hit in clicks:
        per_second.setdefault((hit["recipient_id"], int(hit["occurred_at"].timestamp())), set()).add(hit["link_id"])
    for hit in clicks:
        seen = per_second[(hit["recipient_id"], int(hit["occurred_at"].timestamp()))]
        if hit["links_in_message"] >= 2 and len(seen) >= hit["links_in_message"] and not hit["is_machine"]:
            hit["machine_reason"], hit["is_machine"] = "all_links_same_second", True


def _apply(hits: list[dict[str, Any]], recipients: dict[str, Any], links: dict[int, Any]) -> None:
    if not hits:
        return
    by_recipient = {r.id: r for r in recipients.values()}
    state = {rid: {"opens": r.opens, "human_opens": r.human_opens, "clicks": r.clicks,
                   "human_clicks": r.human_clicks} for rid, r in by_recipient.items()}
    clicked = [h for h in hits if h["kind"] == "click"]
    seen_links: set[tuple[int, int, bool]] = set()
    if clicked:
        for recipient_id, link_id, machine in db.session.execute(
                select(TrackingHit.recipient_id, TrackingHit.link_id, TrackingHit.is_machine).distinct().where(
                    TrackingHit.recipient_id.in_({h["recipient_id"] for h in clicked}), TrackingHit.kind == "click")):
            seen_links.add((recipient_id, link_id, True))
            if not machine:
                seen_links.add((recipient_id, link_id, False))
    deltas: dict[int, dict[str, Any]] = {}
    hours: dict[tuple[int, datetime], dict[str, Any]] = {}
    link_deltas: dict[int, dict[str, int]] = {}
    activities = []
    for hit in hits:
        rid, human, kind = hit["recipient_id"], not hit["is_machine"], hit["kind"]
        plural = "opens" if kind == "open" else "clicks"
        current, delta = state[rid], deltas.setdefault(rid, {"rid": rid, "o": 0, "ho": 0, "c": 0, "hc": 0,
                                                              "fo": None, "fho": None, "fc": None, "fhc": None})
        bucket = hours.setdefault((hit["campaign_id"], _hour(hit["occurred_at"])), {
            "campaign_id": hit["campaign_id"], "hour": _hour(hit["occurred_at"]), "tenant_id": hit["tenant_id"],
            **{f"{p}{k}": 0 for p in ("", "human_", "unique_", "human_unique_") for k in ("opens", "clicks")}})
        first_time_key = "fo" if kind == "open" else "fc"
        bucket[plural] += 1
        if current[plural] == 0:
            bucket[f"unique_{plural}"] += 1
        current[plural] += 1
        delta["o" if kind == "open" else "c"] += 1
        delta[first_time_key] = delta[first_time_key] or hit["occurred_at"]
        if human:
            bucket[f"human_{plural}"] += 1
            if current[f"human_{plural}"] == 0:
                bucket[f"human_unique_{plural}"] += 1
            current[f"human_{plural}"] += 1
            delta["ho" if kind == "open" else "hc"] += 1
            delta["f" + "h" + first_time_key[1]] = delta["f" + "h" + first_time_key[1]] or hit["occurred_at"]
        if kind == "click":
            counts = link_deltas.setdefault(hit["link_id"], {"link": hit["link_id"], "c": 0, "hc": 0, "u": 0, "hu": 0})
            counts["c"] += 1
            if (rid, hit["link_id"], True) not in seen_links:
                counts["u"] += 1
                seen_links.add((rid, hit["link_id"], True))
            if human:
                counts["hc"] += 1
                if (rid, hit["link_id"], False) not in seen_links:
                    counts["hu"] += 1
                    seen_links.add((rid, hit["link_id"], False))
        if human:
            properties = {"campaign_id": hit["campaign_id"], "user_agent": (hit["user_agent"] or "")[:300]}
            if hit["referer"]:
                properties["referer"] = hit["referer"][:300]
            if kind == "click":
                properties["url"] = links[hit["link_id"]].url[:1000]
            activities.append({"tenant_id": hit["tenant_id"], "customer_id": hit["customer_id"],
                               "type": f"email_{'opened' if kind == 'open' else 'clicked'}",
                               "properties": properties, "occurred_at": hit["occurred_at"],
                               "created_at": datetime.now(UTC)})
    columns = [c.name for c in TrackingHit.__table__.columns if c.name != "id"]
    db.session.execute(insert(TrackingHit.__table__), [{c: h[c] for c in columns} for h in hits])
    _update_recipients(list(deltas.values()))
    if link_deltas:
        table = CampaignLink.__table__
        db.session.execute(update(table).where(table.c.id == bindparam("link")).values(
            clicks=table.c.clicks + bindparam("c"), human_clicks=table.c.human_clicks + bindparam("hc"),
            unique_clicks=table.c.unique_clicks + bindparam("u"),
            human_unique_clicks=table.c.human_unique_clicks + bindparam("hu")), list(link_deltas.values()))
    _upsert_hours(list(hours.values()))
    if activities:
        db.session.execute(insert(CustomerActivity.__table__), activities)


def _update_recipients(deltas: list[dict[str, Any]]) -> None:
    from sqlalchemy import func

    table = CampaignRecipient.__table__
    c = table.c
    db.session.execute(update(table).where(c.id == bindparam("rid")).values(
        opens=c.opens + bindparam("o"), human_opens=c.human_opens + bindparam("ho"),
        clicks=c.clicks + bindparam("c"), human_clicks=c.human_clicks + bindparam("hc"),
        first_opened_at=func.coalesce(c.first_opened_at, bindparam("fo", type_=c.first_opened_at.type)),
        first_human_opened_at=func.coalesce(c.first_human_opened_at,
                                            bindparam("fho", type_=c.first_human_opened_at.type)),
        first_clicked_at=func.coalesce(c.first_clicked_at, bindparam("fc", type_=c.first_clicked_at.type)),
        first_human_clicked_at=func.coalesce(c.first_human_clicked_at,
                                             bindparam("fhc", type_=c.first_human_clicked_at.type))),
        deltas)


def _upsert_hours(rows: list[dict[str, Any]]) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    table = CampaignEngagementHour.__table__
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = module.insert(table).values(rows)
    counters = [name for name in rows[0] if name not in ("campaign_id", "hour", "tenant_id")]
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=["campaign_id", "hour"],
        set_={name: table.c[name] + getattr(stmt.excluded, name) for name in counters}))
