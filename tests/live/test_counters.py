"""The live cache's counters per top-level and two-part prefix."""

from __future__ import annotations

from plank.live.counters import COUNTERS, Counters, buckets, total


def test_a_key_counts_in_its_top_level_and_two_part_prefix() -> None:
    assert buckets(("tmdb", "trending", "movie", 1)) == ("tmdb", "tmdb/trending")
    assert buckets(("media", 42)) == ("media", "media/42")
    assert buckets(("media",)) == ("media",)


def test_top_level_buckets_sum_to_the_whole_cache() -> None:
    counters = Counters()
    counters.add(buckets(("tmdb", "trending", "movie", 1)), "hits", 2)
    counters.add(buckets(("tmdb", "popular", "tv", 1)), "misses")
    counters.add(buckets(("media",)), "hits")
    assert set(counters.snapshot()) == {"tmdb", "tmdb/trending", "tmdb/popular", "media"}
    top = counters.top_level()
    assert set(top) == {"tmdb", "media"}
    assert total(top) == dict.fromkeys(COUNTERS, 0) | {"hits": 3, "misses": 1}
    counters.reset()
    assert counters.snapshot() == {}
