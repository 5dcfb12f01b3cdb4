"""Transports chosen by MAIL_URL: SMTP (plain, STARTTLS, SSL, auth) or the local outbox.

Sending is two-phase so a crash can never send a message twice: the message body goes
to the server, then `commit()` records it as sent in the database, and only then does the
final "." tell the server to accept it. If the process dies before the commit, the server
drops the unfinished message and the recipient is retried; if `commit()` says the claim
was lost (another worker took the row over), the connection is dropped instead.
"""

from __future__ import annotations

import select
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from webapp.extensions import db
from webapp.mail.dkim import DkimSigner, tenant_signer
from webapp.models import OutboxMessage

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


@dataclass
class Outgoing:
    """One message for send_many: envelope addresses, the bytes, and what the outbox shows."""

    sender: str
    recipient: str
    message: bytes
    subject: str = ""
    message_id: str = ""


# commit(indices of the messages whose data is with the server) -> the indices recorded as
# sent; only those get their final ".", the others are abandoned.
GroupCommit = Callable[[list[int]], set[int]]
# Other work for the time the server takes to answer (rendering the next messages):
# does one piece and says whether there is more. It must not write to the database.
SpareWork = Callable[[], bool]


def _single(commit: Callable[[], bool]) -> GroupCommit:
    return lambda staged: set(staged) if commit() else set()


_CONNECTION_ERRORS = (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError)
_SMTP_ERRORS = (*_CONNECTION_ERRORS, smtplib.SMTPException)
# The envelope commands: verb, argument, the replies that let the message go on.
_ENVELOPE = (
    ("mail", lambda m: f"FROM:{_angle(m.sender)}", (250,)),
    ("rcpt", lambda m: f"TO:{_angle(m.recipient)}", (250, 251)),
    ("data", lambda m: "", (354,)),
)




def _dot_stuffed(message: bytes) -> bytes:
    """A "." more at the start of every line, as smtplib's re.sub(rb"(?m)^\\.", b"..") does
    (a line starts after any LF), with a byte search: the regular expression tried every
    position of the message, ~20 us a message."""
    stuffed = message.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def _angle(address: str) -> str:
    """<address> for MAIL/RCPT. Addresses were validated when stored (smtplib.quoteaddr
    parses them again, a tenth of a millisecond per message); a line break could still
    never smuggle a command in."""
    if any(c in address for c in "\r\n<>"):
        raise smtplib.SMTPResponseException(501, b"5.1.3 address with a line break or angle bracket")
    return f"<{address}>"


