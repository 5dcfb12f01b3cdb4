"""Open and click tracking: link rows at delivery, hits into a Redis stream, and the writer.

The public endpoints never wait on a row lock: an open appends one line to the web
process's hit spool (no database, no network: webapp/infra/hit_spool.py, whose thread
sends the lines to the stream in batches), a click does one indexed read for its target
and the same append. Each hit carries an id of its own. A single writer at a time
(a Redis lock) reads the stream with a consumer group in batches, writes raw hits,
per-recipient counters, per-link counters, hourly rollups and timeline activities in one
transaction, then acknowledges. A writer that dies before acknowledging leaves its
entries pending; the next one claims them (XAUTOCLAIM). A hit written twice counts
once: tracking_hits.stream_id holds the hit's id, is unique, and written ids are skipped.

The package follows a hit: `delivery` (link rows and the HTML hook), `recording` (the
public endpoints and the spool line), `writer` (the stream, the lock, the consumer group)
and `batches` (one batch written in one transaction). Callers import from here.
"""

from webapp.services.tracking.batches import write_batch
from webapp.services.tracking.delivery import instrumenters, link_ids
from webapp.services.tracking.recording import (
    HEADER_LIMIT,
    PIXEL,
    STREAM,
    confirm_hits,
    record_click,
    record_open,
    retry_after,
)
from webapp.services.tracking.writer import GROUP, LOCK_SECONDS, WRITER_LOCK, drain_hits

__all__ = [
    "GROUP", "HEADER_LIMIT", "LOCK_SECONDS", "PIXEL", "STREAM", "WRITER_LOCK", "confirm_hits", "drain_hits",
    "instrumenters", "link_ids", "record_click", "record_open", "retry_after", "write_batch",
]
