"""Campaigns over JSON."""

from __future__ import annotations

from flask import jsonify

from webapp.api.audit_trail import Target, note
from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas import (
    CampaignIn,
    CampaignListQuery,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    CampaignPreviewIn,
    CampaignPreviewOut,
    CampaignStats,
    CampaignStatsList,
    CampaignStatsQuery,
    ScheduleIn,
    TestSendIn,
    TestSendOut,
)
from webapp.api.schemas.campaigns import Checklist, WinnerIn
from webapp.api.serializers import campaign_dict
from webapp.infra.errors import ValidationFailed
from webapp.services import campaigns, templates
from webapp.services.campaigns import ab_winner
from webapp.services.campaigns import checks as campaign_checks
from webapp.services.campaigns import stats as campaign_stats


def _fields(body) -> dict:
    data = body.model_dump(exclude_unset=True)
    if "content" in data:
        data["html_content"] = data.pop("content")
    if data.get("template_id") is not None:  # the template's content, subject and preheader, under the body's
        data = templates.campaign_fields(current_tenant_id(), data.pop("template_id"), data)
    data.pop("template_id", None)
    for variant in data.get("variants") or ():
        if "content" in variant:
            variant["html_content"] = variant.pop("content")
    return data


def _with_warnings(campaign) -> dict:
    """The saved campaign, and what is worth a look: merge tags that are not fields we know."""
    return {**campaign_dict(campaign), "warnings": campaign_checks.campaign_warnings(campaign.tenant_id, campaign)}


@api_route(bp, "/campaigns", "POST", summary="Create a campaign (draft)", tag="campaigns", body=CampaignIn,
           response=CampaignOut, status=201, errors=(422,),
           description="Template syntax errors are a 422 naming the field and line.")
def create_campaign(body: CampaignIn):
    if body.content is None and body.design is None and body.template_id is None:
        raise ValidationFailed("content", "is required (or give a design or a template_id)")
    return jsonify(_with_warnings(campaigns.create_campaign(current_tenant_id(), _fields(body)))), 201


@api_route(bp, "/campaigns", "GET", summary="List campaigns", tag="campaigns", query=CampaignListQuery,
           response=CampaignPage)
