"""The marketer's pages: the template gallery, starting a campaign from a template, Save as
template, saved blocks from the builder, and the brand kit in Settings."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from support import add_image

from webapp.extensions import db
from webapp.models import EmailCampaign, EmailTemplate, Tenant
from webapp.services import brand, campaigns, templates

DESIGN = {"version": 1, "blocks": [{"type": "heading", "text": "Hello"}, {"type": "footer"}]}


def csrf(client, path: str = "/templates/") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


@pytest.fixture
def owner(client, auth, tenant_a):
    assert auth.login(tenant_a.owner_email).status_code == 302
    return client


@pytest.fixture
def other(app, tenant_b, password):
    """Tenant B's owner, in a browser of their own."""
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": tenant_b.owner_email, "password": password, "csrf_token": token})
    return client


def test_the_gallery_shows_the_starters_and_says_what_to_do_when_empty(owner):
    html = owner.get("/templates/").get_data(as_text=True)
    for name in ("On-sale announcement", "VIP presale", "Event reminder", "Post-event thank-you",
                 "Monthly what&#39;s on"):
        assert name in html
    assert html.count("Use this template") == 5 and "Blank email" in html
    assert 'data-testid="templates-empty"' in html and "Save as template" in html
    assert 'data-testid="blocks-empty"' in html
    assert 'sandbox=""' in html and "starter:" not in html  # no raw ids on screen


def test_the_campaign_list_links_to_the_gallery(owner):
    assert 'href="/templates/"' in owner.get("/campaigns/").get_data(as_text=True)


def test_using_a_starter_opens_a_draft_in_the_editor(owner, tenant_a):
    response = owner.post("/templates/use-starter", data={"starter": "whats-on", "csrf_token": csrf(owner)})
    campaign = db.session.scalars(select(EmailCampaign).where(EmailCampaign.tenant_id == tenant_a.id)).one()
    assert response.status_code == 302 and response.location.endswith(f"/campaigns/{campaign.id}/edit")
    assert campaign.status == "draft" and campaign.name == "Monthly what's on" and campaign.design is not None


@pytest.mark.parametrize("starter", ["nope", "", "starter:on-sale", "../on-sale", "x" * 5000])
def test_an_unknown_starter_changes_nothing(owner, tenant_a, starter):
    response = owner.post("/templates/use-starter", data={"starter": starter, "csrf_token": csrf(owner)})
    assert response.status_code == 302 and response.location.endswith("/templates/")
    assert db.session.scalars(select(EmailCampaign)).first() is None


def test_previews_are_sandboxed_documents_personalised_for_a_sample(owner, tenant_a):
    own = templates.create_template(tenant_a.id, {"name": "Mine", "design": DESIGN})
    for path in ("/templates/starter-preview?key=on-sale", f"/templates/{own.id}/preview"):
        response = owner.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert response.status_code == 200 and "sandbox" in policy and "frame-ancestors 'self'" in policy
        assert "{{" not in response.get_data(as_text=True)
    assert "Hi there" in owner.get("/templates/starter-preview?key=on-sale").get_data(as_text=True)
    assert owner.get("/templates/starter-preview?key=nope").status_code == 404


def test_another_tenants_templates_and_blocks_are_404_on_every_page(owner, other, tenant_a):
    own = templates.create_template(tenant_a.id, {"name": "Alpha only", "design": DESIGN})
    block = templates.save_block(tenant_a.id, "Alpha header", {"type": "heading", "text": "Alpha"})
    campaign = campaigns.create_campaign(tenant_a.id, {"name": "c", "subject": "s", "html_content": "<p>x</p>"})
    token = csrf(other)
    assert other.get(f"/templates/{own.id}/preview").status_code == 404
    assert other.get(f"/templates/{own.id}/rename").status_code == 404
    for path in (f"/templates/{own.id}/use", f"/templates/{own.id}/rename", f"/templates/{own.id}/delete",
                 f"/templates/blocks/{block['id']}/delete", f"/templates/from-campaign/{campaign.id}"):
        assert other.post(path, data={"name": "stolen", "csrf_token": token}).status_code == 404, path
    assert "Alpha only" not in other.get("/templates/").get_data(as_text=True)
    assert db.session.scalar(select(EmailTemplate.name).where(EmailTemplate.id == own.id)) == "Alpha only"


def test_save_as_template_from_the_campaign_page(owner, tenant_a):
    campaign = campaigns.create_campaign(tenant_a.id, {"name": "June news", "subject": "June", "design": DESIGN})
    page = owner.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'action="/templates/from-campaign/{campaign.id}"' in page and "Save as template" in page
    response = owner.post(f"/templates/from-campaign/{campaign.id}",
                          data={"name": "Monthly layout", "csrf_token": csrf(owner)})
    assert response.status_code == 302
    saved = db.session.scalars(select(EmailTemplate).where(EmailTemplate.kind == "template")).one()
    assert (saved.name, saved.subject, saved.design) == ("Monthly layout", "June", campaign.design)
    assert "Monthly layout" in owner.get("/templates/").get_data(as_text=True)


def test_a_refused_template_name_is_shown_beside_the_field(owner, tenant_a):
    campaign = campaigns.create_campaign(tenant_a.id, {"name": "June", "subject": "June", "html_content": "<p>x</p>"})
    response = owner.post(f"/templates/from-campaign/{campaign.id}", data={"name": "", "csrf_token": csrf(owner)})
    assert response.status_code == 422 and "Give the template a name." in response.get_data(as_text=True)
    assert db.session.scalars(select(EmailTemplate)).first() is None


