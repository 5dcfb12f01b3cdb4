"""A send_email step's email seen before it runs: preview as a customer and test sends,
through the same rendering as a campaign's (the step's email is a hidden campaign)."""

from __future__ import annotations

from typing import Any

from webapp.extensions import db
from webapp.infra.errors import NotFound, ValidationFailed
from webapp.models import EmailCampaign
from webapp.services.campaigns.drafts import compiled_design
from webapp.services.campaigns.rendering import preview_email, send_test_of
from webapp.services.workflows.reading import get_step
from webapp.services.workflows.steps import validate_step

# What {{ trigger.* }} reads in a preview or test: a purchase as the platform sends one.
SAMPLE_TRIGGER = {"order_id": "ORDER-1001", "order_total": 84.0,
                  "event": {"id": "evt_sample", "name": "Your event", "starts_at": "2026-12-12T19:30:00+00:00",
                            # What event triggers add (catalogue.event_payload, the calendar link).
                            "when": "Sat 12 Dec 2026, 19:30 (GMT)", "doors": "Sat 12 Dec 2026, 18:30 (GMT)",
                            "venue": "The venue", "city": "Your city", "calendar_url": "#add-to-calendar"}}


def _step_campaign(tenant_id: int, workflow_id: int, step_id: int) -> EmailCampaign:
    step = get_step(tenant_id, workflow_id, step_id)
    campaign = db.session.get(EmailCampaign, step.campaign_id) if step.type == "send_email" and step.campaign_id \
        else None
    if campaign is None:
        raise NotFound("this step sends no email")
    return campaign


def preview_step(tenant_id: int, workflow_id: int, step_id: int, customer_id: int | None = None) -> dict[str, str]:
    """The saved step's email as `customer_id` (or a nameless sample customer) would get it."""
    return preview_email(tenant_id, _step_campaign(tenant_id, workflow_id, step_id), customer_id,
                         {"trigger": SAMPLE_TRIGGER})


def preview_step_config(tenant_id: int, config: dict[str, Any], customer_id: int | None = None) -> dict[str, str]:
    """The builder's live preview of a step's email not saved yet: checked as a save would
    check it, nothing stored."""
    config = validate_step("send_email", config)
    if config.get("design") is not None:
        config["design"], config["content"] = compiled_design(tenant_id, config["design"], "config.design")
    campaign = EmailCampaign(tenant_id=tenant_id, kind="workflow", subject=config["subject"],
                             html_content=config["content"], design=config.get("design"),
                             preheader=config.get("preheader"), from_name=config.get("from_name"),
                             from_email=config.get("from_email"), reply_to=config.get("reply_to"))
    try:
        return preview_email(tenant_id, campaign, customer_id, {"trigger": SAMPLE_TRIGGER})
    except ValidationFailed as exc:
        raise ValidationFailed("config.content", exc.reason) from None


def test_step(tenant_id: int, workflow_id: int, step_id: int, emails: list[str],
              customer_id: int | None = None) -> list[dict]:
    """A [TEST] copy of the saved step's email to each address now: no enrollment, no stats."""
    return send_test_of(tenant_id, _step_campaign(tenant_id, workflow_id, step_id), emails, customer_id,
                        {"trigger": SAMPLE_TRIGGER})
