"""The campaign editor's form with the email builder, without a browser: a design travels in the
hidden `design` field; saving one stores it and the HTML it compiled to; a bad design comes back
with its error named by block and the design as posted; an HTML campaign stays HTML; "Convert
to HTML" is one way; another tenant's campaign is a 404 on every route."""

from __future__ import annotations

import copy
import json
import re
from html import unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.mail.design import BLOCK_TYPES, brand_of, default_design
from webapp.models import EmailCampaign, Tenant
from webapp.services import campaigns

from .conftest import snapshot
from .pages import field_errors

DESIGN = {"version": 1, "blocks": [
    {"id": "b1", "type": "heading", "text": "Summer Jazz Night, {{ customer.first_name | default(\"friend\") }}",
     "level": 1, "align": "left"},
    {"id": "b2", "type": "text", "html": "<p>Doors at <strong>8pm</strong>.</p>", "align": "left"},
    {"id": "b3", "type": "button", "text": "Book now", "url": "https://tickets.example.com/jazz", "align": "center"},
    {"id": "b4", "type": "footer", "text": "", "show_address": True, "show_view_in_browser": True},
]}
HTML = "<p>Hello {{ customer.first_name | default('there') }}</p>"


def form(design: dict | str | None = None, **changes) -> dict:
    data = {"name": "Summer Jazz Night", "segment_id": "", "subject": "Your seats", "preheader": "",
            "from_name": "", "from_email": "", "reply_to": "", "text_content": "",
            "design": design if isinstance(design, str) else json.dumps(design or DESIGN)}
    return {**data, **changes}


def hidden_design(html: str) -> dict | None:
    """The design the page holds in its hidden input (what the next save posts)."""
    tag = re.search(r'<input[^>]*\bname="design"[^>]*>', html)
    assert tag, "no design field on the page"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return json.loads(unescape(value.group(1))) if value and value.group(1) else None


def builder_config(html: str) -> dict:
    script = re.search(r'<script type="application/json" id="design-builder-config">(.*?)</script>', html, re.S)
    assert script, "no builder on the page"
    return json.loads(script.group(1))


def campaign_count() -> int:
    return db.session.scalar(select(func.count()).select_from(EmailCampaign))


@pytest.fixture
def designed(tenant_a) -> EmailCampaign:
    return campaigns.create_campaign(tenant_a.id, {"name": "Built with blocks", "subject": "Hi", "design": DESIGN})


@pytest.fixture
def html_campaign(tenant_a) -> EmailCampaign:
    return campaigns.create_campaign(tenant_a.id, {"name": "Hand-written", "subject": "Hi", "html_content": HTML})


# --- a new campaign ------------------------------------------------------------------------

def test_a_new_campaign_starts_as_the_brand_kits_design_with_the_builder(owner_a, tenant_a):
    tenant = db.session.get(Tenant, tenant_a.id)
    tenant.brand = {"primary_color": "#aa0055", "footer_text": "See you at the Arena"}
    db.session.commit()

    html = owner_a.get("/campaigns/new").get_data(as_text=True)

    assert hidden_design(html) == default_design(brand_of(tenant.brand))
    assert hidden_design(html)["blocks"][-1]["text"] == "See you at the Arena"
    config = builder_config(html)
    assert {b["type"] for b in config["schema"]["blocks"]} == set(BLOCK_TYPES)
    assert {"tag": "customer.first_name", "label": "First name", "group": "Customer", "fallback": "there"} \
        in config["mergeTags"]
    assert config["errors"] == {}
    assert 'name="html_content"' not in html  # a design: no code editor
    assert "Write HTML instead" in html


def test_the_builder_gets_the_tenants_saved_blocks_images_and_routes(owner_a, tenant_a, tenant_b):
    from webapp.services import templates

    templates.save_block(tenant_a.id, "Our header", {"type": "heading", "text": "Arena Alpha"})
    templates.save_block(tenant_b.id, "Their header", {"type": "heading", "text": "Bravo Club"})

    config = builder_config(owner_a.get("/campaigns/new").get_data(as_text=True))

    assert [b["name"] for b in config["savedBlocks"]] == ["Our header"]  # not another tenant's
    assert (config["assetsUrl"], config["uploadUrl"], config["saveBlockUrl"]) == (
        "/assets/picker", "/assets", "/templates/blocks")


def test_write_html_instead_opens_the_code_editor(owner_a):
    html = owner_a.get("/campaigns/new?content=html").get_data(as_text=True)

    assert 'name="html_content"' in html and hidden_design(html) is None
    assert 'id="design-builder-config"' not in html


def test_posting_a_design_saves_it_with_the_html_it_compiles_to(owner_a, tenant_a):
    response = owner_a.post("/campaigns/new", form())

    campaign = db.session.scalar(select(EmailCampaign))
    assert response.status_code == 302 and response.headers["Location"] == f"/campaigns/{campaign.id}/edit"
    assert [b["type"] for b in campaign.design["blocks"]] == ["heading", "text", "button", "footer"]
    assert [b["id"] for b in campaign.design["blocks"]] == ["b1", "b2", "b3", "b4"]  # the builder's ids are kept
    assert "Summer Jazz Night" in campaign.html_content and "https://tickets.example.com/jazz" in campaign.html_content
    # Merge tags stay Jinja in the compiled HTML: personalised per recipient at send time.
    assert '{{ customer.first_name | default("friend") }}' in campaign.html_content


