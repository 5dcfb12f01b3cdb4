"""Every page links the favicon (SVG, with an .ico for browsers without SVG icons), and the
address browsers ask for on their own, /favicon.ico, is served: no 404 in the logs."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/u/not-a-token"])
def test_public_pages_link_the_favicon(client, path):
    html = client.get(path).get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/favicon.svg" type="image/svg\+xml">', html)
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in html


def test_signed_in_pages_link_the_favicon(owner_a):
    assert 'href="/static/favicon.svg"' in owner_a.get("/dashboard").get_data(as_text=True)


def test_favicon_ico_is_served_without_signing_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in {"image/vnd.microsoft.icon", "image/x-icon"}
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


def test_the_svg_favicon_is_served(client):
    response = client.get("/static/favicon.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data
