"""Designs: the builder's block tree checked with paths, compiled once through MJML, sent
personalised, with the event card filled from each recipient's purchases."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email.policy import default as default_policy

import pytest
from campaign_support import add_audience, audience_segment, ready_tenant, run_burst_worker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.api.api_assertions import assert_error
from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.types import utcnow
from webapp.mail.design import BLOCK_TYPES, builder_schema, compile_design, default_design, validate_design
from webapp.mail.templating import check_template, render
from webapp.models import EmailAsset, OutboxMessage
from webapp.services import activities, campaigns

# Every block of the contract (issue 15), as an integrator would write them.
EVERY_BLOCK = {"version": 1, "blocks": [
    {"type": "heading", "text": 'Hi {{ customer.first_name | default("there") }}'},
    {"type": "text",
     "html": "<p>The <strong>line-up</strong> is out: <a href=\"https://venue.example/l\">see it</a></p>"},
    {"type": "button", "text": "Get tickets", "url": "https://venue.example/tickets?a=1&b=2"},
    {"type": "image", "src": "https://venue.example/stage.png", "alt": "The stage"},
    {"type": "divider"},
    {"type": "spacer", "height": 24},
    {"type": "columns", "columns": [[{"type": "text", "html": "<p>Left</p>"}],
                                    [{"type": "text", "html": "<p>Right</p>"}]]},
    {"type": "social", "links": [{"network": "instagram", "url": "https://instagram.com/venue"}]},
    {"type": "event", "event": "next"},
    {"type": "footer"},
]}


def personalise(html: str, **context) -> str:
    base = {"customer": {"first_name": "Ava"}, "tenant": {"postal_address": "1 Stage Door"},
            "unsubscribe_url": "https://crm.test/u/t", "view_in_browser_url": "https://crm.test/v/t", "events": {}}
    return render(html, {**base, **context})


def visible_text(html: str) -> str:
    body = html[html.find("<body"):]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_every_block_of_the_contract_is_accepted_and_every_type_is_in_the_schema():
    design = validate_design(EVERY_BLOCK)
    assert [b["type"] for b in design["blocks"]] == [b["type"] for b in EVERY_BLOCK["blocks"]]
    assert {b["type"] for b in builder_schema()["blocks"]} == set(BLOCK_TYPES) == {
        b["type"] for b in EVERY_BLOCK["blocks"]}
    assert design["blocks"][5]["height"] == 24 and design["blocks"][4]["thickness"] == 1  # defaults filled


@pytest.mark.parametrize(("blocks", "path"), [
    ([{"type": "heading", "text": "a"}, {"type": "button", "text": "Go", "url": "javascript:alert(1)"}],
     "design.blocks[1].url"),
    ([{"type": "button", "text": "Go", "url": "/relative"}], "design.blocks[0].url"),
    ([{"type": "marquee"}], "design.blocks[0].type"),
    ([{"type": "heading"}], "design.blocks[0].text"),
    ([{"type": "heading", "text": "{{ customer.first_name"}], "design.blocks[0].text"),
    ([{"type": "heading", "text": "{{ ''.__class__ }}"}], "design.blocks[0].text"),
    ([{"type": "spacer", "height": 10_000}], "design.blocks[0].height"),
    ([{"type": "divider", "color": "red; background:url(x)"}], "design.blocks[0].color"),
    ([{"type": "image", "asset_id": 2**63}], "design.blocks[0].asset_id"),
    ([{"type": "heading", "text": "a", "onclick": "x"}], "design.blocks[0].onclick"),
    ([{"type": "columns", "columns": [[{"type": "text", "html": "<p>a</p>"}]]}], "design.blocks[0].columns"),
    ([{"type": "columns", "columns": [[{"type": "columns", "columns": [[], []]}], []]}],
     "design.blocks[0].columns[0][0].type"),
    ([{"type": "columns", "columns": [[], [{"type": "button", "text": "x", "url": "ftp://x"}]]}],
     "design.blocks[0].columns[1][0].url"),
    ([{"type": "social", "links": [{"network": "myspace", "url": "https://x.example"}]}],
     "design.blocks[0].links[0].network"),
    ([{"type": "event", "event": {"id": "bad id with spaces"}}], "design.blocks[0].event"),
    ([{"type": "heading", "text": "a\x00b"}], "design.blocks[0].text"),
    ([{"type": "heading", "text": "a", "align": ["left"]}], "design.blocks[0].align"),
    ([{"type": "heading", "text": "a", "level": {"x": 1}}], "design.blocks[0].level"),
    ([{"type": "heading", "text": "a", "level": True}], "design.blocks[0].level"),
    ([{"type": "heading", "text": "x" * 5000}], "design.blocks[0].text"),
])
def test_an_invalid_design_names_the_path_of_what_is_wrong(blocks, path):
    with pytest.raises(ValidationFailed) as caught:
        validate_design({"version": 1, "blocks": blocks})
    assert caught.value.field == path


def test_a_design_holds_at_most_200_blocks():
    with pytest.raises(ValidationFailed) as caught:
        validate_design({"version": 1, "blocks": [{"type": "spacer"}] * 201})
    assert caught.value.field == "design.blocks[200]"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=4), max_leaves=25)
BLOCKISH = st.fixed_dictionaries({"type": st.sampled_from(sorted(BLOCK_TYPES))},
                                 optional={name: JSON for name in ("text", "html", "url", "src", "alt", "height",
                                                                   "columns", "links", "event", "align", "level")})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, st.fixed_dictionaries({"version": st.just(1), "blocks": st.lists(BLOCKISH, max_size=5)})))
def test_any_json_is_a_valid_design_or_a_validation_error_never_a_crash(raw):
    try:
        design = validate_design(raw)
    except ValidationFailed as exc:
        assert exc.field.startswith("design")
        return
    # What passes compiles to HTML that is a template the sandbox accepts.
    check_template(compile_design(design), html=True)


def test_rich_text_keeps_formatting_and_loses_scripts_handlers_and_classes():
    design = validate_design({"version": 1, "blocks": [{"type": "text", "html": (
        '<p class="ql-align-center">Centred <strong>bold</strong> <em>it</em> <u>u</u></p>'
        '<ul><li>one</li></ul><script>alert(1)</script><img src=x onerror="alert(1)">'
        '<a href="javascript:alert(1)">bad</a><a href="https://ok.example">ok</a>')}]})
    html = design["blocks"][0]["html"]
    assert '<p style="text-align:center">' in html and "<strong>bold</strong>" in html and "<li>one</li>" in html
    for gone in ("script", "onerror", "<img", "javascript:", "class="):
        assert gone not in html
    assert '<a href="https://ok.example">ok</a>' in html


def test_compiled_html_is_responsive_and_personalised_at_send_time():
    html = compile_design(validate_design(EVERY_BLOCK))
    assert "{{ customer.first_name" in html  # personalisation happens per recipient, after compiling
    assert "@media only screen" in html and "max-width:600px" in html.replace(" ", "")
    out = personalise(html, next_event={"name": "Jazz Night", "when": "Sat 12 Dec 2026, 19:30", "venue": "Hall",
                                        "url": "https://t.example/e", "image_url": None})
    text = visible_text(out)
    assert "Hi Ava" in text and "Left" in text and "Right" in text and "Jazz Night" in text
    assert 'href="https://venue.example/tickets?a=1&amp;b=2"' in out
    assert "1 Stage Door" in text and 'href="https://crm.test/u/t"' in out


def test_text_from_the_public_is_escaped_not_markup():
    design = validate_design({"version": 1, "blocks": [{"type": "heading", "text": "<script>x</script> & co"}]})
    out = personalise(compile_design(design))
    assert "<script>x" not in out and "&lt;script&gt;x&lt;/script&gt; &amp; co" in out


def test_the_event_card_is_left_out_for_someone_with_no_event_ahead():
    design = validate_design({"version": 1, "blocks": [{"type": "heading", "text": "Hello"},
                                                       {"type": "event", "event": "next"}]})
    out = personalise(compile_design(design), next_event=None)
    assert "Get tickets" not in out and "Hello" in out


def test_the_brand_kit_colours_buttons_and_background():
    design = validate_design({"version": 1, "blocks": [{"type": "button", "text": "Go", "url": "https://x.example"}]})
    html = compile_design(design, {"primary_color": "#aa0011", "background_color": "#101010", "button_radius": 12})
    assert "#aa0011" in html and "#101010" in html and "border-radius:12px" in html
    own = compile_design(validate_design({**design, "settings": {"background_color": "#222222"}}),
                         {"background_color": "#101010"})
    assert "#222222" in own and "#101010" not in own  # the design's own settings win


def test_a_new_design_starts_from_the_brand_and_greets_by_first_name():
    design = default_design({"logo_asset_id": 7, "footer_text": "See you at the show"})
    assert design["blocks"][0] == {**design["blocks"][0], "type": "image", "asset_id": 7}
    assert design["blocks"][-1]["type"] == "footer" and design["blocks"][-1]["text"] == "See you at the show"
    assert any("customer.first_name" in (b.get("html") or "") for b in design["blocks"])


# --- through the API -------------------------------------------------------------------------

def test_a_campaign_created_with_a_design_returns_design_and_compiled_content(api):
    created = api.post("/campaigns", json={"name": "Line-up", "subject": "Out now", "design": EVERY_BLOCK})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["design"]["blocks"][0]["type"] == "heading" and body["design"]["version"] == 1
    assert "mj-column-per-50" in body["content"]  # compiled: two columns
    assert api.get(f"/campaigns/{body['id']}").get_json()["design"] == body["design"]
    html = api.post(f"/campaigns/{body['id']}/preview", json={}).get_json()["html"]
    assert "Hi there" in visible_text(html) and "{{" not in html


def test_an_invalid_design_is_a_422_naming_the_path_and_stores_nothing(api):
    before = api.get("/campaigns").get_json()["data"]
    bad = {"version": 1, "blocks": [*EVERY_BLOCK["blocks"][:3], {"type": "button", "text": "x", "url": "#"}]}
    assert_error(api.post("/campaigns", json={"name": "n", "subject": "s", "design": bad}), 422,
                 field="design.blocks[3].url")
    assert_error(api.post("/campaigns", json={"name": "n", "subject": "s", "design": {"blocks": "nope"}}), 422,
                 field="design.blocks")
    assert api.get("/campaigns").get_json()["data"] == before


def test_a_design_campaign_is_not_silently_overwritten_by_html_and_converts_only_on_purpose(api):
    cid = api.post("/campaigns", json={"name": "n", "subject": "s", "design": EVERY_BLOCK}).get_json()["id"]
    compiled = api.get(f"/campaigns/{cid}").get_json()["content"]
    assert_error(api.patch(f"/campaigns/{cid}", json={"content": "<p>x</p>"}), 422, field="html_content")
    converted = api.patch(f"/campaigns/{cid}", json={"design": None}).get_json()
    assert converted["design"] is None and converted["content"] == compiled  # one way, the HTML kept
    edited = api.patch(f"/campaigns/{cid}", json={"content": "<p>now HTML</p>"}).get_json()
    assert edited["content"] == "<p>now HTML</p>"


def test_an_image_block_cannot_show_another_tenants_upload(api, tenant_b):
    other = EmailAsset(tenant_id=tenant_b.id, token="t" * 32, filename="b.png", content_type="image/png", width=10,
                       height=10, size_bytes=10, storage_key="k")
    db.session.add(other)
    db.session.commit()
    design = {"version": 1, "blocks": [{"type": "columns", "columns": [[], [{"type": "image", "asset_id": other.id}]]}]}
    assert_error(api.post("/campaigns", json={"name": "n", "subject": "s", "design": design}), 422,
                 field="design.blocks[0].columns[1][0].asset_id")


def test_an_image_block_shows_the_tenants_upload_by_its_public_url(api, tenant_a):
    mine = EmailAsset(tenant_id=tenant_a.id, token="m" * 32, filename="stage.png", content_type="image/png",
                      width=1200, height=600, size_bytes=10, storage_key="k")
    db.session.add(mine)
    db.session.commit()
    design = {"version": 1, "blocks": [{"type": "image", "asset_id": mine.id, "alt": "Stage"}]}
    content = api.post("/campaigns", json={"name": "n", "subject": "s", "design": design}).get_json()["content"]
    assert f"/a/{'m' * 32}/stage.png" in content and 'width="600"' in content  # never wider than the email


# --- sending -----------------------------------------------------------------------------------

def _purchase(tenant_id: int, customer_id: int, event_id: str, starts_at, name: str) -> None:
    activities.record_activity(tenant_id, "purchase", customer_id=customer_id, properties={
        "order_id": f"o-{customer_id}-{event_id}", "order_total": 40,
        "event": {"id": event_id, "name": name, "starts_at": starts_at.isoformat(), "venue": "Main Hall",
                  "url": f"https://tickets.example/{event_id}"}})


def test_a_design_campaign_sends_each_fan_their_own_next_event(app, runner, tenant_a, app_config):
    app_config(MAIL_URL="outbox")
    ready_tenant(tenant_a.id)
    ava, leo, mia = add_audience(tenant_a.id, 3)
    now = utcnow()
    _purchase(tenant_a.id, ava, "evt_late", now + timedelta(days=30), "Autumn Gala")
    _purchase(tenant_a.id, ava, "evt_soon", now + timedelta(days=3), "Jazz Night")
    _purchase(tenant_a.id, leo, "evt_past", now - timedelta(days=3), "Old Show")
    campaign = campaigns.create_campaign(tenant_a.id, {
        "name": "Your next show", "subject": "See you soon", "segment_id": audience_segment(tenant_a.id),
        "design": EVERY_BLOCK})
    campaigns.send_campaign(tenant_a.id, campaign.id)
    run_burst_worker(runner)

    messages = {m.recipient: email.message_from_bytes(m.raw, policy=default_policy)
                for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id))}
    assert len(messages) == 3
    html = {to: m.get_body(("html",)).get_content() for to, m in messages.items()}
    assert "Jazz Night" in visible_text(html["fan0@example.com"]) and "Autumn Gala" not in html["fan0@example.com"]
    assert "Old Show" not in html["fan1@example.com"] and "Get tickets" in visible_text(html["fan1@example.com"])
    assert "Hi Fan2" in visible_text(html["fan2@example.com"])
    # The media queries that stack columns on phones survive (no second CSS inlining).
    assert all("@media only screen" in body for body in html.values())
    assert all("{{" not in body and "{%" not in body for body in html.values())
    assert mia  # three distinct fans


def test_rich_text_keeps_merge_tags_and_conditions_the_sanitiser_would_escape():
    html = ('<p>{% if customer.orders_count > 2 %}Thanks for {{ customer.orders_count }} shows &amp; more'
            '{% endif %} <a href="{{ view_in_browser_url }}">web</a></p>')
    design = validate_design({"version": 1, "blocks": [{"type": "text", "html": html}]})
    assert design["blocks"][0]["html"] == html
    out = personalise(compile_design(design), customer={"orders_count": 3})
    assert "Thanks for 3 shows &amp; more" in out and 'href="https://crm.test/v/t"' in out


def test_an_unknown_merge_tag_is_saved_with_a_warning_naming_the_likely_field(api):
    design = {"version": 1, "blocks": [{"type": "heading", "text": "Hi {{ customer.frist_name }}"}]}
    created = api.post("/campaigns", json={"name": "n", "subject": "s", "design": design}).get_json()
    assert created["warnings"] == [
        "{{ customer.frist_name }} is not a field we know — did you mean customer.first_name?"]
    assert api.get(f"/campaigns/{created['id']}").get_json()["warnings"] == created["warnings"]
    fixed = {"version": 1, "blocks": [{"type": "heading", "text": "Hi {{ customer.first_name }}"}]}
    assert api.patch(f"/campaigns/{created['id']}", json={"design": fixed}).get_json()["warnings"] == []
