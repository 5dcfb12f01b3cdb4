"""Campaign delivery jobs: start (snapshot + fan-out), deliver one batch, and the reconciler.

Durability: the database says what is due; Redis only carries the work. Every job is
idempotent, a lost job is re-enqueued by the reconciler, and a recipient is marked sent
in the database before the SMTP server is told to accept the message (mail/transport.py),
so a retry, a restart or two workers never send anyone a second copy.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections import deque
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import Row, and_, bindparam, case, delete, distinct, insert, or_, select, update

from webapp.extensions import db
from webapp.infra.queues import get_queue, redis_connection
from webapp.infra.sql import CHECKPOINTS_HELD, SQLITE_AUTOCHECKPOINT
from webapp.infra.types import utcnow
from webapp.mail.compose import Composed, CustomerView
from webapp.mail.templating import RenderFailed
from webapp.mail.transport import Outgoing, SendOutcome, open_transport
from webapp.models import CampaignRecipient, Customer, CustomerActivity, CustomerTag, EmailCampaign, Tenant

MAX_ATTEMPTS = 5
CANCEL_CHECK_SECONDS = 0.5
# Jobs that will still run: enqueueing the same work again would only duplicate them.
WAITING_JOB_STATES = {"queued", "scheduled", "deferred"}


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("DELIVERY_LEASE_SECONDS", 600)))


def _retry_delay(attempts: int) -> timedelta:
    base = float(current_app.config.get("DELIVERY_RETRY_BASE_SECONDS", 30))
    return timedelta(seconds=min(base * (2 ** max(attempts - 1, 0)), 3600))


# --- enqueueing (job ids make repeats cheap) ----------------------------------------------

def _job_status(conn, job_id: str) -> str | None:
    try:
        return Job.fetch(job_id, connection=conn).get_status(refresh=False)
    except NoSuchJobError:
        return None


def _enqueue_unique(queue_name: str, job_id: str, func, *args, at: datetime | None = None) -> None:
    """Enqueue unless the same work is already waiting. A *started* job is either the
    caller itself (a batch scheduling its retry) or may belong to a worker killed with
    kill -9, which RQ notices only many minutes later: the work then goes under a second
    id, one per lease period (claims decide who sends, so a duplicate costs a query)."""
    conn = redis_connection()
    status = _job_status(conn, job_id)
    if status == "started":
        job_id = f"{job_id}-{int(time.time() // max(_lease().total_seconds(), 1))}"
        status = _job_status(conn, job_id)
    if status in WAITING_JOB_STATES:
        return
    queue = get_queue(queue_name)
    options = {"job_id": job_id, "job_timeout": 3600, "result_ttl": 300, "failure_ttl": 86400}
    if at is not None and at > utcnow():
        queue.enqueue_at(at, func, *args, **options)
    else:  # due now: straight to the queue, without waiting for RQ's scheduler to move it
        queue.enqueue(func, *args, **options)


def enqueue_start(campaign_id: int) -> None:
    _enqueue_unique("mail", f"campaign-start-{campaign_id}", start_campaign, campaign_id)


def enqueue_start_at(campaign_id: int, at: datetime) -> None:
    _enqueue_unique("mail", f"campaign-due-{campaign_id}-{int(at.timestamp())}", start_scheduled_campaign,
                    campaign_id, at=at)


def enqueue_batch(campaign_id: int, batch_no: int, at: datetime | None = None) -> None:
    _enqueue_unique("mail", f"deliver-{campaign_id}-{batch_no}", deliver_batch, campaign_id, batch_no, at=at)


# --- jobs -----------------------------------------------------------------------------------

def start_scheduled_campaign(campaign_id: int) -> int:
    from webapp.services.campaigns import start_due_campaign

    start_due_campaign(campaign_id)
    return start_campaign(campaign_id)


def start_campaign(campaign_id: int) -> int:
    """Snapshot the recipients (once) and enqueue every batch that has work."""
    from webapp.services.campaigns import snapshot_recipients

    snapshot_recipients(campaign_id)
    campaign = db.session.get(EmailCampaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return 0
    batches = _batches_with_work(campaign_id)
    for batch_no in batches:
        enqueue_batch(campaign_id, batch_no)
    finish_if_done(campaign_id)
    return len(batches)


def _claimable(now: datetime):
    return or_(
        and_(CampaignRecipient.status == "pending",
             or_(CampaignRecipient.next_attempt_at.is_(None), CampaignRecipient.next_attempt_at <= now)),
        and_(CampaignRecipient.status == "sending", CampaignRecipient.claimed_at < now - _lease()),
    )


def _batches_with_work(campaign_id: int) -> list[int]:
    return list(db.session.scalars(select(distinct(CampaignRecipient.batch_no)).where(
        CampaignRecipient.campaign_id == campaign_id, _claimable(utcnow())).order_by(CampaignRecipient.batch_no)))


def deliver_batch(campaign_id: int, batch_no: int) -> dict:
    """Claim one batch's due recipients, render and send each over one SMTP connection,
    and record every outcome on its row (retried rows come back later, with backoff)."""
    from webapp.services.campaigns import render_many, sender_of

    campaign = db.session.get(EmailCampaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return {"claimed": 0}
    claim = uuid.uuid4().hex
    now = utcnow()
    _give_up_on_abandoned(campaign_id, batch_no, now)
    claimed = list(db.session.scalars(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.batch_no == batch_no, _claimable(now))
        .values(status="sending", claim_token=claim, claimed_at=now, attempts=CampaignRecipient.attempts + 1)
        .returning(CampaignRecipient.id)))
    db.session.commit()
    if not claimed:
        finish_if_done(campaign_id)
        return {"claimed": 0}

    _skip_suppressed(campaign, claim)
    tenant = db.session.get(Tenant, campaign.tenant_id)
    rows = _claimed_rows(claim)
    sender = sender_of(campaign, tenant)[1]
    counts = {"sent": 0, "failed": 0, "retry": 0, "lost": 0}
    retry_at: datetime | None = None
    group: list[tuple[Row, CustomerView, Composed]] = []
    # Messages rendered ahead of their turn, at most a group's worth (a RenderFailed in
    # place of the message is recorded when its turn comes).
    ahead: deque[tuple[Row, CustomerView, Composed | RenderFailed]] = deque()
    unrendered = iter(rows)

    def render_ahead() -> bool:
        """Render the next claimed recipients' messages, as many as there is room for, together
        (render_many); False when there is no room or none left. Rendering reads only what
        was loaded above: no database writes (new link rows go in a transaction of their own)."""
        rows = list(islice(unrendered, max(group_size - len(ahead), 0)))
        if not rows:
            return False
        messages = render_many(campaign, tenant, [(customer, recipient.email, recipient.token)
                                                  for recipient, customer in rows])
        for (recipient, customer), message in zip(rows, messages, strict=True):
            ahead.append((recipient, customer, message))
        return True

    def send_group() -> None:
        """The group's messages go out together, recorded as sent in one commit; the next
        messages are rendered while the server answers."""
        nonlocal retry_at

        def commit(staged: list[int]) -> set[int]:
            won = mark_sent([(group[i][0], group[i][2].message_id) for i in staged], claim)
            return {i for i in staged if group[i][0].id in won}

        outcomes = transport.send_many(
            [Outgoing(sender, recipient.email, composed.message.as_bytes(), composed.subject, composed.message_id)
             for recipient, _, composed in group], commit, while_waiting=render_ahead)
        settle_sent()
        for (recipient, customer, _), outcome in zip(group, outcomes, strict=True):
            kind = _record(recipient, customer, claim, outcome)
            counts[kind] += 1
            if kind == "retry":
                due = utcnow() + _retry_delay(recipient.attempts)
                retry_at = due if retry_at is None else min(retry_at, due)
        group.clear()

    with _keep_loaded_rows(), \
            open_transport(current_app.config["MAIL_URL"], tenant_id=tenant.id, campaign_id=campaign.id) as transport:
        next_check = time.monotonic() + CANCEL_CHECK_SECONDS
        # A group goes out when its last message's slot comes, so its first ones go late by
        # up to a group's worth of slots; at low rates messages go one by one, at high rates
        # a group is at most 2% of a second's worth.
        group_size = max(1, min(transport.connections, tenant.send_rate_per_second // 50)) \
            if tenant.send_rate_per_second > 0 else transport.connections
        allowance = SendAllowance(tenant.id, tenant.send_rate_per_second, at_least=group_size)
        index = -1
        while ahead or render_ahead():
            recipient, customer, composed = ahead.popleft()
            index += 1
            if isinstance(composed, RenderFailed):
                _finish(recipient, claim, "failed", f"could not render: {composed}")
                counts["failed"] += 1
                continue
            allowance.wait()
            # A cancel stops the batch within half a second (or 25 messages), even when the
            # rate limit is slow, at the cost of one small query per check.
            if index and (index % 25 == 0 or time.monotonic() >= next_check):
                next_check = time.monotonic() + CANCEL_CHECK_SECONDS
                if _cancelled(campaign_id):
                    # Rendered, not yet sent: released (skipped) with the rest.
                    group.clear()
                    ahead.clear()
                    _release(claim)
                    break
            group.append((recipient, customer, composed))
            if len(group) >= group_size:
                send_group()
        if group:
            send_group()
    if retry_at is not None:
        enqueue_batch(campaign_id, batch_no, at=retry_at)
    finish_if_done(campaign_id)
    return counts


@contextmanager
def _keep_loaded_rows():
    """Every message commits, and a commit expires every object in the session, so each
    message reloaded the campaign, the tenant and its customer (and expiring all the
    batch's rows cost more than the reloads). The loop only reads what it loaded after
    its claim, and writes with UPDATE statements, so nothing it reads goes stale."""
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = previous


def _give_up_on_abandoned(campaign_id: int, batch_no: int, now: datetime) -> None:
    """A row whose worker died MAX_ATTEMPTS times (a message that crashes its worker, say)
    is failed instead of being taken over forever."""
    gave_up = db.session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.batch_no == batch_no,
               CampaignRecipient.status == "sending", CampaignRecipient.claimed_at < now - _lease(),
               CampaignRecipient.attempts >= MAX_ATTEMPTS)
        .values(status="failed", claim_token=None,
                error=f"delivery was interrupted {MAX_ATTEMPTS} times (worker stopped); not retried")
        .execution_options(synchronize_session=False)).rowcount
    if gave_up:
        bump_counters(campaign_id, failed_count=gave_up)
    db.session.commit()


def _claimed_rows(claim: str) -> list[tuple[Row, CustomerView]]:
    """The claimed recipients with what templates read of their customers, as plain
    values in two queries (ORM objects cost ~0.3 ms per message to build)."""
    recipients, customers = CampaignRecipient.__table__, Customer.__table__
    mine = and_(recipients.c.claim_token == claim, recipients.c.status == "sending")
    rows = db.session.execute(
        select(recipients.c.id, recipients.c.campaign_id, recipients.c.tenant_id, recipients.c.customer_id,
               recipients.c.email, recipients.c.token, recipients.c.attempts,
               customers.c.email.label("customer_email"), customers.c.first_name, customers.c.last_name,
               customers.c.attributes, customers.c.total_spent, customers.c.orders_count)
        .join(customers, customers.c.id == recipients.c.customer_id)
        .where(mine)
        .order_by(recipients.c.id)).all()
    tags: dict[int, list[str]] = {}
    if rows:
        # The customers by a subquery rather than a list of ids: a batch's few hundred
        # ids made a new statement text to bind and parse on every call.
        for customer_id, tag in db.session.execute(
                select(CustomerTag.customer_id, CustomerTag.tag)
                .where(CustomerTag.customer_id.in_(select(recipients.c.customer_id).where(mine)))
                .order_by(CustomerTag.customer_id, CustomerTag.tag)):
            tags.setdefault(customer_id, []).append(tag)
    return [(row, CustomerView(id=row.customer_id, tenant_id=row.tenant_id, email=row.customer_email,
                               first_name=row.first_name, last_name=row.last_name, attributes=row.attributes,
                               total_spent=row.total_spent, orders_count=row.orders_count,
                               tags=tags.get(row.customer_id, [])))
            for row in rows]


def _skip_suppressed(campaign: EmailCampaign, claim: str) -> None:
    """Suppression is checked at claim time: unsubscribed since the snapshot -> skipped."""
    suppressed = select(Customer.id).where(Customer.id == CampaignRecipient.customer_id,
                                           Customer.email_status != "subscribed").exists()
    skipped = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.claim_token == claim, CampaignRecipient.status == "sending",
                                        suppressed)
        .values(status="skipped", error="not subscribed any more", claim_token=None)
        .execution_options(synchronize_session=False)).rowcount
    if skipped:
        bump_counters(campaign.id, skipped_count=skipped)
    db.session.commit()


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
)
SELECT won.id FROM won CROSS JOIN settings"""


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
        with db.session.connection().connection.driver_connection.cursor() as cursor:
            cursor.execute(_MARK_SENT_POSTGRES, {
                "at": at, "ids": [recipient.id for recipient, _ in sent],
                "message_ids": [message_id for _, message_id in sent], "claim": claim,
                "properties": json.dumps(properties or {}), "campaign_id": sent[0][0].campaign_id})
            won = {row[0] for row in cursor.fetchall()}
    else:
        won = _mark_sent_statements(sent, claim, properties, at)
    if not won:
        db.session.rollback()
        return won
    _commit_for_release()
    return won


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


def _finish(recipient: Row, claim: str, status: str, error: str) -> bool:
    done = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.id == recipient.id, CampaignRecipient.claim_token == claim)
        .values(status=status, error=error[:2000], claim_token=None)
        .execution_options(synchronize_session=False)).rowcount
    if done:
        bump_counters(recipient.campaign_id, **{f"{status}_count": 1})
    db.session.commit()
    return bool(done)


