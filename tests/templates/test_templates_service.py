"""The templates service: starters valid against the design contract, saved blocks, campaigns
from templates and templates from campaigns."""

from __future__ import annotations

import json

import pytest
from support import add_image

from webapp.infra.errors import Conflict, NotFound, ValidationFailed
from webapp.mail.design import validate_design, walk_blocks
from webapp.services import campaigns, templates
from webapp.services.templates import starters

DESIGN = {"version": 1, "blocks": [{"type": "heading", "text": "Hello"}, {"type": "footer"}]}


def test_every_starter_file_is_a_valid_design_for_ticketing():
    kinds = {}
    for path in sorted(starters.FOLDER.glob("*.json")):
        raw = json.loads(path.read_text())
        assert set(raw) == {"name", "description", "subject", "preheader", "design"}, path.name
        assert "settings" not in raw["design"], "starters take the brand kit, not colours of their own"
        kinds[path.stem] = {b["type"] for b in walk_blocks(raw["design"])}
    assert sorted(kinds) == sorted(starters.ORDER)
    assert all("footer" in k and ("button" in k or "event" in k) for k in kinds.values())
    assert "event" in kinds["event-reminder"]


def test_the_event_reminder_shows_the_next_event():
    [event] = [b for b in walk_blocks(starters.starter("event-reminder")["design"]) if b["type"] == "event"]
    assert event["event"] == "next"


def test_whats_on_has_a_two_and_a_three_column_section():
    design = starters.starter("whats-on")["design"]
    assert sorted(len(b["columns"]) for b in design["blocks"] if b["type"] == "columns") == [2, 3]


def test_starter_images_point_at_this_site(app):
    for key in starters.ORDER:
        for block in walk_blocks(starters.starter(key)["design"]):
            if block["type"] == "image":
                assert block["src"].startswith(app.config["BASE_URL"] + "/static/email/starters/")
                assert block["alt"], f"{key}: every image has alt text"


def test_starter_images_exist_as_files(app, client):
    for key in starters.ORDER:
        for block in walk_blocks(starters.starter(key)["design"]):
            if block["type"] == "image":
                response = client.get(block["src"].removeprefix(app.config["BASE_URL"]))
                assert response.status_code == 200 and response.mimetype == "image/png"


def test_a_campaign_from_a_starter_is_a_draft_design_campaign(tenant_a):
    campaign = templates.create_campaign_from_template(tenant_a.id, "starter:vip-presale")
    starter = templates.get_template(tenant_a.id, "starter:vip-presale")
    assert campaign.status == "draft" and campaign.design == starter.design
    assert (campaign.name, campaign.subject, campaign.preheader) == (starter.name, starter.subject, starter.preheader)
    assert campaign.html_content == starter.html


def test_overrides_win_over_the_template(tenant_a):
    campaign = templates.create_campaign_from_template(tenant_a.id, "starter:on-sale",
                                                       {"name": "Mine", "html_content": "<p>own</p>"})
    assert campaign.name == "Mine" and campaign.design is None and campaign.html_content == "<p>own</p>"


def test_a_campaign_can_be_saved_as_a_template_and_used_again(tenant_a):
    first = campaigns.create_campaign(tenant_a.id, {"name": "June", "subject": "Hi", "preheader": "P",
                                                    "design": DESIGN})
    saved = templates.save_campaign_as_template(tenant_a.id, first.id, "June layout")
    assert (saved.name, saved.subject, saved.preheader, saved.design) == ("June layout", "Hi", "P", first.design)
    again = templates.create_campaign_from_template(tenant_a.id, saved.id)
    assert again.design == first.design and again.id != first.id


def test_an_html_campaign_is_saved_as_an_html_template(tenant_a):
    first = campaigns.create_campaign(tenant_a.id, {"name": "x", "subject": "y", "html_content": "<p>Hi</p>"})
    saved = templates.save_campaign_as_template(tenant_a.id, first.id, "Plain")
    assert saved.design is None and saved.html == "<p>Hi</p>"


