"""`make run` (webapp.devrun) stops everything it started however it is stopped: SIGTERM
from a supervisor, or the process that started it going away (`make` killed). Nothing may
be left holding the port or a private Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from webapp.testing import free_port

pytestmark = pytest.mark.no_database

ROOT = Path(__file__).resolve().parent.parent
DEVRUN = [sys.executable, "-m", "webapp.devrun"]


def children_of(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc), not counting zombies."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def devrun_env(tmp_path):
    """The environment and port of one `make run`; whatever it started and left running
    when the test ends (a failing test) is killed, so no run outlives its test."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "REDIS_URL"))}
    port = free_port()
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'crm.sqlite3'}", PORT=str(port), DEMO_CUSTOMERS="20",
               TRACKING_SPOOL_DIR=str(tmp_path / "spool"))
    started_pids: set[int] = set()
    yield env, port, started_pids
    for pid in started_pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def started(env: dict, port: int, launcher: list[str]) -> subprocess.Popen:
    process = subprocess.Popen(launcher, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: answers(port), 90, "the app to answer")
    except AssertionError:
        process.kill()
        raise
    return process


def test_sigterm_stops_the_web_server_the_worker_and_the_private_redis(devrun_env):
    env, port, started_pids = devrun_env
    devrun = started(env, port, DEVRUN)
    started_children = children_of(devrun.pid)
    started_pids |= started_children
    assert len(started_children) >= 3  # web, worker, redis-server (and their helpers)

    devrun.send_signal(signal.SIGTERM)

    assert devrun.wait(30) == 0
    wait_for(lambda: not any(alive(pid) for pid in started_children), 15, "every child to stop")
    assert port_is_free(port)


def test_it_stops_when_whoever_started_it_is_killed(devrun_env):
    env, port, started_pids = devrun_env
    # A stand-in for `make run`: a parent that is killed outright (SIGKILL passes nothing on).
    parent = started(env, port, [sys.executable, "-c",
                                 "import subprocess, sys; subprocess.run(sys.argv[1:])", *DEVRUN])
    [devrun_pid] = [pid for pid in children_of(parent.pid)
                    if b"webapp.devrun" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    started_children = children_of(devrun_pid) | {devrun_pid}
    started_pids |= started_children

    parent.kill()
    parent.wait(10)

    wait_for(lambda: not any(alive(pid) for pid in started_children), 30, "devrun and its children to stop")
    assert port_is_free(port)
