"""The campaigns list with its figures: recipients, people's open and click rates and
attributed revenue, searched by name and sorted by any figure, in one query per page.

The rates are the report's (stats.campaign_stats): people's unique opens and clicks from the
hourly rollups (machine hits never reach the human_* counters, see services/tracking) over
the messages sent. The SQL here and the report's Python agree by construction: both read
the same counters, and a test compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, case, cast, func, nulls_last, select

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.pagination import Page, decode_cursor, encode_cursor
from webapp.infra.sql import like_pattern
from webapp.infra.types import MAX_ID
from webapp.models import CampaignAttribution, CampaignEngagementHour, EmailCampaign

SORTS = ("newest", "name", "recipients", "open_rate", "click_rate", "revenue")
DIRECTIONS = ("asc", "desc")
# Sorting by a figure pages by offset: figures move while the marketer reads (a keyset on a
# moving value skips or repeats rows just the same), and a tenant has hundreds of campaigns,
# not millions. The default order (newest first) stays a keyset on the id.
_OFFSET_MARK = "by-figure"
MAX_OFFSET = 100_000


@dataclass(frozen=True)
class CampaignRow:
    campaign: EmailCampaign
    recipients: int
    sent: int
    opened: int
    clicked: int
    revenue: Decimal

    @property
    def reported(self) -> bool:
        """Figures mean something once sending started."""
        return self.campaign.started_at is not None

    @property
    def open_rate(self) -> float:
        return self.opened / self.sent if self.sent else 0.0

    @property
    def click_rate(self) -> float:
        return self.clicked / self.sent if self.sent else 0.0


def _page_statement(tenant_id: int):
    """The tenant's campaigns with their figures, and the sortable expressions by name."""
    hours = CampaignEngagementHour
    engaged = (select(hours.campaign_id.label("campaign_id"),
                      func.sum(hours.human_unique_opens).label("opened"),
                      func.sum(hours.human_unique_clicks).label("clicked"))
               .where(hours.tenant_id == tenant_id).group_by(hours.campaign_id).subquery())
    credited = (select(CampaignAttribution.campaign_id.label("campaign_id"),
                       func.sum(CampaignAttribution.amount).label("revenue"))
                .where(CampaignAttribution.tenant_id == tenant_id)
                .group_by(CampaignAttribution.campaign_id).subquery())
    opened = func.coalesce(engaged.c.opened, 0)
    clicked = func.coalesce(engaged.c.clicked, 0)
    revenue = func.coalesce(credited.c.revenue, 0)
    sent = func.nullif(EmailCampaign.sent_count, 0)

    def once_started(expr):
        # NULL for campaigns not sent yet: they sort after every sent one, either direction.
        return case((EmailCampaign.started_at.isnot(None), expr), else_=None)

    sortable = {
        "name": func.lower(EmailCampaign.name),
        "recipients": once_started(EmailCampaign.recipients_count),
        "open_rate": cast(opened, Float()) / sent,
        "click_rate": cast(clicked, Float()) / sent,
        "revenue": once_started(revenue),
    }
    stmt = (select(EmailCampaign, opened, clicked, revenue)
            .outerjoin(engaged, engaged.c.campaign_id == EmailCampaign.id)
            .outerjoin(credited, credited.c.campaign_id == EmailCampaign.id)
            .where(EmailCampaign.tenant_id == tenant_id, EmailCampaign.kind == "campaign"))
    return stmt, sortable


def _offset(cursor: str | None) -> int:
    values = decode_cursor(cursor, 2)
    if values is None:
        return 0
    offset, mark = values
    if mark != _OFFSET_MARK or isinstance(offset, bool) or not isinstance(offset, int) or not 0 < offset <= MAX_OFFSET:
        raise ValidationFailed("cursor", "is not a cursor returned by this list")
    return offset


def _after_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if isinstance(values[0], bool) or not isinstance(values[0], int) or not 0 < values[0] <= MAX_ID:
        raise ValidationFailed("cursor", "is not a cursor returned by this list")
    return values[0]


def campaign_rows(tenant_id: int, *, status: str | None = None, q: str | None = None, sort: str = "newest",
                  direction: str = "desc", limit: int = 50, cursor: str | None = None) -> Page:
    """A page of the tenant's campaigns as CampaignRows, figures included: one query.
    Newest first pages by id (keyset); any other sort by offset. A tampered cursor is a
    ValidationFailed naming `cursor`."""
    stmt, sortable = _page_statement(tenant_id)
    if status:
        stmt = stmt.where(EmailCampaign.status == status)
    if q and q.strip():
        stmt = stmt.where(func.lower(EmailCampaign.name).like(like_pattern(q.strip().lower()), escape="\\"))
    if sort in sortable:
        key = sortable[sort]
        order = key.asc() if direction == "asc" else key.desc()
        offset = _offset(cursor)
        stmt = stmt.order_by(nulls_last(order), EmailCampaign.id.desc()).offset(offset).limit(limit + 1)
        rows = db.session.execute(stmt).all()
        more = encode_cursor([offset + limit, _OFFSET_MARK]) if len(rows) > limit else None
    else:
        after = _after_id(cursor)
        if after is not None:
            stmt = stmt.where(EmailCampaign.id < after)
        rows = db.session.execute(stmt.order_by(EmailCampaign.id.desc()).limit(limit + 1)).all()
        more = encode_cursor([rows[limit - 1][0].id]) if len(rows) > limit else None
    return Page([_row(*row) for row in rows[:limit]], more)


def _row(campaign: EmailCampaign, opened: Any, clicked: Any, revenue: Any) -> CampaignRow:
    return CampaignRow(campaign=campaign, recipients=campaign.recipients_count or 0, sent=campaign.sent_count or 0,
                       opened=int(opened or 0), clicked=int(clicked or 0), revenue=Decimal(str(revenue or 0)))
