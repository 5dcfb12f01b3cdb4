"""Transports chosen by MAIL_URL: SMTP (plain, STARTTLS, SSL, auth) or the local outbox.

Sending is two-phase so a crash can never send a message twice: the message body goes
to the server, then `commit()` records it as sent in the database, and only then does the
final "." tell the server to accept it. If the process dies before the commit, the server
drops the unfinished message and the recipient is retried; if `commit()` says the claim
was lost (another worker took the row over), the connection is dropped instead.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from webapp.extensions import db

HARD_BOUNCE_CODES = frozenset({550, 551, 553})


@dataclass
class SendOutcome:
    """sent | transient (retry later) | permanent (give up) | lost (claim taken over)."""

    status: str
    detail: str = ""
    code: int | None = None
    hard_bounce: bool = False


class MailConfigError(ValueError):
    pass


class SmtpTransport:
    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise MailConfigError(f"MAIL_URL scheme must be smtp, smtps or outbox, not {parts.scheme!r}")
        self.ssl = parts.scheme == "smtps"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        options = parse_qs(parts.query)
        # starttls=auto (default): upgrade when the server offers it; true: require; false: never.
        self.starttls = (options.get("starttls") or ["auto"])[0].lower()
        self.timeout = float((options.get("timeout") or [timeout])[0])
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def _connect(self) -> smtplib.SMTP:
        # The TLS context is made only when TLS is used: loading the CA store takes ~0.1 s,
        # paid by every delivery batch (about 0.4 ms per message of a 250-message batch).
        if self.ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.starttls == "true" or (self.starttls == "auto" and smtp.has_extn("starttls")):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        if self.username:
            smtp.login(self.username, self.password or "")
        # The body and the final "." go out as two writes: without NODELAY, Nagle's
        # algorithm and the server's delayed ACK stall every message by ~40 ms.
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return smtp

    def send(self, sender: str, recipient: str, message: bytes, commit: Callable[[], bool],
             *, subject: str = "", message_id: str = "") -> SendOutcome:
        """Send one message over the reused connection; see the module docstring."""
        committed = False
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            smtp = self.smtp
            code, reply = smtp.mail(sender)
            if code != 250:
                return self._refused(code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                return self._refused(code, reply, rcpt=True)
            code, reply = smtp.docmd("data")
            if code != 354:
                return self._refused(code, reply)
            # What smtplib.data() does, minus the final ".": dot-stuffing, CRLF at the end.
            payload = smtplib._quote_periods(message)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            smtp.send(payload)
            if not commit():
                # Someone else owns this recipient now: abandon the unfinished message.
                self._drop()
                return SendOutcome("lost", "claim taken over by another worker")
            committed = True
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
            if code == 250:
                return SendOutcome("sent", _text(reply), code)
            self._reset()
            return _classify(code, reply)
        except (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            self._drop()
            if committed:
                # The final "." went out: the server may well have accepted it. Keep "sent"
                # (at most once) rather than risk a second copy.
                return SendOutcome("sent", f"connection lost after the message was sent: {exc}")
            code = getattr(exc, "smtp_code", None)
            if code and 500 <= code < 600:
                return _classify(code, getattr(exc, "smtp_error", b""))
            return SendOutcome("transient", f"connection problem: {exc}", code)
        except smtplib.SMTPException as exc:
            self._drop()
            return SendOutcome("transient", f"SMTP error: {exc}")

    def _refused(self, code: int, reply: bytes, *, rcpt: bool = False) -> SendOutcome:
        self._reset()
        outcome = _classify(code, reply)
        outcome.hard_bounce = rcpt and code in HARD_BOUNCE_CODES
        return outcome

    def _reset(self) -> None:
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _classify(code: int, reply: bytes | str) -> SendOutcome:
    detail = f"{code} {_text(reply)}"
    if 400 <= code < 500:
        return SendOutcome("transient", detail, code)
    return SendOutcome("permanent", detail, code)


class OutboxTransport:
    """Keeps messages in the database (outbox_messages) instead of sending them."""

    def __init__(self, tenant_id: int | None = None, campaign_id: int | None = None):
        self.tenant_id = tenant_id
        self.campaign_id = campaign_id

    def __enter__(self) -> OutboxTransport:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, sender: str, recipient: str, message: bytes, commit: Callable[[], bool],
             *, subject: str = "", message_id: str = "") -> SendOutcome:
        from webapp.models import OutboxMessage

        # Stored in the same transaction commit() closes: kept exactly when marked sent.
        db.session.add(OutboxMessage(tenant_id=self.tenant_id, campaign_id=self.campaign_id, recipient=recipient,
                                     sender=sender, subject=subject[:300], message_id=message_id, raw=message))
        if not commit():
            return SendOutcome("lost", "claim taken over by another worker")
        return SendOutcome("sent", "stored in the outbox")


def open_transport(mail_url: str, *, tenant_id: int | None = None, campaign_id: int | None = None):
    """The transport for MAIL_URL; use it as a context manager around one batch."""
    if mail_url == "outbox":
        return OutboxTransport(tenant_id, campaign_id)
    return SmtpTransport(mail_url)
