"""Input the database cannot store (NUL, unpaired surrogates) or the app cannot decode
safely (JSON nested thousands deep, NaN and Infinity) is refused beside the field that
carried it, with nothing saved; in an address it is a 400, never a 500."""

from __future__ import annotations

import json

import pytest

from webapp.infra.errors import ValidationFailed
from webapp.segments.definition import MAX_DEPTH

from .conftest import snapshot, web_routes
from .form_specs import FILE, JSON, MAPPING, SPECS, FormSpec, hostile_world, message_for, submit

NUL = "must not contain NUL characters"


@pytest.fixture
def world(world_a, tenant_a):
    return hostile_world(tenant_a.id, world_a)


@pytest.fixture
def sign_in_as(owner_a, client, password):
    """sign_in(spec) -> (client, CSRF token) as the spec's page is used: signed in, or not."""

    def sign_in(spec: FormSpec):
        if spec.signed_in:
            return owner_a.client, owner_a.csrf()
        return client, _login_token(client)

    return sign_in


def _login_token(client) -> str:
    from .pages import csrf_from

    return csrf_from(client.get("/login").get_data(as_text=True))


def test_every_form_route_has_a_spec():
    from .form_specs import BUTTONS

    posted = {route.endpoint for route in web_routes() if route.method == "POST"}
    covered = {spec.endpoint for spec in SPECS} | set(BUTTONS) | {"unsubscribe.unsubscribe"}
    assert posted <= covered, f"add a FormSpec (or a BUTTONS entry) for {posted - covered}"


def _with_nul(kind: str, valid: str) -> str:
    if kind == JSON:  # inside a string of an otherwise valid definition
        return valid.replace('"vip"', '"v\x00ip"')
    return (valid or "x")[:1] + "\x00" + (valid or "x")[1:]


NUL_CASES = [pytest.param(spec, name, id=f"{spec}-{name}") for spec in SPECS
             for name, kind in spec.fields.items() if kind != FILE and name not in spec.lookups]


@pytest.mark.parametrize(("spec", "name"), NUL_CASES)
def test_nul_in_a_field_is_refused_beside_it_and_nothing_is_saved(spec, name, world, sign_in_as):
    client, token = sign_in_as(spec)
    data = spec.form_data()
    data[name] = _with_nul(spec.fields[name], str(data.get(name, "")))
    before = snapshot()

    response = submit(client, token, spec.url(world), data, htmx=spec.htmx)

    assert response.status_code == spec.refused_with, response.get_data(as_text=True)[:2000]
    message = message_for(spec, response.get_data(as_text=True), name)
    # The import mapping's columns are choices the service checks: the value is no option.
    assert (NUL in message) if spec.shown != MAPPING else message, f"no message beside {name}: {message!r}"
    assert snapshot() == before


def test_a_nul_in_an_uploaded_file_name_is_refused_beside_the_field(owner_a, world):
    import io

    spec = next(s for s in SPECS if s.endpoint == "imports.new")
    before = snapshot()

    response = submit(owner_a.client, owner_a.csrf(), "/customers/import",
                      {"file": (io.BytesIO(b"email\nada@example.com\n"), "fans\x00.csv")})

    assert response.status_code == 422
    assert NUL in message_for(spec, response.get_data(as_text=True), "file")
    assert snapshot() == before


JSON_FIELDS = [spec for spec in SPECS if JSON in spec.fields.values()]
DEEP = {
    "arrays 5,000 deep": "[" * 5000 + "]" * 5000,
    "groups 3,000 deep": '[{"match": "all", "conditions": ' * 3000 + "[]" + "}]" * 3000,
    "objects 40 deep": '{"a": ' * 40 + "1" + "}" * 40,
}
UNDECODABLE = {
    "NaN": '[{"type": "total_spent", "operator": ">=", "value": NaN}]',
    "Infinity": '[{"type": "total_spent", "operator": ">=", "value": -Infinity}]',
    "1e999": '[{"type": "total_spent", "operator": ">=", "value": 1e999}]',
    "escaped NUL": '[{"type": "tag", "operator": "has", "value": "v\\u0000ip"}]',
    "escaped lone surrogate": '[{"type": "tag", "operator": "has", "value": "v\\ud800ip"}]',
}


