"""Waitlist jobs: the periodic sweep that expires unused offers and passes their tickets to
the next in line. Idempotent: offers expire by conditional UPDATE under the event's lock."""

from __future__ import annotations

from webapp.services.events import waitlist


def expire_waitlist_offers() -> int:
    """Periodic: offers past their time expire and pass on; returns how many expired."""
    return waitlist.expire_offers()
