"""The app's main pages, with a demo-ish tenant behind them: the page-wide browser checks
(phone layout, accessibility) visit the same list. The data makes every kind of thing render:
tables with rows, status badges (sent, draft, unsubscribed, active), a report with opens and
clicks, a workflow with an enrollment, an import with a refused row, images (with and without
alt text), an outbox message, and empty states where the tenant has nothing yet (saved
templates). EMPTY_PAGES are the pages a new account starts on, all empty states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from tests.assets.images import png
from tests.campaigns.campaign_support import new_campaign
from tests.campaigns.tracking_support import age_delivery, hit, outbox_html, send_to_audience, tracking_urls, write_hits
from webapp.extensions import db
from webapp.infra.types import utcnow
from webapp.models import (
    AutomationEnrollment,
    AutomationStep,
    CampaignRecipient,
    Customer,
    EmailCampaign,
    OutboxMessage,
    Topic,
)
from webapp.services import campaigns, customers, workflows
from webapp.services.assets import upload_asset
from webapp.services.crm import CRMService
from webapp.services.imports.lifecycle import create_import
from webapp.services.segments import create_segment
from webapp.services.signup_forms import create_form
from webapp.services.topics import create_topic

from .conftest import release_database

CSV = b"email,first_name,last_name,city,tags\nzoe@example.com,Zoe,Quinn,Leeds,vip\nbad-address,No,One,York,\n"


EMPTY_PAGES = {"dashboard": "/dashboard", "customers list": "/customers/", "segments list": "/segments/",
               "campaigns list": "/campaigns/", "workflows list": "/workflows/", "images": "/assets/",
               "templates gallery": "/templates/", "outbox": "/outbox/", "topics": "/topics",
               "signup forms list": "/forms/", "events list": "/events/"}


@dataclass(frozen=True)
class Demo:
    pages: dict[str, str]  # a page's name -> its address, signed in as the tenant's owner
    unsubscribe_token: str  # a recipient of the sent campaign, still subscribed


def build_demo(app, tenant_id: int, shop: dict[str, int], runner) -> Demo:
    """One of every kind of thing a marketer has, and the address of each main page."""
    sent = send_to_audience(runner, tenant_id, 3)
    age_delivery(sent)
    delivered = outbox_html(sent)
    client = app.test_client()
    for address in sorted(delivered)[:2]:
        pixel, clicks = tracking_urls(delivered[address])
        hit(client, pixel)
        hit(client, clicks[0])
    write_hits()
    tokens = db.session.scalars(select(CampaignRecipient.token).where(CampaignRecipient.campaign_id == sent)
                                .order_by(CampaignRecipient.email)).all()
    campaigns.unsubscribe(tokens[-1])  # an "unsubscribed" badge in the lists

    jazz = create_topic(tenant_id, {"name": "Jazz listings", "description": "New jazz nights, every Thursday"}).id
    create_topic(tenant_id, {"name": "Surveys", "description": "A few questions after a show",
                             "default_subscribed": False})
    customers.update_customer(tenant_id, shop["ada"], {"topics": [jazz]})  # a consent history on her profile

    vips = create_segment(tenant_id, "VIPs", [{"type": "tag", "value": "vip"}]).id
    draft = new_campaign(tenant_id, vips, name="Autumn season announcement with a long name", topic_id=jazz).id
    flow = workflows.create_workflow(tenant_id, {
        "name": "Thank you for your order", "trigger_type": "purchase", "trigger_config": {}, "reentry": "always",
        "steps": [{"type": "wait", "config": {"days": 1}},
                  {"type": "send_email", "config": {"subject": "Thanks", "content": "<p>Thanks</p>"}},
                  {"type": "condition", "config": {"conditions": [{"type": "tag", "value": "vip"}], "match": "all"}}]})
    workflows.set_active(tenant_id, flow.id, True)
    CRMService().process_trigger(tenant_id, "purchase", shop["ada"], {"order_total": 150, "order_id": "A-1"})
    db.session.commit()
    email_step = db.session.scalar(select(AutomationStep.id).where(
        AutomationStep.workflow_id == flow.id, AutomationStep.type == "send_email"))
    enrollment = db.session.scalar(select(AutomationEnrollment.id).where(AutomationEnrollment.workflow_id == flow.id))
    upload = create_import(tenant_id, "box-office-export.csv", CSV).id
    upload_asset(tenant_id, "main-stage.png", png(), alt="The main stage at night")
    upload_asset(tenant_id, "poster.png", png())  # no alt text of its own: its name stands in
    message = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.campaign_id == sent))
    signup_form = _signup_form(tenant_id)
    in_waves = _campaign_in_waves(tenant_id, vips, shop)
    shows = _events(tenant_id, shop)
    release_database()
    return Demo(pages={
        "dashboard": "/dashboard",
        "customers list": "/customers/",
        "customer profile": f"/customers/{shop['ada']}",
        "segments list": "/segments/",
        "segment builder": "/segments/new",
        "segment builder, editing": f"/segments/{vips}/edit",
        "a segment": f"/segments/{vips}",
        "campaigns list": "/campaigns/",
        "campaigns by open rate": "/campaigns/?sort=open_rate&dir=desc",
        "customers who ordered lately": "/customers/?ordered=30d",
        "email builder": "/campaigns/new",
        "campaign editor": f"/campaigns/{draft}/edit",
        "campaign summary": f"/campaigns/{draft}",
        "campaign review and send": f"/campaigns/{draft}/send",
        "sent campaign": f"/campaigns/{sent}",
        "campaign report": f"/campaigns/{sent}/report",
        "templates gallery": "/templates/",
        "workflows list": "/workflows/",
        "workflow builder": f"/workflows/{flow.id}",
        "workflow enrollments": f"/workflows/{flow.id}/enrollments",
        "an enrollment's trace": f"/workflows/{flow.id}/enrollments/{enrollment}",
        "step email": f"/workflows/{flow.id}/steps/{email_step}/email",
        "new import": "/customers/import",
        "an import": f"/customers/imports/{upload}",
        "images": "/assets/",
        "settings": "/settings/",
        "team": "/settings/team",
        "audit log": "/settings/audit/",
        "outbox": "/outbox/",
        "an outbox message": f"/outbox/{message}",
        "topics": "/topics",
        "a topic": f"/topics/{jazz}/edit",
        "deliverability": "/settings/deliverability",
        "signup forms list": "/forms/",
        "new signup form": "/forms/new",
        "signup form editor": f"/forms/{signup_form}",
        "campaign sending in waves": f"/campaigns/{in_waves}",
        "events list": "/events/",
        "past events": "/events/?when=past",
        "an event": f"/events/{shows['upcoming']}",
        "a past event": f"/events/{shows['past']}",
    }, unsubscribe_token=tokens[0])


def _events(tenant_id: int, shop: dict[str, int]) -> dict[str, int]:
    """An upcoming show in another timezone with seated and standing line items, a capacity and
    tags, and a past show whose attendance is settled (one came, one did not)."""
    from webapp.models import EventAttendance
    from webapp.services.activities import record_activity
    from webapp.services.events.catalogue import upsert_event

    def at(days: int, zone: str = "Europe/London") -> str:
        """19:30 on the venue's clock, `days` from today."""
        day = (utcnow() + timedelta(days=days)).date()
        return datetime.combine(day, time(19, 30), tzinfo=ZoneInfo(zone)).isoformat()

    upcoming = upsert_event(tenant_id, {
        "external_id": "evt-berlin", "name": "Nils Frahm live: an evening of piano music at the Philharmonie",
        "starts_at": at(12, "Europe/Berlin"), "doors_at": at(12, "Europe/Berlin").replace("T19:30", "T18:45"),
        "timezone": "Europe/Berlin",
        "venue": {"name": "Philharmonie", "city": "Berlin"}, "capacity": 2400, "status": "on_sale",
        "url": "https://tickets.example.com/evt-berlin",
        "tags": {"genre": "Classical", "artist": "Nils Frahm", "series": "Piano Days"}}).event
    past = upsert_event(tenant_id, {"external_id": "evt-gala", "name": "Spring gala", "starts_at": at(-20),
                                    "venue": {"name": "Royal Hall", "city": "London"}, "capacity": 300,
                                    "status": "ended"}).event
    for n, name in enumerate(("ada", "grace")):
        record_activity(tenant_id, "purchase", customer_id=shop[name], properties={
            "order_total": 150, "order_id": f"EV-{n}", "currency": "EUR", "event": {"id": "evt-berlin"},
            "items": [{"ticket_type": "Seated", "tier": "Early bird", "section": "Block A", "seat": f"F{n * 2 + 1}",
                       "quantity": 2, "price": 60}, {"ticket_type": "Standing", "quantity": 1, "price": 30}]})
        record_activity(tenant_id, "purchase", customer_id=shop[name], properties={
            "order_total": 40, "order_id": f"GALA-{n}", "event": {"id": "evt-gala"}},
            occurred_at=utcnow() - timedelta(days=30))
        db.session.add(EventAttendance(event_id=past.id, customer_id=shop[name], tenant_id=tenant_id,
                                       status="attended" if name == "ada" else "no_show", scans=int(name == "ada"),
                                       event_starts_at=past.starts_at))
    db.session.commit()
    return {"upcoming": upcoming.id, "past": past.id}


