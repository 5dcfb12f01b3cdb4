"""Recording sends: a group of recipients marked sent in one commit before their messages are
released to the server (mark_sent), the session's side afterwards (settle_sent), undoing a
mark the server then refused (revert_sent), and the campaign's counters. Campaign batches and
workflow email steps both record their sends here."""

from __future__ import annotations

import functools
import json
from datetime import datetime

from sqlalchemy import Row, and_, bindparam, case, delete, insert, select, update

from webapp.extensions import db
from webapp.infra.sql import CHECKPOINTS_HELD, SQLITE_AUTOCHECKPOINT, run_on_driver
from webapp.infra.types import utcnow
from webapp.models import CampaignRecipient, CustomerActivity, EmailCampaign
from webapp.services import webhooks
from webapp.services.webhooks import customer_refs


def bump_counters(campaign_id: int, **deltas: int) -> None:
    db.session.execute(update(EmailCampaign).where(EmailCampaign.id == campaign_id).values(
        **{name: getattr(EmailCampaign, name) + delta for name, delta in deltas.items()})
        .execution_options(synchronize_session=False))


# Statements of every sent group, on the tables rather than the ORM classes (the ORM's
# bulk-DML path cost more than the database work), and built once: a statement built per
# group (a multi-row VALUES, a CASE of literal values) was compiled again for every group.
_RECIPIENTS, _CAMPAIGNS = CampaignRecipient.__table__, EmailCampaign.__table__
_COUNT_SENT = (update(_CAMPAIGNS).where(_CAMPAIGNS.c.id == bindparam("campaign_id"))
               .values(sent_count=_CAMPAIGNS.c.sent_count + bindparam("sent")))
_ADD_ACTIVITY = insert(CustomerActivity.__table__)

# PostgreSQL: the whole group in one statement (one round trip besides BEGIN and COMMIT).
# - synchronous_commit is off for this transaction only: the commit is followed by the
#   final "."; if the worker dies in between, that message is lost. Waiting for the WAL
#   flush made that window milliseconds wide; without it the window is one local round
#   trip. (A database-server crash may undo the last few "sent" marks, i.e. a duplicate: a
#   far rarer event than a worker being killed.)
# - the counter's row is locked from this statement to the commit right after it, so
#   workers of one campaign queue for it as briefly as before.
# - rows are found by primary key (id = ANY), the message ids picked by position. The
#   status test is written so that no index serves it: with the status index the planner,
#   whose statistics seldom know how many rows are being sent, walked all of them.
# - it runs on the session's connection (and transaction) through the driver's cursor:
#   SQLAlchemy's execution layer had nothing to do for it but cost ~0.1 ms a group.
# - each row carries the tenant's webhook key (webhooks.key_sql), read in the same statement:
#   the email.sent events that follow need it, and its own query was a round trip a group.
_MARK_SENT_POSTGRES = """
WITH settings AS (
    SELECT set_config('synchronous_commit', 'off', true)
), won AS (
    UPDATE campaign_recipients AS r
    SET status = 'sent', sent_at = %(at)s, error = NULL,
        message_id = (CAST(%(message_ids)s AS VARCHAR[]))[array_position(CAST(%(ids)s AS BIGINT[]), r.id)]
    WHERE r.id = ANY(CAST(%(ids)s AS BIGINT[])) AND r.claim_token = %(claim)s AND (r.status = 'sending') IS TRUE
    RETURNING r.id, r.tenant_id, r.customer_id, r.campaign_id, r.message_id
), activities AS (
    INSERT INTO customer_activities (tenant_id, customer_id, type, properties, occurred_at, created_at)
    SELECT tenant_id, customer_id, 'email_sent',
           CAST(%(properties)s AS JSONB) || jsonb_build_object('campaign_id', campaign_id, 'message_id', message_id),
           %(at)s, %(at)s
    FROM won ORDER BY id
), counted AS (
    UPDATE email_campaigns SET sent_count = sent_count + (SELECT count(*) FROM won) WHERE id = %(campaign_id)s
), hooks AS (
    {webhook_key}
)
SELECT won.id, hooks.* FROM won CROSS JOIN settings CROSS JOIN hooks"""


@functools.cache
def _mark_sent_postgres() -> str:
    return _MARK_SENT_POSTGRES.format(webhook_key=webhooks.key_sql())


@functools.cache  # one per group size: 1 to 50 (MAIL_URL connections=)
def _mark_sent_statement(size: int):
    """UPDATE ... SET status 'sent' and each row's message id ... RETURNING id, for `size` rows."""
    ids = [bindparam(f"id{i}", type_=_RECIPIENTS.c.id.type) for i in range(size)]
    message_ids = [bindparam(f"message_id{i}", type_=_RECIPIENTS.c.message_id.type) for i in range(size)]
    return (update(_RECIPIENTS)
            .where(_RECIPIENTS.c.id.in_(ids), _RECIPIENTS.c.claim_token == bindparam("claim"),
                   _RECIPIENTS.c.status == "sending")
            .values(status="sent", sent_at=bindparam("at", type_=_RECIPIENTS.c.sent_at.type), error=None,
                    message_id=case(*[(_RECIPIENTS.c.id == id_, message_id)
                                      for id_, message_id in zip(ids, message_ids, strict=True)]))
            .returning(_RECIPIENTS.c.id))


