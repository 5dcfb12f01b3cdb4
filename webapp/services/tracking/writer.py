"""The writer: one at a time (a Redis lock), it reads the stream with a consumer group in
batches, has each batch written, then acknowledges; entries a dead writer left pending are
claimed again (XAUTOCLAIM)."""

from __future__ import annotations

import os
import socket
import time

from flask import current_app
from redis.exceptions import ResponseError

from webapp.infra.queues import redis_connection
from webapp.services.tracking.batches import write_batch
from webapp.services.tracking.recording import STREAM, _unpack, confirm_hits

GROUP = "writers"
WRITER_LOCK = "crm:tracking:writer"
LOCK_SECONDS = 60


# --- the writer -------------------------------------------------------------------------

def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _ensure_group(redis) -> None:
    try:
        redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _decode(entries) -> list[tuple[str, dict[str, str]]]:
    """(hit id, fields) of stream entries: the id the hit got when it was answered, or
    the stream entry's id for an entry without one."""
    decoded = []
    for sid, fields in entries:
        if not fields:
            continue
        unpacked = _unpack({(k.decode() if isinstance(k, bytes) else k):
                            (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in fields.items()})
        decoded.append((unpacked.get("u") or (sid.decode() if isinstance(sid, bytes) else sid), unpacked))
    return decoded


def drain_hits(*, batch_size: int = 1000, max_seconds: float = 50.0, consumer: str | None = None,
               reclaim_idle_ms: int | None = None) -> dict[str, int]:
    """Write queued hits until the stream is empty (or max_seconds): the periodic job, and
    on demand in tests and benchmarks. Returns counts of entries read, hits written and
    entries discarded (unknown recipients or links)."""
    confirm_hits()
    redis = redis_connection()
    consumer = consumer or _consumer_name()
    idle = reclaim_idle_ms if reclaim_idle_ms is not None else int(
        current_app.config.get("TRACKING_RECLAIM_IDLE_MS", 30_000))
    totals = {"read": 0, "written": 0, "discarded": 0}
    if not redis.set(WRITER_LOCK, consumer, nx=True, ex=LOCK_SECONDS):
        return totals  # another writer is at work; the next period tries again
    try:
        _ensure_group(redis)
        deadline = time.monotonic() + max_seconds
        reclaiming = True
        while time.monotonic() < deadline:
            redis.expire(WRITER_LOCK, LOCK_SECONDS)
            if reclaiming:
                # Entries read by a writer that died before acknowledging them.
                _next, entries, *_ = redis.xautoclaim(STREAM, GROUP, consumer, min_idle_time=idle,
                                                      start_id="0-0", count=batch_size)
                reclaiming = bool(entries)
            else:
                entries = []
            if not entries:
                reply = redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=batch_size)
                entries = reply[0][1] if reply else []
            if not entries:
                break
            decoded = _decode(entries)
            written, discarded = write_batch(decoded)
            raw_ids = [sid for sid, _ in entries]
            redis.xack(STREAM, GROUP, *raw_ids)
            redis.xdel(STREAM, *raw_ids)
            totals["read"] += len(entries)
            totals["written"] += written
            totals["discarded"] += discarded
    finally:
        if (redis.get(WRITER_LOCK) or b"").decode() == consumer:
            redis.delete(WRITER_LOCK)
    return totals
