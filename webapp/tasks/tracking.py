"""Tracking job: write queued open and click hits to the database in batches."""

from __future__ import annotations

from webapp.services.tracking import drain_hits


def write_tracking_hits() -> dict[str, int]:
    """Periodic (every few seconds): drain the hits stream; one writer at a time."""
    return drain_hits()
