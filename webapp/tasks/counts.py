"""The periodic fold of the counts kept as deltas (services/kept_counts.py)."""

from __future__ import annotations

from webapp.services import kept_counts


def fold_kept_counts() -> dict[str, int]:
    """Periodic: fold each kept count's deltas into one row per key, so that reading a count
    stays a sum of a few rows however many purchases, unsubscribes and steps moved it."""
    return kept_counts.fold_kept_counts()