def list_campaigns(query: CampaignListQuery):
    page = campaigns.campaigns_page(current_tenant_id(), status=query.status, limit=query.limit, cursor=query.cursor)
    return jsonify({"data": [campaign_dict(c) for c in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/campaigns/stats", "GET", summary="Statistics of all campaigns (latest 200), or one",
           tag="campaigns", query=CampaignStatsQuery, response=CampaignStatsList, errors=(404,))
def list_campaign_stats(query: CampaignStatsQuery):
    tenant_id = current_tenant_id()
    if query.campaign_id is not None:
        rows = [campaigns.get_campaign(tenant_id, query.campaign_id)]
    else:
        rows = campaigns.campaigns_page(tenant_id, limit=200).items
    return jsonify({"data": [_stats_json(item) for item in campaign_stats.campaign_stats(
        tenant_id, rows, detail=query.campaign_id is not None)]})


@api_route(bp, "/campaigns/<int:campaign_id>/stats", "GET", summary="Statistics of one campaign",
           tag="campaigns", response=CampaignStats, errors=(404,),
           description="Delivery, engagement (all and human-only), rates, attributed orders and revenue, "
                       "clicks per link and opens/clicks per hour; read from counters and rollups.")
def get_campaign_stats(campaign_id: int):
    tenant_id = current_tenant_id()
    [item] = campaign_stats.campaign_stats(tenant_id, [campaigns.get_campaign(tenant_id, campaign_id)], detail=True)
    return jsonify(_stats_json(item))


def _stats_json(item: dict) -> dict:
    return CampaignStats.model_validate(item).model_dump(mode="json")


@api_route(bp, "/campaigns/<int:campaign_id>", "GET", summary="Get a campaign", tag="campaigns",
           response=CampaignOut, errors=(404,))
def get_campaign(campaign_id: int):
    return jsonify(_with_warnings(campaigns.get_campaign(current_tenant_id(), campaign_id)))


@api_route(bp, "/campaigns/<int:campaign_id>", "PATCH", summary="Update a draft or scheduled campaign",
           tag="campaigns", body=CampaignPatch, response=CampaignOut, errors=(404, 409, 422))
def patch_campaign(campaign_id: int, body: CampaignPatch):
    return jsonify(_with_warnings(campaigns.update_campaign(current_tenant_id(), campaign_id, _fields(body))))


@api_route(bp, "/campaigns/<int:campaign_id>", "DELETE", summary="Delete a draft campaign", tag="campaigns",
           status=204, errors=(404, 409))
def delete_campaign(campaign_id: int):
    campaigns.delete_campaign(current_tenant_id(), campaign_id)
    return "", 204


@api_route(bp, "/campaigns/<int:campaign_id>/schedule", "POST", summary="Schedule the send", tag="campaigns",
           body=ScheduleIn, response=CampaignOut, errors=(404, 409, 422),
           description="Exactly one of send_at (a moment) or local_time (a wall-clock time; with "
                       "per_customer_timezone, in each recipient's timezone, in waves).")
def schedule_campaign(campaign_id: int, body: ScheduleIn):
    if body.send_at is not None and body.local_time is not None:
        raise ValidationFailed("local_time", "give send_at or local_time, not both")
    if body.per_customer_timezone and body.local_time is None:
        raise ValidationFailed("per_customer_timezone", "goes with local_time (a wall-clock time), not send_at")
    if body.local_time is not None:
        campaign = campaigns.schedule_local(current_tenant_id(), campaign_id, body.local_time,
                                            per_customer_timezone=body.per_customer_timezone)
    elif body.send_at is not None:
        campaign = campaigns.schedule_campaign(current_tenant_id(), campaign_id, body.send_at)
    else:
        raise ValidationFailed("send_at", "is required (or give local_time, a wall-clock time)")
    note("campaign.scheduled", Target("campaign", campaign.id, campaign.name))
    return jsonify(campaign_dict(campaign))


@api_route(bp, "/campaigns/<int:campaign_id>/send", "POST", summary="Send now (asynchronously)",
           tag="campaigns", response=CampaignOut, status=202, errors=(404, 409, 422))
def send_campaign(campaign_id: int):
    campaign = campaigns.send_campaign(current_tenant_id(), campaign_id)
    note("campaign.sent", Target("campaign", campaign.id, campaign.name))
    return jsonify(campaign_dict(campaign)), 202


@api_route(bp, "/campaigns/<int:campaign_id>/cancel", "POST", summary="Cancel a scheduled or sending campaign",
           tag="campaigns", response=CampaignOut, errors=(404, 409))
def cancel_campaign(campaign_id: int):
    campaign = campaigns.cancel_campaign(current_tenant_id(), campaign_id)
    note("campaign.cancelled", Target("campaign", campaign.id, campaign.name))
    return jsonify(campaign_dict(campaign))


@api_route(bp, "/campaigns/<int:campaign_id>/preview", "POST", summary="Render as a customer",
           tag="campaigns", body=CampaignPreviewIn, response=CampaignPreviewOut, errors=(404, 422))
def preview_campaign(campaign_id: int, body: CampaignPreviewIn):
    return jsonify(campaigns.preview_campaign(current_tenant_id(), campaign_id, body.customer_id))


@api_route(bp, "/campaigns/<int:campaign_id>/test", "POST", summary="Send a [TEST] copy to addresses",
           tag="campaigns", body=TestSendIn, response=TestSendOut, errors=(404, 422),
           description="No recipient rows, no statistics.")
def test_campaign(campaign_id: int, body: TestSendIn):
    return jsonify({"data": campaigns.send_test(current_tenant_id(), campaign_id, body.emails, body.customer_id)})


@api_route(bp, "/campaigns/<int:campaign_id>/duplicate", "POST", summary="Duplicate as a new draft",
           tag="campaigns", response=CampaignOut, status=201, errors=(404,),
           description="A draft named “Copy of …” with the content, design, subject, preheader, sender, segment "
                       "and UTM parameters; never the status, schedule, counters or recipients.")
def duplicate_campaign(campaign_id: int):
    return jsonify(campaign_dict(campaigns.duplicate_campaign(current_tenant_id(), campaign_id))), 201


@api_route(bp, "/campaigns/<int:campaign_id>/checklist", "GET", summary="What to check before sending",
           tag="campaigns", response=Checklist, errors=(404,),
           description="Test sent, subject and preheader, links, alt text, unsubscribe link, capitals, "
                       "image-to-text ratio, unknown merge tags, recipients and sender domain; each ok, warning "
                       "or blocker.")
def campaign_checklist(campaign_id: int):
    return jsonify({"data": campaign_checks.checklist_json(
        campaign_checks.presend_checklist(current_tenant_id(), campaign_id))})


@api_route(bp, "/campaigns/<int:campaign_id>/winner", "POST", summary="Choose an A/B test's winner by hand",
           tag="campaigns", body=WinnerIn, response=CampaignOut, errors=(404, 409, 422),
           description="While the test runs: the variant (its letter, A to D) goes to the rest of the "
                       "recipients at once. 409 once a winner exists (chosen automatically or by hand) or when "
                       "no test runs; 422 for a letter the test has no variant for.")
def choose_winner(campaign_id: int, body: WinnerIn):
    campaign = ab_winner.pick_winner(current_tenant_id(), campaign_id, body.variant)
    note("campaign.winner_chosen", Target("campaign", campaign.id, campaign.name))
    return jsonify(campaign_dict(campaign))
