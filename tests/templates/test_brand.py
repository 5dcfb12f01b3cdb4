"""The brand kit: validation, tenancy of the logo, and that designs and starters take it."""

from __future__ import annotations

import pytest
from support import add_image

from webapp.infra.errors import ValidationFailed
from webapp.mail.design import DEFAULT_BRAND, FONT_STACKS
from webapp.services import brand, templates


def test_an_unset_brand_is_the_defaults(tenant_a):
    assert brand.get_brand(tenant_a.id) == DEFAULT_BRAND


def test_changes_are_stored_normalised_and_merged(tenant_a):
    brand.update_brand(tenant_a.id, {"primary_color": "#AA0033", "button_radius": 12})
    kit = brand.update_brand(tenant_a.id, {"font_family": FONT_STACKS[1][0], "footer_text": "  You bought tickets  "})
    assert (kit["primary_color"], kit["button_radius"], kit["font_family"]) == ("#aa0033", 12, FONT_STACKS[1][0])
    assert kit["footer_text"] == "You bought tickets" and kit["text_color"] == DEFAULT_BRAND["text_color"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"primary_color": "red"}, "primary_color"),
    ({"text_color": "#12345"}, "text_color"),
    ({"background_color": "#gggggg"}, "background_color"),
    ({"content_background": None}, "content_background"),
    ({"font_family": "Comic Sans MS"}, "font_family"),
    ({"button_radius": 41}, "button_radius"),
    ({"button_radius": -1}, "button_radius"),
    ({"button_radius": True}, "button_radius"),
    ({"button_radius": "4"}, "button_radius"),
    ({"footer_text": "x" * 501}, "footer_text"),
    ({"footer_text": "a\x00b"}, "footer_text"),
    ({"logo_asset_id": 999999}, "logo_asset_id"),
    ({"logo_asset_id": "1"}, "logo_asset_id"),
    ({"logo_asset_id": 2**70}, "logo_asset_id"),
    ({"logo_url": "https://evil.example/x.png"}, "logo_url"),
])
def test_invalid_values_name_their_field(tenant_a, changes, field):
    with pytest.raises(ValidationFailed) as caught:
        brand.update_brand(tenant_a.id, changes)
    assert caught.value.field == field


def test_the_logo_must_be_one_of_the_tenants_images(tenant_a, tenant_b):
    mine, theirs = add_image(tenant_a.id), add_image(tenant_b.id, "bravo.png")
    kit = brand.update_brand(tenant_a.id, {"logo_asset_id": mine})
    assert kit["logo_asset_id"] == mine and kit["logo_url"].endswith("/logo.png")
    with pytest.raises(ValidationFailed):
        brand.update_brand(tenant_a.id, {"logo_asset_id": theirs})
    assert brand.update_brand(tenant_a.id, {"logo_asset_id": None})["logo_url"] is None
    assert brand.logo_choices(tenant_a.id) == [(mine, "logo.png")]


def test_starters_take_the_brand_colours_font_logo_and_footer(tenant_a):
    logo = add_image(tenant_a.id)
    brand.update_brand(tenant_a.id, {"primary_color": "#aa0033", "font_family": FONT_STACKS[1][0],
                                     "logo_asset_id": logo, "footer_text": "Because you love live music"})
    on_sale = templates.get_template(tenant_a.id, "starter:on-sale")
    assert "#aa0033" in on_sale.html and "Georgia" in on_sale.html
    assert "/logo.png" in on_sale.html and "Because you love live music" in on_sale.html
    assert on_sale.design["blocks"][0] == {**on_sale.design["blocks"][0], "type": "image", "asset_id": logo}
    assert DEFAULT_BRAND["primary_color"] not in on_sale.html


def test_another_tenants_brand_does_not_reach_my_starters(tenant_a, tenant_b):
    brand.update_brand(tenant_b.id, {"primary_color": "#aa0033"})
    assert "#aa0033" not in templates.get_template(tenant_a.id, "starter:on-sale").html


def test_the_api_reads_and_patches_the_brand_kit(api, api_b):
    got = api.get("/brand").get_json()
    assert got["primary_color"] == DEFAULT_BRAND["primary_color"] and got["font_stacks"] == [f for f, _ in FONT_STACKS]
    patched = api.patch("/brand", json={"primary_color": "#112233", "button_radius": 20})
    assert patched.status_code == 200 and patched.get_json()["primary_color"] == "#112233"
    assert api_b.get("/brand").get_json()["primary_color"] == DEFAULT_BRAND["primary_color"]
    bad = api.patch("/brand", json={"primary_color": "blue"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "primary_color"
    assert api.patch("/brand", json={"nope": 1}).status_code == 422
    assert api.patch("/brand", json={"button_radius": 99}).status_code == 422


def test_the_api_refuses_another_tenants_image_as_logo(api, tenant_b):
    theirs = add_image(tenant_b.id, "bravo.png")
    response = api.patch("/brand", json={"logo_asset_id": theirs})
    assert response.status_code == 422 and response.get_json()["error"]["details"][0]["field"] == "logo_asset_id"


def test_links_follow_the_primary_colour_until_given_their_own(tenant_a):
    assert brand.update_brand(tenant_a.id, {"primary_color": "#aa0033"})["link_color"] == "#aa0033"
    assert brand.update_brand(tenant_a.id, {"link_color": "#001122"})["link_color"] == "#001122"
    assert brand.update_brand(tenant_a.id, {"primary_color": "#00aa00"})["link_color"] == "#001122"
