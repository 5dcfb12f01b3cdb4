"""Page filters that turn numbers into words."""

from __future__ import annotations

import pytest

from webapp.web.filters import duration


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "under a minute"),
    (59.9, "under a minute"),
    (60, "about 1 minute"),
    (200, "about 3 minutes"),
    (3569, "about 59 minutes"),
    (3600, "about 1 hour"),
    (3660, "about 1 hour 1 minute"),
    (100_000 / 14, "about 1 hour 59 minutes"),
    (2 * 3600 + 30 * 60, "about 2 hours 30 minutes"),
])
def test_duration_reads_as_words(seconds, words):
    assert duration(seconds) == words
