"""The app's main pages, with a demo-ish tenant behind them: the page-wide browser checks
(phone layout, accessibility) visit the same list. The data makes every kind of thing render:
tables with rows, status badges (sent, draft, unsubscribed, active), a report with opens and
clicks, a workflow with an enrollment, an import with a refused row, images (with and without
alt text), an outbox message, and empty states where the tenant has nothing yet (saved
templates). EMPTY_PAGES are the pages a new account starts on, all empty states."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tests.assets.images import png
from tests.campaigns.campaign_support import new_campaign
from tests.campaigns.tracking_support import age_delivery, hit, outbox_html, send_to_audience, tracking_urls, write_hits
from webapp.extensions import db
from webapp.models import AutomationEnrollment, AutomationStep, CampaignRecipient, OutboxMessage
from webapp.services import campaigns, workflows
from webapp.services.assets import upload_asset
from webapp.services.crm import CRMService
from webapp.services.imports.lifecycle import create_import
from webapp.services.segments import create_segment

from .conftest import release_database

CSV = b"email,first_name,last_name,city,tags\nzoe@example.com,Zoe,Quinn,Leeds,vip\nbad-address,No,One,York,\n"


EMPTY_PAGES = {"dashboard": "/dashboard", "customers list": "/customers/", "segments list": "/segments/",
               "campaigns list": "/campaigns/", "workflows list": "/workflows/", "images": "/assets/",
               "templates gallery": "/templates/", "outbox": "/outbox/"}


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

    vips = create_segment(tenant_id, "VIPs", [{"type": "tag", "value": "vip"}]).id
    draft = new_campaign(tenant_id, vips, name="Autumn season announcement with a long name").id
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
    }, unsubscribe_token=tokens[0])