def mark_sent(sent: list[tuple[Row, str]], claim: str, properties: dict | None = None) -> set[int]:
    """Commit "sent" for the rows we still hold the claim on (one transaction for the
    group); returns their ids: only those messages are released to their servers.
    `properties` go on each email_sent activity besides the campaign and message ids.
    Campaign batches and workflow email steps both record their sends here; they call
    settle_sent() once the messages are released."""
    at = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        tenant_id = sent[0][0].tenant_id
        rows = run_on_driver(_mark_sent_postgres(), {
            "at": at, "ids": [recipient.id for recipient, _ in sent],
            "message_ids": [message_id for _, message_id in sent], "claim": claim,
            "properties": json.dumps(properties or {}), "campaign_id": sent[0][0].campaign_id,
            "tenant_id": tenant_id})
        won = {row[0] for row in rows}
        if rows:
            webhooks.hold_key(tenant_id, tuple(rows[0][1:]))
    else:
        won = _mark_sent_statements(sent, claim, properties, at)
    if not won:
        db.session.rollback()
        return won
    _emit_sent([(recipient, message_id) for recipient, message_id in sent if recipient.id in won], properties, at)
    _commit_for_release()
    return won


def _emit_sent(sent: list[tuple[Row, str]], properties: dict | None, at: datetime) -> None:
    """email.sent for the group, in the commit that marks it sent (one lookup when nobody listens)."""
    tenant_id, campaign_id = sent[0][0].tenant_id, sent[0][0].campaign_id

    def payloads() -> list[dict]:
        campaign = db.session.execute(select(EmailCampaign.name, EmailCampaign.subject)
                                      .where(EmailCampaign.id == campaign_id)).one()
        refs = customer_refs(tenant_id, [recipient.customer_id for recipient, _ in sent])
        return [{"campaign": {"id": campaign_id, "name": campaign.name, "subject": campaign.subject},
                 "customer": refs.get(recipient.customer_id), "to": recipient.email, "message_id": message_id,
                 "sent_at": at.isoformat(), **(properties or {})} for recipient, message_id in sent]

    webhooks.emit_many(tenant_id, "email.sent", payloads)


def _commit_for_release() -> None:
    """Commit the marks with the driver and nothing more. From this commit to the final "."
    is the one window where a killed worker loses a message, so what a commit does besides
    (the session's bookkeeping, ~0.1 ms; SQLite's automatic checkpoint, milliseconds with
    its fsyncs, when the log has grown) waits for settle_sent(), after the "."."""
    db.session.flush()  # an outbox row added for this send goes in this same commit
    pooled = db.session.connection().connection
    driver = pooled.dbapi_connection
    if _is_sqlite(driver):
        driver.execute("PRAGMA wal_autocheckpoint=0")
        # Should settle_sent() never come (an exception in between), the pool turns them
        # back on when the connection is returned (webapp/__init__.py), not a later user.
        pooled.info[CHECKPOINTS_HELD] = True
    driver.commit()


def settle_sent() -> None:
    """After the final "."s of a mark_sent: the session's side of that commit, and SQLite's
    checkpoints back on (the next commit that grows the log runs one)."""
    pooled = db.session.connection().connection
    if pooled.info.pop(CHECKPOINTS_HELD, False):
        pooled.dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT}")
    db.session.commit()


def _is_sqlite(driver) -> bool:
    return type(driver).__module__.startswith("sqlite3")


def _mark_sent_statements(sent: list[tuple[Row, str]], claim: str, properties: dict | None,
                          at: datetime) -> set[int]:
    """What the PostgreSQL statement does, in three statements (SQLite)."""
    params: dict = {"claim": claim, "at": at}
    for i, (recipient, message_id) in enumerate(sent):
        params[f"id{i}"], params[f"message_id{i}"] = recipient.id, message_id
    won = set(db.session.scalars(_mark_sent_statement(len(sent)), params))
    if not won:
        return won
    db.session.execute(_ADD_ACTIVITY, [
        {"tenant_id": recipient.tenant_id, "customer_id": recipient.customer_id, "type": "email_sent",
         "properties": {**(properties or {}), "campaign_id": recipient.campaign_id, "message_id": message_id},
         "occurred_at": at, "created_at": at}
        for recipient, message_id in sent if recipient.id in won])
    # Last before the commit: the campaign's row stays locked until then.
    db.session.execute(_COUNT_SENT, {"campaign_id": sent[0][0].campaign_id, "sent": len(won)})
    return won


def revert_sent(recipient: Row, claim: str) -> bool:
    """The server refused the message after its data: everything _mark_sent wrote is undone
    (the row goes back from "sent", its email_sent activity goes, the counter drops)."""
    mine = and_(CampaignRecipient.id == recipient.id, CampaignRecipient.claim_token == claim,
                CampaignRecipient.status == "sent")
    sent = db.session.execute(select(CampaignRecipient.customer_id, CampaignRecipient.sent_at).where(mine)).first()
    if sent is None:
        return False
    db.session.execute(update(CampaignRecipient).where(mine).values(status="sending", sent_at=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(CustomerActivity).where(
        CustomerActivity.customer_id == sent.customer_id, CustomerActivity.type == "email_sent",
        CustomerActivity.occurred_at == sent.sent_at).execution_options(synchronize_session=False))
    bump_counters(recipient.campaign_id, sent_count=-1)
    return True

