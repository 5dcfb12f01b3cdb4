"""The DNS records a sending domain publishes so mailbox providers trust its mail: SPF (who
may send), DKIM (our signature's public key, when the domain has one) and DMARC (what to do
when both fail), each with whether DNS shows it yet. A domain's DKIM key is made here: an
RSA-2048 key whose private half is stored sealed and never shown."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app

from webapp.extensions import db
from webapp.infra.errors import ValidationFailed
from webapp.infra.sealed import seal
from webapp.infra.types import utcnow
from webapp.mail import dkim
from webapp.mail.txt_records import DnsUnavailable, txt_values
from webapp.models import SendingDomain
from webapp.services.sending_domains import ascii_domain, get_domain

SELECTOR = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
DEFAULT_SELECTOR = "crm1"


@dataclass(frozen=True)
class DnsRecord:
    kind: str  # SPF | DKIM | DMARC
    name: str
    value: str
    why: str
    # How DNS is read for it: the record found is one that starts so (SPF, DMARC), or holds
    # this exact public key (DKIM).
    looks_for: str


@dataclass(frozen=True)
class RecordCheck:
    record: DnsRecord
    status: str  # found | missing | different | unknown
    detail: str = ""


def create_dkim_key(tenant_id: int, domain_id: int, selector: str | None) -> SendingDomain:
    """Make (or replace) the domain's DKIM key under `selector`. Mail from the domain sent over
    plain SMTP is signed from now on; publish the DKIM record before sending."""
    row = get_domain(tenant_id, domain_id)
    chosen = (selector or DEFAULT_SELECTOR).strip().lower()
    if not SELECTOR.fullmatch(chosen):
        raise ValidationFailed("selector", "use letters, digits and hyphens (up to 63), e.g. crm1")
    private, public = dkim.new_key()
    row.dkim_selector, row.dkim_public_key = chosen, public
    row.dkim_private_key = seal(private.decode("ascii"), dkim.SEAL_PURPOSE)
    row.dkim_created_at = utcnow()
    db.session.commit()
    return row


def records_for(row: SendingDomain) -> list[DnsRecord]:
    name = ascii_domain(row.domain)
    include = current_app.config.get("MAIL_SPF_INCLUDE")
    spf = f"v=spf1 include:{include} ~all" if include else "v=spf1 a mx ~all"
    records = [DnsRecord("SPF", name, spf, "Says which servers may send mail from this domain. If the domain has an "
                         "SPF record already, add the include to it rather than publishing a second one.", "v=spf1")]
    if row.dkim_public_key:
        records.append(DnsRecord("DKIM", f"{row.dkim_selector}._domainkey.{name}", dkim.record_value(
            row.dkim_public_key), "The public key that proves our signature on your mail.",
            f"p={row.dkim_public_key}"))
    records.append(DnsRecord("DMARC", f"_dmarc.{name}", f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{name}",
                             "Asks mailbox providers to report on mail that fails SPF and DKIM; Gmail and Yahoo "
                             "require one for bulk senders. Move to p=quarantine once reports look clean.",
                             "v=DMARC1"))
    return records


def check_records(row: SendingDomain) -> list[RecordCheck]:
    """Ask DNS (DNS_RESOLVER, DNS_TIMEOUT) for each record; nothing is stored."""
    config = current_app.config
    checks: list[RecordCheck] = []
    for record in records_for(row):
        if checks and checks[-1].status == "unknown":  # DNS is down: not asked again (each waits the timeout)
            checks.append(RecordCheck(record, "unknown", checks[-1].detail))
            continue
        try:
            values = [v.strip() for v in txt_values(record.name, nameserver=config.get("DNS_RESOLVER"),
                                                   timeout=float(config.get("DNS_TIMEOUT", 3)))]
        except DnsUnavailable as exc:
            checks.append(RecordCheck(record, "unknown", f"DNS could not be asked ({exc})"))
            continue
        if record.kind == "DKIM":
            ok = any(record.looks_for in v.replace(" ", "") for v in values)
        else:
            ok = any(v.lower().startswith(record.looks_for.lower()) for v in values)
        if ok:
            checks.append(RecordCheck(record, "found"))
        elif values and record.kind == "DKIM":
            checks.append(RecordCheck(record, "different", "a record is there, with another key"))
        else:
            checks.append(RecordCheck(record, "missing"))
    return checks