def test_another_tenants_campaign_and_template_are_not_found(tenant_a, tenant_b):
    theirs = campaigns.create_campaign(tenant_b.id, {"name": "x", "subject": "y", "html_content": "<p>b</p>"})
    with pytest.raises(NotFound):
        templates.save_campaign_as_template(tenant_a.id, theirs.id, "Stolen")
    their_template = templates.create_template(tenant_b.id, {"name": "B", "design": DESIGN})
    with pytest.raises(NotFound):
        templates.create_campaign_from_template(tenant_a.id, their_template.id)


def test_a_design_with_another_tenants_image_is_refused(tenant_a, tenant_b):
    theirs = add_image(tenant_b.id)
    design = {"version": 1, "blocks": [{"type": "image", "asset_id": theirs, "alt": "x"}]}
    with pytest.raises(ValidationFailed) as caught:
        templates.create_template(tenant_a.id, {"name": "x", "design": design})
    assert caught.value.field == "design.blocks[0].asset_id"


def test_saved_blocks_are_validated_listed_by_name_and_deleted(tenant_a, tenant_b):
    header = templates.save_block(tenant_a.id, "Header", {"type": "heading", "text": "Arena Alpha", "level": 2})
    footer = templates.save_block(tenant_a.id, "Footer", {"type": "footer", "text": "See you there"})
    templates.save_block(tenant_b.id, "Theirs", {"type": "spacer"})
    listed = templates.saved_blocks(tenant_a.id)
    assert [b["name"] for b in listed] == ["Footer", "Header"]
    assert listed[1] == header and header["block"]["type"] == "heading" and header["block"]["level"] == 2
    assert validate_design({"version": 1, "blocks": [footer["block"]]})["blocks"][0] == footer["block"]
    with pytest.raises(NotFound):
        templates.delete_block(tenant_b.id, header["id"])
    templates.delete_block(tenant_a.id, header["id"])
    assert [b["name"] for b in templates.saved_blocks(tenant_a.id)] == ["Footer"]
    # Blocks are not templates, and templates are not blocks.
    assert all(t.starter for t in templates.templates_page(tenant_a.id).items)
    with pytest.raises(NotFound):
        templates.get_template(tenant_a.id, footer["id"])


@pytest.mark.parametrize(("name", "block", "field"), [
    ("", {"type": "spacer"}, "name"),
    (None, {"type": "spacer"}, "name"),
    ("x" * 201, {"type": "spacer"}, "name"),
    ("ok", None, "block"),
    ("ok", [], "block"),
    ("ok", {"type": "nope"}, "block.type"),
    ("ok", {"type": "button", "text": "Go", "url": "ftp://x"}, "block.url"),
    ("ok", {"type": "columns", "columns": [[{"type": "columns", "columns": [[], []]}], []]},
     "block.columns[0][0].type"),
])
def test_bad_saved_blocks_name_their_field(tenant_a, name, block, field):
    with pytest.raises(ValidationFailed) as caught:
        templates.save_block(tenant_a.id, name, block)
    assert caught.value.field == field


def test_a_tenant_cannot_store_templates_without_bound(tenant_a, monkeypatch):
    monkeypatch.setattr("webapp.services.templates.library.MAX_PER_TENANT", 2)
    for i in range(2):
        templates.create_template(tenant_a.id, {"name": f"T{i}", "content": "<p>x</p>"})
    with pytest.raises(Conflict):
        templates.create_template(tenant_a.id, {"name": "one too many", "content": "<p>x</p>"})


def test_starters_cannot_be_changed(tenant_a):
    with pytest.raises(Conflict):
        templates.update_template(tenant_a.id, "starter:on-sale", {"name": "x"})
    with pytest.raises(Conflict):
        templates.delete_template(tenant_a.id, "starter:on-sale")
