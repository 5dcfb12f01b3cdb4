"""The message builder writes MIME by hand; the standard library's parser is the judge.
The plain-text extractor is a single regular-expression pass; its edge cases are here."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from webapp.mail.compose import Envelope, build_message, html_to_text
from webapp.mail.templating import RenderFailed


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
