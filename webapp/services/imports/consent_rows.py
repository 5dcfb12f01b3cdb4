"""Consent from an import, for a chunk at once: the topics column's choices and email
status changes become customer_topics rows, consent records (source import) and timeline
activities, written with executemany, not row by row through the ORM.

Imports fire no workflow triggers (as for tags); the tenant's segments are recalculated
once at the end of the import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, tuple_

from webapp.extensions import db
from webapp.models import ConsentRecord, Customer, CustomerActivity, CustomerTopic
from webapp.services.consent import tenant_topics

# Email statuses that are a person's say about all marketing (services/consent.py).
_CONSENT_STATUSES = {"subscribed": True, "unsubscribed": False, "complained": False}


@dataclass
class PendingConsent:
    """Rows of a chunk that carry consent, with the email status of those that existed."""

    rows: list[dict[str, Any]]
    status_before: dict[int, str]


def before_write(tenant_id: int, updates: list[tuple[int, Any]], inserts: list[Any]) -> PendingConsent | None:
    """Read, before the chunk is written, what it will change: None when no row has topics
    or an email status."""
    rows = [row.data for _, row in updates] + [row.data for row in inserts]
    if not any(data.get("topics") is not None or data.get("email_status") for data in rows):
        return None
    targets = [cid for cid, row in updates if row.data.get("email_status")]
    status_before = dict(db.session.execute(select(Customer.id, Customer.email_status).where(
        Customer.tenant_id == tenant_id, Customer.id.in_(targets))).all()) if targets else {}
    return PendingConsent(rows=[data for data in rows if data.get("topics") is not None or data.get("email_status")],
                          status_before=status_before)


def _ids(tenant_id: int, rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Customer id -> the row, matched as the writer did (external_id, else email)."""
    emails = [d["email"] for d in rows if d.get("email")]
    externals = [d["external_id"] for d in rows if d.get("external_id") is not None]
    by_email, by_external = {}, {}
    for start in range(0, max(len(emails), len(externals)), 500):
        for cid, email, external_id in db.session.execute(select(Customer.id, Customer.email, Customer.external_id)
                                                          .where(Customer.tenant_id == tenant_id,
                                                                 Customer.email.in_(emails[start:start + 500])
                                                                 | Customer.external_id.in_(
                                                                     externals[start:start + 500]))):
            by_email[email] = cid
            if external_id is not None:
                by_external[external_id] = cid
    out = {}
    for data in rows:
        cid = by_external.get(data.get("external_id")) if data.get("external_id") is not None else None
        cid = cid or by_email.get(data.get("email"))
        if cid is not None:
            out[cid] = data
    return out


def after_write(tenant_id: int, pending: PendingConsent | None, context: str, now: datetime) -> None:
    """Write the chunk's consent: topic choices (every topic of the tenant becomes the
    customer's explicit choice: listed yes, else no), their records and activities, and a
    record for each email status that changed to or from subscribed."""
    if pending is None:
        return
    by_id = _ids(tenant_id, pending.rows)
    topics = tenant_topics(tenant_id)
    chosen: dict[tuple[int, int], bool] = {}
    topic_rows = [cid for cid, data in by_id.items() if data.get("topics") is not None]
    for start in range(0, len(topic_rows), 500):
        some = topic_rows[start:start + 500]
        for cid, topic_id, subscribed in db.session.execute(
                select(CustomerTopic.customer_id, CustomerTopic.topic_id, CustomerTopic.subscribed).where(
                    CustomerTopic.tenant_id == tenant_id, CustomerTopic.customer_id.in_(some))):
            chosen[(cid, topic_id)] = subscribed
    choices, records, activities = [], [], []
    base = {"tenant_id": tenant_id, "source": "import", "context": context[:200], "occurred_at": now}
    for cid, data in by_id.items():
        status = data.get("email_status")
        before = pending.status_before.get(cid)
        if status in _CONSENT_STATUSES and status != before:
            granted = _CONSENT_STATUSES[status]
            records.append({**base, "customer_id": cid, "topic_id": None, "topic_name": None, "granted": granted})
            activities.append({"tenant_id": tenant_id, "customer_id": cid, "occurred_at": now, "created_at": now,
                               "type": "resubscribed" if granted else "unsubscribed",
                               "properties": {"source": "import", "import": context[:200]}})
        if data.get("topics") is None:
            continue
        wanted_ids = set(data["topics"])
        for topic in topics:
            wanted = topic.id in wanted_ids
            stored = chosen.get((cid, topic.id))
            if stored is not None and stored == wanted:
                continue
            choices.append({"customer_id": cid, "topic_id": topic.id, "tenant_id": tenant_id, "subscribed": wanted,
                            "updated_at": now})
            records.append({**base, "customer_id": cid, "topic_id": topic.id, "topic_name": topic.name,
                            "granted": wanted})
            if (stored if stored is not None else topic.default_subscribed) != wanted:
                activities.append({"tenant_id": tenant_id, "customer_id": cid, "occurred_at": now,
                                   "created_at": now, "type": "topic_subscribed" if wanted else "topic_unsubscribed",
                                   "properties": {"topic_id": topic.id, "topic_name": topic.name,
                                                  "source": "import"}})
    if choices:
        pairs = [(c["customer_id"], c["topic_id"]) for c in choices]
        for start in range(0, len(pairs), 500):
            db.session.execute(delete(CustomerTopic).where(
                tuple_(CustomerTopic.customer_id, CustomerTopic.topic_id).in_(pairs[start:start + 500]))
                .execution_options(synchronize_session=False))
        db.session.execute(insert(CustomerTopic.__table__), choices)
    for table, values in ((ConsentRecord.__table__, records), (CustomerActivity.__table__, activities)):
        if values:
            db.session.execute(insert(table), [{"wording": None, "ip_address": None, "user_agent": None, **v}
                                               if table is ConsentRecord.__table__ else v for v in values])
