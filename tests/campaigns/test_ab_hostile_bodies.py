"""Property-based: whatever a client puts in `variants`, `ab_test` or the winner's `variant`
(huge numbers, NaN, NUL bytes, huge strings, deep nesting, wrong types), the answer is a
201/200 or a 422 naming the field, never a 5xx, and a refusal writes nothing."""

from __future__ import annotations

import json

import pytest
from campaign_support import add_audience, audience_segment, ready_tenant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import CampaignVariant, EmailCampaign

HOSTILE_TEXT = ["NaN", "Infinity", "1e400", str(2**63), "-1", "null", "true", '"a\\u0000b"', '"\\ud800"',
                '"' + "x" * 600_000 + '"', "[" * 3000 + "]" * 3000, '{"a":' * 3000 + "1" + "}" * 3000]
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                             st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                           max_leaves=20)
variant = st.fixed_dictionaries({}, optional={"subject": json_values, "preheader": json_values,
                                              "from_name": json_values, "content": json_values,
                                              "design": json_values})
ab_test = st.fixed_dictionaries({}, optional={"share_percent": json_values, "duration_minutes": json_values,
                                              "metric": json_values})


@pytest.fixture
def segment_id(app, tenant_a):
    ready_tenant(tenant_a.id)
    add_audience(tenant_a.id, 1)
    return audience_segment(tenant_a.id)


def written() -> tuple[int, int]:
    counts = (db.session.scalar(select(func.count()).select_from(EmailCampaign)),
              db.session.scalar(select(func.count()).select_from(CampaignVariant)))
    db.session.commit()
    return counts


def assert_refused_or_accepted(response, before: tuple[int, int]) -> None:
    assert response.status_code in (201, 422), (response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code == 422:
        fields = [d["field"] for d in response.get_json()["error"]["details"]]
        assert fields and all(f.startswith(("variants", "ab_test", "body")) for f in fields), fields
        assert written() == before, "a refusal wrote something"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(variants=st.one_of(json_values, st.lists(variant, max_size=6)), test=st.one_of(json_values, ab_test))
def test_generated_variants_and_ab_test_are_accepted_or_refused_naming_the_field(api, segment_id, variants, test):
    before = written()
    body = {"name": "x", "subject": "s", "content": "<p>c</p>", "segment_id": segment_id, "variants": variants,
            "ab_test": test}

    assert_refused_or_accepted(api.post("/campaigns", json=body), before)


@pytest.mark.parametrize("fragment", HOSTILE_TEXT)
@pytest.mark.parametrize("place", ["variants", "variants[1].subject", "variants[1].design", "ab_test",
                                   "ab_test.share_percent", "ab_test.duration_minutes"])
def test_hostile_raw_json_in_each_place_is_never_a_5xx(api, segment_id, fragment, place):
    before = written()
    ab = '{"share_percent": 20, "duration_minutes": 60, "metric": "opens"}'
    variants = '[{"subject": "A"}, {"subject": "B"}]'
    if place == "variants":
        variants = fragment
    elif place == "variants[1].subject":
        variants = '[{"subject": "A"}, {"subject": ' + fragment + "}]"
    elif place == "variants[1].design":
        variants = '[{"subject": "A"}, {"design": ' + fragment + "}]"
    elif place == "ab_test":
        ab = fragment
    else:
        ab = '{"' + place.split(".")[1] + '": ' + fragment + "}"
    raw = ('{"name": "x", "subject": "s", "content": "<p>c</p>", "segment_id": ' + json.dumps(segment_id)
           + ', "variants": ' + variants + ', "ab_test": ' + ab + "}")

    response = api.post("/campaigns", data=raw, content_type="application/json")

    assert response.status_code in (201, 400, 413, 422), (response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code != 201:
        assert written() == before
