"""browse.discover: TMDB answers through the per-key cache, against the fake TMDB server."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from browse import discover, live
from browse.discover import Fetched, NotConfigured
from browse.tmdb import (
    AUTH_MESSAGE,
    BAD_KEY_MESSAGE,
    NO_KEY_MESSAGE,
    TMDBAuthError,
    TMDBNotFound,
    TMDBUnavailable,
)
from browse.tmdb_answers import Page
from media.models import Status
from plank.live import cache as live_cache
from plank.live.models import Outbox
from plank.models import get_preferences
from tests.browse.fake_tmdb import FakeTMDB
from tests.browse.helpers import at_once, summary
from tests.factories import make_title

# --- lists ----------------------------------------------------------------------------------


def test_trending_is_fetched_once_and_then_served_from_the_cache(configured: FakeTMDB) -> None:
    first = discover.trending("all", 1)
    second = discover.trending("all", 1)
    assert isinstance(first, Fetched)
    assert len(first.value.results) == 20
    assert {item.kind for item in first.value.results} == {"movie", "tv"}
    assert first.stale is False and first.error is None
    assert second.value == first.value
    assert len(configured.calls_to("/trending/all/week")) == 1
    assert live_cache.stats()["tmdb/trending"]["hits"] == 1


def test_trending_pages_and_kinds_are_separate_keys(configured: FakeTMDB) -> None:
    discover.trending("movie", 1)
    discover.trending("movie", 2)
    discover.trending("tv", 1)
    assert [q["page"] for q in configured.calls_to("/trending/movie/week")] == ["1", "2"]
    assert len(configured.calls_to("/trending/tv/week")) == 1


def test_popular_all_alternates_movies_and_shows(configured: FakeTMDB) -> None:
    merged = discover.popular("all", 1).value
    movies = discover.popular("movie", 1).value
    shows = discover.popular("tv", 1).value
    assert len(merged.results) == 40
    assert [item.kind for item in merged.results[:4]] == ["movie", "tv", "movie", "tv"]
    assert merged.results[0::2] == movies.results
    assert merged.results[1::2] == shows.results
    assert merged.total_results == movies.total_results + shows.total_results
    assert merged.total_pages == max(movies.total_pages, shows.total_pages)
    # the halves are cached under their own keys: one call each, whatever was asked
    assert len(configured.calls_to("/movie/popular")) == 1
    assert len(configured.calls_to("/tv/popular")) == 1


def test_popular_all_last_pages(configured: FakeTMDB) -> None:
    last = discover.popular("all", 3).value
    assert len(last.results) == 7 + 7  # 47 movies and 47 shows: 7 of each on page 3
    assert last.page == 3 and last.total_pages == 3 and not last.has_next
    beyond = discover.popular("all", 4).value
    assert beyond.results == () and beyond.page == 4


def test_merge_pages_keeps_the_staleness_of_either_half() -> None:
    a = Fetched(Page(1, 2, 30, (summary("A", popularity=1),)), stale=False, fetched_at=20.0)
    b = Fetched(
        Page(
            1, 5, 90, (summary("B", popularity=2, kind="tv"), summary("C", popularity=1, kind="tv"))
        ),
        stale=True,
        error="TMDB is down",
        fetched_at=10.0,
    )
    merged = discover.merge_pages(a, b)
    assert [item.title for item in merged.value.results] == ["A", "B", "C"]
    assert merged.stale is True and merged.error == "TMDB is down"
    assert merged.fetched_at == 10.0
    assert (merged.value.total_pages, merged.value.total_results) == (5, 120)


def test_bad_arguments_are_refused_before_any_request(configured: FakeTMDB) -> None:
    for call in (
        lambda: discover.trending("people", 1),
        lambda: discover.trending("all", 0),
        lambda: discover.trending("all", 501),
        lambda: discover.popular("all", True),  # type: ignore[arg-type]
        lambda: discover.movie(0),
        lambda: discover.season(1396, -1),
    ):
        with pytest.raises(ValueError):
            call()
    assert configured.calls == []


# --- search ---------------------------------------------------------------------------------


def test_search_ranks_exact_then_prefix_then_the_rest() -> None:
    results = [
        summary("The Housemaid", popularity=90, tmdb_id=1),
        summary("Full House", popularity=80, tmdb_id=2),
        summary("House of the Dragon", popularity=70, kind="tv", tmdb_id=3),
        summary("House", popularity=10, kind="tv", tmdb_id=4),
        summary("House of Cards", popularity=75, kind="tv", tmdb_id=5),
    ]
    ranked = discover.rank_results("house", results)
    assert [item.tmdb_id for item in ranked] == [4, 1, 5, 3, 2]
    # "The Housemaid" counts as a prefix match: a leading article is not part of the title


def test_search_rank_is_loose_about_case_accents_and_punctuation() -> None:
    assert discover.search_rank("amelie", summary("Amélie", popularity=1)) == 0
    assert discover.search_rank("SPIDER MAN", summary("Spider-Man", popularity=1)) == 0
    assert discover.search_rank("your name", summary("Your Name.", popularity=1)) == 0
    assert discover.search_rank("tom and jerry", summary("Tom & Jerry", popularity=1)) == 0
    assert discover.search_rank("matrix", summary("The Matrix", popularity=1)) == 0
    assert discover.search_rank("matrix", summary("Matrix Resurrections", popularity=1)) == 1
    assert discover.search_rank("matrix", summary("Inside the Matrix", popularity=1)) == 2


def test_search_over_movies_and_shows_ranked_and_cached(configured: FakeTMDB) -> None:
    first = discover.search("  HOUSE ", 1)
    titles = [item.title for item in first.value.results]
    assert titles[:2] == ["House", "House of the Dragon"]  # TMDB sent the Dragon first
    assert discover.search("house", 1).value == first.value
    calls = configured.calls_to("/search/multi")
    assert len(calls) == 1 and calls[0]["query"] == "house"


def test_search_one_kind_uses_its_own_endpoint_and_key(configured: FakeTMDB) -> None:
    shows = discover.search("house", 1, "tv").value
    assert [item.title for item in shows.results] == ["House", "House of the Dragon"]
    assert discover.search("house", 1, "movie").value.results == ()
    discover.search("house", 1, "tv")
    assert len(configured.calls_to("/search/tv")) == 1
    assert configured.calls_to("/search/multi") == []
    with pytest.raises(ValueError):
        discover.search("house", 1, "people")


def test_search_drops_people_and_empty_queries_cost_nothing(configured: FakeTMDB) -> None:
    found = discover.search("keanu", 1).value
    assert found.results == ()  # a person only
    assert discover.search("   ", 1).value.results == ()
    assert len(configured.calls_to("/search/multi")) == 1


def test_search_queries_with_slashes_and_percents_are_fine(configured: FakeTMDB) -> None:
    a = discover.search("AC/DC", 1)
    b = discover.search("100%", 1)
    assert a.value.results == () and b.value.results == ()
    assert [q["query"] for q in configured.calls_to("/search/multi")] == ["ac/dc", "100%"]
    assert discover.normalize_query("a\x00b\tc " * 40) == ("ab c " * 40)[:100].strip()


# --- details --------------------------------------------------------------------------------


def test_movie_details_with_credits_in_one_call(configured: FakeTMDB) -> None:
    movie = discover.movie(603).value
    assert movie.title == "The Matrix"
    assert movie.runtime == 136
    assert movie.genres == ("Action", "Science Fiction")
    assert movie.cast[0] == "Keanu Reeves"
    assert movie.imdb_id == "tt0133093"
    discover.details("movie", 603)
    assert len(configured.calls_to("/movie/603")) == 1


def test_show_and_season_details(configured: FakeTMDB) -> None:
    show = discover.tv(1396).value
    assert [s.season_number for s in show.seasons] == [0, 1, 2, 3, 4, 5]
    season = discover.season(1396, 1).value
    assert [e.name for e in season.episodes][:2] == ["Pilot", "Cat's in the Bag..."]
    discover.season(1396, 1)
    assert len(configured.calls_to("/tv/1396/season/1")) == 1


def test_unknown_title_is_not_found_and_not_retried(configured: FakeTMDB) -> None:
    with pytest.raises(TMDBNotFound):
        discover.movie(424242)
    assert len(configured.calls_to("/movie/424242")) == 1


def test_configuration_and_genres_are_cached(configured: FakeTMDB) -> None:
    config = discover.configuration().value
    assert config.secure_base_url == configured.image_base_url
    assert discover.genres("movie").value[28] == "Action"
    discover.configuration()
    discover.genres("movie")
    assert len(configured.calls_to("/configuration")) == 1
    assert len(configured.calls_to("/genre/movie/list")) == 1


# --- the credential -------------------------------------------------------------------------


def test_no_key_is_not_configured_and_nothing_is_sent(configured: FakeTMDB) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()
    with pytest.raises(NotConfigured) as caught:
        discover.trending("all", 1)
    assert caught.value.message == NO_KEY_MESSAGE
    assert discover.is_configured() is False
    assert configured.calls == []


def test_malformed_key_is_not_configured(configured: FakeTMDB) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = "not a key"
    prefs.save()
    with pytest.raises(NotConfigured) as caught:
        discover.movie(603)
    assert caught.value.message == BAD_KEY_MESSAGE
    assert configured.calls == []


def test_rejected_key_is_an_auth_error(configured: FakeTMDB) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = "f" * 32
    prefs.save()
    with pytest.raises(TMDBAuthError) as caught:
        discover.trending("all", 1)
    assert caught.value.message == AUTH_MESSAGE
    assert len(configured.calls) == 1  # a 401 is not retried


def test_language_comes_from_the_preferences(configured: FakeTMDB) -> None:
    prefs = get_preferences()
    prefs.tmdb_language = "de-DE"
    prefs.save()
    discover.trending("movie", 1)
    assert configured.calls_to("/trending/movie/week")[0]["language"] == "de-DE"


def tmdb_announcements() -> int:
    return sum(1 for row in Outbox.objects.all() if list(live.TMDB) in row.keys)


def test_a_new_language_makes_cached_answers_stale(configured_tx: FakeTMDB) -> None:
    # Committed rows (transactional): the save's announcement is sent when it commits.
    discover.trending("movie", 1)
    prefs = get_preferences()
    before = tmdb_announcements()
    prefs.tmdb_language = "fr-FR"
    prefs.save()
    assert tmdb_announcements() == before + 1
    discover.trending("movie", 1)
    assert [q["language"] for q in configured_tx.calls_to("/trending/movie/week")] == [
        "en-US",
        "fr-FR",
    ]


def test_saving_the_same_settings_keeps_the_cache(configured_tx: FakeTMDB) -> None:
    discover.trending("movie", 1)
    before = tmdb_announcements()
    get_preferences().save()
    discover.trending("movie", 1)
    assert len(configured_tx.calls_to("/trending/movie/week")) == 1
    assert tmdb_announcements() == before


# --- failures -------------------------------------------------------------------------------


def test_cold_failure_raises_the_mapped_error(configured: FakeTMDB) -> None:
    configured.fail("/trending/all/week", 503)
    with pytest.raises(TMDBUnavailable) as caught:
        discover.trending("all", 1)
    assert "HTTP 503" in caught.value.message
    # interactive: one retry, then the error
    assert len(configured.calls_to("/trending/all/week")) == 2


def test_failure_after_caching_serves_the_old_value_flagged(configured: FakeTMDB) -> None:
    fresh = discover.trending("all", 1)
    live_cache.invalidate(("tmdb",))
    configured.fail("/trending/all/week", 500)
    served = discover.trending("all", 1)
    assert served.value == fresh.value
    assert served.stale is True
    assert served.error and "HTTP 500" in served.error


def test_fifty_concurrent_cold_callers_cause_one_upstream_call(configured_tx: FakeTMDB) -> None:
    configured = configured_tx
    configured.slow("/trending/tv/week", 0.3)
    results = at_once(50, lambda: len(discover.trending("tv", 1).value.results))
    assert results == [20] * 50
    assert len(configured.calls_to("/trending/tv/week")) == 1


# --- the library side -----------------------------------------------------------------------


def test_in_library_matches_kind_and_id(configured: FakeTMDB) -> None:
    make_title(kind="movie", title="The Matrix", tmdb_id=603)
    make_title(kind="tv", title="Gone", tmdb_id=1396, status=Status.REMOVED)
    items = [
        summary("The Matrix", popularity=1, tmdb_id=603),
        summary("Same id, a show", popularity=1, kind="tv", tmdb_id=603),
        summary("Breaking Bad", popularity=1, kind="tv", tmdb_id=1396),
    ]
    assert discover.in_library(items) == {("movie", 603)}
    assert discover.in_library([]) == set()


def test_warm_fetches_the_first_pages_of_every_list(configured: FakeTMDB) -> None:
    seen: list[str] = []
    assert discover.warm(2, progress=seen.append) == 0
    assert len(seen) == 3 + 5 * 2
    for path in ("/trending/all/week", "/trending/movie/week", "/trending/tv/week"):
        assert [q["page"] for q in configured.calls_to(path)] == ["1", "2"]
    assert len(configured.calls_to("/movie/popular")) == 2
    assert len(configured.calls_to("/genre/tv/list")) == 1
    configured.clear_calls()
    discover.trending("movie", 2)
    assert configured.calls == []


def test_warm_counts_failed_lists(configured: FakeTMDB) -> None:
    configured.fail("/tv/popular", 404)
    assert discover.warm(1) == 1


def test_health_check(configured: FakeTMDB) -> None:
    check = discover.health()
    assert check.ok is True and check.summary == "connected"
    configured.fail("/configuration", 401)
    cache.clear()
    check = discover.health()
    assert check.ok is False and check.summary == AUTH_MESSAGE
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()
    check = discover.health()
    assert check.ok is False and check.summary == NO_KEY_MESSAGE
