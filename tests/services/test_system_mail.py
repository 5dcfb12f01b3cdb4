"""Invitations and reset links come from MAIL_SYSTEM_FROM, by default no-reply@ the public host."""

from __future__ import annotations

import pytest

from webapp.config import system_sender
from webapp.services import system_mail


@pytest.mark.parametrize(("base_url", "sender"), [
    ("https://crm.cityarena.example", "no-reply@crm.cityarena.example"),
    ("http://crm.test:8000/", "no-reply@crm.test"),
    ("http://127.0.0.1:5000", "no-reply@localhost"),
    ("http://localhost:5000", "no-reply@localhost"),
    ("", "no-reply@localhost"),
])
def test_the_default_system_sender_is_no_reply_at_the_public_host(base_url, sender):
    assert system_sender(base_url) == sender


def test_system_mail_is_text_and_html_from_the_system_sender(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SYSTEM_FROM", "team@mail.cityarena.example")
    with app.test_request_context():
        message = system_mail.compose("ada@example.com", "Hello\r\nBcc: eve@example.com <b>", ["Dear <Ada> & co"],
                                      "https://crm.test/invite/abc", "Open")

    assert message["From"] == "Ticketing CRM <team@mail.cityarena.example>"
    assert message["Subject"] == "Hello Bcc: eve@example.com <b>" and message["Bcc"] is None
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Dear &lt;Ada&gt; &amp; co" in html and "Dear <Ada> & co" in text
    assert "https://crm.test/invite/abc" in text and 'href="https://crm.test/invite/abc"' in html
