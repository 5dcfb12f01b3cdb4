"""mark_sent records a group of sends in one transaction (one statement on PostgreSQL): the
rows still claimed by the caller become "sent" with their own message id, each gets one
email_sent activity, the campaign's counter moves by as many, and nothing else changes.
Whatever the caller has pending in the session (an outbox row) commits with them, or not
at all."""

from __future__ import annotations

import uuid

import pytest
from campaign_support import (
    activities_of,
    add_audience,
    audience_segment,
    campaign,
    new_campaign,
    ready_tenant,
    recipient_rows,
    statuses,
)
from sqlalchemy import event, func, select, text, update

from webapp.extensions import db
from webapp.models import CampaignRecipient, OutboxMessage
from webapp.services import campaigns
from webapp.services.campaigns.claims import claimed_rows as _claimed_rows
from webapp.services.campaigns.marks import mark_sent, settle_sent


def _claimed_group(tenant_id: int, size: int):
    """A snapshotted campaign whose `size` rows are claimed as a delivery batch claims them."""
    ready_tenant(tenant_id)
    add_audience(tenant_id, size)
    created = new_campaign(tenant_id, audience_segment(tenant_id))
    campaigns.send_campaign(tenant_id, created.id)
    campaigns.snapshot_recipients(created.id)
    campaign_id, claim = created.id, uuid.uuid4().hex
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
                       .values(status="sending", claim_token=claim))
    db.session.commit()
    rows = [row for row, _ in _claimed_rows(claim)]
    db.session.commit()  # as between two groups of a delivery: no transaction open
    return campaign_id, claim, rows


def _outbox_row(tenant_id: int, campaign_id: int) -> OutboxMessage:
    return OutboxMessage(tenant_id=tenant_id, campaign_id=campaign_id, recipient="fan0@example.com",
                         sender="news@example.com", subject="s", message_id="<o@x.example.com>", raw=b"x")


def _outbox_count() -> int:
    count = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    db.session.commit()
    return count


def test_each_row_gets_its_own_message_id_one_activity_and_the_counter_moves(tenant_a):
    campaign_id, claim, rows = _claimed_group(tenant_a.id, 5)
    sent = [(row, f"<m{i}@arena-alpha.example.com>") for i, row in enumerate(rows)]

    won = mark_sent(sent, claim, {"workflow_id": 7, "enrollment_id": 9})

    assert won == {row.id for row in rows}
    by_id = {row.id: row for row in recipient_rows(campaign_id)}
    for row, message_id in sent:
        stored = by_id[row.id]
        assert (stored.status, stored.message_id, stored.error) == ("sent", message_id, None)
        [activity] = activities_of(row.customer_id, "email_sent")
        assert activity.properties == {"workflow_id": 7, "enrollment_id": 9, "campaign_id": campaign_id,
                                       "message_id": message_id}
        assert activity.tenant_id == tenant_a.id and activity.occurred_at == stored.sent_at
    assert len({by_id[row.id].sent_at for row in rows}) == 1
    assert campaign(campaign_id).sent_count == 5


def test_rows_another_worker_took_over_are_left_as_they_are(tenant_a):
    campaign_id, claim, rows = _claimed_group(tenant_a.id, 4)
    taken = rows[1]
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.id == taken.id)
                       .values(claim_token="someone-else"))
    db.session.commit()

    won = mark_sent([(row, f"<m{row.id}@x.example.com>") for row in rows], claim)

    assert won == {row.id for row in rows} - {taken.id}
    stored = {row.id: row for row in recipient_rows(campaign_id)}[taken.id]
    assert (stored.status, stored.message_id, stored.claim_token) == ("sending", None, "someone-else")
    assert activities_of(taken.customer_id, "email_sent") == []
    assert campaign(campaign_id).sent_count == 3


def test_a_group_with_no_row_still_ours_changes_nothing(tenant_a):
    campaign_id, claim, rows = _claimed_group(tenant_a.id, 3)
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
                       .values(claim_token="someone-else"))
    db.session.commit()

    assert mark_sent([(row, "<m@x.example.com>") for row in rows], claim) == set()

    assert {row.status for row in recipient_rows(campaign_id)} == {"sending"}
    assert all(activities_of(row.customer_id, "email_sent") == [] for row in rows)
    assert campaign(campaign_id).sent_count == 0


