"""Property: whatever a client puts in the fields of a marketer form (NUL and other text the
database refuses, huge strings, JSON nested thousands deep or holding NaN, numbers past any
column, dates at the calendar's edges), the answer is never a 5xx, and a refusal changes
nothing. Every form of tests/web/form_specs.py, posted with the session's CSRF token."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.segments.definition import OPERATORS

from .conftest import snapshot, web_routes
from .form_specs import BUTTON_FIELDS, BUTTONS, CHOICE, DATE, FILE, JSON, NUMBER, SPECS, TEXT, hostile_world, submit
from .pages import csrf_from

# Derandomized: the same examples on every run.
HOSTILE = settings(max_examples=10, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.data_too_large, HealthCheck.large_base_example])

# --- values ----------------------------------------------------------------------------------

short = st.text(max_size=12)
nul_text = st.tuples(short, short).map(lambda t: f"{t[0]}\x00{t[1]}")
surrogate = st.integers(0xD800, 0xDFFF).map(chr)
surrogate_text = st.tuples(short, surrogate, short).map("".join)  # arrives percent-quoted (werkzeug)
unstorable_text = st.one_of(nul_text, surrogate_text, st.text(alphabet=st.characters(max_codepoint=31), min_size=1))
huge_text = st.tuples(st.sampled_from([1_001, 5_001, 70_000, 600_000]), st.sampled_from("xé€😀<\"'")).map(
    lambda t: t[1] * t[0])
numbers = st.one_of(
    st.sampled_from(["1" + "0" * 30, "-1" + "0" * 30, "9" * 5000, "2147483648", "-2147483649", "9223372036854775808",
                     "1e309", "-1e309", "NaN", "Infinity", "-inf", "1e-400", "0x10", "1_000", " 7 ", "٣", "-0", ""]),
    st.integers().map(str), st.floats().map(repr), st.decimals(allow_nan=True).map(str))
dates = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59", "9999-12-31T23:59:59",
                     "0000-00-00T00:00", "2024-02-30T10:00", "10000-01-01T00:00", "2024-13-01T00:00",
                     "1970-01-01T00:00+99:00", "-0001-01-01T00:00", "2099-01-01T25:61"]),
    st.datetimes().map(lambda d: d.isoformat(timespec="minutes")), st.dates().map(str))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), short, nul_text, dates)
# What a column or a calendar cannot hold.
out_of_range = st.one_of(
    st.sampled_from([2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30, -(10**30), 10**40]),
    st.integers(2**31, 10**40), st.sampled_from([1e308, -1e308, 1e19, 5e-324]), dates)
# Shaped like a definition, each type with one of its own operators and settings (so the
# request gets past the shape checks to the services), holding values out of any range.
SETTINGS = {"attribute": {"key": st.just("seat")}, "activity": {"activity_type": st.just("purchase")}}
OPTIONAL_SETTINGS = {"activity": {"within_last_days": out_of_range},
                     "purchased_event": {"from": dates, "to": dates},
                     "email_engagement": {"campaign_id": out_of_range, "within_last_days": out_of_range}}
condition = st.sampled_from(sorted(OPERATORS)).flatmap(lambda kind: st.fixed_dictionaries({
    "type": st.just(kind), "operator": st.sampled_from(OPERATORS[kind]),
    "value": st.one_of(out_of_range, st.lists(out_of_range, min_size=2, max_size=2)), **SETTINGS.get(kind, {}),
}, optional=OPTIONAL_SETTINGS.get(kind, {})))
definitions = st.lists(st.one_of(condition, st.fixed_dictionaries(
    {"match": st.sampled_from(["all", "any"]), "conditions": st.lists(condition, min_size=1, max_size=2)})),
    min_size=1, max_size=3).map(lambda d: json.dumps(d, allow_nan=True))
deep_json = st.tuples(st.integers(33, 6000), st.sampled_from(["[]", "{}", "group"])).map(
    lambda t: ('[{"match": "all", "conditions": ' * t[0] + "[]" + "}]" * t[0]) if t[1] == "group"
    else ("[" * t[0] + "]" * t[0]) if t[1] == "[]" else ('{"a": ' * t[0] + "1" + "}" * t[0]))
any_json = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short, inner,
                                                                                                  max_size=3),
                        max_leaves=10).map(lambda v: json.dumps(v, allow_nan=True))
escapes = st.sampled_from(['[{"type": "tag", "value": "v\\u0000ip"}]', '[{"type": "tag", "value": "\\udc00"}]',
                           '[{"type": "tag", "value": "ok", "\\u0000": 1}]', '[{"type": "tag", "value": NaN}]'])

# A class of hostility: the strategy for each kind of field it applies to.
CLASSES = {
    "unstorable text": {TEXT: unstorable_text, CHOICE: unstorable_text, NUMBER: unstorable_text,
                        DATE: unstorable_text, JSON: st.one_of(unstorable_text, escapes)},
    "huge strings": {TEXT: huge_text, JSON: huge_text},
    "deep or odd JSON": {JSON: st.one_of(deep_json, any_json, escapes)},
    "hostile definitions": {JSON: definitions},
    "numbers": {NUMBER: numbers, CHOICE: numbers},
    "dates": {DATE: dates, TEXT: dates},
    # Not lone surrogates: the test client cannot put one in a multipart header.
    "file names": {FILE: st.one_of(nul_text, huge_text.map(lambda s: s[:5000] + ".csv"))},
}

# The definitions reach the services' own checks: more examples find more there. Huge strings
# are slow to send and all alike.
EXAMPLES = {"hostile definitions": 25, "huge strings": 5}

def _cases():
    for spec in SPECS:
        for name, strategies in CLASSES.items():
            if not set(spec.fields.values()) & set(strategies):
                continue
            yield pytest.param(spec, name, id=f"{spec}-{name}")


@pytest.fixture(autouse=True)
def _dns_answers_nothing_quickly(app, monkeypatch):
    # Verify buttons ask DNS (a port nothing answers on): a short wait each, not the second
    # the suite allows, so ten hostile examples do not spend ten seconds waiting.
    monkeypatch.setitem(app.config, "DNS_TIMEOUT", 0.05)


@pytest.fixture
def world(world_a, tenant_a):
    return hostile_world(tenant_a.id, world_a)


@pytest.fixture
def session_for(owner_a, client):
    """session_for(signed_in) -> (client, CSRF token): the owner's, or a browser not signed in.
    The token is read once: it stays valid for the session, whatever the examples do (log out)."""
    tokens = {}

    def make(signed_in: bool):
        if signed_in not in tokens:
            tokens[signed_in] = owner_a.csrf() if signed_in else csrf_from(client.get("/login").get_data(as_text=True))
        return (owner_a.client if signed_in else client), tokens[signed_in]

    return make


def _hostile_data(draw, spec, strategies) -> tuple[dict, list[str]]:
    """The spec's valid data with one to three of its fields (of kinds this class attacks) hostile."""
    targets = [name for name, kind in spec.fields.items() if kind in strategies]
    chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=min(3, len(targets)), unique=True))
    data = spec.form_data()
    for name in chosen:
        value = draw(strategies[spec.fields[name]])
        data[name] = (io.BytesIO(b"email\nada@example.com\n"), value) if spec.fields[name] == FILE else value
    return data, chosen


