"""Campaign drafts: validation, create, edit, delete, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from webapp.extensions import db
from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.infra.pagination import Page, keyset_by_id
from webapp.mail.templating import check_template_field
from webapp.models import EmailCampaign
from webapp.services.campaigns import variants
from webapp.services.campaigns.content import compiled_design, no_line_breaks
from webapp.services.segments import get_segment
from webapp.services.sending_domains import check_from_address
from webapp.services.tenants import normalise_email
from webapp.services.topics import get_topic

EDITABLE = ("draft", "scheduled")
TEXT_FIELDS = ("name", "subject", "preheader", "from_name", "reply_to", "from_email", "html_content",
               "text_content", "segment_id", "utm_source", "utm_medium", "utm_campaign", "design", "topic_id")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")


# --- validation -------------------------------------------------------------------------

def _validate(tenant_id: int, values: dict[str, Any], *, check_sender: bool = True) -> dict[str, Any]:
    out = dict(values)
    for field in ("name", "subject"):
        if field in out and not (out[field] or "").strip():
            raise ValidationFailed(field, "must not be empty")
    for field in ("subject", "preheader", "from_name", "reply_to", "from_email", "name", *UTM_FIELDS):
        no_line_breaks(field, out.get(field))
    for field in UTM_FIELDS:
        if field in out:
            out[field] = (out[field] or "").strip() or None
            if out[field] and len(out[field]) > (200 if field == "utm_campaign" else 100):
                raise ValidationFailed(field, "is too long")
    for field in ("from_email", "reply_to"):
        if out.get(field):
            out[field] = normalise_email(out[field], field)
    if out.get("from_email") and check_sender:
        check_from_address(tenant_id, out["from_email"], "from_email")
    check_template_field("subject", out.get("subject"), html=False)
    check_template_field("preheader", out.get("preheader"), html=False)
    check_template_field("html_content", out.get("html_content"), html=True)
    check_template_field("text_content", out.get("text_content"), html=False)
    if out.get("design") is not None:
        if out.get("html_content"):
            raise ValidationFailed("html_content", "give either a design or HTML content, not both")
        out["design"], out["html_content"] = compiled_design(tenant_id, out["design"])
    if "html_content" in out and not (out["html_content"] or "").strip():
        raise ValidationFailed("html_content", "must not be empty")
    if out.get("segment_id") is not None:
        try:
            get_segment(tenant_id, out["segment_id"])
        except NotFound:
            raise ValidationFailed("segment_id", "no such segment") from None
    if out.get("topic_id") is not None:
        get_topic(tenant_id, out["topic_id"], field="topic_id")
    return out


# --- CRUD -------------------------------------------------------------------------------

def tenant_campaigns(tenant_id: int) -> Select:
    """The tenant's campaigns: workflow steps' hidden campaigns are not campaigns to the
    marketer (not listed, not on the dashboard, a 404 by id)."""
    return select(EmailCampaign).where(EmailCampaign.tenant_id == tenant_id, EmailCampaign.kind == "campaign")


def get_campaign(tenant_id: int, campaign_id: int) -> EmailCampaign:
    campaign = db.session.scalar(tenant_campaigns(tenant_id).where(EmailCampaign.id == campaign_id))
    if campaign is None:
        raise NotFound("campaign not found")
    return campaign


def create_campaign(tenant_id: int, data: dict[str, Any]) -> EmailCampaign:
    """A draft; templates are checked now so a broken one never reaches a send."""
    values = _validate(tenant_id, {k: data.get(k) for k in TEXT_FIELDS if k in data})
    for field in ("name", "subject", "html_content"):
        if not values.get(field):
            raise ValidationFailed(field, "is required")
    plan = variants.plan_for(tenant_id, None, data)
    campaign = EmailCampaign(tenant_id=tenant_id, status="draft", **values)
    db.session.add(campaign)
    if plan is not False:
        variants.store(campaign, plan)
    db.session.commit()
    return campaign


def update_campaign(tenant_id: int, campaign_id: int, changes: dict[str, Any]) -> EmailCampaign:
    campaign = get_campaign(tenant_id, campaign_id)
    if campaign.status not in EDITABLE:
        raise Conflict(f"a {campaign.status} campaign cannot be edited")
    values = _validate(tenant_id, {k: v for k, v in changes.items() if k in TEXT_FIELDS})
    if campaign.design is not None and values.get("html_content") is not None and "design" not in values:
        raise ValidationFailed("html_content", "this campaign is built with the email builder: send a design, "
                                               "or convert it to HTML first (design: null)")
    plan = variants.plan_for(tenant_id, campaign, changes)
    for key, value in values.items():
        setattr(campaign, key, value)
    if plan is not False:
        variants.store(campaign, plan)
    db.session.commit()
    return campaign


def convert_to_html(tenant_id: int, campaign_id: int) -> EmailCampaign:
    """One way: the campaign keeps the HTML its design compiled to and is edited as HTML
    from now on; the design is gone."""
    campaign = get_campaign(tenant_id, campaign_id)
    if campaign.status not in EDITABLE:
        raise Conflict(f"a {campaign.status} campaign cannot be edited")
    campaign.design = None
    db.session.commit()
    return campaign


def delete_campaign(tenant_id: int, campaign_id: int) -> None:
    campaign = get_campaign(tenant_id, campaign_id)
    # Drafts, and cancelled campaigns (whatever they sent stays on customers' timelines).
    if campaign.status not in ("draft", "cancelled"):
        hint = "; cancel it first" if campaign.status in ("scheduled", "sending") else ""
        raise Conflict(f"a {campaign.status} campaign cannot be deleted{hint}")
    db.session.delete(campaign)
    db.session.commit()


def campaigns_page(tenant_id: int, *, status: str | None = None, limit: int = 50,
                   cursor: str | None = None) -> Page:
    stmt = tenant_campaigns(tenant_id)
    if status:
        stmt = stmt.where(EmailCampaign.status == status)
    return keyset_by_id(stmt, EmailCampaign.id, limit=limit, cursor=cursor)


def duplicate_campaign(tenant_id: int, campaign_id: int) -> EmailCampaign:
    """A new draft "Copy of …" with the campaign's content, design, sender, audience and
    UTM parameters; never its status, schedule, counters or recipients (those are the
    send's, and the copy has not been sent). Whatever state the original is in."""
    original = get_campaign(tenant_id, campaign_id)
    copied = {field: getattr(original, field) for field in TEXT_FIELDS if field not in ("name", "design")}
    copy = EmailCampaign(tenant_id=tenant_id, status="draft", kind="campaign",
                         name=f"Copy of {original.name}"[:200], design=original.design, **copied)
    db.session.add(copy)
    variants.copy_test(original, copy)
    db.session.commit()  # expires both: neither shares the design's dict with the other from here
    return copy
