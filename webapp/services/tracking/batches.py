"""Writing one batch of hits in one transaction: raw hits, per-recipient counters,
per-link counters, hourly and per-user-agent rollups and timeline activities. A hit id already written is
skipped, so a hit sent twice counts once."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.infra.sql import run_on_driver
from webapp.infra.types import hour_of
from webapp.models import CampaignLink, CampaignRecipient, Customer, CustomerActivity, EmailCampaign, TrackingHit
from webapp.models.tracking import CampaignAgentHits, CampaignEngagementHour
from webapp.services import webhooks
from webapp.services.hit_rules import machine_reason
from webapp.services.webhooks import customer_refs


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
    seen_links = _links_clicked_before([h for h in hits if h["kind"] == "click"])
    deltas: dict[int, dict[str, Any]] = {}
    hours: dict[tuple[int, datetime], dict[str, Any]] = {}
    link_deltas: dict[int, dict[str, int]] = {}
    activities = []
    for hit in hits:
        _count_for_recipient(hit, state[hit["recipient_id"]], deltas, hours)
        if hit["kind"] == "click":
            _count_for_link(hit, seen_links, link_deltas)
        if not hit["is_machine"]:
            activities.append(_activity(hit, links))
    columns = [c.name for c in TrackingHit.__table__.columns if c.name != "id"]
    db.session.execute(insert(TrackingHit.__table__), [{c: h[c] for c in columns} for h in hits])
    _update_recipients(list(deltas.values()))
    if link_deltas:
        _update_links(list(link_deltas.values()))
    _upsert_hours(list(hours.values()))
    _upsert_agents(hits)
    _touch_customers(hits)
    if activities:
        db.session.execute(insert(CustomerActivity.__table__), activities)
    _emit(hits, links)


def _emit(hits: list[dict[str, Any]], links: dict[int, Any]) -> None:
    """email.opened / email.clicked for every recorded hit, machine ones flagged: integrators
    filter as they need (the counters here do the same split)."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for hit in hits:
        groups.setdefault((hit["tenant_id"], hit["kind"]), []).append(hit)
    for (tenant_id, kind), group in groups.items():
        webhooks.emit_many(tenant_id, "email.opened" if kind == "open" else "email.clicked",
                           lambda group=group, tenant_id=tenant_id: _hit_payloads(tenant_id, group, links))


def _hit_payloads(tenant_id: int, hits: list[dict[str, Any]], links: dict[int, Any]) -> list[dict[str, Any]]:
    names = dict(db.session.execute(select(EmailCampaign.id, EmailCampaign.name).where(
        EmailCampaign.id.in_({h["campaign_id"] for h in hits}))).all())
    refs = customer_refs(tenant_id, {h["customer_id"] for h in hits})
    payloads = []
    for hit in hits:
        payload = {"campaign": {"id": hit["campaign_id"], "name": names.get(hit["campaign_id"])},
                   "customer": refs.get(hit["customer_id"]), "occurred_at": hit["occurred_at"].isoformat(),
                   "machine": hit["is_machine"], "machine_reason": hit["machine_reason"], "first": hit["first"],
                   "user_agent": (hit["user_agent"] or "")[:300] or None}
        if hit["kind"] == "click":
            payload["url"] = links[hit["link_id"]].url[:1000]
        payloads.append(payload)
    return payloads


def _links_clicked_before(clicked: list[dict[str, Any]]) -> set[tuple[int, int, bool]]:
    """(recipient, link, True) for each link these clicks' recipients clicked before, and
    (recipient, link, False) if a human did: only a first click counts as unique."""
    seen_links: set[tuple[int, int, bool]] = set()
    if clicked:
        for recipient_id, link_id, machine in db.session.execute(
                select(TrackingHit.recipient_id, TrackingHit.link_id, TrackingHit.is_machine).distinct().where(
                    TrackingHit.recipient_id.in_({h["recipient_id"] for h in clicked}), TrackingHit.kind == "click")):
            seen_links.add((recipient_id, link_id, True))
            if not machine:
                seen_links.add((recipient_id, link_id, False))
    return seen_links


