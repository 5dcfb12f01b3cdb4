"""Templates meeting campaigns: start a draft from a template, keep a campaign as one."""

from __future__ import annotations

from typing import Any

from webapp.infra.errors import NotFound, ValidationFailed
from webapp.models import EmailCampaign
from webapp.services import campaigns
from webapp.services.templates.library import TemplateView, create_template, get_template

CONTENT_FIELDS = ("design", "html_content")


def _fields_from(template: TemplateView, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A campaign's fields (service names) from a template, `overrides` winning; an explicit
    design or html_content replaces the template's content whichever kind it was."""
    data: dict[str, Any] = {"name": template.name, "subject": template.subject or template.name}
    if template.preheader:
        data["preheader"] = template.preheader
    if template.design is not None:
        data["design"] = template.design
    else:
        data["html_content"] = template.html
    explicit = {key: value for key, value in (overrides or {}).items() if value is not None}
    if any(field in explicit for field in CONTENT_FIELDS):
        for field in CONTENT_FIELDS:
            data.pop(field, None)
    return {**data, **explicit}


def campaign_fields(tenant_id: int, template_id: Any, overrides: dict[str, Any] | None = None,
                    field: str = "template_id") -> dict[str, Any]:
    """The fields of a campaign made from a template (the API's `template_id`), `overrides`
    winning; a template the tenant cannot see is a ValidationFailed naming `field`."""
    try:
        template = get_template(tenant_id, template_id)
    except NotFound:
        raise ValidationFailed(field, "no such template") from None
    return _fields_from(template, overrides)


def create_campaign_from_template(tenant_id: int, template_id: Any,
                                  overrides: dict[str, Any] | None = None) -> EmailCampaign:
    """A draft campaign made from a starter or one of the tenant's templates (another
    tenant's id: NotFound); `overrides` are campaign fields that win over the template's."""
    template = get_template(tenant_id, template_id)
    return campaigns.create_campaign(tenant_id, _fields_from(template, overrides))


def save_campaign_as_template(tenant_id: int, campaign_id: int, name: str) -> TemplateView:
    """A template holding the campaign's design (or HTML), subject and preheader."""
    campaign = campaigns.get_campaign(tenant_id, campaign_id)
    data: dict[str, Any] = {"name": name, "subject": campaign.subject, "preheader": campaign.preheader}
    if campaign.design is not None:
        data["design"] = campaign.design
    else:
        data["content"] = campaign.html_content
    return create_template(tenant_id, data)