def _record(recipient: Row, customer: CustomerView, claim: str, outcome: SendOutcome) -> str:
    if outcome.status == "sent":
        return "sent"
    if outcome.status == "lost":
        return "lost"
    # Sent rows whose server then said no (after the final ".") go back from "sent".
    if outcome.status == "transient" and recipient.attempts < MAX_ATTEMPTS:
        revert_sent(recipient, claim)
        mine = and_(CampaignRecipient.id == recipient.id, CampaignRecipient.claim_token == claim)
        db.session.execute(
            update(CampaignRecipient).where(mine)
            .values(status="pending", claim_token=None, error=outcome.detail[:2000],
                    next_attempt_at=utcnow() + _retry_delay(recipient.attempts))
            .execution_options(synchronize_session=False))
        db.session.commit()
        return "retry"
    revert_sent(recipient, claim)
    db.session.commit()
    reason = outcome.detail if outcome.status == "permanent" else f"gave up after {recipient.attempts} attempts: " \
                                                                  f"{outcome.detail}"
    _finish(recipient, claim, "failed", reason)
    if outcome.hard_bounce:
        _mark_bounced(customer, recipient.campaign_id, outcome.detail)
    return "failed"


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


def _mark_bounced(customer: CustomerView, campaign_id: int, detail: str) -> None:
    from webapp.services.segments import refresh_customer_segments

    changed = db.session.execute(
        update(Customer).where(Customer.id == customer.id, Customer.email_status == "subscribed")
        .values(email_status="bounced", updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if changed:
        db.session.execute(insert(CustomerActivity.__table__).values(
            tenant_id=customer.tenant_id, customer_id=customer.id, type="email_bounced",
            properties={"campaign_id": campaign_id, "reply": detail[:500]}, occurred_at=utcnow(), created_at=utcnow()))
        refresh_customer_segments(customer.tenant_id, customer.id)
    db.session.commit()


_CAMPAIGN_STATUS = select(_CAMPAIGNS.c.status).where(_CAMPAIGNS.c.id == bindparam("campaign_id"))


def _cancelled(campaign_id: int) -> bool:
    # On the table: the ORM's select cost ~0.1 ms more, and this runs every 25 messages.
    return db.session.scalar(_CAMPAIGN_STATUS, {"campaign_id": campaign_id}) != "sending"


def _release(claim: str) -> None:
    """A cancelled campaign's claimed but unsent rows are skipped."""
    rows = db.session.execute(
        update(CampaignRecipient).where(CampaignRecipient.claim_token == claim, CampaignRecipient.status == "sending")
        .values(status="skipped", error="campaign cancelled", claim_token=None)
        .returning(CampaignRecipient.campaign_id)).all()
    if rows:
        bump_counters(rows[0][0], skipped_count=len(rows))
    db.session.commit()


def finish_if_done(campaign_id: int) -> bool:
    """`sent` only once every recipient is final (sent, failed or skipped)."""
    open_rows = select(CampaignRecipient.id).where(CampaignRecipient.campaign_id == campaign_id,
                                                   CampaignRecipient.status.in_(("pending", "sending"))).exists()
    done = db.session.execute(
        update(EmailCampaign).where(EmailCampaign.id == campaign_id, EmailCampaign.status == "sending",
                                    EmailCampaign.snapshot_at.isnot(None), ~open_rows)
        .values(status="sent", finished_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(done)


# --- rate limit -----------------------------------------------------------------------------

# Reserve `n` sending slots of one tenant, spaced `interval` microseconds apart on Redis's
# clock (every worker shares it, whatever its own clock says). KEYS[1]: the end of the last
# slot given out. Slots start no earlier than now: time nobody used is not handed out later
# as a burst. Returns how many microseconds from now the first slot starts.
RESERVE_SLOTS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local start = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local after = start + interval * n
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.floor((after - now) / 1000) + 1000)
return start - now
"""


class SendAllowance:
    """At most `per_second` messages per tenant per second across every worker (Redis).

    Messages go out on slots 1/per_second apart, handed out by one Redis script that every
    worker calls (a generic cell rate algorithm): two workers share the rate, and messages
    are spread over the second rather than sent in a burst at its start. A sender reserves
    a few slots at once (1% of the rate, at least a group's worth, at most RESERVE_MAX), so
    at high rates it asks Redis once per few messages; below 100/s every message takes its
    own. A sender that falls behind its slots does not catch up later: the next slots start
    from now. In any second, then, at most per_second messages plus what one reservation
    per worker holds.
    """

    RESERVE_MAX = 20

    def __init__(self, tenant_id: int, per_second: int, at_least: int = 1) -> None:
        self.key = f"crm:rate:{tenant_id}"
        self.per_second = per_second
        # Rounded up, so the spacing never allows more than the rate.
        self.interval_us = -(-1_000_000 // per_second) if per_second > 0 else 0
        self.reserve = max(1, at_least, min(self.RESERVE_MAX, per_second // 100))
        self.next_slot = 0.0  # time.monotonic() of this sender's next reserved slot
        self.left = 0
        self.script = None

    def wait(self) -> None:
        """Return when one more message may go out."""
        if self.per_second <= 0:
            return
        if self.left == 0:
            if self.script is None:
                self.script = redis_connection().register_script(RESERVE_SLOTS)  # EVALSHA after the first
            delay_us = self.script(keys=[self.key], args=[self.interval_us, self.reserve])
            self.next_slot, self.left = time.monotonic() + int(delay_us) / 1_000_000, self.reserve
        slot = self.next_slot
        self.next_slot += self.interval_us / 1_000_000
        self.left -= 1
        pause = slot - time.monotonic()
        if pause > 0.0005:
            time.sleep(pause)


# --- reconciler -----------------------------------------------------------------------------

def reconcile_campaigns() -> dict[str, int]:
    """Periodic: start due scheduled campaigns, restart lost start jobs, re-enqueue batches
    with due work (after a Redis flush, a killed worker, a retry delay), finish done ones."""
    now = utcnow()
    started = 0
    for campaign_id in db.session.scalars(select(EmailCampaign.id).where(
            EmailCampaign.status == "scheduled", EmailCampaign.scheduled_at <= now)):
        enqueue_start_at(campaign_id, now)
        started += 1
    sending = list(db.session.scalars(select(EmailCampaign.id).where(EmailCampaign.status == "sending")))
    batches = 0
    for campaign_id in sending:
        campaign = db.session.get(EmailCampaign, campaign_id)
        if campaign.snapshot_at is None:
            enqueue_start(campaign_id)
            continue
        for batch_no in _batches_with_work(campaign_id):
            enqueue_batch(campaign_id, batch_no)
            batches += 1
        finish_if_done(campaign_id)
    return {"scheduled_started": started, "campaigns_sending": len(sending), "batches_enqueued": batches}


