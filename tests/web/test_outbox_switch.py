"""The Outbox is a developer's tool: it exists while mail is kept locally (MAIL_URL=outbox).
When mail goes out over SMTP the navigation does not offer it and its pages answer 404,
messages kept earlier included."""

from __future__ import annotations

import pytest

from .test_campaign_pages import store_message

SMTP = "smtp://127.0.0.1:2525"


def nav_links(html: str) -> str:
    return html[html.index('<nav aria-label="Main">'):html.index("</nav>")]


def test_the_navigation_offers_the_outbox_while_mail_is_kept_locally(owner_a, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    nav = nav_links(owner_a.get("/dashboard").get_data(as_text=True))
    assert 'href="/outbox/"' in nav and ">Outbox</a>" in nav


def test_the_navigation_hides_the_outbox_when_mail_goes_out_over_smtp(owner_a, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", SMTP)
    html = owner_a.get("/dashboard").get_data(as_text=True)
    assert "/outbox/" not in html and "Outbox" not in nav_links(html)
    assert 'href="/campaigns/"' in nav_links(html)  # the rest of the navigation is all there


@pytest.mark.parametrize("mail_url", [SMTP, "smtps://user:pw@mail.example.com:465"])
def test_the_outbox_pages_answer_404_when_mail_goes_out(owner_a, tenant_a, app, monkeypatch, mail_url):
    message = store_message(tenant_a.id, subject="Kept before the switch")
    monkeypatch.setitem(app.config, "MAIL_URL", mail_url)

    for path in ("/outbox/", f"/outbox/{message.id}", "/outbox/?cursor=abc"):
        response = owner_a.get(path)
        assert response.status_code == 404, path
        assert "Kept before the switch" not in response.get_data(as_text=True)
        assert "Page not found" in response.get_data(as_text=True)


def test_the_outbox_pages_answer_while_mail_is_kept_locally(owner_a, tenant_a, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_URL", "outbox")
    message = store_message(tenant_a.id, subject="Kept here")
    assert "Kept here" in owner_a.get("/outbox/").get_data(as_text=True)
    assert owner_a.get(f"/outbox/{message.id}").status_code == 200
