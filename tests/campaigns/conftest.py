"""Campaign fixtures: a real SMTP server (aiosmtpd) that records what arrives and can refuse
or drop chosen recipients, the app pointed at it, and worker processes started like an
operator would start them (`flask crm worker`), killed for real when a test says so."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import cached_property
from pathlib import Path

import psutil
import pytest
from aiosmtpd.controller import Controller

from webapp.testing import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float  # time.time() when the final "." arrived

    @cached_property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=default_policy)

    @property
    def to(self) -> str:
        [address] = self.rcpt_tos
        return address


@dataclass
class SmtpSink:
    """An aiosmtpd handler. `temporary[address] = n` answers 451 to that RCPT n times,
    `permanent` answers 550, `drop[address] = n` closes the connection at that RCPT n times,
    `after_data[address] = reply` answers the end of that message's data with `reply` (once);
    everything accepted is kept in `received`."""

    host: str = "127.0.0.1"
    port: int = 0
    temporary: dict[str, int] = field(default_factory=dict)
    permanent: set[str] = field(default_factory=set)
    drop: dict[str, int] = field(default_factory=dict)
    after_data: dict[str, str] = field(default_factory=dict)
    refusals: list[tuple[str, str]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd hook)
        with self.lock:
            if address in self.permanent:
                self.refusals.append((address, "550"))
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            if self.temporary.get(address, 0) > 0:
                self.temporary[address] -= 1
                self.refusals.append((address, "451"))
                return f"451 4.7.1 <{address}>: Greylisted, try again later"
            if self.drop.get(address, 0) > 0:
                self.drop[address] -= 1
                self.refusals.append((address, "drop"))
                server.transport.close()
                return "421 4.4.2 connection dropped by the test"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        with self.lock:
            for address in envelope.rcpt_tos:
                if address in self.after_data:
                    reply = self.after_data.pop(address)
                    self.refusals.append((address, reply[:3]))
                    return reply
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content or envelope.content, time.time()))
        return "250 2.0.0 Ok: queued"

    # --- reading what arrived ---

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def per_recipient(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.messages():
            for address in item.rcpt_tos:
                counts[address] = counts.get(address, 0) + 1
        return counts

    def to(self, address: str) -> list[Received]:
        return [item for item in self.messages() if address in item.rcpt_tos]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait until at least `count` messages arrived (bounded), then return them all."""
        deadline = time.monotonic() + timeout
        while self.count() < count:
            assert time.monotonic() < deadline, f"only {self.count()} of {count} messages within {timeout} s"
            time.sleep(0.02)
        return self.messages()


@pytest.fixture
def smtp_sink():
    """A real SMTP server on a free loopback port (aiosmtpd's port=0 is not supported)."""
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def app_config(app):
    """Set app.config values for one test: app_config(DELIVERY_LEASE_SECONDS=2); restored after."""
    saved: dict = {}
    missing = object()

    def apply(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key, missing))
            app.config[key] = value

    yield apply
    for key, value in saved.items():
        if value is missing:
            app.config.pop(key, None)
        else:
            app.config[key] = value


@pytest.fixture
def smtp_mail(app_config, smtp_sink) -> SmtpSink:
    """MAIL_URL points at the sink (and retries are immediate) for this test."""
    app_config(MAIL_URL=smtp_sink.url, DELIVERY_RETRY_BASE_SECONDS=0)
    return smtp_sink


class WorkerProcess:
    """`flask crm worker` in its own process against the test database, Redis and sink."""

    def __init__(self, env: dict[str, str], scheduler: bool):
        self.log = tempfile.NamedTemporaryFile(prefix="crm-worker-", suffix=".log", delete=False)
        args = [sys.executable, "-m", "flask", "crm", "worker"] + ([] if scheduler else ["--no-scheduler"])
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def tree(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.process.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """kill -9 the worker and its work horse (RQ puts the horse in its own process group).
        The worker is stopped first so it cannot fork a new horse while we collect them."""
        try:
            os.kill(self.process.pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
        for proc in self.tree():
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        self.process.wait(10)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]


@pytest.fixture
def worker_processes(app):
    """start(**env) -> a running worker process; every one still running is killed at the end."""
    started: list[WorkerProcess] = []

    def start(*, scheduler: bool = False, **settings) -> WorkerProcess:
        env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
               "REDIS_URL": app.config["REDIS_URL"], "MAIL_URL": app.config["MAIL_URL"],
               "SECRET_KEY": "test-secret", "BASE_URL": app.config["BASE_URL"], "PYTHONUNBUFFERED": "1"}
        env.pop("FLASK_DEBUG", None)
        for key in ("DELIVERY_LEASE_SECONDS", "DELIVERY_RETRY_BASE_SECONDS", "RECONCILE_SECONDS",
                    "UNSUBSCRIBE_MAILTO"):
            if app.config.get(key) is not None:
                env[key] = str(app.config[key])
        env.update({key: str(value) for key, value in settings.items()})
        worker = WorkerProcess(env, scheduler)
        started.append(worker)
        return worker

    yield start
    for number, worker in enumerate(started, 1):
        if worker.alive:
            worker.kill()
        worker.log.close()
        # Shown by pytest only when the test failed.
        print(f"--- worker {number} (pid {worker.process.pid}) ---\n{worker.output()}")
        os.unlink(worker.log.name)
