"""Markup every page must get right: unique ids, labels that point at their control, no
stray "None" where a value is missing."""

from __future__ import annotations

import re
from collections import Counter

import pytest


@pytest.fixture
def pages(owner_a, world_a):
    customer = world_a["customer_id"]
    paths = ["/dashboard", "/customers/", f"/customers/{customer}", f"/customers/{customer}/edit", "/settings/"]
    return {path: owner_a.get(path).get_data(as_text=True) for path in paths}


def test_ids_are_unique_on_every_page(pages, client):
    pages["/login"] = client.get("/login").get_data(as_text=True)
    for path, html in pages.items():
        duplicates = [i for i, n in Counter(re.findall(r'\sid="([^"]+)"', html)).items() if n > 1]
        assert duplicates == [], f"{path}: duplicate ids {duplicates}"


def test_every_label_points_at_a_control(pages, client):
    pages["/login"] = client.get("/login").get_data(as_text=True)
    for path, html in pages.items():
        ids = set(re.findall(r'\sid="([^"]+)"', html))
        for target in re.findall(r'<label for="([^"]+)"', html):
            assert target in ids, f"{path}: label for missing #{target}"


def test_no_page_prints_none(pages, client):
    pages["/login"] = client.get("/login").get_data(as_text=True)
    for path, html in pages.items():
        assert '="None"' not in html and ">None<" not in html, path