def test_posting_no_design_makes_an_html_campaign_as_before(owner_a):
    response = owner_a.post("/campaigns/new", form(design="", html_content=HTML))

    campaign = db.session.scalar(select(EmailCampaign))
    assert response.status_code == 302
    assert campaign.design is None and campaign.html_content == HTML


def test_a_design_needs_no_html_and_html_needs_content(owner_a):
    neither = owner_a.post("/campaigns/new", form(design="", html_content=""))

    assert neither.status_code == 422
    assert field_errors(neither.get_data(as_text=True))["html_content"] == ["Write the email's content."]
    assert campaign_count() == 0


# --- errors --------------------------------------------------------------------------------

def test_a_bad_design_is_refused_beside_its_block_and_everything_typed_is_kept(owner_a):
    posted = copy.deepcopy(DESIGN)
    posted["blocks"][2]["url"] = "tickets page"
    posted["blocks"][0]["text"] = "A heading I just typed"

    response = owner_a.post("/campaigns/new", form(posted, name="Kept name", preheader="Kept preheader"))

    html = response.get_data(as_text=True)
    assert response.status_code == 422 and campaign_count() == 0
    assert hidden_design(html) == posted  # as posted, not as stored or as the default
    errors = builder_config(html)["errors"]
    assert list(errors) == ["design.blocks[2].url"] and "web address" in errors["design.blocks[2].url"]
    # In words, for people (and for the page without JavaScript).
    assert "Not saved: Block 3 (Button), Link: must be a web address" in html
    assert 'value="Kept name"' in html and 'value="Kept preheader"' in html


def test_a_bad_block_inside_columns_is_named_by_its_column(owner_a):
    posted = {"version": 1, "blocks": [{"type": "columns", "columns": [
        [{"type": "text", "html": "<p>Left</p>"}],
        [{"type": "button", "text": "Go", "url": "javascript:alert(1)"}]]}]}

    response = owner_a.post("/campaigns/new", form(posted))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert list(builder_config(html)["errors"]) == ["design.blocks[0].columns[1][0].url"]
    assert "Block 1, column 2, block 1 (Button), Link" in html


@pytest.mark.parametrize("text", ["{not json", "[1, 2", '{"version": 1, "blocks": "x"}', "null", "[]", "7",
                                  '{"version": 2, "blocks": []}', "[" * 5000 + "]" * 5000,
                                  '{"version": 1, "blocks": [{"type": "heading", "text": "a\\u0000b"}]}'])
def test_a_design_that_is_not_one_is_refused_not_a_server_error(owner_a, text):
    response = owner_a.post("/campaigns/new", form(text))

    html = response.get_data(as_text=True)
    assert response.status_code == 422 and campaign_count() == 0
    assert "Not saved" in html


# --- an existing campaign ------------------------------------------------------------------

def test_a_design_campaign_opens_in_the_builder_and_saves_its_changes(owner_a, designed):
    html = owner_a.get(f"/campaigns/{designed.id}/edit").get_data(as_text=True)
    assert hidden_design(html) == designed.design
    assert 'data-testid="convert-to-html"' in html and 'name="html_content"' not in html

    changed = copy.deepcopy(designed.design)
    changed["blocks"][0]["text"] = "Tonight only"
    changed["blocks"].insert(1, {"type": "divider"})
    response = owner_a.post(f"/campaigns/{designed.id}/edit", form(changed))

    db.session.refresh(designed)
    assert response.status_code == 302
    assert [b["type"] for b in designed.design["blocks"]] == ["heading", "divider", "text", "button", "footer"]
    assert designed.design["blocks"][0]["text"] == "Tonight only" and "Tonight only" in designed.html_content


def test_saving_the_page_as_it_came_keeps_the_design(owner_a, designed):
    """Without JavaScript nothing edits the hidden design: it goes back as it came."""
    before = copy.deepcopy(designed.design)
    html = owner_a.get(f"/campaigns/{designed.id}/edit").get_data(as_text=True)

    response = owner_a.post(f"/campaigns/{designed.id}/edit", form(hidden_design(html), name="Renamed"))

    db.session.refresh(designed)
    assert response.status_code == 302
    assert designed.name == "Renamed" and designed.design == before


def test_an_html_campaign_stays_html_when_a_design_is_posted(owner_a, html_campaign):
    response = owner_a.post(f"/campaigns/{html_campaign.id}/edit", form(html_content="<p>Changed</p>"))

    db.session.refresh(html_campaign)
    assert response.status_code == 302
    assert html_campaign.design is None and html_campaign.html_content == "<p>Changed</p>"
    html = owner_a.get(f"/campaigns/{html_campaign.id}/edit").get_data(as_text=True)
    assert 'name="html_content"' in html and 'id="design-builder-config"' not in html


