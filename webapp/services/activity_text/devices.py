"""Where an email was opened or clicked, in a word, from its user agent: "on iPhone",
"in Gmail". The raw string stays in the activity's details."""

from __future__ import annotations

# First match wins: proxies and apps before the platforms they run on.
_PLACES = (
    ("GoogleImageProxy", "in Gmail"),
    ("YahooMailProxy", "in Yahoo Mail"),
    ("Outlook", "in Outlook"),
    ("Thunderbird", "in Thunderbird"),
    ("iPhone", "on iPhone"),
    ("iPad", "on iPad"),
    ("Android", "on Android"),
    ("Windows", "on Windows"),
    ("Macintosh", "on a Mac"),
    ("CrOS", "on a Chromebook"),
    ("Linux", "on Linux"),
)


def device_words(user_agent: object) -> str | None:
    """ "on iPhone" for an iPhone's user agent; None when we cannot tell."""
    if not isinstance(user_agent, str):
        return None
    for marker, words in _PLACES:
        if marker in user_agent:
            return words
    return None