def _signup_form(tenant_id: int) -> int:
    """A signup form with a question of each kind, offering the demo's two topics."""
    topics = list(db.session.scalars(select(Topic).where(Topic.tenant_id == tenant_id).order_by(Topic.id)))
    return create_form(tenant_id, {
        "name": "Festival newsletter", "fields": {"first_name": "required", "last_name": "optional", "custom": [
            {"key": "favourite_genre", "label": "Favourite genre", "kind": "select", "options": ["Jazz", "Rock"]},
            {"key": "birthday", "label": "Birthday", "kind": "date"},
            {"key": "over_16", "label": "I am over 16", "kind": "checkbox", "required": True}]},
        "topics": [{"id": topics[0].id, "checked": True}, {"id": topics[1].id, "checked": False}]}).id


def _campaign_in_waves(tenant_id: int, segment_id: int, shop: dict[str, int]) -> int:
    """A campaign sent at 10:00 in each recipient's timezone, its Tokyo wave sent, the others to come."""
    db.session.execute(update(Customer).where(Customer.id == shop["ada"]).values(timezone="Asia/Tokyo"))
    db.session.execute(update(Customer).where(Customer.id == shop["grace"]).values(timezone="America/New_York"))
    wave_day = (utcnow() + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0, tzinfo=None)
    local = new_campaign(tenant_id, segment_id, name="Late-night jazz: tickets on sale").id
    campaigns.schedule_local(tenant_id, local, wave_day, per_customer_timezone=True)
    db.session.execute(update(EmailCampaign).where(EmailCampaign.id == local).values(
        status="sending", started_at=utcnow()))
    db.session.commit()
    campaigns.snapshot_recipients(local)
    db.session.execute(update(CampaignRecipient).where(CampaignRecipient.campaign_id == local,
                                                       CampaignRecipient.customer_id == shop["ada"])
                       .values(status="sent", sent_at=utcnow()))
    db.session.execute(update(EmailCampaign).where(EmailCampaign.id == local).values(sent_count=1))
    db.session.commit()
    return local