def test_convert_to_html_keeps_the_compiled_html_and_drops_the_design(owner_a, designed):
    compiled = designed.html_content

    response = owner_a.post(f"/campaigns/{designed.id}/convert-html")

    db.session.refresh(designed)
    assert response.status_code == 302 and response.headers["Location"] == f"/campaigns/{designed.id}/edit"
    assert designed.design is None and designed.html_content == compiled
    html = owner_a.get(f"/campaigns/{designed.id}/edit").get_data(as_text=True)
    assert "Converted to HTML" in html and "cannot open it again" in html
    assert 'name="html_content"' in html and 'data-testid="convert-to-html"' not in html


def test_convert_to_html_needs_the_csrf_token(owner_a, designed):
    response = owner_a.post(f"/campaigns/{designed.id}/convert-html", csrf=False)

    db.session.refresh(designed)
    assert response.status_code == 400 and designed.design is not None


def test_another_tenants_campaign_is_a_404_and_nothing_changes(owner_b, designed):
    before = snapshot()

    answers = [owner_b.get(f"/campaigns/{designed.id}/edit").status_code,
               owner_b.post(f"/campaigns/{designed.id}/edit", form(name="Taken")).status_code,
               owner_b.post(f"/campaigns/{designed.id}/convert-html").status_code]

    assert answers == [404, 404, 404]
    assert snapshot() == before


def test_another_tenants_image_in_a_design_is_refused(owner_a, tenant_b):
    from webapp.models import EmailAsset

    theirs = EmailAsset(tenant_id=tenant_b.id, token="t" * 32, filename="stage.png", content_type="image/png",
                        width=600, height=400, size_bytes=1000, storage_key="x/stage.png")
    db.session.add(theirs)
    db.session.commit()
    posted = {"version": 1, "blocks": [{"type": "image", "asset_id": theirs.id, "alt": "Stage"}]}

    response = owner_a.post("/campaigns/new", form(posted))

    assert response.status_code == 422 and campaign_count() == 0
    assert list(builder_config(response.get_data(as_text=True))["errors"]) == ["design.blocks[0].asset_id"]
    assert "t" * 32 not in response.get_data(as_text=True)  # nothing of their file is shown


# --- the live preview ----------------------------------------------------------------------

def test_the_preview_compiles_the_posted_design(owner_a):
    response = owner_a.hx_post("/campaigns/preview", {"subject": "Hi", "design": json.dumps(DESIGN),
                                                      "html_content": ""})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Summer Jazz Night, friend" in unescape(html)  # the sample customer has no first name


def test_the_preview_names_the_block_of_a_bad_design(owner_a):
    posted = copy.deepcopy(DESIGN)
    posted["blocks"][2]["url"] = "#"

    response = owner_a.hx_post("/campaigns/preview", {"subject": "Hi", "design": json.dumps(posted)})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Block 3 (Button), Link:" in html and "design.blocks" not in html


# --- whatever is posted as a design --------------------------------------------------------

leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                 st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                 st.sampled_from(["\x00", "{{ customer.", "{% for x in y %}", "<script>x</script>", "javascript:x",
                                  "#zzz", "next", "x" * 3000]))
values = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)
field_names = sorted({f.name for t in BLOCK_TYPES.values() for f in t.fields} | {"id"})
blocks = st.fixed_dictionaries({"type": st.sampled_from([*BLOCK_TYPES, "script", ""])},
                               optional={name: values for name in field_names})
designs = st.one_of(
    st.fixed_dictionaries({"version": st.sampled_from([1, 1, 2, "1"]), "blocks": st.lists(blocks, max_size=4)},
                          optional={"settings": values}),
    st.fixed_dictionaries({"version": st.just(1), "blocks": st.lists(
        st.fixed_dictionaries({"type": st.just("columns"), "columns": st.lists(st.lists(blocks, max_size=2),
                                                                                max_size=4)}), max_size=2)}),
    values)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(design=designs)
def test_any_design_is_saved_or_refused_never_a_server_error(owner_a, design):
    before = campaign_count()

    response = owner_a.post("/campaigns/new", form(json.dumps(design)))

    assert response.status_code in (302, 422), response.status_code
    assert campaign_count() == before + (1 if response.status_code == 302 else 0)


def test_a_save_with_an_unknown_merge_tag_is_kept_and_says_which_field_was_meant(owner_a):
    typo = copy.deepcopy(DESIGN)
    typo["blocks"][0]["text"] = "Hello {{ customer.frist_name }}"
    response = owner_a.post("/campaigns/new", form(typo))
    assert response.status_code == 302  # saved: a warning never loses the work
    page = owner_a.get(response.headers["Location"]).get_data(as_text=True)
    assert "flash-warning" in page
    assert "did you mean customer.first_name?" in unescape(page)
    clean = owner_a.get(response.headers["Location"]).get_data(as_text=True)
    assert "flash-warning" not in clean  # said once, after the save
