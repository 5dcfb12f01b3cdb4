"""Is an open or click a person or a machine? Rules that need only the hit itself.

The batch-level rule (every link of a message clicked within one second) lives in the
writer (services/tracking.py), which sees a recipient's clicks together.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

# Apple Mail Privacy Protection fetches images through Apple's proxy, which announces
# itself only as "Mozilla/5.0" and comes from Apple's 17.0.0.0/8 network.
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)
APPLE_PROXY_USER_AGENTS = frozenset({"mozilla/5.0"})

# Link and attachment scanners of mail gateways, and generic HTTP clients and bots.
SCANNER_MARKERS = (
    "barracuda", "mimecast", "proofpoint", "symantec", "messagelabs", "trendmicro", "trend micro",
    "forcepoint", "zscaler", "ironport", "cisco", "fireeye", "sophos", "safelinks", "microsoft office protection",
    "bitdefender", "kaspersky", "fortinet", "fortiguard", "checkpoint", "avanan", "urlscan", "headlesschrome",
    "phantomjs", "python-requests", "python-urllib", "aiohttp", "httpx", "curl/", "wget/", "go-http-client",
    "java/", "okhttp", "libwww-perl", "bot", "crawler", "spider", "slurp", "facebookexternalhit",
)

REASONS = {
    "apple_mpp": "Apple Mail Privacy Protection proxy",
    "google_image_proxy": "Google image proxy",
    "security_scanner": "security scanner or bot user agent",
    "no_user_agent": "no user agent",
    "head_request": "HEAD request",
    "click_soon_after_delivery": "clicked within seconds of delivery",
    "all_links_same_second": "every link clicked within the same second",
}


def _in_networks(ip: str | None, networks) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


def machine_reason(*, kind: str, method: str, user_agent: str | None, ip: str | None, at: datetime,
                   sent_at: datetime | None, click_window_seconds: float) -> str | None:
    """The reason this hit is a machine's (a key of REASONS), or None for a person."""
    if method.upper() == "HEAD":
        return "head_request"
    agent = (user_agent or "").strip()
    lowered = agent.lower()
    if kind == "open" and (lowered in APPLE_PROXY_USER_AGENTS or _in_networks(ip, APPLE_NETWORKS)):
        return "apple_mpp"
    if "googleimageproxy" in lowered or "ggpht.com" in lowered:
        return "google_image_proxy"
    if not agent:
        return "no_user_agent"
    if any(marker in lowered for marker in SCANNER_MARKERS):
        return "security_scanner"
    if kind == "click" and sent_at is not None and abs((at - sent_at).total_seconds()) < click_window_seconds:
        return "click_soon_after_delivery"
    return None