class SmtpTransport:
    """SMTP over up to `connections` reused connections (`?connections=N` in MAIL_URL,
    default 8). send_many stages one message per connection (MAIL, RCPT, DATA and the
    body), records all of them as sent in one database commit, and then writes every
    final ".": one commit per group instead of one per message, with the same guarantee."""

    def __init__(self, url: str, timeout: float = 30.0, signer: DkimSigner | None = None):
        # DKIM-signs messages from the tenant's domains that have a key (mail/dkim.py).
        self.signer = signer
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
        try:
            self.connections = int((options.get("connections") or ["8"])[0])
        except ValueError:
            raise MailConfigError("MAIL_URL connections= must be a whole number") from None
        if not 1 <= self.connections <= 50:
            raise MailConfigError("MAIL_URL connections= must be between 1 and 50")
        self.slots: list[smtplib.SMTP | None] = [None] * self.connections

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for slot, smtp in enumerate(self.slots):
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
                self.slots[slot] = None

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
        """Send one message; see the module docstring."""
        return self.send_many([Outgoing(sender, recipient, message, subject, message_id)], _single(commit))[0]

    def send_many(self, messages: list[Outgoing], commit: GroupCommit,
                  while_waiting: SpareWork | None = None) -> list[SendOutcome]:
        """Send up to `connections` messages, one per connection, with one commit.
        `while_waiting` is called while replies are on their way (never between the commit
        and the final ".", which stays one write)."""
        if len(messages) > self.connections:
            raise ValueError(f"at most {self.connections} messages at once")
        outcomes = self._stage(messages, while_waiting)
        staged = [slot for slot, outcome in enumerate(outcomes) if outcome is None]
        if not staged:
            return outcomes  # type: ignore[return-value]
        try:
            won = commit(staged)
        except BaseException:
            for slot in staged:  # the server discards data that never got its "."
                self._drop(slot)
            raise
        finishing = []
        for slot in staged:
            if slot not in won:
                # Someone else owns this recipient now: abandon the unfinished message.
                self._drop(slot)
                outcomes[slot] = SendOutcome("lost", "claim taken over by another worker")
                continue
            try:
                self.slots[slot].send(b".\r\n")
                finishing.append(slot)
            except (smtplib.SMTPException, OSError) as exc:
                self._drop(slot)
                outcomes[slot] = _sent_but_unconfirmed(exc)
        self._spend_wait(finishing, while_waiting)
        for slot in finishing:
            outcomes[slot] = self._reply(slot)
        return outcomes  # type: ignore[return-value]

    def _spend_wait(self, asked: list[int], while_waiting: SpareWork | None) -> None:
        """Do other work until the last connection asked has its reply (it is answered last,
        the others most likely before it), or until there is no more work."""
        if while_waiting is None or not asked:
            return
        last = self.slots[asked[-1]]
        while not select.select([last.sock], [], [], 0)[0] and while_waiting():
            pass

    def _stage(self, messages: list[Outgoing], while_waiting: SpareWork | None = None) -> list[SendOutcome | None]:
        """MAIL, RCPT, DATA and the body of message i on connection i; None where only the
        final "." is left. Each command goes to every connection before any reply is read,
        so the server works on all of them while we wait for one."""
        outcomes: list[SendOutcome | None] = [None] * len(messages)
        for slot in range(len(messages)):
            try:
                if self.slots[slot] is None:
                    self.slots[slot] = self._connect()
            except _SMTP_ERRORS as exc:
                outcomes[slot] = self._failed(slot, exc)
        for verb, argument, accepted in _ENVELOPE:
            asked = []
            for slot, outgoing in enumerate(messages):
                if outcomes[slot] is None:
                    try:
                        self.slots[slot].putcmd(verb, argument(outgoing))
                        asked.append(slot)
                    except _SMTP_ERRORS as exc:
                        outcomes[slot] = self._failed(slot, exc)
            self._spend_wait(asked, while_waiting)
            for slot in asked:
                try:
                    code, reply = self.slots[slot].getreply()
                except _SMTP_ERRORS as exc:
                    outcomes[slot] = self._failed(slot, exc)
                    continue
                if code not in accepted:
                    outcomes[slot] = self._refused(slot, code, reply, rcpt=verb == "rcpt")
        for slot, outgoing in enumerate(messages):
            if outcomes[slot] is None:
                # What smtplib.data() does, minus the final ".": dot-stuffing, CRLF at the end.
                message = self.signer(outgoing.sender, outgoing.message) if self.signer else outgoing.message
                payload = _dot_stuffed(message)
                if not payload.endswith(b"\r\n"):
                    payload += b"\r\n"
                try:
                    self.slots[slot].send(payload)
                except _SMTP_ERRORS as exc:
                    outcomes[slot] = self._failed(slot, exc)
        return outcomes

    def _failed(self, slot: int, exc: Exception) -> SendOutcome:
        """Before the final ".": nothing was accepted; a 5xx is final, the rest is retried."""
        self._drop(slot)
        code = getattr(exc, "smtp_code", None)
        if code and 500 <= code < 600:
            return _classify(code, getattr(exc, "smtp_error", b""))
        if isinstance(exc, smtplib.SMTPException) and not isinstance(exc, _CONNECTION_ERRORS):
            return SendOutcome("transient", f"SMTP error: {exc}", code)
        return SendOutcome("transient", f"connection problem: {exc}", code)

    def _reply(self, slot: int) -> SendOutcome:
        """The server's answer to a final "." already written."""
        try:
            code, reply = self.slots[slot].getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop(slot)
            return _sent_but_unconfirmed(exc)
        if code == 250:
            return SendOutcome("sent", _text(reply), code)
        self._reset(slot)
        return _classify(code, reply)

    def _refused(self, slot: int, code: int, reply: bytes, *, rcpt: bool = False) -> SendOutcome:
        self._reset(slot)
        outcome = _classify(code, reply)
        outcome.hard_bounce = rcpt and code in HARD_BOUNCE_CODES
        return outcome

    def _reset(self, slot: int) -> None:
        try:
            if self.slots[slot] is not None:
                self.slots[slot].rset()
        except (smtplib.SMTPException, OSError):
            self._drop(slot)

    def _drop(self, slot: int) -> None:
        smtp, self.slots[slot] = self.slots[slot], None
        if smtp is not None:
            smtp.close()


def _sent_but_unconfirmed(exc: BaseException) -> SendOutcome:
    # The final "." went out (or may have): the server may well have accepted it. Keep
    # "sent" (at most once) rather than risk a second copy.
    return SendOutcome("sent", f"connection lost after the message was sent: {exc}")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _classify(code: int, reply: bytes | str) -> SendOutcome:
    detail = f"{code} {_text(reply)}"
    if 400 <= code < 500:
        return SendOutcome("transient", detail, code)
    return SendOutcome("permanent", detail, code)


class OutboxTransport:
    """Keeps messages in the database (outbox_messages) instead of sending them."""

    connections = 1

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
        # Stored in the same transaction commit() closes: kept exactly when marked sent.
        db.session.add(OutboxMessage(tenant_id=self.tenant_id, campaign_id=self.campaign_id, recipient=recipient,
                                     sender=sender, subject=subject[:300], message_id=message_id, raw=message))
        if not commit():
            return SendOutcome("lost", "claim taken over by another worker")
        return SendOutcome("sent", "stored in the outbox")

    def send_many(self, messages: list[Outgoing], commit: GroupCommit,
                  while_waiting: SpareWork | None = None) -> list[SendOutcome]:
        # Nothing to wait for here: `while_waiting` is not called.
        # One at a time: each stored row must go in the transaction that records its own send.
        return [self.send(m.sender, m.recipient, m.message, lambda slot=slot: bool(commit([slot])),
                          subject=m.subject, message_id=m.message_id) for slot, m in enumerate(messages)]


def open_transport(mail_url: str, *, tenant_id: int | None = None, campaign_id: int | None = None):
    """The transport for MAIL_URL; use it as a context manager around one batch."""
    if mail_url == "outbox":
        return OutboxTransport(tenant_id, campaign_id)
    return SmtpTransport(mail_url, signer=tenant_signer(tenant_id))
