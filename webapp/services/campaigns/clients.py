"""Mail clients and devices of a campaign's opens and clicks, read from the hits' user agents.

The parsing is ua-parser's (the uap-core regexes, updated monthly in ua-parser-builtins);
this module only names what it finds the way a marketer reads it. Each distinct user agent
of a report is fetched once (GROUP BY in SQL) and parsed once per process (LRU cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select
from ua_parser import parse

from webapp.extensions import db
from webapp.models import CampaignRecipient, TrackingHit

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
    return Agent(client, _device(family, system, model, lowered))


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


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    total: int

    @property
    def percent(self) -> float:
        return 100 * self.count / self.total if self.total else 0.0


def _shares(counts: dict[str, int], order: tuple[str, ...] = ()) -> list[Share]:
    """Largest first ("Other" and "Unknown" last); empty when nothing was counted."""
    total = sum(counts.values())
    rank = {label: i for i, label in enumerate(order)}
    tail = (OTHER, "Unknown")
    items = sorted(((label, n) for label, n in counts.items() if n),
                   key=lambda item: (item[0] in tail, -item[1], rank.get(item[0], 0), item[0]))
    return [Share(label, n, total) for label, n in items]


def clients_and_devices(tenant_id: int, campaign_id: int, *, people_only: bool = True) -> dict[str, list[Share]]:
    """Mail clients of the campaign's opens, and devices of its opens and of its clicks, as
    shares of the hits (people's only unless `people_only` is False). One grouped query:
    recipients by campaign (indexed), their hits by recipient (indexed)."""
    stmt = (select(TrackingHit.user_agent, TrackingHit.kind, func.count())
            .select_from(CampaignRecipient).join(TrackingHit, TrackingHit.recipient_id == CampaignRecipient.id)
            .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.tenant_id == tenant_id)
            .group_by(TrackingHit.user_agent, TrackingHit.kind))
    if people_only:
        stmt = stmt.where(TrackingHit.is_machine.is_(False))
    clients: dict[str, int] = {}
    devices: dict[str, dict[str, int]] = {"open": {}, "click": {}}
    for user_agent, kind, count in db.session.execute(stmt):
        agent = describe_agent(user_agent)
        if kind == "open":
            clients[agent.client] = clients.get(agent.client, 0) + count
        bucket = devices.setdefault(kind, {})
        bucket[agent.device] = bucket.get(agent.device, 0) + count
    return {"clients": _shares(clients), "open_devices": _shares(devices["open"], DEVICES),
            "click_devices": _shares(devices["click"], DEVICES)}
