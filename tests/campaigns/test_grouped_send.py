"""SmtpTransport.send_many: one message per connection, one commit for the group, and the
final "." only for the messages the commit recorded (against a real SMTP server)."""

from __future__ import annotations

import asyncio
import smtplib
import time

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from webapp.mail.transport import MailConfigError, Outgoing, SmtpTransport, _dot_stuffed
from webapp.testing import free_port

# Touches no test database: the SQLite run has it, the PostgreSQL run skips it.
pytestmark = pytest.mark.no_database


def _message(to: str, n: int) -> Outgoing:
    body = f"From: news@arena.example.com\r\nTo: {to}\r\nSubject: Group {n}\r\n\r\nHello {n}\r\n.dot line\r\n"
    return Outgoing("news@arena.example.com", to, body.encode())


def _group(size: int) -> list[Outgoing]:
    return [_message(f"fan{n}@example.com", n) for n in range(size)]


class Commits:
    """Records what each commit was asked and answers with `keep` (all by default)."""

    def __init__(self, keep=None, fail: bool = False):
        self.calls: list[list[int]] = []
        self.keep, self.fail = keep, fail

    def __call__(self, staged: list[int]) -> set[int]:
        self.calls.append(list(staged))
        if self.fail:
            raise RuntimeError("database went away")
        return set(staged) if self.keep is None else set(self.keep) & set(staged)


def _settle(sink, expected: int) -> None:
    """Messages arrive asynchronously; wait for the expected ones and a little longer."""
    sink.wait_for(expected, timeout=10)
    time.sleep(0.2)


def test_one_commit_per_group_and_every_message_delivered(smtp_sink):
    commits = Commits()
    with SmtpTransport(f"{smtp_sink.url}?connections=4") as transport:
        outcomes = transport.send_many(_group(4), commits)
    _settle(smtp_sink, 4)
    assert commits.calls == [[0, 1, 2, 3]]
    assert [o.status for o in outcomes] == ["sent"] * 4
    assert sorted(smtp_sink.per_recipient()) == [f"fan{n}@example.com" for n in range(4)]
    # Dot-stuffing survived the staged write: the line starting with "." arrived intact.
    assert all(b"\r\n.dot line\r\n" in m.data for m in smtp_sink.messages())


def test_messages_the_commit_did_not_record_never_reach_the_server(smtp_sink):
    with SmtpTransport(f"{smtp_sink.url}?connections=4") as transport:
        outcomes = transport.send_many(_group(4), Commits(keep={0, 2}))
        # The abandoned connections are replaced: the transport keeps working.
        again = transport.send_many([_message("later@example.com", 9)], Commits())
    _settle(smtp_sink, 3)
    assert [o.status for o in outcomes] == ["sent", "lost", "sent", "lost"]
    assert again[0].status == "sent"
    assert smtp_sink.per_recipient() == {"fan0@example.com": 1, "fan2@example.com": 1, "later@example.com": 1}


def test_a_failing_commit_sends_nothing_and_propagates(smtp_sink):
    with SmtpTransport(f"{smtp_sink.url}?connections=3") as transport:
        with pytest.raises(RuntimeError, match="database went away"):
            transport.send_many(_group(3), Commits(fail=True))
        after = transport.send_many([_message("after@example.com", 5)], Commits())
    _settle(smtp_sink, 1)
    assert after[0].status == "sent"
    assert smtp_sink.per_recipient() == {"after@example.com": 1}


def test_a_refused_recipient_is_left_out_of_the_commit_and_the_rest_go(smtp_sink):
    smtp_sink.permanent.add("fan1@example.com")
    smtp_sink.temporary["fan2@example.com"] = 1
    commits = Commits()
    with SmtpTransport(f"{smtp_sink.url}?connections=4") as transport:
        outcomes = transport.send_many(_group(4), commits)
    _settle(smtp_sink, 2)
    assert commits.calls == [[0, 3]]
    assert [o.status for o in outcomes] == ["sent", "permanent", "transient", "sent"]
    assert outcomes[1].hard_bounce and outcomes[1].code == 550
    assert not outcomes[2].hard_bounce and outcomes[2].code == 451
    assert sorted(smtp_sink.per_recipient()) == ["fan0@example.com", "fan3@example.com"]


