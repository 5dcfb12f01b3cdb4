"""Tracking: the links of each campaign, raw open/click hits, hourly rollups, attributions.

Stats read the rollups and the counters on campaign_recipients, never the raw hits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.infra.types import BigId, UTCDateTime, utcnow

HIT_KINDS = ("open", "click")


class CampaignLink(db.Model):
    """One row per (campaign, stored target URL), created at delivery on first sight."""

    __tablename__ = "campaign_links"
    __table_args__ = (
        UniqueConstraint("campaign_id", "url_hash", name="uq_campaign_links_campaign_url"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"))
    # The target as stored (UTM parameters included): the only place a redirect goes.
    url: Mapped[str] = mapped_column(Text)
    # SHA-256 of url: a unique key of bounded size (URLs can be long).
    url_hash: Mapped[str] = mapped_column(String(64))
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    human_clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unique_clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    human_unique_clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackingHit(db.Model):
    """One open or click as it arrived; written once per stream entry (stream_id is unique)."""

    __tablename__ = "tracking_hits"
    __table_args__ = (
        UniqueConstraint("stream_id", name="uq_tracking_hits_stream_id"),
        # Same-second and unique-per-link checks; a recipient's hits on the report.
        Index("ix_tracking_hits_recipient", "recipient_id", "kind", "occurred_at"),
        # Attribution: a customer's last human touch before a purchase.
        Index("ix_tracking_hits_customer", "customer_id", "kind", "is_machine", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stream_id: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaign_recipients.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    link_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("campaign_links.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    is_machine: Mapped[bool] = mapped_column(Boolean, default=False)
    machine_reason: Mapped[str | None] = mapped_column(String(60))
    method: Mapped[str] = mapped_column(String(10), default="GET")
    ip: Mapped[str | None] = mapped_column(String(64))
    # Headers from the public, kept as text: escaped wherever they are shown.
    user_agent: Mapped[str | None] = mapped_column(Text)
    referer: Mapped[str | None] = mapped_column(Text)


class CampaignEngagementHour(db.Model):
    """Per campaign and hour: opens and clicks (all and human), and first opens/clicks
    (unique counts). A campaign's totals are the sum of its hours."""

    __tablename__ = "campaign_engagement_hours"
    __table_args__ = (Index("ix_campaign_engagement_hours_tenant_hour", "tenant_id", "hour"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    opens: Mapped[int] = mapped_column(Integer, default=0)
    human_opens: Mapped[int] = mapped_column(Integer, default=0)
    unique_opens: Mapped[int] = mapped_column(Integer, default=0)
    human_unique_opens: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    human_clicks: Mapped[int] = mapped_column(Integer, default=0)
    unique_clicks: Mapped[int] = mapped_column(Integer, default=0)
    human_unique_clicks: Mapped[int] = mapped_column(Integer, default=0)


class CampaignAgentHits(db.Model):
    """Per campaign, kind of hit, person or machine, and user agent: how many hits. Moved by
    the hit writer with each batch; the report's mail clients and devices read it."""

    __tablename__ = "campaign_agent_hits"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"),
                                             primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    is_machine: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    # MD5 of the user agent, '' for none: a key of bounded size (an agent may be 1,000 characters).
    agent_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_agent: Mapped[str | None] = mapped_column(Text)
    hits: Mapped[int] = mapped_column(Integer, default=0)


class CampaignAttribution(db.Model):
    """A purchase credited to the campaign of the customer's last human touch."""

    __tablename__ = "campaign_attributions"
    __table_args__ = (Index("ix_campaign_attributions_campaign", "campaign_id"),)

    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer_activities.id", ondelete="CASCADE"),
                                             primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("email_campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    touch: Mapped[str] = mapped_column(String(10))
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
