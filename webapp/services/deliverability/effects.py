"""What bounces and complaints do, for a whole payload at once: each event applied once
(by the provider's id), matched to the campaign or workflow email it answers (by our
header or Message-ID, within the tenant), and then, set-based:

- a hard bounce marks the customer bounced (suppressed);
- a soft bounce is counted; the third within 30 days marks the customer bounced;
- a complaint marks the customer complained: out of all marketing.

Each is an activity on the customer's timeline naming the campaign when it is known, which
is how the campaign report counts bounces and complaints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from webapp.extensions import db
from webapp.infra.sql import insert_ignoring_duplicates
from webapp.infra.types import utcnow
from webapp.models import CampaignRecipient, Customer, CustomerActivity, ProviderEvent
from webapp.services import webhooks
from webapp.services.changes import customer_changed
from webapp.services.consent import Evidence, record_consent
from webapp.services.deliverability.relay_events import COMPLAINT, HARD, SOFT, Refused, RelayEvent
from webapp.services.webhooks import customer_refs

SOFT_LIMIT = 3
SOFT_WINDOW = timedelta(days=30)
ACTIVITY_TYPES = {HARD: "email_bounced", SOFT: "email_soft_bounced", COMPLAINT: "email_complained"}


def _stored_key(key: str) -> str:
    # An SES key is its message id and the address: an address near 320 characters would not fit.
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def refuse_replayed_token(tenant_id: int, provider: str, token: str) -> None:
    """Remember a signed call's one-time token (in the transaction that applies its events);
    Refused when it was seen before."""
    now = utcnow()
    new = db.session.execute(insert_ignoring_duplicates(ProviderEvent.__table__).values(
        tenant_id=tenant_id, provider=provider, event_key=_stored_key(f"token:{token}"), kind="replay_token",
        occurred_at=now, received_at=now)).rowcount
    if not new:
        db.session.rollback()
        raise Refused("this signed call was received before: a token is accepted once")


def _matches(tenant_id: int, events: Iterable[RelayEvent]) -> tuple[dict, dict, dict]:
    """(token -> recipient, message id -> recipient, email -> customer id), the tenant's only."""
    events = list(events)
    tokens = {e.token for e in events if e.token}
    message_ids = {e.message_id for e in events if e.message_id}
    emails = {e.email for e in events}
    columns = (CampaignRecipient.token, CampaignRecipient.message_id, CampaignRecipient.campaign_id,
               CampaignRecipient.customer_id, CampaignRecipient.email)
    mine = CampaignRecipient.tenant_id == tenant_id
    by_token = {r.token: r for r in db.session.execute(
        select(*columns).where(mine, CampaignRecipient.token.in_(tokens)))} if tokens else {}
    by_message = {r.message_id: r for r in db.session.execute(
        select(*columns).where(mine, CampaignRecipient.message_id.in_(message_ids)))} if message_ids else {}
    customers = dict(db.session.execute(select(Customer.email, Customer.id).where(
        Customer.tenant_id == tenant_id, Customer.email.in_(emails))).all()) if emails else {}
    return by_token, by_message, customers


def _rows(tenant_id: int, provider: str, events: list[RelayEvent]) -> list[dict[str, Any]]:
    by_token, by_message, customers = _matches(tenant_id, events)
    rows = []
    for event in events:
        recipient = by_token.get(event.token) or by_message.get(event.message_id)
        if recipient is not None and recipient.email.lower() == event.email:
            customer_id, campaign_id = recipient.customer_id, recipient.campaign_id
        else:  # not a message of ours (or for another address): the customer, without a campaign
            customer_id, campaign_id = customers.get(event.email), None
        rows.append({"tenant_id": tenant_id, "provider": provider, "event_key": _stored_key(event.event_key),
                     "kind": event.kind, "customer_id": customer_id, "campaign_id": campaign_id,
                     "occurred_at": event.occurred_at, "received_at": utcnow(), "_event": event})
    return rows


def apply_events(tenant_id: int, provider: str, events: list[RelayEvent], *, label: str) -> dict[str, int]:
    """Apply a verified payload's events (the caller has checked who sent them) and commit.
    `label` is the provider's name as the timeline shows it. Returns counts."""
    unique = list({_stored_key(e.event_key): e for e in events}.values())
    rows = _rows(tenant_id, provider, unique)
    new_keys: set[str] = set()
    if rows:
        new_keys = set(db.session.scalars(
            insert_ignoring_duplicates(ProviderEvent.__table__)
            .values([{k: v for k, v in row.items() if not k.startswith("_")} for row in rows])
            .returning(ProviderEvent.__table__.c.event_key)))
    fresh = [row for row in rows if row["event_key"] in new_keys and row["customer_id"] is not None]
    _activities(tenant_id, fresh, label)
    bounced = _bounce(tenant_id, [r["customer_id"] for r in fresh if r["kind"] == HARD])
    bounced |= _soft_limit(tenant_id, [r for r in fresh if r["kind"] == SOFT], label)
    complained = _complain(tenant_id, [r["customer_id"] for r in fresh if r["kind"] == COMPLAINT])
    _withdraw_consent(tenant_id, bounced - complained, "bounce", label)
    _withdraw_consent(tenant_id, complained, "complaint", label)
    changed = bounced | complained
    for customer_id in sorted(changed):
        customer_changed(tenant_id, customer_id)
    _emit(tenant_id, "customer.bounced", bounced - complained, fresh, label)
    _emit(tenant_id, "customer.complained", complained, fresh, label)
    db.session.commit()
    return {"status": "applied", "received": len(events), "applied": len(fresh),
            "duplicates": len(rows) - len(new_keys),
            "unmatched": sum(1 for r in rows if r["event_key"] in new_keys and r["customer_id"] is None),
            "customers_changed": len(changed)}