@pytest.mark.parametrize(("spec", "hostility"), list(_cases()))
def test_hostile_values_never_cause_a_5xx_and_a_refusal_changes_nothing(spec, hostility, world, session_for):
    client, token = session_for(spec.signed_in)

    @settings(HOSTILE, max_examples=EXAMPLES.get(hostility, HOSTILE.max_examples))
    @given(data=st.data())
    def example(data):
        values, chosen = _hostile_data(data.draw, spec, CLASSES[hostility])
        before = snapshot()

        response = submit(client, token, spec.url(world), values, htmx=spec.htmx)

        assert response.status_code < 500, (chosen, response.get_data(as_text=True)[:1000])
        if response.status_code >= 400 or spec.endpoint.endswith("preview"):
            assert snapshot() == before, f"refused {chosen} with {response.status_code} but changed the database"
        if hostility == "unstorable text" and any("\x00" in str(values[n]) for n in chosen if n not in spec.lookups):
            assert response.status_code in (spec.refused_with, 429), response.status_code  # 429: login's limit

    example()


@pytest.mark.parametrize("endpoint", sorted(BUTTONS))
@HOSTILE
@given(data=st.data())
def test_buttons_take_hostile_fields_without_a_5xx(endpoint, data, world, owner_a, session_for):
    names = BUTTON_FIELDS.get(endpoint, []) + ["junk"]
    values = {name: data.draw(st.one_of(unstorable_text, huge_text, numbers, st.lists(numbers, max_size=3)),
                              label=name) for name in names}
    client, token = session_for(True)
    before = snapshot()

    response = submit(client, token, BUTTONS[endpoint](world), values)

    assert response.status_code < 500, (values, response.get_data(as_text=True)[:1000])
    if response.status_code >= 400:
        assert snapshot() == before


ADDRESS_VALUES = st.one_of(unstorable_text, numbers, dates, huge_text.map(lambda s: s[:3000]))