def test_rename_and_delete_a_template(owner, tenant_a):
    own = templates.create_template(tenant_a.id, {"name": "Old name", "content": "<p>x</p>"})
    assert owner.post(f"/templates/{own.id}/rename", data={"name": "New name", "csrf_token": csrf(owner)}
                      ).status_code == 302
    assert templates.get_template(tenant_a.id, own.id).name == "New name"
    assert owner.post(f"/templates/{own.id}/delete", data={"csrf_token": csrf(owner)}).status_code == 302
    assert db.session.scalars(select(EmailTemplate)).first() is None


def test_the_builder_saves_a_block_as_json(owner, tenant_a):
    token = csrf(owner)
    response = owner.post("/templates/blocks", json={"name": "Footer", "block": {"type": "footer", "text": "Bye"}},
                          headers={"X-CSRFToken": token})
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Footer" and body["block"]["type"] == "footer" and isinstance(body["id"], int)
    assert templates.saved_blocks(tenant_a.id) == [body]
    listed = owner.get("/templates/").get_data(as_text=True)
    assert 'data-testid="saved-block"' in listed and "Footer" in listed


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": "x", "block": {"type": "button", "text": "Go", "url": "javascript:alert(1)"}}, "block.url"),
    ({"name": "", "block": {"type": "spacer"}}, "name"),
    ({"name": "x", "block": "spacer"}, "block"),
    ([1, 2], "body"),
])
def test_a_bad_block_is_a_422_naming_the_field(owner, payload, field):
    response = owner.post("/templates/blocks", json=payload, headers={"X-CSRFToken": csrf(owner)})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == field


def test_deep_or_broken_json_for_a_block_is_refused_not_a_crash(owner):
    token = csrf(owner)
    for body in ("[" * 5000 + "]" * 5000, '{"name": "x", "block": NaN}', "{not json", '{"name": "\\u0000"}'):
        response = owner.post("/templates/blocks", data=body, content_type="application/json",
                              headers={"X-CSRFToken": token})
        assert response.status_code == 422, body[:20]
    assert owner.post("/templates/blocks", json={"name": "x", "block": {"type": "spacer"}}).status_code == 400


def test_the_brand_kit_form_saves_and_offers_only_the_tenants_images(owner, tenant_a, tenant_b):
    mine, theirs = add_image(tenant_a.id, "alpha-logo.png"), add_image(tenant_b.id, "bravo-logo.png")
    page = owner.get("/settings/").get_data(as_text=True)
    assert "Brand kit" in page and "alpha-logo.png" in page and "bravo-logo.png" not in page
    assert 'type="color"' in page and "No logo" in page
    data = {"logo_asset_id": str(mine), "primary_color": "#aa0033", "button_text_color": "#ffffff",
            "link_color": "#aa0033", "text_color": "#111111", "background_color": "#eeeeee",
            "content_background": "#ffffff", "font_family": "Georgia, 'Times New Roman', serif", "button_radius": "12",
            "footer_text": "Thanks for being a fan", "csrf_token": csrf(owner, "/settings/")}
    assert owner.post("/settings/brand", data=data).status_code == 302
    kit = brand.get_brand(tenant_a.id)
    assert (kit["logo_asset_id"], kit["primary_color"], kit["button_radius"]) == (mine, "#aa0033", 12)
    refused = owner.post("/settings/brand", data={**data, "logo_asset_id": str(theirs), "primary_color": "red"})
    assert refused.status_code == 422 and brand.get_brand(tenant_a.id)["logo_asset_id"] == mine


def test_a_bad_colour_is_shown_beside_its_field(owner, tenant_a):
    data = {"logo_asset_id": "", "primary_color": "#12", "button_text_color": "#ffffff", "link_color": "#3355ff",
            "text_color": "#111111", "background_color": "#eeeeee", "content_background": "#ffffff",
            "font_family": "Helvetica, Arial, sans-serif", "button_radius": "4", "footer_text": "",
            "csrf_token": csrf(owner, "/settings/")}
    response = owner.post("/settings/brand", data=data)
    assert response.status_code == 422 and "#rrggbb" in response.get_data(as_text=True)
    assert brand.get_brand(tenant_a.id)["primary_color"] == "#3355ff"


def test_a_saved_block_posted_as_json_keeps_its_shape(tenant_a):
    saved = templates.save_block(tenant_a.id, "Social", {"type": "social", "links": [
        {"network": "instagram", "url": "https://instagram.com/alpha"}]})
    assert json.loads(json.dumps(saved))["block"]["links"][0]["network"] == "instagram"


def test_the_link_colour_follows_the_primary_when_the_form_leaves_it_alone(owner, tenant_a):
    page = owner.get("/settings/").get_data(as_text=True)
    assert 'name="link_color"' in page
    data = {"logo_asset_id": "", "primary_color": "#0f7b6c", "button_text_color": "#ffffff", "link_color": "#3355ff",
            "text_color": "#1f2430", "background_color": "#f4f5f7", "content_background": "#ffffff",
            "font_family": "Helvetica, Arial, sans-serif", "button_radius": "4", "footer_text": "",
            "csrf_token": csrf(owner, "/settings/")}
    assert owner.post("/settings/brand", data=data).status_code == 302
    kit = brand.get_brand(tenant_a.id)
    assert kit["primary_color"] == kit["link_color"] == "#0f7b6c"
    assert set(db.session.get(Tenant, tenant_a.id).brand) == {"primary_color", "link_color"}  # nothing else stored
