"""The message builder writes MIME by hand; the standard library's parser is the judge.
The plain-text extractor is a single regular-expression pass; its edge cases are here."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from html import unescape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.mail import plain_text
from webapp.mail.compose import Envelope, Personal, build_message, compose, compose_many, html_to_text
from webapp.mail.templating import RenderFailed

pytestmark = pytest.mark.no_database


def _envelope(**overrides) -> Envelope:
    values = {"from_name": "Riverside Arena", "from_email": "news@arena.example.com", "reply_to": None,
              "to": "ada@example.com", "unsubscribe_url": "https://crm.example.com/u/" + "f" * 32}
    return Envelope(**{**values, **overrides})


def _parse(raw: bytes):
    message = message_from_bytes(raw, policy=policy.default)
    assert not message.defects and all(not part.defects for part in message.walk())
    return message


def _unix(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_headers_are_exactly_the_intended_ones():
    raw, message_id = build_message(
        _envelope(reply_to="box@arena.example.com", unsubscribe_mailto="unsub@arena.example.com"),
        "Your tickets", "Hello\n", "<p>Hello</p>")
    message = _parse(raw.as_bytes())
    assert list(message.keys()) == ["From", "To", "Subject", "Date", "Message-ID", "Reply-To", "List-Unsubscribe",
                                    "List-Unsubscribe-Post", "MIME-Version", "Content-Type"]
    assert message["From"] == "Riverside Arena <news@arena.example.com>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Your tickets"
    assert message["Message-ID"] == message_id and message_id.endswith("@arena.example.com>")
    assert message["Reply-To"] == "box@arena.example.com"
    assert message["List-Unsubscribe"] == (f"<https://crm.example.com/u/{'f' * 32}>, "
                                           "<mailto:unsub@arena.example.com?subject=unsubscribe>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def test_non_ascii_names_and_long_subjects_are_encoded_and_decode_back():
    subject = "Chloé, 🎉 your summer line-up at the Riverside Arena is here — with early-bird prices " * 2
    name = 'Chloé Ärena – "Tickets" & Co'
    raw, _ = build_message(_envelope(from_name=name), subject.strip(), "x\n", "<p>x</p>")
    message = _parse(raw.as_bytes())
    assert message["Subject"] == subject.strip()
    assert message["From"].addresses[0].display_name == name
    assert message["From"].addresses[0].addr_spec == "news@arena.example.com"
    # Every line within the limits; line breaks are CRLF only.
    lines = raw.as_bytes().split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"\n" not in raw.as_bytes().replace(b"\r\n", b"")
    assert raw.as_bytes().isascii()


def test_bodies_round_trip_through_quoted_printable():
    text = ("Line one\n.a line starting with a dot\nFrom the start\n" + "x" * 300 + "\n"
            "trailing space \ntrailing tab\t\nequals = and =3D and =_\nünïcode ✓ 🎫\n")
    html = '<p style="color:red">' + "y" * 500 + "</p>\r\n<p>=_ not a boundary</p>\r\n"
    raw, _ = build_message(_envelope(), "Subject", text, html)
    message = _parse(raw.as_bytes())
    assert _unix(message.get_body(("plain",)).get_content()) == text
    assert _unix(message.get_body(("html",)).get_content()) == _unix(html)
    body_lines = raw.as_bytes().split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert max(len(line) for line in body_lines) <= 78


@pytest.mark.parametrize("field", ["to", "from_email", "reply_to"])
def test_a_line_break_in_a_header_value_is_refused(field):
    with pytest.raises(RenderFailed, match="span lines"):
        build_message(_envelope(**{field: "a@example.com\r\nBcc: victim@example.com"}), "S", "t", "<p>h</p>")


def test_a_line_break_in_the_subject_is_refused():
    with pytest.raises(RenderFailed):
        build_message(_envelope(), "Hello\nBcc: victim@example.com", "t", "<p>h</p>")


@pytest.mark.parametrize(("html", "text"), [
    ("<p>a &amp; b<br>c</p>", "a & b\nc\n"),
    ('<p>Go <a href="https://x.example.com/?a=1&amp;b=2">here</a> now</p>',
     "Go here (https://x.example.com/?a=1&b=2) now\n"),
    ("<a href='#top'>top</a> <a href=\"mailto:a@example.com\">mail</a> <A HREF=HTTP://X.EXAMPLE.COM>Up</A>",
     "top mail Up (HTTP://X.EXAMPLE.COM)\n"),
    ("<head><title>T</title><style>p { color: red } a > b {}</style></head><body><h1>Hi</h1></body>", "Hi\n"),
    ("<p>before</p><script>if (a<b && c>d) {}</script><p>after</p>", "before\n\nafter\n"),
    ("<p title='1 > 0'>kept</p><!-- a comment <p>hidden</p> -->tail", "kept\ntail\n"),
    ("<ul><li>one<li>two</ul>", "one\ntwo\n"),
    ("<meta content='([^']+)'><p>odd quotes</p>", "odd quotes\n"),
    ("plain words only", "plain words only\n"),
    ("<div><p>unclosed <b>bold", "unclosed bold\n"),
])
def test_plain_text_alternative(html, text):
    assert html_to_text(html) == text


# --- what is remembered between messages is keyed by everything it depends on -----------

def test_a_changed_sender_name_or_subject_shows_in_the_next_message():
    first = _parse(build_message(_envelope(from_name="Riverside Arena"), "Chloé, hello", "x\n", "<p>x</p>")[0]
                   .as_bytes())
    second = _parse(build_message(_envelope(from_name="Riverside Ärena"), "Zoë, hello", "x\n", "<p>x</p>")[0]
                    .as_bytes())
    assert first["From"].addresses[0].display_name == "Riverside Arena" and first["Subject"] == "Chloé, hello"
    assert second["From"].addresses[0].display_name == "Riverside Ärena" and second["Subject"] == "Zoë, hello"


def test_the_memo_of_tag_names_stays_bounded():
    html = "".join(f"<x{i}>w{i} " for i in range(3000)) + "<P>end</P>"
    assert html_to_text(html).endswith("end\n")
    assert plain_text._tag_kind.cache_info().currsize <= 1000


# --- several recipients composed together ------------------------------------------------

_TEMPLATE = {"subject": "Hi {{ customer.first_name | default('there') }}",
             "html": "<html><head><style>p { color: red }</style></head><body><p>Hi {{ customer.first_name }},"
                     " one in {{ 10 // customer.orders_count }}</p><a href='https://x.example.com/'>Go</a>"
                     "</body></html>",
             "text": None, "preheader": "For {{ customer.first_name }}", "postal_address": "1 Road, Leeds"}


def _person(name: str, orders: int) -> Personal:
    context = {"customer": {"first_name": name, "orders_count": orders}}
    return Personal(context, _envelope(to=f"{name.lower()}@example.com"), lambda html: html.replace("Go", "Went"))


def test_composing_together_gives_each_recipient_what_composing_alone_gives():
    people = [_person("Ada", 2), _person("Bo", 0), _person("Cy", 5)]

    together = compose_many(people, **_TEMPLATE)

    for person, result in zip(people, together, strict=True):
        try:
            alone = compose(context=person.context, envelope=person.envelope, instrument=person.instrument,
                            **_TEMPLATE)
        except RenderFailed as exc:
            assert isinstance(result, RenderFailed) and str(result) == str(exc)
            continue
        assert (result.subject, result.html, result.text) == (alone.subject, alone.html, alone.text)
        message = _parse(result.message.as_bytes())
        assert message["To"] == person.envelope.to and message["Message-ID"] == result.message_id
    # Bo's message cannot be made (a division by zero); Ada's and Cy's are unaffected.
    assert [type(result).__name__ for result in together] == ["Composed", "RenderFailed", "Composed"]
    assert "division" in str(together[1]) and "Went" in together[2].html and "color: red" in together[2].html


# --- the plain text agrees with the tag-by-tag walk it replaced ---------------------------

_REFERENCE_MARKUP = re.compile(
    r"""<(/?)([a-zA-Z][a-zA-Z0-9:-]*)((?:[^>"']|"[^"]*"|'[^']*'|["'])*)>|<!--.*?(?:-->|$)|<![^>]*>""", re.DOTALL)
_REFERENCE_RAW_END = {"script": re.compile(r"</script\s*>", re.IGNORECASE),
                      "style": re.compile(r"</style\s*>", re.IGNORECASE)}
_REFERENCE_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
_HIDDEN = {"style", "script", "head", "title"}


def _reference_html_to_text(html: str) -> str:
    """html_to_text as it was first written: a search per tag, a second search past the
    raw text of script and style, blanks collapsed before lines are stripped."""
    parts, links, hidden, position = [], [], 0, 0
    while (match := _REFERENCE_MARKUP.search(html, position)) is not None:
        if not hidden and match.start() > position:
            parts.append(unescape(html[position:match.start()]))
        position = match.end()
        if match.group(2) is None:
            continue
        tag = match.group(2).lower()
        if not match.group(1) and tag in _REFERENCE_RAW_END:
            end = _REFERENCE_RAW_END[tag].search(html, position)
            position = end.end() if end else len(html)
            continue
        if match.group(1):
            if tag in _HIDDEN:
                hidden = max(0, hidden - 1)
            elif tag == "a" and links:
                href = links.pop()
                if href and not href.startswith(("#", "mailto:")):
                    parts.append(f" ({href})")
            elif tag in _BLOCKS:
                parts.append("\n")
            continue
        if tag in _HIDDEN:
            hidden += 1
        elif tag in _BLOCKS:
            parts.append("\n")
        if tag == "a":
            href = _REFERENCE_HREF.search(match.group(3))
            links.append(unescape(next(g for g in href.groups() if g is not None)) if href else "")
    if not hidden and position < len(html):
        parts.append(unescape(html[position:]))
    out: list[str] = []
    for line in (line.strip() for line in re.sub(r"[ \t]+", " ", "".join(parts)).splitlines()):
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


_PIECES = st.sampled_from([
    "<p>", "</p>", "<P >", "<div class='x>y'>", "</div>", "<br/>", "<br>", "<TABLE>", "</TR>", "<li\tclass=a>",
    "<h1\n>", "</ul\n>", "<b>", "</b>", "<img src=x>", "<x-y:z>", "</>", "<1>", "<a>", "<a name=x>",
    '<a href="http://x.example.com/?a=1&amp;b=2">', "<a href='#top'>", "<A HREF=mailto:x@example.com>",
    '<a href="">', '<a href="&#35;x">', "<a href=&amp;x>", "<a data-href=1 href='h'>", "</a>", "</A >",
    "<style>", "</style>", "<STYLE type=x>", "</Style >", "<style\n>", "</styl>", "<script>", "</script>",
    '<SCRIPT type="a>b">', "</script >", "</SCRIPT\n>", "<scripts>", "<style:x>", "<head>", "</head>",
    "<title>", "</title>", '<p title="<style>">', "<!-- c -->", "<!--", "-->", "<!---->", "<!-- <style> -->",
    "-", "--", "--->", "->", "<!--[if mso]>", "<![endif]-->", '<td style="a:b;c:d">',
    '<p title="x>y" class=\'z\'', "<div a=1 b='2' c=\"3\"",
    "<!doctype html>", "<!x", "&amp;", "&nbsp;", "&lt;", "&am", "p;", "&#39;", "&quot;", "&#x26;", "&ampx", "&",
    "text", "a b", "  lots   of   space  ", " ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0",
    "\u2028", "<", ">", '"', "'", "x\"y", "$",
]) | st.text(max_size=5)


@given(st.lists(_PIECES, max_size=30).map("".join))
@settings(max_examples=1000, deadline=None)
def test_plain_text_agrees_with_the_tag_by_tag_walk_it_replaced(html):
    assert html_to_text(html) == _reference_html_to_text(html)
