"""A sent campaign's recipients on its report: filtered by status, engagement and email,
paged both ways by id, with how many each filter holds (summed from the triggers' counts,
campaign_recipient_counts, unless an email search narrows them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, not_, select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.pagination import decode_cursor, encode_cursor
from webapp.infra.sql import like_pattern
from webapp.infra.validation import MAX_JSON_INT
from webapp.models import CampaignRecipient, CampaignRecipientCount, CustomerActivity
from webapp.services.campaigns.stats import bounce_campaign_id

PAGE_SIZE = 25
R, C = CampaignRecipient, CampaignRecipientCount


def _named_by(activity: str):
    # A bounce (complaint) is recorded as the customer's email_bounced (email_complained)
    # activity naming the campaign.
    def condition(tenant_id: int, campaign_id: int):
        return R.customer_id.in_(select(CustomerActivity.customer_id).where(
            CustomerActivity.tenant_id == tenant_id, CustomerActivity.type == activity,
            bounce_campaign_id() == campaign_id))
    return condition


# Each filter once: its value, its label, which recipients it keeps (people's engagement), and
# which rows of campaign_recipient_counts sum to how many it keeps (None: counted on the rows).
ENGAGEMENT = {
    "opened": ("Opened", lambda t, c: R.human_opens > 0, C.opened),
    "clicked": ("Clicked", lambda t, c: R.human_clicks > 0, C.clicked),
    "not_opened": ("Not opened", lambda t, c: (R.status == "sent") & (R.human_opens == 0),
                   (C.status == "sent") & not_(C.opened)),
    "machine_only": ("Only machines", lambda t, c: (R.human_opens == 0) & (R.human_clicks == 0)
                     & ((R.opens + R.clicks) > 0), not_(C.opened) & not_(C.clicked) & C.touched),
    "bounced": ("Bounced", _named_by("email_bounced"), None),
    "complained": ("Marked as spam", _named_by("email_complained"), None),
}
STATUSES = ("pending", "sending", "sent", "failed", "skipped")
RECIPIENT_FILTERS = {"engagement": tuple(ENGAGEMENT), "status": STATUSES}


@dataclass
class RecipientsPage:
    items: list[CampaignRecipient]
    total: int  # recipients matching the filters
    first: int  # the position (from 1) of the page's first row
    next_cursor: str | None
    prev_cursor: str | None

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1


def _cursor(cursor: str | None) -> tuple[int, str, int] | None:
    """(boundary id, "next" or "prev", position of the page's first row), or None."""
    values = decode_cursor(cursor, 3)
    if values is None:
        return None
    boundary, way, first = values
    if (way not in ("next", "prev") or any(isinstance(v, bool) or not isinstance(v, int) for v in (boundary, first))
            or not 0 < boundary <= MAX_JSON_INT or not 0 < first <= MAX_JSON_INT):
        raise ValidationFailed("cursor", "is not a cursor returned by this list")
    return boundary, way, first


def _filtered(tenant_id: int, campaign_id: int, status: str | None, engagement: str | None, email: str | None):
    stmt = select(R).where(R.campaign_id == campaign_id, R.tenant_id == tenant_id)
    if status in STATUSES:
        stmt = stmt.where(R.status == status)
    if engagement in ENGAGEMENT:
        stmt = stmt.where(ENGAGEMENT[engagement][1](tenant_id, campaign_id))
    if email and email.strip():
        stmt = stmt.where(func.lower(R.email).like(like_pattern(email.strip().lower()), escape="\\"))
    return stmt


def recipients_page(tenant_id: int, campaign_id: int, *, status: str | None = None, engagement: str | None = None,
                    email: str | None = None, limit: int = PAGE_SIZE, cursor: str | None = None,
                    counts: dict[str, Any] | None = None) -> RecipientsPage:
    """The recipients matching the filters, newest id first, one page after (or before) the
    cursor's boundary. A tampered cursor is a ValidationFailed naming `cursor`. `counts`,
    filter_counts() for the same email search, gives the total of one filter or none without
    counting the rows again (a second pass over a million recipients)."""
    stmt = _filtered(tenant_id, campaign_id, status, engagement, email)
    total = _total_of(counts, status, engagement)
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    position = _cursor(cursor)
    if position is None:
        rows = list(db.session.scalars(stmt.order_by(R.id.desc()).limit(limit + 1)))
        first, more_after, more_before = 1, len(rows) > limit, False
        rows = rows[:limit]
    elif position[1] == "next":
        rows = list(db.session.scalars(stmt.where(R.id < position[0]).order_by(R.id.desc()).limit(limit + 1)))
        first, more_after, more_before = position[2], len(rows) > limit, True
        rows = rows[:limit]
    else:
        rows = list(db.session.scalars(stmt.where(R.id > position[0]).order_by(R.id.asc()).limit(limit + 1)))
        more_before, more_after = len(rows) > limit, True
        rows = list(reversed(rows[:limit]))
        first = max(position[2], 1) if more_before else 1
    next_cursor = encode_cursor([rows[-1].id, "next", first + len(rows)]) if rows and more_after else None
    prev_cursor = encode_cursor([rows[0].id, "prev", max(first - limit, 1)]) if rows and more_before else None
    return RecipientsPage(rows, total, first, next_cursor, prev_cursor)


def _total_of(counts: dict[str, Any] | None, status: str | None, engagement: str | None) -> int | None:
    status, engagement = status if status in STATUSES else None, engagement if engagement in ENGAGEMENT else None
    if counts is None or (status and engagement):
        return None
    return counts["status"][status] if status else counts["engagement"][engagement] if engagement else counts["all"]


def filter_counts(tenant_id: int, campaign_id: int, email: str | None = None) -> dict[str, Any]:
    """How many recipients each status and each engagement filter holds (within the email
    search). Without a search: sums of the campaign's rows of campaign_recipient_counts (at
    most 40), and one count per filter those rows cannot tell (bounces, complaints: few rows,
    found from their activities). With one: a pass over the matching recipients."""
    if email and email.strip():
        stmt = _filtered(tenant_id, campaign_id, None, None, email)
        columns = [func.count()] + [func.count().filter(R.status == s) for s in STATUSES] + \
            [func.count().filter(condition(tenant_id, campaign_id)) for _, condition, _ in ENGAGEMENT.values()]
        row = db.session.execute(stmt.with_only_columns(*columns)).one()
        return {"all": row[0], "status": dict(zip(STATUSES, row[1:1 + len(STATUSES)], strict=True)),
                "engagement": dict(zip(ENGAGEMENT, row[1 + len(STATUSES):], strict=True))}
    summed = {key: rows for key, (_, _, rows) in ENGAGEMENT.items() if rows is not None}
    columns = [func.sum(C.recipients)] + [func.sum(C.recipients).filter(C.status == s) for s in STATUSES] + \
        [func.sum(C.recipients).filter(rows) for rows in summed.values()]
    row = [n or 0 for n in db.session.execute(
        select(*columns).where(C.campaign_id == campaign_id, C.tenant_id == tenant_id)).one()]
    engagement = dict(zip(summed, row[1 + len(STATUSES):], strict=True))
    for key in ENGAGEMENT:
        if key not in summed:
            engagement[key] = db.session.scalar(_filtered(tenant_id, campaign_id, None, key, None)
                                                .with_only_columns(func.count())) or 0
    return {"all": row[0], "status": dict(zip(STATUSES, row[1:1 + len(STATUSES)], strict=True)),
            "engagement": {key: engagement[key] for key in ENGAGEMENT}}


def engagement_labels() -> dict[str, str]:
    return {key: label for key, (label, _, _) in ENGAGEMENT.items()}
