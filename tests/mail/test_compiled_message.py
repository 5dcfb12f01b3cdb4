"""A campaign's HTML compiled once (CSS inlined, footer, preheader and pixel in place) gives
every recipient the message the per-recipient path gives them; a template that cannot be
compiled safely is left to that path."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.bench_send import HTML as BENCH_HTML
from tests.mail.mail_support import assert_same_message, html_tree
from webapp.mail.compose import Envelope, Personal, compile_message, compose_many
from webapp.mail.design import compile_design, validate_design
from webapp.mail.templating import RenderFailed
from webapp.mail.tracking import Tracker

pytestmark = pytest.mark.no_database

TOKEN = "0123456789abcdef" * 2
POSTAL = 'Riverside Arena & Co, 1 "Stage" Door, Leeds'

STYLED_FRAGMENT = """<style>p { color: #333; margin: 0 0 8px } a { color: #e8453c } .muted { font-size: 12px }
li.tag b { font-weight: bold } ul > li { padding: 2px }</style>
<p>Hi {{ customer.first_name | default("there", true) }},</p>
<p class="muted">{{ customer.attributes.city }} &middot; {{ customer.orders_count }} orders</p>
{% if customer.orders_count > 2 %}<p>Thanks for coming back!</p>{% elif customer.orders_count %}<p>Welcome
back.</p>{% else %}<p>First time?</p>{% endif %}
<ul>{% for tag in customer.tags %}<li class="tag"><b>{{ tag | upper }}</b></li>{% else %}<li>none</li>{% endfor %}</ul>
<p><a href="https://venue.example/e/{{ customer.attributes.slug | default('x') }}?a=1&amp;b=2">Tickets</a>
<a href="mailto:box@venue.example">Write</a> <a data-notrack href="https://venue.example/plain">plain</a></p>
"""

DOCUMENT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ customer.first_name }}'s news</title>
<style>
  body { background: #fafafa } .wrap { max-width: 600px } h1 { font-size: 22px }
  .wrap td { padding: 4px } img { border: 0 } a:hover { color: red }
  @media (max-width: 480px) { .wrap { width: 100% !important } }
</style></head>
<body class="mail" style="margin:0">
<div class="wrap">
  <h1>{{ customer.first_name ~ " " ~ customer.last_name }}</h1>
  {% set spent = customer.total_spent | round(2) %}
  <table role="presentation"><tr><td>Spent</td><td>{{ spent }}</td></tr>
  <tr><td colspan="2">{% if "vip" in customer.tags %}<b>VIP</b>{% endif %}</td></tr></table>
  <img alt="{{ customer.first_name }}" src="https://cdn.venue.example/{{ customer.attributes.city | lower }}.png">
  <p><a href="{{ view_in_browser_url }}">View in browser</a>
     <a href="https://venue.example/account?who={{ customer.email }}">Account</a></p>
  <p>Pay &pound;{{ "%.2f" | format(customer.total_spent) }} {{ customer.attributes.note }}</p>
</div>
</BODY>
</html>
"""

PLACES_UNSUBSCRIBE = """<style>.foot a { color: #999 }</style><p>Hello {{ customer.first_name }}</p>
<div class="foot"><a href="{{ unsubscribe_url }}">Leave this list</a></div>"""

COMPILABLE = {"bench": BENCH_HTML, "fragment": STYLED_FRAGMENT, "document": DOCUMENT,
              "places unsubscribe": PLACES_UNSUBSCRIBE, "no stylesheet": "<p>Hi {{ customer.first_name }}</p>"}


def _customer(**overrides) -> dict:
    customer = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "tags": ["vip", "jazz"],
                "attributes": {"city": "Leeds", "slug": "summer", "note": "see you"}, "total_spent": 127.5,
                "orders_count": 3}
    return {**customer, **overrides}


def _person(customer: dict, *, token: str = TOKEN) -> Personal:
    context = {"customer": customer, "tenant": {"name": "Riverside", "postal_address": POSTAL},
               "view_in_browser_url": f"https://crm.example.com/v/{token}", "events": {}}
    envelope = Envelope(from_name="Riverside Arena", from_email="news@arena.example.com", reply_to=None,
                        to=customer["email"], unsubscribe_url=f"https://crm.example.com/u/{token}",
                        list_id="Riverside <riverside.list-id.crm.example.com>", feedback_id="1:campaign:1:crm",
                        message_token=token)
    tracker = Tracker("secret", "https://crm.example.com", token, {"utm_source": "crm", "utm_medium": None},
                      lambda urls: {url: 100 + i for i, url in enumerate(urls)})
    return Personal(context, envelope, tracker)


