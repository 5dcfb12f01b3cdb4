"""Per-process caches of what is read from the database and rebuilt when it changes."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class VersionedCache(Generic[T]):
    """slot -> (version, value): `get` answers the value built for this version of the slot
    (a tenant's workflows' key, its segments' versions...), building it when the version
    moved: never stale while the version moves with every change. At most `size` slots; the
    oldest goes first."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: dict[Hashable, tuple[Hashable, T]] = {}

    def get(self, slot: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        found = self._entries.get(slot)
        if found is not None and found[0] == version:
            return found[1]
        value = build()
        self._entries.pop(slot, None)
        if len(self._entries) >= self._size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[slot] = (version, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
