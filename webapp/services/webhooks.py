"""Workflow webhooks: POST JSON to a marketer's URL without letting it reach inside our network.

https only; the host is resolved once, every address it resolves to must be public, and the
connection goes to that checked address (TLS still verifies the host name), so DNS
rebinding cannot swap in a private address between the check and the request. Hosts in
the tenant's allowlist skip the address check and may use plain http. Redirects are not
followed; connect and read time out after a few seconds.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from webapp.services.workflow_config import allowlisted_hosts

TIMEOUT_SECONDS = 5.0
USER_AGENT = "TicketingCRM-Webhook/1.0"


class WebhookRefused(Exception):
    """The URL may not be called (a rule, not a network problem): not retried."""


class WebhookFailed(Exception):
    """The call did not succeed (network, timeout, non-2xx): retried with backoff."""


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Most specific first: Python counts loopback and link-local as private too.
    for label, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                        ("multicast", address.is_multicast), ("unspecified", address.is_unspecified),
                        ("reserved", address.is_reserved), ("private", address.is_private)):
        if flag:
            return label
    if not address.is_global:
        return "non-public"
    return None


def resolve_checked(host: str, port: int, *, allowlisted: bool) -> str:
    """The address to connect to: every address the host resolves to must be public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookFailed(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise WebhookFailed(f"{host} has no address")
    if not allowlisted:
        for raw in addresses:
            reason = _forbidden(ipaddress.ip_address(raw.split("%")[0]))
            if reason:
                raise WebhookRefused(f"{host} resolves to a {reason} address ({raw}); add the host to the "
                                     "webhook allowlist in Settings if it is yours")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate checks for the real host name."""

    def __init__(self, host: str, address: str, port: int, **kwargs: Any):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, **kwargs: Any):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post_json(url: str, body: dict[str, Any], *, allowlist: str | None) -> str:
    """POST `body`; returns a short description of the answer, or raises WebhookRefused /
    WebhookFailed."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    allowlisted = host in allowlisted_hosts(allowlist)
    if parts.scheme == "http" and not allowlisted:
        raise WebhookRefused("plain http is allowed only for hosts in the webhook allowlist; use https")
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookRefused("the URL must be https://host/...")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_checked(host, port, allowlisted=allowlisted)
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, address, port, timeout=TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    data = json.dumps(body, default=str).encode()
    try:
        connection.request("POST", path, body=data, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, "Host": parts.netloc.split("@")[-1]})
        response = connection.getresponse()
        response.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        raise WebhookFailed(f"request failed: {exc}") from None
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return f"HTTP {response.status}"
    if 300 <= response.status < 400:
        raise WebhookFailed(f"HTTP {response.status}: redirects are not followed")
    raise WebhookFailed(f"HTTP {response.status} {response.reason}")
