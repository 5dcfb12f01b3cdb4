"""The processes around bench_send: the SMTP sink that counts what arrives (its own
process), the watch of the senders' peak memory, and what one side of the benchmark
measured. Used by bench_send and bench/soak.py."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import threading
import time
from dataclasses import dataclass, field

import psutil

from webapp.testing import free_port

# --- the SMTP sink (its own process) ----------------------------------------------------------

class _CountingHandler:
    """Accepts everything; counts messages and distinct recipients, and notes when the
    first and the last message of the current window arrived."""

    def __init__(self) -> None:
        self.messages = 0
        self.recipients: set[str] = set()
        self.window_messages = 0
        self.first = 0.0
        self.last = 0.0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        now = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes on one machine
        if not self.window_messages:
            self.first = now
        self.last = now
        self.window_messages += 1
        self.messages += 1
        self.recipients.update(envelope.rcpt_tos)
        return "250 OK queued"


def _run_sink(port: int, control) -> None:
    from aiosmtpd.controller import Controller

    handler = _CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    control.send("ready")
    cpu = time.process_time()
    try:
        while control.recv() == "window":
            control.send(Window(handler.window_messages, handler.first, handler.last, handler.messages,
                                len(handler.recipients), time.process_time() - cpu))
            handler.window_messages = 0
            cpu = time.process_time()
    except EOFError:
        pass
    finally:
        controller.stop()


@dataclass
class Window:
    """What the sink got since the last window: `messages` between `first` and `last`
    (monotonic seconds), the CPU seconds it spent on them, and its totals since it started."""

    messages: int
    first: float
    last: float
    total_messages: int
    total_recipients: int
    cpu_seconds: float


class Sink:
    """An aiosmtpd server on a free port in a child process; `window()` asks it for its counts.

    Children of this benchmark are forked, not spawned: a spawned child would import the
    whole bench package (and the app) again, which at smoke size cost more CPU than the
    sending it is compared with. They use nothing but sockets and the pipe.
    """

    def __init__(self) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("fork")
        self._control, child = context.Pipe()
        self._process = context.Process(target=_run_sink, args=(self.port, child), name="bench-smtp-sink",
                                        daemon=True)

    def __enter__(self) -> Sink:
        self._process.start()
        if not self._control.poll(30) or self._control.recv() != "ready":
            raise RuntimeError("the SMTP sink did not start")
        return self

    def window(self) -> Window:
        self._control.send("window")
        return self._control.recv()

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(OSError):
            self._control.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


# --- memory watch -------------------------------------------------------------------------------

class RssWatch:
    """Polls the peak RSS of some processes and, separately, of any children they start
    (the bare loops and our workers run their work in-process; a child would be counted).

    The peak is the kernel's high-water mark (VmHWM), so a spike between two polls still
    counts. Children come from /proc/PID/task/*/children: psutil's children() reads every
    process on the machine, which polled this often cost the box more CPU than a worker.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.pids: list[int] = []
        self.peak_main = 0
        self.peak_child = 0
        self.children_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-rss-watch", daemon=True)

    def start(self, pids: list[int]) -> RssWatch:
        self.pids = list(pids)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while True:
            for pid in self.pids:
                self.peak_main = max(self.peak_main, _peak_rss(pid))
                for child in _children(pid):
                    self.peak_child = max(self.peak_child, _peak_rss(child))
                    self.children_seen.add(child)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak(self) -> int:
        return max(self.peak_main, self.peak_child)


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone, or not Linux
        with contextlib.suppress(psutil.Error):
            return [child.pid for child in psutil.Process(pid).children()]
        return []
    found = []
    for task in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as listing:
            found += [int(child) for child in listing.read().split()]
    return found


def _peak_rss(pid: int) -> int:
    """Bytes: the process's peak resident set so far (current RSS where there is no VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).memory_info().rss
    return 0


# --- one side's measurements -------------------------------------------------------------------

@dataclass
class Side:
    """One side's measurements, possibly over several runs (the bare loop runs in two halves)."""

    windows: list[Window] = field(default_factory=list)
    seconds_wall: float = 0.0
    cpu_seconds: float = 0.0  # user + system of the sending processes and their children
    startup_cpu_seconds: float = 0.0  # ours: the same processes started on empty queues
    peak_main: int = 0
    peak_child: int = 0
    job_processes: int = 0

    @property
    def rate(self) -> float:
        # n messages arrive in n-1 gaps between the first and the last.
        gaps = sum(w.messages - 1 for w in self.windows)
        seconds = sum(w.last - w.first for w in self.windows)
        return gaps / seconds if seconds > 0 else float("inf")

    @property
    def received(self) -> Window:
        return self.windows[-1]

    @property
    def sink_cpu_seconds(self) -> float:
        return sum(w.cpu_seconds for w in self.windows)

    def add(self, window: Window, wall: float, cpu: float, rss: RssWatch) -> None:
        self.windows.append(window)
        self.seconds_wall += wall
        self.cpu_seconds += cpu
        self.peak_main = max(self.peak_main, rss.peak_main)
        self.peak_child = max(self.peak_child, rss.peak_child)
        self.job_processes += len(rss.children_seen)


def children_cpu() -> float:
    """CPU seconds of every finished, waited-for child of this process and their children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
