"""Workflow webhooks: POST JSON to a marketer's URL without letting it reach inside our network.

https only; the host is resolved once, every address it resolves to must be public, and the
connection goes to that checked address (TLS still verifies the host name), so DNS
rebinding cannot swap in a private address between the check and the request. Two lists
loosen this, each only so far:
- the operator's WEBHOOK_PRIVATE_HOSTS (host names and networks, an environment setting)
  opens private, loopback and link-local addresses, over plain http too: only whoever runs
  the service decides what inside its network webhooks may reach;
- a tenant's webhook allowlist (Settings) lets public hosts be called over plain http and
  nothing more, so in a shared deployment no tenant reaches cloud metadata, our internal
  services or another tenant's.
Redirects are not followed; connect and read time out after a few seconds.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

TIMEOUT_SECONDS = 5.0
USER_AGENT = "TicketingCRM-Webhook/1.0"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebhookRefused(Exception):
    """The URL may not be called (a rule, not a network problem): not retried."""


class WebhookFailed(Exception):
    """The call did not succeed (network, timeout, non-2xx): retried with backoff."""


def _plain(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def non_public_reason(address: IPAddress) -> str | None:
    """What kind of non-public address this is ("loopback", "private", ...), None if public."""
    address = _plain(address)
    # Most specific first: Python counts loopback and link-local as private too.
    for label, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                        ("multicast", address.is_multicast), ("unspecified", address.is_unspecified),
                        ("reserved", address.is_reserved), ("private", address.is_private)):
        if flag:
            return label
    if not address.is_global:
        return "non-public"
    return None


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def allowlisted_hosts(raw: str | None) -> set[str]:
    """The host names of a tenant's webhook allowlist (one per line)."""
    return {line.strip().lower().rstrip(".") for line in (raw or "").splitlines() if line.strip()}


@functools.lru_cache(maxsize=8)
def _operator_rules(entries: tuple[str, ...]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    names, networks = set(), []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(networks)


def operator_rules() -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """The host names and networks the operator opened (WEBHOOK_PRIVATE_HOSTS, webapp/config.py)."""
    entries: Iterable[str] = current_app.config.get("WEBHOOK_PRIVATE_HOSTS") or ()
    return _operator_rules(tuple(entries))


def _inside(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    address = _plain(address)
    return any(address in network for network in networks)


def plain_http_allowed(host: str, allowlist: str | None) -> bool:
    """Plain http is for hosts in the tenant's allowlist (still public ones: see
    resolve_checked) and for what the operator opened: a listed host name, or an IP
    address inside a listed network."""
    host = host.lower().rstrip(".")
    names, networks = operator_rules()
    if host in names or host in allowlisted_hosts(allowlist):
        return True
    literal = ip_literal(host)
    return literal is not None and _inside(literal, networks)


def url_problem(url: str, allowlist: str | None) -> str | None:
    """Why `url` cannot be a webhook URL when it is saved (None: it can). The address itself
    is checked when it is called (resolve_checked): DNS may change in between."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// URL"
    if parts.username or parts.password:
        return "must not contain a user name or password"
    if parts.scheme == "http" and not plain_http_allowed(parts.hostname, allowlist):
        return "must be https (plain http only for hosts in the webhook allowlist in Settings)"
    return None


def resolve_checked(host: str, port: int, *, tenant_allowlisted: bool = False) -> str:
    """The address to connect to: every address the host resolves to must be public, or
    opened by the operator (the host by name, or the address's network)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookFailed(f"cannot resolve {host}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise WebhookFailed(f"{host} has no address")
    names, networks = operator_rules()
    if host not in names:
        for raw in addresses:
            address = ipaddress.ip_address(raw.split("%")[0])
            reason = non_public_reason(address)
            if reason and not _inside(address, networks):
                where = ("the webhook allowlist in Settings opens public hosts only" if tenant_allowlisted
                         else "webhooks reach public addresses only")
                raise WebhookRefused(f"{host} resolves to a {reason} address ({raw}); {where}. Private networks "
                                     "can be opened only by whoever runs this service (WEBHOOK_PRIVATE_HOSTS)")
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


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str


def post(url: str, data: bytes, headers: dict[str, str], *, allowlist: str | None) -> Answer:
    """POST `data` with `headers` (plus our User-Agent and Host) through the checks above;
    the answer's status, whatever it is. Raises WebhookRefused, or WebhookFailed when no
    answer came (network, timeout)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookRefused("the URL must be https://host/...")
    if parts.scheme == "http" and not plain_http_allowed(host, allowlist):
        raise WebhookRefused("plain http is allowed only for hosts in the webhook allowlist; use https")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_checked(host, port, tenant_allowlisted=host in allowlisted_hosts(allowlist))
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, address, port, timeout=TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=data, headers={
            **headers, "User-Agent": USER_AGENT, "Host": parts.netloc.split("@")[-1]})
        response = connection.getresponse()
        response.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        raise WebhookFailed(f"request failed: {exc}") from None
    finally:
        connection.close()
    return Answer(response.status, response.reason)


def post_json(url: str, body: dict[str, Any], *, allowlist: str | None) -> str:
    """POST `body`; returns a short description of the answer, or raises WebhookRefused /
    WebhookFailed."""
    answer = post(url, json.dumps(body, default=str).encode(), {"Content-Type": "application/json"},
                  allowlist=allowlist)
    if 200 <= answer.status < 300:
        return f"HTTP {answer.status}"
    if 300 <= answer.status < 400:
        raise WebhookFailed(f"HTTP {answer.status}: redirects are not followed")
    raise WebhookFailed(f"HTTP {answer.status} {answer.reason}")


def fetch(url: str, *, max_bytes: int = 64 * 1024, trusted_test_host: str | None = None) -> bytes:
    """GET an https URL on a public address (the same pinning as post_json: resolved once,
    every address public, connected to the checked one); the body, at most `max_bytes`.
    Raises WebhookRefused / WebhookFailed. `trusted_test_host` ("127.0.0.1:8443", only ever
    passed in testing) is reached over plain http on whatever address it has."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if trusted_test_host and parts.netloc.lower() == trusted_test_host.lower() and parts.scheme == "http":
        address, cls = host, _PinnedHTTPConnection
    elif parts.scheme == "https" and host:
        address, cls = resolve_checked(host, parts.port or 443), _PinnedHTTPSConnection
    else:
        raise WebhookRefused("the URL must be https://host/...")
    connection = cls(host, address, parts.port or (443 if parts.scheme == "https" else 80), timeout=TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Host": parts.netloc.split("@")[-1]})
        response = connection.getresponse()
        body = response.read(max_bytes + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise WebhookFailed(f"request failed: {exc}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise WebhookFailed(f"HTTP {response.status} {response.reason}")
    if len(body) > max_bytes:
        raise WebhookFailed(f"the answer is larger than {max_bytes:,} bytes")
    return body