def test_what_the_caller_has_pending_commits_with_the_marks(tenant_a):
    campaign_id, claim, rows = _claimed_group(tenant_a.id, 2)
    db.session.add(_outbox_row(tenant_a.id, campaign_id))

    assert mark_sent([(row, "<m@x.example.com>") for row in rows], claim) == {row.id for row in rows}

    assert _outbox_count() == 1 and statuses(campaign_id) == {"sent": 2}


def test_what_the_caller_has_pending_goes_when_no_row_is_still_ours(tenant_a):
    campaign_id, claim, rows = _claimed_group(tenant_a.id, 2)
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
                       .values(claim_token="someone-else"))
    db.session.commit()
    db.session.add(_outbox_row(tenant_a.id, campaign_id))

    assert mark_sent([(row, "<m@x.example.com>") for row in rows], claim) == set()

    assert _outbox_count() == 0 and statuses(campaign_id) == {"sending": 2}


def test_the_commit_without_waiting_for_the_disk_is_for_that_transaction_only(tenant_a, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    # The test database commits without waiting for the disk (tests/conftest.py): this
    # connection waits, as a production one does, so the app's own setting shows.
    _, claim, rows = _claimed_group(tenant_a.id, 2)
    db.session.execute(text("SET synchronous_commit = on"))
    driver = db.session.connection().connection.dbapi_connection
    seen: list[str] = []
    driver_commit = driver.commit

    def commit():
        with driver.cursor() as cursor:
            seen.append(cursor.execute("SHOW synchronous_commit").fetchone()[0])
        driver_commit()

    monkeypatch.setattr(driver, "commit", commit)
    mark_sent([(row, "<m@x.example.com>") for row in rows], claim)
    monkeypatch.undo()
    settle_sent()

    with driver.cursor() as cursor:  # the same connection: the session may draw another from the pool
        after = cursor.execute("SHOW synchronous_commit").fetchone()[0]
        cursor.execute("RESET synchronous_commit")
    driver.commit()

    assert seen == ["off"]
    assert after == "on"


def test_the_marks_are_committed_before_the_session_does_its_part(tenant_a):
    """The final "." follows mark_sent at once: by then the marks are in the database, and
    what else a commit does (the session's hooks) waits for settle_sent()."""
    campaign_id, claim, rows = _claimed_group(tenant_a.id, 3)
    session_commits: list[int] = []

    def count(_session):
        session_commits.append(1)

    event.listen(db.session, "after_commit", count)
    try:
        mark_sent([(row, f"<m{row.id}@x.example.com>") for row in rows], claim)
        with db.engine.connect() as other:  # another connection: what is committed
            committed = other.execute(select(CampaignRecipient.status, func.count())
                                      .where(CampaignRecipient.campaign_id == campaign_id)
                                      .group_by(CampaignRecipient.status)).all()
        before_settling = len(session_commits)
        settle_sent()
    finally:
        event.remove(db.session, "after_commit", count)

    assert dict(committed) == {"sent": 3}
    assert (before_settling, len(session_commits)) == (0, 1)


def test_sqlite_checkpoints_wait_until_the_messages_are_released(tenant_a):
    """A commit that finds SQLite's log long runs a checkpoint (milliseconds, with fsyncs)
    before it returns; the commit of the marks never does, the connection's next one may."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("an SQLite setting")
    _, claim, rows = _claimed_group(tenant_a.id, 2)

    def autocheckpoint() -> int:
        return db.session.connection().connection.dbapi_connection.execute(
            "PRAGMA wal_autocheckpoint").fetchone()[0]

    mark_sent([(row, "<m@x.example.com>") for row in rows], claim)
    during = autocheckpoint()
    settle_sent()

    assert (during, autocheckpoint()) == (0, 1000)


def test_a_connection_returned_before_settling_gets_its_checkpoints_back(tenant_a):
    """An exception between mark_sent and settle_sent returns the connection to the pool with
    checkpoints off: the pool turns them back on, or the log grows until the disk fills (and
    whichever test drew that connection next saw 0)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("an SQLite setting")
    _, claim, rows = _claimed_group(tenant_a.id, 2)
    mark_sent([(row, "<m@x.example.com>") for row in rows], claim)
    driver = db.session.connection().connection.dbapi_connection
    assert driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0

    db.session.close()  # no settle_sent(): the connection goes back to the pool as it is

    assert driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