def _count_for_recipient(hit: dict[str, Any], current: dict[str, int], deltas: dict[int, dict[str, Any]],
                         hours: dict[tuple[int, datetime], dict[str, Any]]) -> None:
    """One hit into its recipient's deltas and its campaign's hourly bucket; `current` holds
    the recipient's counts so far, so that the first open (or click) counts as unique."""
    rid, human, kind = hit["recipient_id"], not hit["is_machine"], hit["kind"]
    plural = "opens" if kind == "open" else "clicks"
    delta = deltas.setdefault(rid, {"rid": rid, "o": 0, "ho": 0, "c": 0, "hc": 0,
                                    "fo": None, "fho": None, "fc": None, "fhc": None})
    bucket = hours.setdefault((hit["campaign_id"], hour_of(hit["occurred_at"])), {
        "campaign_id": hit["campaign_id"], "hour": hour_of(hit["occurred_at"]), "tenant_id": hit["tenant_id"],
        **{f"{p}{k}": 0 for p in ("", "human_", "unique_", "human_unique_") for k in ("opens", "clicks")}})
    first_time_key = "fo" if kind == "open" else "fc"
    bucket[plural] += 1
    hit["first"] = current[plural] == 0
    if hit["first"]:
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


def _count_for_link(hit: dict[str, Any], seen_links: set[tuple[int, int, bool]],
                    link_deltas: dict[int, dict[str, int]]) -> None:
    rid, human = hit["recipient_id"], not hit["is_machine"]
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


def _activity(hit: dict[str, Any], links: dict[int, Any]) -> dict[str, Any]:
    """The timeline activity of a human's hit."""
    kind = hit["kind"]
    properties = {"campaign_id": hit["campaign_id"], "user_agent": (hit["user_agent"] or "")[:300]}
    if hit["referer"]:
        properties["referer"] = hit["referer"][:300]
    if kind == "click":
        properties["url"] = links[hit["link_id"]].url[:1000]
    return {"tenant_id": hit["tenant_id"], "customer_id": hit["customer_id"],
            "type": f"email_{'opened' if kind == 'open' else 'clicked'}",
            "properties": properties, "occurred_at": hit["occurred_at"],
            "created_at": datetime.now(UTC)}


_TOUCH_CUSTOMERS_POSTGRES = """
UPDATE customers AS c SET last_touched_at = greatest(c.last_touched_at, d.at)
FROM unnest(CAST(%(ids)s AS BIGINT[]), CAST(%(ats)s AS TIMESTAMPTZ[])) AS d(id, at)
WHERE c.id = d.id"""


def _touch_customers(hits: list[dict[str, Any]]) -> None:
    """customers.last_touched_at moves to each customer's latest human hit of the batch (never back)."""
    latest: dict[int, datetime] = {}
    for hit in hits:
        cid = hit["customer_id"]
        if not hit["is_machine"] and (cid not in latest or hit["occurred_at"] > latest[cid]):
            latest[cid] = hit["occurred_at"]
    if not latest:
        return
    # In id order: two writers' batches lock shared customers in the same order. updated_at
    # stays: an open is not a change to the customer's record.
    ids = sorted(latest)
    if db.session.get_bind().dialect.name == "postgresql":  # one statement for the batch
        run_on_driver(_TOUCH_CUSTOMERS_POSTGRES, {"ids": ids, "ats": [latest[cid] for cid in ids]})
        return
    table = Customer.__table__
    at = bindparam("at", type_=table.c.last_touched_at.type)
    db.session.execute(update(table).where(table.c.id == bindparam("cid")).values(
        last_touched_at=case((table.c.last_touched_at.is_(None) | (table.c.last_touched_at < at), at),
                             else_=table.c.last_touched_at),
        updated_at=table.c.updated_at), [{"cid": cid, "at": latest[cid]} for cid in ids])