@pytest.mark.parametrize("rule", sorted({r.rule for r in web_routes() if r.method == "GET"}))
@settings(HOSTILE, max_examples=5)
@given(data=st.data())
def test_pages_and_exports_take_hostile_query_strings_and_tokens_without_a_5xx(rule, data, world, owner_a):
    from urllib.parse import quote

    path = rule
    for name in ("<token>", "<filename>"):
        path = path.replace(name, quote(data.draw(ADDRESS_VALUES, label="token").encode("utf-8", "surrogatepass")))
    for name, key in (("<int:customer_id>", "customer_id"), ("<int:segment_id>", "segment_id"),
                      ("<int:campaign_id>", "campaign_id"), ("<int:workflow_id>", "workflow_id"),
                      ("<int:import_id>", "import_id"), ("<int:message_id>", "message_id"),
                      ("<int:enrollment_id>", "enrollment_id"), ("<int:token_id>", "token_id"),
                      ("<int:asset_id>", "asset_id"), ("<int:template_id>", "template_id"),
                      ("<int:topic_id>", "topic_id"), ("<int:domain_id>", "domain_id"),
                      ("<int:form_id>", "form_id"), ("<public_id>", "form_public_id"),
                      ("<int:event_id>", "event_id"), ("<int:endpoint_id>", "endpoint_id"),
                      ("<int:delivery_id>", "delivery_id")):
        path = path.replace(name, str(world[key]))
    path = path.replace("<int:step_id>", str(world["steps"]["send_email"]))  # a step of world's workflow
    assert "<" not in path, f"{rule}: add a value for its URL argument"
    params = data.draw(st.dictionaries(st.sampled_from(["q", "tag", "cursor", "type", "status", "segment_id",
                                                        "preview_as", "view", "engagement", "next", "period",
                                                        "when"]),
                                       ADDRESS_VALUES, min_size=1, max_size=3), label="query")
    query = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in params.items())

    response = owner_a.get(f"{path}?{query}")

    assert response.status_code < 500, (path, params, response.get_data(as_text=True)[:1000])


# --- the edges, every one of them every run ------------------------------------------------------

EDGE_NUMBERS = ["1" + "0" * 30, "-1" + "0" * 30, "2147483648", "-2147483649", "9223372036854775808", "1e309",
                "NaN", "-Infinity", "9" * 5000]
EDGE_DATES = ["0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01T00:00:00+14:00",
              "9999-12-31T23:59:59-12:00"]
EDGE_DEFINITIONS = {
    "total_spent 10**30": [{"type": "total_spent", "operator": ">=", "value": 10**30}],
    "total_spent 1e308": [{"type": "total_spent", "operator": "<", "value": 1e308}],
    "orders_count 2**63": [{"type": "orders_count", "operator": "=", "value": 2**63}],
    "orders_count -2**63-1": [{"type": "orders_count", "operator": ">", "value": -(2**63) - 1}],
    "activity count 2**31": [{"type": "activity", "operator": "at_least", "value": 2**31, "activity_type": "purchase"}],
    "activity count 2**63": [{"type": "activity", "operator": "at_least", "value": 2**63, "activity_type": "purchase"}],
    "attribute 10**30": [{"type": "attribute", "key": "seat", "operator": ">", "value": 10**30}],
    "last order before 0001-01-01": [{"type": "last_order_at", "operator": "before", "value": "0001-01-01"}],
    "last order after 9999-12-31": [{"type": "last_order_at", "operator": "after", "value": "9999-12-31"}],
    "created between the edges": [{"type": "created_at", "operator": "between", "value": ["0001-01-01", "9999-12-31"]}],
    "created on 9999-12-31": [{"type": "created_at", "operator": "on", "value": "9999-12-31"}],
    "event bought 0001-01-01 to 9999-12-31": [{"type": "purchased_event", "operator": "name", "value": "Summer",
                                               "from": "0001-01-01", "to": "9999-12-31"}],
    "engagement of campaign 2**63": [{"type": "email_engagement", "operator": "opened", "campaign_id": 2**63}],
    "engagement in the last 36500 days": [{"type": "email_engagement", "operator": "clicked",
                                           "within_last_days": 36500}],
}


def _edge_cases():
    for spec in SPECS:
        edged = [name for name, kind in spec.fields.items() if kind in (NUMBER, DATE)]
        if edged:
            yield pytest.param(spec, {name: EDGE_NUMBERS + EDGE_DATES for name in edged}, id=f"{spec}-numbers-dates")
        for name in (name for name, kind in spec.fields.items() if kind == JSON):
            for label, definition in EDGE_DEFINITIONS.items():
                yield pytest.param(spec, {name: [json.dumps(definition)]}, id=f"{spec}-{label}")


@pytest.mark.parametrize(("spec", "values"), list(_edge_cases()))
def test_numbers_and_dates_at_the_edges_never_cause_a_5xx(spec, values, world, session_for):
    client, token = session_for(spec.signed_in)
    for name, edges in values.items():
        for value in edges:
            before = snapshot()

            response = submit(client, token, spec.url(world), {**spec.form_data(), name: value}, htmx=spec.htmx)

            assert response.status_code < 500, (name, value, response.get_data(as_text=True)[:1000])
            if response.status_code >= 400:
                assert snapshot() == before
