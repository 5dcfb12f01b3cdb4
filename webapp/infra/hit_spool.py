"""The hit spool: how an open or click leaves the web process cheaply and is never lost.

The endpoint appends the hit as one line to a file of its own process (one write(2) into
the page cache: it survives the process being killed), and a shipper thread of the same
process sends what is new to the Redis stream in one script call every few
milliseconds. A synchronous XADD per request cost the web process and Redis about 90 us
of CPU per hit (a loopback round trip and a wake-up on each side); a batch costs a few.
That command, and the connection it goes over, are webapp/infra/hit_shipper.py.

Files, per Redis target, under TRACKING_SPOOL_DIR/<hash of REDIS_URL>/:
- `<name>.hits`: the lines, appended in order. The owning process holds an flock on it
  for as long as it lives, which is how others tell a live spool from an orphan.
- `<name>.shipped`: how many bytes of `.hits` are in the stream, written after each
  batch. A process killed between a batch reaching Redis and this write has that batch
  sent again by whoever recovers the file; every line carries a unique hit id, and the
  writer counts a hit id once (tracking_hits.stream_id), so nothing counts twice.
A spool whose owner is gone (SIGKILL, a crash) is an orphan: the shipper thread of any
process on the same spool directory ships its unshipped tail and deletes it, when it
starts and every ORPHAN_SCAN_SECONDS, and so does the tracking writer before each drain.
A graceful exit ships what is left and deletes the process's own files.

The per-address limit of the tracking endpoints rides on the same batches: the spool
counts requests per client address, each batch adds the counts to per-window counters in
Redis (shared by every web process) and brings back their totals with the previous
window's. The limit applies to a sliding window, estimated as the current window's count
plus the previous one's weighted by how much of it the sliding window still covers (fixed
windows let an address send twice the limit across a boundary). An address over it is
refused until that estimate falls back within the limit, at most one window. The check on
the request path is a dict lookup; the price is that a process learns of a breach a batch
late (a few milliseconds).
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import hashlib
import itertools
import logging
import math
import os
import secrets
import threading
import time
from pathlib import Path

from redis.exceptions import RedisError

from webapp.infra.hit_shipper import Shipper

log = logging.getLogger(__name__)

BATCH_GATHER_SECONDS = 0.002  # after the first new line, wait this long for more
IDLE_WAIT_SECONDS = 0.5
ORPHAN_SCAN_SECONDS = 60.0
MAX_BATCH_BYTES = 1 << 20
TRUNCATE_AT_BYTES = 8 << 20  # a fully shipped file this big starts again at zero
RETRY_MAX_SECONDS = 2.0


def spool_directory(base: str | os.PathLike, redis_url: str) -> Path:
    """Spools of one Redis target: a line must only ever be shipped where it was meant to go."""
    return Path(base) / hashlib.sha256(redis_url.encode()).hexdigest()[:16]


def _lines_from(fd: int, start: int, end: int) -> tuple[list[bytes], int]:
    """Complete lines in [start, end) of the file, at most MAX_BATCH_BYTES of them, and
    the offset just after the last one."""
    data = os.pread(fd, min(end - start, MAX_BATCH_BYTES), start)
    cut = data.rfind(b"\n")
    if cut < 0:
        return [], start
    return data[:cut].split(b"\n"), start + cut + 1


def _read_mark(fd: int) -> int:
    raw = os.pread(fd, 32, 0).strip()
    return int(raw) if raw.isdigit() else 0


def _write_mark(fd: int, offset: int) -> None:
    os.pwrite(fd, b"%020d\n" % offset, 0)


def _limit_key(seconds: int, window: int, address: str) -> bytes:
    return f"crm-limits:tracking:{seconds}:{window}:{address}".encode()


def blocked_until(current: int, previous: int, amount: int, seconds: int, now: float) -> float | None:
    """When an address with `current` requests in this window and `previous` in the one
    before is back within `amount` per `seconds` (sliding window, estimated); None if it is
    within now. Never more than one window from now: by then a real sliding window holds
    none of today's requests."""
    start = (now // seconds) * seconds
    covered = 1 - (now - start) / seconds  # the share of the previous window still in the sliding one
    if previous * covered + current <= amount:
        return None
    if current > amount:  # still over when this window ends: until its own share shrinks enough
        until = start + seconds + seconds * (1 - amount / current)
    else:  # until the previous window's share has shrunk enough
        until = start + seconds * (1 - (amount - current) / previous)
    return min(until, now + seconds)


class HitSpool:
    """One process's spool for one Redis target, and its shipper thread."""

    def __init__(self, directory: Path, redis_url: str, stream: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.redis_url, self.stream = directory, redis_url, stream
        self.pid = os.getpid()
        self.name = f"{self.pid}-{secrets.token_hex(6)}"
        self.path = directory / f"{self.name}.hits"
        self.mark_path = directory / f"{self.name}.shipped"
        # Locked under a temporary name, then renamed: an orphan scan never sees (and
        # deletes) a spool whose owner has not locked it yet.
        temporary = directory / f"{self.name}.new"
        self.fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.mark_fd = os.open(self.mark_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        _write_mark(self.mark_fd, 0)
        os.rename(temporary, self.path)
        self.uid_prefix = secrets.token_hex(8)
        self.sequence = itertools.count(1)
        self.size = self.shipped = 0
        self.lock = threading.Lock()  # appends and truncation
        self.ship_lock = threading.Lock()  # one batch at a time
        self.shipper = Shipper(redis_url, stream)
        self.wake = threading.Event()
        self.idle = True
        self.closed = False
        # Per-address limit (amount, window seconds), counted in Redis with each batch.
        self.limit: tuple[int, int] | None = None
        self.tally: dict[str, int] = {}  # requests per address not yet counted in Redis
        self.blocked: dict[str, float] = {}  # address -> end of the window it is over its limit in
        self.thread = threading.Thread(target=self._run, name="crm-hit-shipper", daemon=True)
        self.thread.start()

    # --- the request path ---------------------------------------------------------------

    def next_uid(self) -> str:
        return f"{self.uid_prefix}-{next(self.sequence)}"

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may be answered again (0: now). Known from the counters
        the last batch brought back: every process's requests count, a few ms late."""
        until = self.blocked.get(address)
        if until is None:
            return 0
        left = until - time.time()
        if left <= 0:
            self.blocked.pop(address, None)
            return 0
        return math.ceil(left)

    def append(self, line: bytes, address: str = "") -> None:
        """Spool one line (no newline inside) of a request from `address`. Falls back to a
        direct XADD if the disk refuses."""
        data = line + b"\n"
        try:
            with self.lock:
                written = os.write(self.fd, data)
                while written < len(data):  # a short write: only on a nearly full disk
                    written += os.write(self.fd, data[written:])
                self.size += len(data)
                if self.limit is not None:
                    self.tally[address] = self.tally.get(address, 0) + 1
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                raise
            log.error("the hit spool %s cannot be written (%s); sending the hit to Redis directly", self.path, exc)
            self.shipper.client.xadd(self.stream, {"h": line})
            return
        if self.idle:
            self.idle = False
            self.wake.set()

    # --- shipping -------------------------------------------------------------------------

    def ship_pending(self) -> int:
        """Send everything spooled so far; returns the lines sent. Raises RedisError."""
        sent = 0
        with self.ship_lock:
            while True:
                with self.lock:
                    end, tally, self.tally = self.size, self.tally, {}
                if self.shipped >= end and not tally:
                    break
                lines, upto = _lines_from(self.fd, self.shipped, end)
                try:
                    self._ship(lines, tally)
                except BaseException:
                    with self.lock:  # not counted: count them with the next batch
                        for address, count in tally.items():
                            self.tally[address] = self.tally.get(address, 0) + count
                    raise
                sent += len(lines)
                self.shipped = upto
                _write_mark(self.mark_fd, upto)
            self._truncate_if_large()
        return sent

    def _ship(self, lines: list[bytes], tally: dict[str, int]) -> None:
        limit = self.limit
        if limit is None or not tally:
            self.shipper.ship(lines)
            return
        amount, seconds = limit
        now = time.time()
        window = int(now // seconds)
        counters = {_limit_key(seconds, window, address): count for address, count in tally.items()}
        previous = [_limit_key(seconds, window - 1, address) for address in tally]
        answer = self.shipper.ship(lines, counters, ttl=seconds * 2, read=previous)
        totals, befores = answer[:len(tally)], answer[len(tally):]
        for address, total, before in zip(tally, totals, befores, strict=True):
            until = blocked_until(int(total), int(before), amount, seconds, now)
            if until is not None:
                self.blocked[address] = until

    def _truncate_if_large(self) -> None:
        with self.lock:
            if self.shipped == self.size and self.size >= TRUNCATE_AT_BYTES:
                # The file first, then the mark: a crash in between leaves a mark past the
                # end of an empty file, which ships nothing.
                os.ftruncate(self.fd, 0)
                self.size = self.shipped = 0
                _write_mark(self.mark_fd, 0)

    def _run(self) -> None:
        next_scan, delay = 0.0, 0.0
        while not self.closed:
            try:
                if time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + ORPHAN_SCAN_SECONDS
                    recover_orphans(self.directory, self.shipper, exclude=self.path)
                self.idle = True
                self.wake.clear()
                with self.lock:
                    pending = self.size > self.shipped
                if not pending:
                    self.wake.wait(IDLE_WAIT_SECONDS)
                    continue
                self.idle = False
                time.sleep(delay or BATCH_GATHER_SECONDS)
                self.ship_pending()
                delay = 0.0
            except RedisError as exc:
                delay = min(max(delay * 2, 0.05), RETRY_MAX_SECONDS)
                log.warning("tracking hits wait in %s: Redis is unreachable (%s)", self.path, exc)
            except Exception:
                # Whatever went wrong, the thread goes on: it is the only one sending.
                delay = RETRY_MAX_SECONDS
                log.exception("shipping tracking hits from %s failed", self.path)

    def close(self) -> None:
        """Ship what is left and delete the files (a graceful exit). If Redis cannot be
        reached, the files stay, unlocked, and the next process to scan ships them."""
        if self.closed or self.pid != os.getpid():
            return
        self.closed = True
        self.wake.set()
        try:
            self.ship_pending()
        except Exception as exc:
            log.error("tracking hits left in %s for the next process to send: %s", self.path, exc)
            os.close(self.fd)
            os.close(self.mark_fd)
            return
        self.path.unlink(missing_ok=True)
        self.mark_path.unlink(missing_ok=True)
        os.close(self.fd)
        os.close(self.mark_fd)
        self.shipper.close()


def recover_orphans(directory: Path, shipper: Shipper, *, exclude: Path | None = None) -> int:
    """Ship the unshipped lines of every spool in `directory` whose owner is gone, then
    delete it. Returns the lines shipped. A Redis failure leaves the rest for next time."""
    shipped = 0
    try:
        candidates = sorted(directory.glob("*.hits"))
    except OSError:
        return 0
    for path in candidates:
        if path == exclude:
            continue
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # another process recovered it meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive
            if os.fstat(fd).st_nlink == 0:
                continue  # recovered and deleted while we waited for the lock
            mark_path = path.with_suffix(".shipped")
            mark_fd = os.open(mark_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)  # empty: nothing sent
            sent_here = 0
            try:
                done, end = _read_mark(mark_fd), os.fstat(fd).st_size
                while done < end:
                    lines, upto = _lines_from(fd, done, end)
                    if upto == done:
                        break  # a torn last line (the owner died mid-write): nothing complete left
                    shipper.ship(lines)
                    sent_here += len(lines)
                    done = upto
                    _write_mark(mark_fd, done)
            except RedisError as exc:
                log.warning("an orphaned hit spool %s waits for Redis: %s", path, exc)
                continue
            finally:
                shipped += sent_here
                os.close(mark_fd)
            path.unlink(missing_ok=True)
            mark_path.unlink(missing_ok=True)
            log.info("shipped %d tracking hits left in %s by a process that is gone", sent_here, path)
        finally:
            os.close(fd)
    return shipped


# --- one spool per process and Redis target -----------------------------------------------

_SPOOLS: dict[tuple[str, str], HitSpool] = {}  # (spool base, REDIS_URL) -> this process's spool
_SPOOLS_LOCK = threading.Lock()
# A folder that could not be used is tried again after this long; until then spool_for
# refuses at once (no mkdir, no log line per hit).
UNUSABLE_RETRY_SECONDS = 30.0
_UNUSABLE: dict[tuple[str, str], float] = {}  # (spool base, REDIS_URL) -> when to try again


def spool_for(base: str, redis_url: str, stream: str, limit: tuple[int, int] | None = None) -> HitSpool:
    """This process's spool for the target; `limit` (amount, window seconds) per address."""
    spool = _SPOOLS.get((base, redis_url))
    if spool is None or spool.pid != os.getpid():
        with _SPOOLS_LOCK:
            spool = _SPOOLS.get((base, redis_url))
            if spool is None or spool.pid != os.getpid():
                spool = _open_spool(base, redis_url, stream)
                _SPOOLS[(base, redis_url)] = spool
    if spool.limit != limit:
        spool.limit, spool.blocked = limit, {}  # refusals under another limit do not carry over
    return spool


def _open_spool(base: str, redis_url: str, stream: str) -> HitSpool:
    """A new spool, or OSError while its folder is unusable (said once per retry period)."""
    again = _UNUSABLE.get((base, redis_url))
    if again is not None and time.monotonic() < again:
        raise OSError(errno.EIO, f"the tracking spool folder {base} was unusable; tried again in "
                                 f"{again - time.monotonic():.0f} s")
    try:
        spool = HitSpool(spool_directory(base, redis_url), redis_url, stream)
    except OSError:
        _UNUSABLE[(base, redis_url)] = time.monotonic() + UNUSABLE_RETRY_SECONDS
        log.exception("no tracking hit spool in %s: hits go straight to Redis; tried again in %.0f s",
                      base, UNUSABLE_RETRY_SECONDS)
        raise
    _UNUSABLE.pop((base, redis_url), None)
    return spool


def ship_all(base: str, redis_url: str, stream: str) -> None:
    """Everything this process spooled for the target is in the stream, and so is every
    orphan's (tests before reading the stream; the writer before draining it)."""
    directory = spool_directory(base, redis_url)
    spool = _SPOOLS.get((base, redis_url))
    if spool is not None and spool.pid == os.getpid():
        spool.ship_pending()
        shipper = spool.shipper
        exclude = spool.path
    else:
        shipper, exclude = Shipper(redis_url, stream), None
    try:
        recover_orphans(directory, shipper, exclude=exclude)
    finally:
        if exclude is None:
            shipper.close()


def ship_every_spool() -> None:
    """Send what every spool of this process holds, whatever its target (tests, between
    tests). A target that cannot be reached keeps its lines."""
    for spool in list(_SPOOLS.values()):
        if spool.pid == os.getpid():
            try:
                spool.ship_pending()
            except RedisError as exc:
                log.warning("tracking hits stay in %s: %s", spool.path, exc)


def _forget_after_fork() -> None:
    # A forked child must neither write to its parent's spool nor keep its flock alive.
    for spool in _SPOOLS.values():
        for fd in (spool.fd, spool.mark_fd):
            try:
                os.close(fd)
            except OSError:
                pass
    _SPOOLS.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _close_all() -> None:
    for spool in list(_SPOOLS.values()):
        spool.close()
