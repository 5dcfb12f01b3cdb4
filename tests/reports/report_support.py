"""Hand-counted report fixtures: campaigns in a sent state with their counters, hourly
rollups, recipients, hits and attributed purchases written as the tracking writer and the
attribution rule leave them, so each figure on a page can be checked against a number
counted by hand."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import (
    CampaignAgentHits,
    CampaignAttribution,
    CampaignEngagementHour,
    CampaignRecipient,
    Customer,
    CustomerActivity,
    EmailCampaign,
    TrackingHit,
)
from webapp.services.tracking.batches import agent_key

IPHONE_MAIL = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Mobile/15E148")
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Mobile Safari/537.36")
IPAD_MAIL = ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148")
THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.9.0"


def customer(tenant_id: int, email: str) -> Customer:
    row = Customer(tenant_id=tenant_id, email=email)
    db.session.add(row)
    db.session.flush()
    return row


def sent_campaign(tenant_id: int, name: str, *, started: datetime | None = None, sent: int = 10,
                  recipients: int | None = None, opened: int = 0, clicked: int = 0, machine_opened: int = 0,
                  unsubscribed: int = 0, revenue: tuple[float, ...] = (), status: str = "sent",
                  kind: str = "campaign") -> EmailCampaign:
    """A campaign that went out `started` (default: a day ago) to `sent` people, of whom
    `opened` and `clicked` were people (plus `machine_opened` machine-only opens), and whose
    attributed purchases brought `revenue`."""
    started = started or utcnow() - timedelta(days=1)
    campaign = EmailCampaign(tenant_id=tenant_id, name=name, subject=f"{name}!", html_content="<p>Hi</p>",
                             status=status, kind=kind, started_at=started, snapshot_at=started,
                             finished_at=started + timedelta(minutes=30) if status == "sent" else None,
                             recipients_count=sent if recipients is None else recipients, sent_count=sent,
                             unsubscribed_count=unsubscribed)
    db.session.add(campaign)
    db.session.flush()
    if opened or clicked or machine_opened:
        db.session.add(CampaignEngagementHour(
            campaign_id=campaign.id, tenant_id=tenant_id, hour=started.replace(minute=0, second=0, microsecond=0),
            opens=opened * 2 + machine_opened, human_opens=opened * 2, unique_opens=opened + machine_opened,
            human_unique_opens=opened, clicks=clicked, human_clicks=clicked, unique_clicks=clicked,
            human_unique_clicks=clicked))
    for n, amount in enumerate(revenue):
        attribute(tenant_id, campaign, amount, order=f"{name}-{n}")
    db.session.commit()
    return campaign


def attribute(tenant_id: int, campaign: EmailCampaign, amount: float, *, order: str) -> CampaignAttribution:
    buyer = customer(tenant_id, f"{secrets.token_hex(4)}@buyers.example.com")
    purchase = CustomerActivity(tenant_id=tenant_id, customer_id=buyer.id, type="purchase", order_id=order,
                                amount=Decimal(str(amount)), properties={"order_total": amount})
    db.session.add(purchase)
    db.session.flush()
    credit = CampaignAttribution(activity_id=purchase.id, tenant_id=tenant_id, campaign_id=campaign.id,
                                 customer_id=buyer.id, amount=Decimal(str(amount)), touch="click",
                                 touched_at=utcnow())
    db.session.add(credit)
    return credit


def engagement_hour(campaign: EmailCampaign, hour: datetime, *, opened: int = 0, clicked: int = 0) -> None:
    db.session.add(CampaignEngagementHour(
        campaign_id=campaign.id, tenant_id=campaign.tenant_id, hour=hour, opens=opened, human_opens=opened,
        unique_opens=opened, human_unique_opens=opened, clicks=clicked, human_clicks=clicked,
        unique_clicks=clicked, human_unique_clicks=clicked))
    db.session.commit()


def recipient(campaign: EmailCampaign, email: str, *, status: str = "sent", human_opens: int = 0,
              human_clicks: int = 0, opens: int | None = None, clicks: int | None = None,
              error: str | None = None) -> CampaignRecipient:
    person = customer(campaign.tenant_id, email)
    row = CampaignRecipient(campaign_id=campaign.id, tenant_id=campaign.tenant_id, customer_id=person.id,
                            email=email, status=status, token=secrets.token_hex(16), human_opens=human_opens,
                            human_clicks=human_clicks, opens=human_opens if opens is None else opens,
                            clicks=human_clicks if clicks is None else clicks, error=error)
    db.session.add(row)
    db.session.commit()
    return row


def tracking_hit(row: CampaignRecipient, kind: str, user_agent: str | None, *, machine: bool = False) -> None:
    db.session.add(TrackingHit(stream_id=secrets.token_hex(10), tenant_id=row.tenant_id,
                               campaign_id=row.campaign_id, recipient_id=row.id, customer_id=row.customer_id,
                               kind=kind, occurred_at=utcnow(), is_machine=machine,
                               machine_reason="google_image_proxy" if machine else None,
                               user_agent=user_agent))
    # The report's clients and devices read the writer's per-agent rollup.
    key = (row.campaign_id, kind, machine, agent_key(user_agent))
    counted = db.session.get(CampaignAgentHits, key)
    if counted is None:
        counted = CampaignAgentHits(campaign_id=key[0], kind=kind, is_machine=machine, agent_key=key[3],
                                    tenant_id=row.tenant_id, user_agent=user_agent, hits=0)
        db.session.add(counted)
    counted.hits += 1
    if not machine:  # the buyer's latest human touch, which attribution reads first
        person = db.session.get(Customer, row.customer_id)
        person.last_touched_at = utcnow()
    db.session.commit()
