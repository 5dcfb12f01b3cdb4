"""VersionedCache: a value per slot, built once per version of the slot, rebuilt when the
version moves, bounded with the oldest slot going first."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.infra.memo import VersionedCache


def test_a_value_is_built_once_per_version_and_again_when_the_version_moves():
    cache = VersionedCache[str](size=4)
    builds: list[str] = []

    def build(value: str):
        return lambda: builds.append(value) or value

    assert cache.get(1, "v1", build("a")) == "a"
    assert cache.get(1, "v1", build("b")) == "a"
    assert cache.get(1, "v2", build("c")) == "c"
    assert cache.get(2, "v1", build("d")) == "d"  # another slot, the same version: its own value
    assert builds == ["a", "c", "d"]


def test_the_oldest_slot_goes_when_the_cache_is_full():
    cache = VersionedCache[int](size=2)
    cache.get("a", 1, lambda: 1)
    cache.get("b", 1, lambda: 2)
    cache.get("a", 2, lambda: 3)  # rebuilt: "a" is now the newest
    cache.get("c", 1, lambda: 4)  # full: "b" goes

    assert cache.get("a", 2, lambda: -1) == 3
    assert cache.get("c", 1, lambda: -1) == 4
    assert cache.get("b", 1, lambda: -2) == -2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), max_size=60), st.integers(1, 4))
def test_it_answers_what_building_now_would_and_never_holds_more_than_its_size(calls, size):
    cache = VersionedCache[tuple](size=size)
    for slot, version in calls:
        assert cache.get(slot, version, lambda s=slot, v=version: (s, v)) == (slot, version)
        assert len(cache._entries) <= size