def test_a_refusal_after_the_data_is_that_message_s_outcome_only(smtp_sink):
    smtp_sink.after_data["fan1@example.com"] = "452 4.3.1 Insufficient system storage"
    with SmtpTransport(f"{smtp_sink.url}?connections=3") as transport:
        outcomes = transport.send_many(_group(3), Commits())
    _settle(smtp_sink, 2)
    assert [o.status for o in outcomes] == ["sent", "transient", "sent"]
    assert outcomes[1].code == 452


def test_an_address_with_a_line_break_is_refused_before_any_command(smtp_sink):
    bad = Outgoing("news@arena.example.com", "fan@example.com>\r\nRCPT TO:<victim@example.com", b"x\r\n")
    with SmtpTransport(smtp_sink.url) as transport:
        [outcome] = transport.send_many([bad], Commits())
    time.sleep(0.2)
    assert outcome.status == "permanent"
    assert smtp_sink.count() == 0 and smtp_sink.refusals == []


def test_more_messages_than_connections_is_a_programming_error(smtp_sink):
    with SmtpTransport(f"{smtp_sink.url}?connections=2") as transport, pytest.raises(ValueError):
        transport.send_many(_group(3), Commits())


@pytest.mark.parametrize("value", ["0", "51", "many"])
def test_the_connections_setting_is_checked(value):
    with pytest.raises(MailConfigError, match="connections"):
        SmtpTransport(f"smtp://127.0.0.1:2525?connections={value}")


class SpareWork:
    """A while_waiting hook: counts its calls, may fail, and notes whether the commit had
    already run each time it was called."""

    def __init__(self, commits: Commits, pieces: int = 1000, fail: bool = False):
        self.commits, self.pieces, self.fail = commits, pieces, fail
        self.calls: list[int] = []  # the number of commits made so far, at each call

    def __call__(self) -> bool:
        self.calls.append(len(self.commits.calls))
        if self.fail:
            raise RuntimeError("rendering blew up")
        self.pieces -= 1
        return self.pieces > 0


class SlowToAcceptSenders:
    """An SMTP server under load: it takes 50 ms to answer MAIL FROM; keeps the recipients."""

    def __init__(self) -> None:
        self.recipients: list[str] = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 (aiosmtpd hook)
        await asyncio.sleep(0.05)
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        self.recipients += envelope.rcpt_tos
        return "250 OK"


def test_spare_work_runs_while_the_server_answers_and_every_message_goes():
    server, port = SlowToAcceptSenders(), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    commits = Commits()
    spare = SpareWork(commits, pieces=3)
    try:
        with SmtpTransport(f"smtp://127.0.0.1:{port}?connections=4") as transport:
            outcomes = transport.send_many(_group(4), commits, while_waiting=spare)
    finally:
        controller.stop()
    assert [o.status for o in outcomes] == ["sent"] * 4
    assert commits.calls == [[0, 1, 2, 3]]
    # All three pieces were done while MAIL FROM was being answered, before the commit;
    # later waits only ask again, once each at most.
    assert spare.calls[:3] == [0, 0, 0] and len(spare.calls) <= 3 + 3
    assert sorted(server.recipients) == [f"fan{n}@example.com" for n in range(4)]


def test_spare_work_that_fails_before_the_commit_sends_nothing(smtp_sink):
    commits = Commits()
    with SmtpTransport(f"{smtp_sink.url}?connections=3") as transport, \
            pytest.raises(RuntimeError, match="rendering blew up"):
        transport.send_many(_group(3), commits, while_waiting=SpareWork(commits, fail=True))
    time.sleep(0.3)
    assert commits.calls == [] and smtp_sink.count() == 0


@given(st.lists(st.sampled_from([b".", b"..", b"\r\n", b"\n", b"\r", b"a", b" ", b"\r\n."]), max_size=20)
       .map(b"".join))
def test_dot_stuffing_is_smtplib_s(message):
    # Every line that starts with "." gets one more, whatever the line ends are.
    assert _dot_stuffed(message) == smtplib._quote_periods(message)