def _source(html: str, **overrides) -> dict:
    return {"subject": "{{ customer.first_name | default('Friend', true) }}, your line-up", "html": html,
            "text": None, "preheader": "Early birds in {{ customer.attributes.city }}", "postal_address": POSTAL,
            **overrides}


def _both(source: dict, customers: list[dict]) -> tuple[list, list]:
    compiled = compile_message(**source)
    assert compiled is not None
    return (compose_many([_person(c) for c in customers], compiled=compiled, **source),
            compose_many([_person(c) for c in customers], **source))


@pytest.mark.parametrize("name", list(COMPILABLE))
@pytest.mark.parametrize("preheader", [None, "Early birds in {{ customer.attributes.city }}"])
def test_compiled_message_is_the_per_recipient_message(name, preheader):
    customers = [_customer(), _customer(first_name=None, tags=[], orders_count=0, attributes={}),
                 _customer(first_name="Chloé 🎫", orders_count=1, tags=["a", "b", "c"])]
    ours, theirs = _both(_source(COMPILABLE[name], preheader=preheader), customers)
    for compiled, reference in zip(ours, theirs, strict=True):
        assert_same_message(compiled, reference)


def test_the_compiled_message_is_inlined_and_tracked():
    compiled = compile_message(**_source(STYLED_FRAGMENT))
    [message] = compose_many([_person(_customer())], compiled=compiled, **_source(STYLED_FRAGMENT))
    assert "<style" not in message.html
    assert '<p class="muted" style="' in message.html and "font-size: 12px" in message.html
    assert "/api/crm/track/open/" in message.html and "/api/crm/track/click/" in message.html
    assert "https://venue.example/plain" in message.html and "mailto:box@venue.example" in message.html


def test_text_part_subject_and_non_ascii_headers_match():
    source = _source(DOCUMENT, subject="Chloé, 🎉 {{ customer.first_name }} — your summer line-up " * 3,
                     text="Hi {{ customer.first_name }}\nUnsubscribe: {{ unsubscribe_url }}")
    ours, theirs = _both(source, [_customer(first_name="Zoë 🎶")])
    assert_same_message(ours[0], theirs[0])
    assert ours[0].text.startswith("Hi Zoë 🎶")


