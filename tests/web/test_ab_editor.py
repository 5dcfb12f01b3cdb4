"""The A/B test page of the editor: a new test starts with A as the campaign is and B to
write; variants are added (copies of A) and removed without losing what was typed; refusals
stand beside their field; the send page states the plan in words; other tenants' campaigns
are a 404 and viewers cannot change a test."""

from __future__ import annotations

from tests.campaigns.campaign_support import add_audience, audience_segment, new_campaign, ready_tenant
from tests.web.pages import field_errors
from webapp.extensions import db
from webapp.models import EmailCampaign
from webapp.services.campaigns.variants import variants_of


def draft(tenant_id: int, audience: int = 10) -> int:
    ready_tenant(tenant_id)
    add_audience(tenant_id, audience)
    return new_campaign(tenant_id, audience_segment(tenant_id), subject="The line-up").id


def body(**changes) -> dict:
    data = {"share_percent": "20", "duration_minutes": "240", "metric": "clicks",
            "variants-0-subject": "The line-up", "variants-1-subject": "You're invited",
            "variants-1-from_name": "Box Office", "variants-1-html_content": "<p>B</p>", "action": "save"}
    data.update(changes)
    return data


def test_a_new_test_starts_with_a_as_the_campaign_is_and_b_to_write(owner_a, tenant_a):
    cid = draft(tenant_a.id)

    page = owner_a.get(f"/campaigns/{cid}/ab-test").get_data(as_text=True)

    assert 'data-testid="variant-form-A"' in page and 'data-testid="variant-form-B"' in page
    assert 'data-testid="variant-form-C"' not in page and 'value="The line-up"' in page
    editor = owner_a.get(f"/campaigns/{cid}/edit").get_data(as_text=True)
    assert "Set up an A/B test" in editor


def test_saving_stores_the_variants_and_the_settings(owner_a, tenant_a):
    cid = draft(tenant_a.id)

    response = owner_a.post(f"/campaigns/{cid}/ab-test", body())

    assert response.status_code == 302
    rows = variants_of(cid)
    assert [(v.subject, v.from_name, v.html_content) for v in rows] == [
        ("The line-up", None, None), ("You're invited", "Box Office", "<p>B</p>")]
    campaign = db.session.get(EmailCampaign, cid)
    assert (campaign.ab_share_percent, campaign.ab_duration_minutes, campaign.ab_metric) == (20, 240, "clicks")
    editor = owner_a.get(f"/campaigns/{cid}/edit").get_data(as_text=True)
    assert "2 variants to 20% of recipients; after 4 hours the one with more human unique clicks goes to the rest." \
        in editor


def test_add_copies_a_and_remove_drops_that_variant_keeping_what_was_typed(owner_a, tenant_a):
    cid = draft(tenant_a.id)

    added = owner_a.post(f"/campaigns/{cid}/ab-test", body(action="add")).get_data(as_text=True)
    removed = owner_a.post(f"/campaigns/{cid}/ab-test", body(**{
        "action": "remove-1", "variants-2-subject": "Third try"})).get_data(as_text=True)

    assert 'data-testid="variant-form-C"' in added and added.count('value="The line-up"') == 2
    assert 'value="Box Office"' in added, "what was typed in B is kept"
    assert 'data-testid="variant-form-C"' not in removed and 'value="Third try"' in removed
    assert "Box Office" not in removed
    assert variants_of(cid) == [], "adding and removing save nothing"


def test_refusals_stand_beside_their_field_and_save_nothing(owner_a, tenant_a):
    cid = draft(tenant_a.id)

    share = owner_a.post(f"/campaigns/{cid}/ab-test", body(share_percent="0"))
    template = owner_a.post(f"/campaigns/{cid}/ab-test", body(**{"variants-1-subject": "Hi {{ customer.first_name "}))

    assert share.status_code == 422 and field_errors(share.get_data(as_text=True))["share_percent"]
    assert template.status_code == 422
    assert field_errors(template.get_data(as_text=True))["variants-1-subject"]
    assert variants_of(cid) == []


def test_the_send_page_states_the_plan_in_words(owner_a, tenant_a):
    cid = draft(tenant_a.id, audience=50)
    owner_a.post(f"/campaigns/{cid}/ab-test", body())

    page = owner_a.get(f"/campaigns/{cid}/send").get_data(as_text=True)

    assert ("20% (10 people) split between 2 variants; after 4 hours the variant with more human unique clicks "
            "goes to the remaining 40.") in page


def test_removing_the_test_sends_the_campaign_as_it_is(owner_a, tenant_a):
    cid = draft(tenant_a.id)
    owner_a.post(f"/campaigns/{cid}/ab-test", body())

    assert owner_a.post(f"/campaigns/{cid}/ab-test", {"action": "delete"}).status_code == 302

    assert variants_of(cid) == [] and db.session.get(EmailCampaign, cid).ab_share_percent is None


def test_other_tenants_and_viewers_cannot_touch_the_test(owner_b, viewer_a, owner_a, tenant_a):
    cid = draft(tenant_a.id)

    assert owner_b.get(f"/campaigns/{cid}/ab-test").status_code == 404
    assert owner_b.post(f"/campaigns/{cid}/ab-test", body()).status_code == 404
    assert viewer_a.post(f"/campaigns/{cid}/ab-test", body()).status_code == 403
    assert owner_a.post(f"/campaigns/{cid}/ab-test", body(), csrf=False).status_code == 400
    assert variants_of(cid) == []