@pytest.mark.parametrize("spec", JSON_FIELDS, ids=str)
@pytest.mark.parametrize("value", list(DEEP.values()) + list(UNDECODABLE.values()),
                         ids=list(DEEP) + list(UNDECODABLE))
def test_json_fields_refuse_deep_nesting_nan_and_unstorable_text_beside_the_field(spec, value, world, sign_in_as):
    client, token = sign_in_as(spec)
    name = next(n for n, kind in spec.fields.items() if kind == JSON)
    before = snapshot()

    response = submit(client, token, spec.url(world), {**spec.form_data(), name: value}, htmx=spec.htmx)

    assert response.status_code == 422
    message = message_for(spec, response.get_data(as_text=True), name)
    assert any(word in message for word in ("deeper than", "NaN", "Infinity", "too large", "NUL", "surrogate")), \
        message
    assert snapshot() == before


def test_the_depth_bound_leaves_room_for_the_deepest_definition_segments_allow():
    from webapp.web.forms import MAX_JSON_DEPTH, decode_json_field

    condition = {"type": "total_spent", "operator": "between", "value": [1, 2]}
    definition: list = [condition]
    for _ in range(MAX_DEPTH - 1):
        definition = [{"match": "any", "conditions": definition}]

    assert decode_json_field(json.dumps(definition), "conditions") == definition
    with pytest.raises(ValidationFailed, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        decode_json_field("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "conditions")
    # Brackets inside strings are text, not nesting.
    assert decode_json_field(json.dumps(["[" * 100]), "conditions") == ["[" * 100]


def test_lone_surrogates_cannot_arrive_in_form_fields(owner_a, world):
    """Only a JSON escape makes a lone surrogate (refused above): werkzeug keeps the bytes of
    one percent-quoted in a urlencoded body and replaces them in a multipart one."""
    from webapp.extensions import db
    from webapp.models import Customer

    url = f"/customers/{world['customer_id']}/edit"
    fields = {"email": "ada@example.com", "email_status": "subscribed"}
    names = []
    for multipart in (False, True):
        data = {**fields, "first_name": "A\ud800da"}
        if multipart:  # the test client cannot encode the surrogate itself: send its bytes
            data = {**fields, "first_name": (b"", None), "csrf_token": owner_a.csrf()}
            response = owner_a.client.post(url, data=_multipart_with_raw_field(data, b"A\xed\xa0\x80da"),
                                           content_type=f"multipart/form-data; boundary={BOUNDARY}")
        else:
            response = submit(owner_a.client, owner_a.csrf(), url, data)
        assert response.status_code == 302
        db.session.expire_all()
        names.append(db.session.get(Customer, world["customer_id"]).first_name)

    assert names == ["A%ED%A0%80da", "A\ufffd\ufffd\ufffdda"]


BOUNDARY = "hostile-boundary"


def _multipart_with_raw_field(data: dict, raw: bytes) -> bytes:
    parts = []
    for name, value in data.items():
        body = raw if isinstance(value, tuple) else value.encode()
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + body)
    return b"\r\n".join(parts) + f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("path", [
    "/customers/?q=a%00b", "/customers/?tag=v%00ip", "/customers/{customer_id}?type=note%00",
    "/customers/{customer_id}/timeline?type=%00", "/campaigns/customers?preview_as=a%00b",
    "/campaigns/{campaign_id}/preview?preview_as=a%00b", "/segments/?cursor=%00",
    "/u/tok%00en", "/v/tok%00en",
])
def test_nul_in_an_address_is_a_400_not_a_database_error(owner_a, world, path):
    response = owner_a.get(path.format(**world))

    assert response.status_code == 400
    assert NUL in response.get_data(as_text=True)


def test_one_click_unsubscribe_with_a_nul_in_the_token_is_a_400(client):
    before = snapshot()

    response = client.post("/u/tok%00en")

    assert response.status_code == 400
    assert snapshot() == before


def test_an_out_of_range_segment_id_in_the_audience_box_is_no_segment(owner_a):
    for segment_id in ("9" * 30, "-" + "9" * 30, "0"):
        response = owner_a.get(f"/campaigns/audience?segment_id={segment_id}")

        assert response.status_code == 200
