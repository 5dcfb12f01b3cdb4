"""What a user agent says about where mail was read: the mail client (or webmail in a
browser) and the kind of device. One reading for the campaign report's shares and for the
timeline's sentences ("Opened ... on iPhone").

The parsing is ua-parser's (the uap-core regexes, updated monthly in ua-parser-builtins);
this module only names what it finds the way a marketer reads it, parsing each distinct
string once per process (LRU cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ua_parser import parse

# ua-parser's family -> the mail client a marketer knows. iOS Mail opens show as an in-app
# WebKit view (no "Safari/" token), which ua-parser calls "Mobile Safari UI/WKWebView".
CLIENT_BY_FAMILY = {
    "Apple Mail": "Apple Mail",
    "Mobile Safari UI/WKWebView": "Apple Mail",
    "GmailImageProxy": "Gmail",
    "Outlook": "Outlook",
    "Windows Live Mail": "Outlook",
    "YahooMailProxy": "Yahoo Mail",
    "Yahoo! Mail": "Yahoo Mail",
    "Thunderbird": "Thunderbird",
}
# A browser opening the pixel is someone reading in webmail (Gmail on the web, Outlook.com...).
BROWSER_FAMILIES = frozenset({
    "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium", "Firefox", "Firefox Mobile",
    "Firefox iOS", "Safari", "Mobile Safari", "Edge", "Edge Mobile", "Opera", "Opera Mobile", "Samsung Internet",
    "Brave", "Vivaldi", "Yandex Browser", "UC Browser", "DuckDuckGo Mobile", "IE", "IE Mobile",
})
WEBMAIL = "Webmail in a browser"
OTHER = "Other"
# Proxies fetch the image for the reader: the device behind them is not known.
PROXY_FAMILIES = frozenset({"GmailImageProxy", "YahooMailProxy"})
PHONE_SYSTEMS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "HarmonyOS"})
DESKTOP_SYSTEMS = frozenset({"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian",
                             "FreeBSD", "OpenBSD"})
DEVICES = ("Desktop", "Phone", "Tablet", "Unknown")


@dataclass(frozen=True)
class Agent:
    client: str
    device: str
    # What the words of a sentence read; not part of what the report counts.
    system: str = field(default="", compare=False)
    model: str = field(default="", compare=False)


@lru_cache(maxsize=4096)
def describe_agent(user_agent: str | None) -> Agent:
    """The mail client (or browser webmail) and the kind of device of one user agent."""
    if not user_agent:
        return Agent(OTHER, "Unknown")
    result = parse(user_agent)
    family = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    model = result.device.family if result.device else ""
    lowered = user_agent.lower()
    if "outlook" in lowered or "ms-office" in lowered:
        client = "Outlook"  # Outlook for Mac carries Apple Mail's WebKit tokens too
    elif family in CLIENT_BY_FAMILY:
        client = CLIENT_BY_FAMILY[family]
    elif family in BROWSER_FAMILIES:
        client = WEBMAIL
    else:
        client = OTHER
    return Agent(client, _device(family, system, model, lowered), system, model)


def _device(family: str, system: str, model: str, lowered: str) -> str:
    if family in PROXY_FAMILIES:
        return "Unknown"
    if model == "iPad" or "tablet" in lowered or (system == "Android" and "mobile" not in lowered):
        return "Tablet"
    if system in PHONE_SYSTEMS or model == "iPhone":
        return "Phone"
    if system in DESKTOP_SYSTEMS:
        return "Desktop"
    return "Unknown"


# The words a sentence ends with: a mail app by name, else the device or system it ran on.
_APP_WORDS = {"Gmail": "in Gmail", "Yahoo Mail": "in Yahoo Mail", "Outlook": "in Outlook",
              "Thunderbird": "in Thunderbird"}
_SYSTEM_WORDS = {"iOS": "on iPhone", "Android": "on Android", "Windows": "on Windows", "Mac OS X": "on a Mac",
                 "macOS": "on a Mac", "Chrome OS": "on a Chromebook", "Linux": "on Linux", "Ubuntu": "on Linux"}


def reading_place(user_agent: object) -> str | None:
    """ "on iPhone", "in Gmail": where an email was read, in words; None when we cannot tell."""
    if not isinstance(user_agent, str) or not user_agent.strip():
        return None
    agent = describe_agent(user_agent[:2000])
    if agent.client in _APP_WORDS:
        return _APP_WORDS[agent.client]
    if agent.model in ("iPhone", "iPad"):
        return f"on {agent.model}"
    return _SYSTEM_WORDS.get(agent.system)
