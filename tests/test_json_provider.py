"""JSON responses written by pydantic-core (webapp/infra/json_provider.py) mean what Flask's
default provider's mean, for any JSON value and the extra types Flask knows; what the fast
serializer cannot write goes Flask's way."""

from __future__ import annotations

import dataclasses
import decimal
import json
import math
import uuid

import pydantic_core
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.infra.json_provider import FastJSONProvider

pytestmark = pytest.mark.no_database

APP = Flask(__name__)
FAST = FastJSONProvider(APP)
DEFAULT = DefaultJSONProvider(APP)


def _bodies(value) -> tuple[bytes, bytes]:
    with APP.app_context():
        return FAST.response(value).get_data(), DEFAULT.response(value).get_data()


@dataclasses.dataclass
class Point:
    x: int
    label: str


# Floats without NaN (NaN is unequal to itself); text with any character but lone surrogates.
scalars = (st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=False)
           | st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
           | st.decimals(allow_nan=False, allow_infinity=False, places=2)
           | st.uuids() | st.builds(Point, st.integers(), st.text(max_size=5)))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(values)
def test_a_body_means_what_flasks_default_body_means(value):
    fast, default = _bodies(value)
    assert json.loads(fast) == json.loads(default)


def test_keys_keep_their_order_and_text_is_utf8():
    fast, default = _bodies({"name": "Zoë", "id": 7})
    assert fast == '{"name":"Zoë","id":7}\n'.encode()
    assert default == b'{"id":7,"name":"Zo\\u00eb"}\n'  # Flask sorts and escapes


def test_decimals_and_uuids_are_strings_as_with_flask():
    key = uuid.UUID(int=5)
    fast, _ = _bodies({"amount": decimal.Decimal("12.50"), "key": key})
    assert json.loads(fast) == {"amount": "12.50", "key": str(key)}


def test_infinities_and_nan_are_written_as_flask_writes_them():
    fast, default = _bodies([math.inf, -math.inf, math.nan])
    assert fast == default == b"[Infinity,-Infinity,NaN]\n"


@given(st.text(min_size=1, max_size=3).map(lambda t: t + "\ud800"))
def test_a_lone_surrogate_goes_flasks_way(text):
    fast, default = _bodies({"text": text})
    assert fast == default
    assert b"\\ud800" in fast


def test_nesting_past_the_fast_serializers_limit_goes_flasks_way():
    deep: list = []
    for _ in range(600):
        deep = [deep]
    with pytest.raises(pydantic_core.PydanticSerializationError):
        pydantic_core.to_json(deep)
    fast, default = _bodies(deep)
    assert fast == default


def test_a_type_neither_knows_fails_as_with_flask():
    with APP.app_context(), pytest.raises(TypeError):
        FAST.response({"x": object()})


def test_debug_mode_pretty_prints_as_flask_does():
    app = Flask(__name__)
    app.debug = True
    with app.app_context():
        assert FastJSONProvider(app).response({"b": 1, "a": [1]}).get_data() == \
            DefaultJSONProvider(app).response({"b": 1, "a": [1]}).get_data()


def test_the_app_answers_with_it():
    from webapp import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    assert isinstance(app.json, FastJSONProvider)
