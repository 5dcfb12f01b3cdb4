"""TXT records read from DNS (dnspython), for proving control of a sending domain."""

from __future__ import annotations

import dns.exception
import dns.resolver


class DnsUnavailable(Exception):
    """DNS could not be asked, or gave no usable answer in time: nothing is known about the
    record (unlike a name or record that does not exist, which DNS did answer)."""


def _host_and_port(nameserver: str) -> tuple[str, int]:
    """"1.1.1.1", "127.0.0.1:5353", "::1" or "[::1]:5353"."""
    if nameserver.startswith("["):
        host, _, rest = nameserver[1:].partition("]")
        port = rest.removeprefix(":")
    elif nameserver.count(":") == 1:
        host, port = nameserver.split(":")
    else:
        host, port = nameserver, ""
    return host, int(port) if port else 53


def _resolver(nameserver: str | None, timeout: float) -> dns.resolver.Resolver:
    try:
        resolver = dns.resolver.Resolver(configure=nameserver is None)
    except dns.resolver.NoResolverConfiguration:
        raise DnsUnavailable("this server has no DNS resolver configured") from None
    if nameserver:
        host, resolver.port = _host_and_port(nameserver)
        resolver.nameservers = [host]
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def txt_values(name: str, *, nameserver: str | None = None, timeout: float = 3.0) -> list[str]:
    """The TXT strings at `name` (each record's strings joined, as SPF and DKIM records are
    read); [] when DNS answered that the name or the record does not exist. Raises
    DnsUnavailable when it could not tell, within `timeout` seconds in all."""
    resolver = _resolver(nameserver, timeout)
    try:
        answer = resolver.resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.resolver.LifetimeTimeout:
        raise DnsUnavailable(f"no answer from DNS within {timeout:g} s") from None
    except dns.resolver.NoNameservers:
        raise DnsUnavailable("the DNS servers refused or failed to answer") from None
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"DNS lookup failed: {exc}") from None
    return [b"".join(record.strings).decode("utf-8", errors="replace") for record in answer]