def _emit(tenant_id: int, event_type: str, customer_ids: set[int], rows: list[dict[str, Any]], label: str) -> None:
    """customer.bounced / customer.complained for the customers whose status this payload changed."""
    if not customer_ids:
        return
    last = {row["customer_id"]: row for row in sorted(rows, key=lambda r: r["occurred_at"])}

    def payloads() -> list[dict[str, Any]]:
        refs = customer_refs(tenant_id, sorted(customer_ids))
        return [{"customer": ref, "provider": label, "campaign_id": last[cid]["campaign_id"] if cid in last else None,
                 "reason": last[cid]["_event"].reason if cid in last else None} for cid, ref in refs.items()]

    webhooks.emit_many(tenant_id, event_type, payloads)


def _withdraw_consent(tenant_id: int, customer_ids: set[int], source: str, label: str) -> None:
    """The consent record of marketing stopping for these customers (all marketing, not a
    topic): a complaint is the person's own word; a bounce says the address is gone."""
    if not customer_ids:
        return
    evidence = Evidence(source=source, context=f"reported by {label}")
    for customer in db.session.scalars(select(Customer).where(Customer.tenant_id == tenant_id,
                                                              Customer.id.in_(customer_ids))):
        record_consent(customer, evidence, granted=False)


def _properties(row: dict[str, Any], label: str) -> dict[str, Any]:
    event: RelayEvent = row["_event"]
    props: dict[str, Any] = {"provider": label, "reason": event.reason, "email": event.email}
    if row["kind"] in (HARD, SOFT):
        props["bounce"] = row.get("_bounce") or ("hard" if row["kind"] == HARD else "soft")
    if row["campaign_id"] is not None:
        props["campaign_id"] = row["campaign_id"]
    return props


def _activities(tenant_id: int, rows: list[dict[str, Any]], label: str) -> None:
    if rows:
        db.session.execute(insert(CustomerActivity.__table__), [
            {"tenant_id": tenant_id, "customer_id": row["customer_id"], "type": ACTIVITY_TYPES[row["kind"]],
             "properties": _properties(row, label), "occurred_at": row["occurred_at"], "created_at": utcnow()}
            for row in rows])


def _set_status(tenant_id: int, customer_ids: Iterable[int], status: str, *from_statuses: str) -> set[int]:
    ids = set(customer_ids)
    if not ids:
        return set()
    return set(db.session.scalars(
        update(Customer).where(Customer.tenant_id == tenant_id, Customer.id.in_(ids),
                               Customer.email_status.in_(from_statuses))
        .values(email_status=status, updated_at=utcnow()).returning(Customer.id)
        .execution_options(synchronize_session=False)))


def _bounce(tenant_id: int, customer_ids: list[int]) -> set[int]:
    # Unsubscribed people keep that status (still suppressed); complaints stay complaints.
    return _set_status(tenant_id, customer_ids, "bounced", "subscribed")


def _complain(tenant_id: int, customer_ids: list[int]) -> set[int]:
    return _set_status(tenant_id, customer_ids, "complained", "subscribed", "unsubscribed", "bounced")


def _soft_limit(tenant_id: int, rows: list[dict[str, Any]], label: str) -> set[int]:
    """Customers whose soft bounces within 30 days reach the limit become bounced, with an
    email_bounced activity that says so (naming the campaign of the last one)."""
    latest = {row["customer_id"]: row for row in sorted(rows, key=lambda r: r["occurred_at"])}
    if not latest:
        return set()
    since = max(r["occurred_at"] for r in rows) - SOFT_WINDOW
    over = db.session.scalars(
        select(ProviderEvent.customer_id).where(
            ProviderEvent.tenant_id == tenant_id, ProviderEvent.customer_id.in_(latest),
            ProviderEvent.kind == SOFT, ProviderEvent.occurred_at >= since)
        .group_by(ProviderEvent.customer_id).having(func.count() >= SOFT_LIMIT)).all()
    changed = _set_status(tenant_id, over, "bounced", "subscribed")
    _activities(tenant_id, [{**latest[cid], "kind": HARD, "_bounce": "soft",
                             "_event": _limit_reached(latest[cid]["_event"])} for cid in sorted(changed)], label)
    return changed


def _limit_reached(event: RelayEvent) -> RelayEvent:
    reason = f"{SOFT_LIMIT} soft bounces within {SOFT_WINDOW.days} days; the last: {event.reason}"
    return RelayEvent(event.event_key, HARD, event.email, reason[:500], event.occurred_at, event.token,
                      event.message_id)
