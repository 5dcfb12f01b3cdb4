"""Merge tags: what a template reads, the fields a tenant can use, and the tags that would
render blank, with the field the marketer probably meant."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.extensions import db
from webapp.mail.merge_tags import parse_tags
from webapp.models import Customer
from webapp.services import merge_tags
from webapp.services.customers import upsert_customer

# --- the parser (pure) ------------------------------------------------------------------------


def test_a_tag_with_a_fallback_is_read_as_its_dotted_path_and_filter():
    parsed = parse_tags('<p>Hi {{ customer.first_name | default("there") }}</p>')

    [use] = parsed.tags
    assert (use.path, use.line, use.filters, use.has_fallback) == ("customer.first_name", 1, ("default",), True)


def test_attributes_by_dot_and_by_subscript_read_the_same_path():
    parsed = parse_tags('{{ customer.attributes.vip_level }}\n{{ customer.attributes["seat pref"] | upper }}')

    assert parsed.paths == ["customer.attributes.vip_level", "customer.attributes.seat pref"]
    assert parsed.tags[1].line == 2 and parsed.tags[1].filters == ("upper",)


def test_a_method_call_is_not_part_of_the_tag():
    assert parse_tags("{{ customer.first_name.upper() }}{{ customer.attributes.get('x') }}").paths == [
        "customer.first_name", "customer.attributes"]


def test_variables_the_template_sets_itself_are_not_tags():
    source = ("{% set greeting = 'Hi' %}{{ greeting }}"
              "{% for tag in customer.tags %}{{ tag }}{{ loop.index }}{% endfor %}"
              "{% for key, value in customer.attributes.items() %}{{ key }}={{ value }}{% endfor %}"
              "{% macro line(text) %}{{ text }}{% endmacro %}{{ line(tenant.name) }}{{ range(2) }}")

    assert parse_tags(source).paths == ["customer.tags", "customer.attributes", "tenant.name"]


def test_tags_inside_conditions_and_filter_blocks_are_found_in_order():
    source = "{% if customer.frist_name %}{% filter upper %}{{ next_event.name }}{% endfilter %}{% endif %}"

    assert parse_tags(source).paths == ["customer.frist_name", "next_event.name"]


def test_a_computed_subscript_names_the_value_it_reads_from():
    assert parse_tags("{{ customer.attributes[customer.email] }}").paths == [
        "customer.attributes", "customer.email"]


@pytest.mark.parametrize("source", ["{{ customer.", "{% if x %}", "{{ a }", "{% for %}", "{{ " + "(" * 3000 + " }}"])
def test_a_template_that_does_not_parse_gives_a_clean_result(source):
    parsed = parse_tags(source)

    assert not parsed.ok and parsed.error.startswith("could not parse") and parsed.tags == ()


def test_deep_nesting_that_parses_is_walked_without_recursion():
    source = "{% if a %}" * 40 + "{{ customer.email }}" + "{% endif %}" * 40

    assert parse_tags(source).paths == ["a", "customer.email"]


_JINJA_BITS = st.sampled_from(["{{", "}}", "{%", "%}", "{#", "#}", "|", ".", "(", ")", "[", "]", "'", '"', "set",
                               "for", "in", "endfor", "if", "endif", "customer", "first_name", "default", "loop",
                               " ", "\n", "\x00", "~", "=", ",", "macro", "endmacro", "filter", "raw", "endraw"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.lists(st.one_of(_JINJA_BITS, st.text(max_size=5)), max_size=60)
                 .map("".join)))
def test_the_parser_never_raises_on_arbitrary_text(source):
    parsed = parse_tags(source)

    assert parsed.ok or (parsed.error.startswith("could not parse") and parsed.tags == ())
    assert all(isinstance(tag.path, str) and tag.path for tag in parsed.tags)


def test_the_parser_refuses_what_is_not_text():
    assert parse_tags(None).error == "could not parse: not text"  # type: ignore[arg-type]


# --- the fields a tenant can use ---------------------------------------------------------------


def test_available_lists_customer_event_organisation_link_fields_with_the_exact_keys(tenant_a):
    fields = merge_tags.available(tenant_a.id)

    assert all(set(f) == {"tag", "label", "group", "fallback"} for f in fields)
    tags = {f["tag"]: f for f in fields}
    for tag in ("customer.email", "customer.first_name", "customer.last_name", "customer.total_spent",
                "customer.orders_count", "customer.tags", "next_event.name", "next_event.starts_at",
                "next_event.venue", "next_event.url", "tenant.name", "tenant.postal_address", "unsubscribe_url",
                "view_in_browser_url"):
        assert tag in tags
    assert tags["customer.first_name"]["fallback"] == "there"
    assert not any(t.startswith("trigger.") for t in tags)


def test_attributes_seen_in_this_tenant_are_listed_with_readable_labels(tenant_a, tenant_b):
    upsert_customer(tenant_a.id, {"email": "ava@example.com", "attributes": {"vip_level": "gold", "seatPref": "A"}})
    upsert_customer(tenant_a.id, {"email": "leo@example.com", "attributes": {"home venue": "Leeds", "_secret": 1}})
    upsert_customer(tenant_b.id, {"email": "zed@example.com", "attributes": {"bravo_only": 1}})

    fields = [f for f in merge_tags.available(tenant_a.id) if f["group"] == "Custom attributes"]

    assert [(f["tag"], f["label"]) for f in fields] == [
        ('customer.attributes["home venue"]', "Home venue"), ("customer.attributes.seatPref", "Seat pref"),
        ("customer.attributes.vip_level", "Vip level")]


def test_only_the_latest_customers_are_sampled_for_attributes(tenant_a, monkeypatch):
    monkeypatch.setattr(merge_tags, "ATTRIBUTE_SAMPLE", 2)
    for n, key in enumerate(("old_key", "mid_key", "new_key")):
        upsert_customer(tenant_a.id, {"email": f"c{n}@example.com", "attributes": {key: n}})

    assert merge_tags.attribute_keys(tenant_a.id) == ["mid_key", "new_key"]


def test_a_customer_whose_attributes_are_not_an_object_is_skipped(tenant_a):
    upsert_customer(tenant_a.id, {"email": "ok@example.com", "attributes": {"genre": "jazz"}})
    db.session.add(Customer(tenant_id=tenant_a.id, email="odd@example.com", attributes=["not", "an", "object"]))
    db.session.commit()

    assert merge_tags.attribute_keys(tenant_a.id) == ["genre"]


def test_workflow_emails_also_offer_the_trigger_keys(tenant_a):
    purchase = {f["tag"] for f in merge_tags.available(tenant_a.id, workflow=True, trigger_type="purchase")}

    assert {"trigger.order_id", "trigger.order_total", "trigger.event.name"} <= purchase


# --- unknown tags ------------------------------------------------------------------------------


def _unknown(tenant_id, source, field="content", **kw):
    return [(w.field, w.tag, w.suggestion) for w in merge_tags.unknown_tags(tenant_id, {field: source}, **kw)]


def test_a_typo_is_unknown_with_the_field_it_meant(tenant_a):
    assert _unknown(tenant_a.id, "<p>Hi {{ customer.frist_name }}</p>") == [
        ("content", "customer.frist_name", "customer.first_name")]


def test_a_bare_first_name_suggests_the_customer_field(tenant_a):
    assert _unknown(tenant_a.id, "Hello {{first_name}},", field="subject") == [
        ("subject", "first_name", "customer.first_name")]


def test_an_attribute_not_seen_suggests_one_that_is(tenant_a):
    upsert_customer(tenant_a.id, {"email": "ava@example.com", "attributes": {"vip_level": "gold"}})

    assert _unknown(tenant_a.id, "{{ customer.attributes.vip_levle }}") == [
        ("content", "customer.attributes.vip_levle", "customer.attributes.vip_level")]
    assert _unknown(tenant_a.id, "{{ customer.vip_level }}") == [
        ("content", "customer.vip_level", "customer.attributes.vip_level")]
    assert _unknown(tenant_a.id, "{{ customer.attributes.vip_level | default('') }}") == []


def test_known_fields_set_variables_and_list_items_are_not_unknown(tenant_a):
    source = ('{% set n = customer.orders_count %}{{ n }} {{ customer.tags[0] }} {{ tenant.name }} '
              '{{ next_event.starts_at }} <a href="{{ unsubscribe_url }}">x</a> {{ view_in_browser_url }}'
              '{% for t in customer.tags %}{{ t }}{% endfor %}')

    assert _unknown(tenant_a.id, source) == []


def test_trigger_keys_are_known_in_workflows_only(tenant_a):
    assert _unknown(tenant_a.id, "{{ trigger.order_id }}", workflow=True) == []
    assert [w[1] for w in _unknown(tenant_a.id, "{{ trigger.order_id }}")] == ["trigger.order_id"]


def test_each_unknown_tag_is_named_once_per_field_and_the_message_reads_well(tenant_a):
    warnings = merge_tags.unknown_tags(tenant_a.id, {"subject": "{{ customer.frist_name }}",
                                                     "content": "{{ customer.frist_name }}{{ customer.frist_name }}",
                                                     "preheader": None})

    assert [w.field for w in warnings] == ["subject", "content"]
    assert warnings[0].message == ("{{ customer.frist_name }} is not a field we know — "
                                   "did you mean customer.first_name?")


def test_an_unknown_tag_without_a_likely_field_says_it_will_be_blank(tenant_a):
    [warning] = merge_tags.unknown_tags(tenant_a.id, {"content": "{{ zzqx }}"})

    assert warning.suggestion is None and warning.message.endswith("it will show as blank")


def test_a_source_that_does_not_parse_has_no_unknown_tags(tenant_a):
    assert _unknown(tenant_a.id, "{{ customer.") == []