def _update_links(link_deltas: list[dict[str, int]]) -> None:
    table = CampaignLink.__table__
    db.session.execute(update(table).where(table.c.id == bindparam("link")).values(
        clicks=table.c.clicks + bindparam("c"), human_clicks=table.c.human_clicks + bindparam("hc"),
        unique_clicks=table.c.unique_clicks + bindparam("u"),
        human_unique_clicks=table.c.human_unique_clicks + bindparam("hu")), link_deltas)


# PostgreSQL: every recipient's deltas in one UPDATE from arrays (one statement, so the
# recipient-count triggers of 0028 run once a batch, not once a recipient), in id order.
_UPDATE_RECIPIENTS_POSTGRES = """
UPDATE campaign_recipients AS r
SET opens = r.opens + d.o, human_opens = r.human_opens + d.ho, clicks = r.clicks + d.c,
    human_clicks = r.human_clicks + d.hc,
    first_opened_at = coalesce(r.first_opened_at, d.fo),
    first_human_opened_at = coalesce(r.first_human_opened_at, d.fho),
    first_clicked_at = coalesce(r.first_clicked_at, d.fc),
    first_human_clicked_at = coalesce(r.first_human_clicked_at, d.fhc)
FROM unnest(CAST(%(rid)s AS BIGINT[]), CAST(%(o)s AS INTEGER[]), CAST(%(ho)s AS INTEGER[]), CAST(%(c)s AS INTEGER[]),
            CAST(%(hc)s AS INTEGER[]), CAST(%(fo)s AS TIMESTAMPTZ[]), CAST(%(fho)s AS TIMESTAMPTZ[]),
            CAST(%(fc)s AS TIMESTAMPTZ[]), CAST(%(fhc)s AS TIMESTAMPTZ[])) AS d(rid, o, ho, c, hc, fo, fho, fc, fhc)
WHERE r.id = d.rid"""


def _update_recipients(deltas: list[dict[str, Any]]) -> None:
    deltas = sorted(deltas, key=lambda d: d["rid"])
    if db.session.get_bind().dialect.name == "postgresql":
        columns = ("rid", "o", "ho", "c", "hc", "fo", "fho", "fc", "fhc")
        run_on_driver(_UPDATE_RECIPIENTS_POSTGRES, {name: [d[name] for d in deltas] for name in columns})
        return
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
    counters = [name for name in rows[0] if name not in ("campaign_id", "hour", "tenant_id")]
    _add_up(CampaignEngagementHour.__table__, ["campaign_id", "hour"], counters, rows)


def agent_key(user_agent: str | None) -> str:
    """campaign_agent_hits' key of a user agent: its MD5, '' for none (migration 0027 keeps a copy)."""
    return hashlib.md5(user_agent.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest() \
        if user_agent else ""


def _upsert_agents(hits: list[dict[str, Any]]) -> None:
    rows: dict[tuple[int, str, bool, str], dict[str, Any]] = {}
    for hit in hits:
        key = (hit["campaign_id"], hit["kind"], hit["is_machine"], agent_key(hit["user_agent"]))
        row = rows.setdefault(key, {"campaign_id": key[0], "kind": key[1], "is_machine": key[2], "agent_key": key[3],
                                    "tenant_id": hit["tenant_id"], "user_agent": hit["user_agent"], "hits": 0})
        row["hits"] += 1
    # In key order: two writers' batches lock shared rows in the same order.
    _add_up(CampaignAgentHits.__table__, ["campaign_id", "kind", "is_machine", "agent_key"], ["hits"],
            [rows[key] for key in sorted(rows)])


def _add_up(table, key: list[str], counters: list[str], rows: list[dict[str, Any]]) -> None:
    """INSERT the rows, or add their counters to the rows already under their key."""
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = module.insert(table).values(rows)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=key, set_={name: table.c[name] + getattr(stmt.excluded, name) for name in counters}))