_HOSTILE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from([
    "<script>alert(1)</script>", 'x" onmouseover="alert(1)', "O'Brien & Sons", "a\r\nBcc: evil@example.com",
    "&amp; &copy &#39; &", "\x00NUL", "</body><body>", "{{ 7 * 7 }}", "\ue000" + "0\ue001", "a\rb\x0cc\x85d"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_HOSTILE, last=_HOSTILE, city=_HOSTILE, slug=_HOSTILE, note=_HOSTILE,
       tags=st.lists(_HOSTILE, max_size=3), name=st.sampled_from(list(COMPILABLE)))
def test_hostile_names_and_attributes_give_the_same_message(first, last, city, slug, note, tags, name):
    customer = _customer(first_name=first, last_name=last, tags=tags,
                         attributes={"city": city, "slug": slug, "note": note})
    ours, theirs = _both(_source(COMPILABLE[name]), [customer])
    if isinstance(theirs[0], RenderFailed):
        assert isinstance(ours[0], RenderFailed) and str(ours[0]) == str(theirs[0])
    else:
        assert_same_message(ours[0], theirs[0])


NOT_COMPILABLE = {
    "sibling selector": "<style>p + p { color: red }</style><p>a</p>{% if x %}<p>{{ x }}</p>{% endif %}",
    "position selector": "<style>li:first-child { color: red }</style><ul>{% for t in customer.tags %}"
                         "<li>{{ t }}</li>{% endfor %}</ul>",
    "class from data": "<style>.vip { color: red }</style><p class=\"{{ customer.tags[0] }}\">Hi</p>",
    "attribute a selector reads": "<style>a[href^=\"https\"] { color: red }</style>"
                                  "<a href=\"{{ customer.attributes.url }}\">x</a>",
    "jinja in style": "<style>p { color: {{ customer.attributes.colour }} }</style><p>Hi</p>",
    "jinja in a tag": "<style>p { color: red }</style><p {% if customer.tags %}title=\"t\"{% endif %}>Hi</p>",
    "unbalanced block": "<style>.vip p { color: red }</style>{% if customer.tags %}<div class=\"vip\">{% endif %}"
                        "<p>Hi</p>{% if customer.tags %}</div>{% endif %}",
    "row loop in a table": "<style>td { color: red }</style><table>{% for t in customer.tags %}<tr><td>{{ t }}"
                           "</td></tr>{% endfor %}</table>",
    "safe": "<style>b { color: red }</style><p>{{ customer.attributes.note | safe }}</p>",
    "macro": "<style>b { color: red }</style>{% macro m(x) %}<b>{{ x }}</b>{% endmacro %}{{ m(customer.email) }}",
    "two bodies": "<style>b { color: red }</style><body><b>a</b></body>{% if x %}<body>{% endif %}",
    "split entity": "<style>b { color: red }</style><p>Tom &{{ customer.attributes.note }}</p>",
    "block inside an attribute": "<style>b { color: red }</style><p><a href=\"{% if customer.tags %}https://a"
                                 ".example/\">A{% endif %}</a></p>",
    "textarea": "<style>b { color: red }</style><textarea>{{ customer.first_name }}</textarea>",
    # html5ever makes the rest an attribute; the per-recipient path tracks an <a href= in it.
    "unclosed quote before a link": '<img alt="<a href="https://x.example/',
}


@pytest.mark.parametrize("name", list(NOT_COMPILABLE))
def test_a_template_that_cannot_be_compiled_safely_takes_the_per_recipient_path(name):
    source = _source(NOT_COMPILABLE[name])
    assert compile_message(**source) is None
    [message] = compose_many([_person(_customer())], compiled=None, **source)
    assert not isinstance(message, RenderFailed)


def test_a_design_is_left_to_the_per_recipient_path_its_media_queries_need_style():
    html = compile_design(validate_design({"version": 1, "blocks": [
        {"type": "heading", "text": "Hi {{ customer.first_name }}"}, {"type": "footer"}]}))
    assert compile_message(**_source(html), inline_css=False) is None


def test_a_recipient_the_compiled_template_fails_for_gets_the_per_recipient_reason():
    source = _source("<style>p { color: red }</style><p>{{ customer.orders_count // customer.attributes.zero }}</p>")
    ours, theirs = _both(source, [_customer(attributes={"zero": 0})])
    assert isinstance(ours[0], RenderFailed) and str(ours[0]) == str(theirs[0])


def test_preview_without_tracking_is_not_compiled():
    source = _source(STYLED_FRAGMENT)
    person = _person(_customer())
    person.instrument = None
    [ours] = compose_many([person], compiled=compile_message(**source), **source)
    [theirs] = compose_many([_person(_customer())], **source)
    assert "/api/crm/track/" not in ours.html
    assert html_tree(ours.html) != html_tree(theirs.html)  # the reference is tracked


# --- any template the analysis accepts: random markup, values, branches and loops ---------

_STYLESHEETS = ["", "<style>p { color: red } .card b { font-weight: bold } td { padding: 1px } a { color: blue }"
                "</style>", "<style>div > p { margin: 0 } li b, ul li { color: #333 } img { border: 0 }</style>"]
_LEAVES = st.sampled_from([
    "<p>", "</p>", '<div class="card">', "</div>", "<b>", "</b>", "<table><tr><td>", "</td></tr></table>",
    "<tr>", "</tr>", "<td>", "</td>", "<ul>", "</ul>", "<li>", "</li>", '<a href="https://x.example/', '">',
    "</a>", "<br>", '<img alt="', '" src="https://x.example/i.png">', "Hi ", " &amp; ", "&", "text\n", " ",
    "<!-- note -->", "{{ customer.first_name }}", "{{ customer.attributes.city | upper }}", "{{ t }}",
    "<p>{{ customer.last_name }}</p>", '<a href="https://x.example/{{ customer.attributes.city }}">go</a>'])


def _blocks(inner):
    body = st.lists(inner, max_size=4).map("".join)
    return st.one_of(
        body,
        st.tuples(body, body).map(lambda b: "{% if customer.tags %}" + b[0] + "{% else %}" + b[1] + "{% endif %}"),
        body.map(lambda b: "{% for t in customer.tags %}" + b + "{% endfor %}"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(style=st.sampled_from(_STYLESHEETS), body=st.recursive(_LEAVES, _blocks, max_leaves=12),
       document=st.booleans())
def test_any_template_the_analysis_compiles_gives_the_per_recipient_message(style, body, document):
    html = f"<html><head>{style}</head><body>{body}</body></html>" if document else style + body
    source = _source(html)
    compiled = compile_message(**source)
    customers = [_customer(), _customer(tags=[], first_name="<i>Bo</i>", attributes={"city": "A&B"}),
                 _customer(tags=["x", "y"])]
    ours = compose_many([_person(c) for c in customers], compiled=compiled, **source)
    theirs = compose_many([_person(c) for c in customers], **source)
    for compiled_message, reference in zip(ours, theirs, strict=True):
        if isinstance(reference, RenderFailed):
            assert isinstance(compiled_message, RenderFailed)
        else:
            assert_same_message(compiled_message, reference)
