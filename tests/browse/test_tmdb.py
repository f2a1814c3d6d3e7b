"""browse/tmdb.py against a real local HTTP server speaking TMDB (tests/browse/fake_tmdb.py)."""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from browse import discover
from browse import tmdb as tmdb_module
from browse.tmdb import (
    AUTH_MESSAGE,
    BAD_KEY_MESSAGE,
    BAD_URL_MESSAGE,
    INVALID_MESSAGE,
    MAX_IMAGE_BYTES,
    NO_KEY_MESSAGE,
    NOT_FOUND_MESSAGE,
    TIMEOUT_MESSAGE,
    TMDBAuthError,
    TMDBBadImage,
    TMDBClient,
    TMDBError,
    TMDBNotFound,
    TMDBRateLimited,
    TMDBUnavailable,
    parse_retry_after,
)
from browse.tmdb_answers import (
    Episode,
    ImageConfig,
    InvalidImagePath,
    MovieDetails,
    Page,
    SeasonDetails,
    SeasonSummary,
    ShowDetails,
    Summary,
    is_valid_image_path,
    parse_date,
    parse_year,
)
from plank.live.errors import UpstreamError
from plank.tmdb_credentials import credential_kind
from tests.browse.fake_tmdb import (
    BREAKING_BAD_CAST,
    FAKE_API_KEY,
    FAKE_BEARER_TOKEN,
    HOSTILE_MOVIE_ID,
    HOSTILE_SHOW_ID,
    HOSTILE_TITLE,
    MOVIES,
    SHOWS,
    THE_MATRIX_CAST,
    UNDATED_MOVIE_ID,
    FakeTMDB,
    image_path,
)

OTHER_V3_KEY = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port with a socket bound but not listening: connecting is refused, reliably."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# --- credentials and auth -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (FAKE_API_KEY, "v3"),
        (FAKE_API_KEY.upper(), "v3"),
        (f"  {FAKE_API_KEY}\n", "v3"),
        (FAKE_BEARER_TOKEN, "v4"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.", "v4"),
        ("", None),
        (None, None),
        (FAKE_API_KEY[:-1], None),
        (FAKE_API_KEY + "0", None),
        ("0123456789abcdef0123456789abcdeg", None),
        ("eyJhbGciOiJIUzI1NiJ9", None),
        ("Bearer " + FAKE_BEARER_TOKEN, None),
        ("abc.def.ghi", None),
    ],
)
def test_credential_kind(value: str | None, kind: str | None) -> None:
    assert credential_kind(value) == kind


def test_missing_or_malformed_credential_is_refused_before_any_request(
    fake_tmdb: FakeTMDB,
) -> None:
    with pytest.raises(TMDBAuthError) as missing:
        TMDBClient("", fake_tmdb.base_url)
    assert missing.value.message == NO_KEY_MESSAGE
    assert missing.value.transient is False
    with pytest.raises(TMDBAuthError) as malformed:
        TMDBClient("not-a-key", fake_tmdb.base_url)
    assert malformed.value.message == BAD_KEY_MESSAGE
    assert fake_tmdb.calls == []


def test_v3_key_is_sent_as_api_key_query_parameter(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    assert tmdb.credential_kind == "v3"
    tmdb.genres("movie")
    [request] = fake_tmdb.requests
    assert request.path == "/genre/movie/list"
    assert request.auth == "v3"
    assert request.query["api_key"] == FAKE_API_KEY
    assert request.query["language"] == "en-US"
    assert "Authorization" not in request.headers


def test_v4_token_is_sent_as_bearer_header(fake_tmdb: FakeTMDB, tmdb_v4: TMDBClient) -> None:
    assert tmdb_v4.credential_kind == "v4"
    tmdb_v4.genres("tv")
    [request] = fake_tmdb.requests
    assert request.auth == "v4"
    assert request.headers["Authorization"] == f"Bearer {FAKE_BEARER_TOKEN}"
    assert "api_key" not in request.query


def test_language_is_configurable(fake_tmdb: FakeTMDB) -> None:
    TMDBClient(FAKE_API_KEY, fake_tmdb.base_url, language="fr-FR").popular("movie")
    assert fake_tmdb.calls_to("/movie/popular") == [
        {"api_key": FAKE_API_KEY, "language": "fr-FR", "page": "1"}
    ]


def test_client_repr_hides_the_credential(tmdb: TMDBClient, tmdb_v4: TMDBClient) -> None:
    assert FAKE_API_KEY not in repr(tmdb)
    assert FAKE_BEARER_TOKEN not in repr(tmdb_v4)


@pytest.mark.parametrize("credential", [OTHER_V3_KEY, FAKE_BEARER_TOKEN[:-4] + "AAAA"])
def test_rejected_credential_raises_auth_error(fake_tmdb: FakeTMDB, credential: str) -> None:
    client = TMDBClient(credential, fake_tmdb.base_url)
    with pytest.raises(TMDBAuthError) as caught:
        client.trending("movie")
    error = caught.value
    assert isinstance(error, UpstreamError)
    assert (
        str(error) == AUTH_MESSAGE == "TMDB rejected the API key — check it on the settings page."
    )
    assert error.transient is False
    assert error.status == 401
    assert error.tmdb_code == 7
    assert fake_tmdb.requests[0].auth == "invalid"


def test_test_connection(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    assert tmdb.test_connection() == "Connected"
    assert [path for path, _ in fake_tmdb.calls] == ["/configuration"]
    with pytest.raises(TMDBAuthError):
        TMDBClient(OTHER_V3_KEY, fake_tmdb.base_url).test_connection()


def test_the_apps_client_uses_the_configured_address(settings, fake_tmdb: FakeTMDB) -> None:
    settings.PLANK_TMDB_BASE_URL = fake_tmdb.base_url
    client = discover.client(FAKE_API_KEY, "en-US")
    assert client.base_url == fake_tmdb.base_url
    assert client.test_connection() == "Connected"


def test_trailing_slash_in_base_url_is_tolerated(fake_tmdb: FakeTMDB) -> None:
    TMDBClient(FAKE_API_KEY, fake_tmdb.base_url + "/").configuration()
    assert fake_tmdb.calls[0][0] == "/configuration"


# --- parsing every method -------------------------------------------------------------------


def test_configuration(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    config = tmdb.configuration()
    assert isinstance(config, ImageConfig)
    assert config.secure_base_url == fake_tmdb.image_base_url
    assert config.poster_sizes == ("w92", "w154", "w185", "w342", "w500", "w780", "original")
    assert config.backdrop_sizes == ("w300", "w780", "w1280", "original")
    assert "w300" in config.still_sizes
    assert config.poster_url("/abc.jpg") == f"{fake_tmdb.image_base_url}w342/abc.jpg"
    assert config.poster_url("/abc.jpg", "w500") == f"{fake_tmdb.image_base_url}w500/abc.jpg"
    assert config.poster_url(None) is None
    assert config.poster_url("/../../etc/passwd.jpg") is None
    with pytest.raises(InvalidImagePath):
        config.poster_url("/abc.jpg", "w342/../x")
    # /configuration is not language dependent
    assert "language" not in fake_tmdb.calls[0][1]


def test_genres(tmdb: TMDBClient) -> None:
    movie_genres = tmdb.genres("movie")
    assert movie_genres[28] == "Action"
    assert movie_genres[878] == "Science Fiction"
    tv_genres = tmdb.genres("tv")
    assert tv_genres[10765] == "Sci-Fi & Fantasy"
    assert all(isinstance(k, int) and isinstance(v, str) for k, v in tv_genres.items())
    with pytest.raises(ValueError):
        tmdb.genres("all")  # type: ignore[arg-type]


def test_trending_all_mixes_movies_and_shows_and_drops_people(
    fake_tmdb: FakeTMDB, tmdb: TMDBClient
) -> None:
    first = tmdb.trending("all")
    assert isinstance(first, Page)
    assert first.page == 1
    assert first.total_results == len(MOVIES) + len(SHOWS) + 1  # one person trends too
    assert first.total_pages == 5
    assert first.has_next and not first.has_previous
    assert all(isinstance(s, Summary) for s in first.results)
    assert {s.kind for s in first.results} == {"movie", "tv"}
    seen = []
    for number in range(1, first.total_pages + 1):
        seen += tmdb.trending("all", page=number).results
    assert len(seen) == len(MOVIES) + len(SHOWS)  # the person is gone
    assert len({(s.kind, s.tmdb_id) for s in seen}) == len(seen)
    assert fake_tmdb.calls_to("/trending/all/week")[-1]["page"] == "5"


def test_trending_kinds_and_windows(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    week = tmdb.trending("movie")
    day = tmdb.trending("movie", window="day")
    assert {s.kind for s in week.results} == {"movie"}
    assert [s.tmdb_id for s in week.results] != [s.tmdb_id for s in day.results]
    assert week.total_results == day.total_results == len(MOVIES)
    shows = tmdb.trending("tv", page=2)
    assert shows.page == 2
    assert {s.kind for s in shows.results} == {"tv"}
    assert [path for path, _ in fake_tmdb.calls] == [
        "/trending/movie/week",
        "/trending/movie/day",
        "/trending/tv/week",
    ]
    with pytest.raises(ValueError):
        tmdb.trending("people")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tmdb.trending("movie", window="month")  # type: ignore[arg-type]


def test_popular_movies_parses_summaries(tmdb: TMDBClient) -> None:
    page = tmdb.popular("movie")
    assert page.total_results == len(MOVIES)
    assert page.total_pages == 3
    assert len(page.results) == 20
    matrix = next(s for s in page.results if s.tmdb_id == 603)
    assert matrix == Summary(
        kind="movie",
        tmdb_id=603,
        title="The Matrix",
        original_title="The Matrix",
        year=1999,
        overview=matrix.overview,
        poster_path=image_path("movie-poster-603"),
        vote_average=8.2,
        popularity=310.5,
        backdrop_path=image_path("movie-backdrop-603"),
        genre_ids=(28, 878),
    )
    assert matrix.overview.startswith("Set in the 22nd century")
    # sorted by popularity, like TMDB
    assert [s.popularity for s in page.results] == sorted(
        (s.popularity for s in page.results), reverse=True
    )
    last = tmdb.popular("movie", page=3)
    assert len(last.results) == len(MOVIES) - 40
    assert not last.has_next and last.has_previous


def test_popular_shows_and_original_titles(tmdb: TMDBClient) -> None:
    results = []
    for number in (1, 2, 3):
        results += tmdb.popular("tv", page=number).results
    assert len(results) == len(SHOWS)
    breaking_bad = next(s for s in results if s.tmdb_id == 1396)
    assert (breaking_bad.kind, breaking_bad.title, breaking_bad.year) == (
        "tv",
        "Breaking Bad",
        2008,
    )
    squid = next(s for s in results if s.tmdb_id == 93405)
    assert (squid.title, squid.original_title) == ("Squid Game", "오징어 게임")
    with pytest.raises(ValueError):
        tmdb.popular("all")  # type: ignore[arg-type]


def test_hostile_title_is_kept_as_plain_text(tmdb: TMDBClient) -> None:
    movies = [s for n in (1, 2, 3) for s in tmdb.popular("movie", page=n).results]
    hostile = next(s for s in movies if s.tmdb_id == HOSTILE_MOVIE_ID)
    # the client neither escapes nor strips: templates escape on output
    assert hostile.title == HOSTILE_TITLE == '<script>alert(1)</script> "quotes" & ampersands'


def test_search_multi(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    page = tmdb.search("matrix")
    assert [(s.kind, s.tmdb_id, s.title, s.year) for s in page.results] == [
        ("movie", 603, "The Matrix", 1999)
    ]
    assert fake_tmdb.calls_to("/search/multi") == [
        {
            "api_key": FAKE_API_KEY,
            "language": "en-US",
            "query": "matrix",
            "page": "1",
            "include_adult": "false",
        }
    ]
    both = tmdb.search("the")
    assert {s.kind for s in both.results} == {"movie", "tv"}
    # "Bryan Cranston" only matches a person: dropped
    assert tmdb.search("Bryan Cranston").results == ()
    assert [s.tmdb_id for s in tmdb.search("  breaking bad ").results] == [1396]


def test_search_with_empty_query_makes_no_request(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    for method in (tmdb.search, tmdb.search_movie, tmdb.search_tv):
        page = method("   ")
        assert page == Page(page=1, total_pages=0, total_results=0, results=())
    assert fake_tmdb.calls == []


def test_search_movie_with_year(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    found = tmdb.search_movie("The Matrix", year=1999)
    assert [(s.kind, s.tmdb_id) for s in found.results] == [("movie", 603)]
    assert fake_tmdb.calls_to("/search/movie")[0]["year"] == "1999"
    assert tmdb.search_movie("The Matrix", year=2003).results == ()
    without_year = tmdb.search_movie("terminator")
    assert {s.tmdb_id for s in without_year.results} == {218, 280}
    assert "year" not in fake_tmdb.calls_to("/search/movie")[-1]


def test_search_tv_with_first_air_date_year(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    found = tmdb.search_tv("breaking bad", first_air_date_year=2008)
    assert [(s.kind, s.tmdb_id, s.title) for s in found.results] == [("tv", 1396, "Breaking Bad")]
    assert fake_tmdb.calls_to("/search/tv")[0]["first_air_date_year"] == "2008"
    assert tmdb.search_tv("breaking bad", first_air_date_year=2009).results == ()
    assert [s.tmdb_id for s in tmdb.search_tv("ワンピース").results] == [37854]


def test_movie_details(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    movie = tmdb.movie(603)
    assert movie == MovieDetails(
        tmdb_id=603,
        title="The Matrix",
        original_title="The Matrix",
        year=1999,
        release_date=date(1999, 3, 31),
        overview=movie.overview,
        tagline="Welcome to the Real World.",
        runtime=136,
        vote_average=8.2,
        genres=("Action", "Science Fiction"),
        cast=THE_MATRIX_CAST[:10],
        imdb_id="tt0133093",
        poster_path=image_path("movie-poster-603"),
        backdrop_path=image_path("movie-backdrop-603"),
    )
    assert movie.kind == "movie"
    assert len(THE_MATRIX_CAST) == 12  # so the first-ten cut is really exercised
    assert fake_tmdb.calls_to("/movie/603")[0]["append_to_response"] == "credits,external_ids"


def test_movie_details_with_gaps(tmdb: TMDBClient) -> None:
    undated = tmdb.movie(UNDATED_MOVIE_ID)
    assert undated.year is None
    assert undated.release_date is None
    assert undated.runtime is None  # TMDB sends 0 for "unknown"
    assert undated.poster_path is None and undated.backdrop_path is None
    assert undated.cast == () and undated.genres == ()
    assert undated.imdb_id is None
    hostile = tmdb.movie(HOSTILE_MOVIE_ID)
    assert hostile.title == HOSTILE_TITLE
    assert hostile.cast == ("<b>Bold</b> Actor", "Ann & Andy")
    assert hostile.imdb_id is None


def test_show_details(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    show = tmdb.tv(1396)
    assert isinstance(show, ShowDetails)
    assert (show.tmdb_id, show.name, show.title, show.original_title) == (
        1396,
        "Breaking Bad",
        "Breaking Bad",
        "Breaking Bad",
    )
    assert show.kind == "tv"
    assert show.year == 2008
    assert show.first_air_date == date(2008, 1, 20)
    assert show.number_of_seasons == 5
    assert show.number_of_episodes == 7 + 13 + 13 + 13 + 16
    assert show.episode_run_time == (45, 47)
    assert show.genres == ("Drama", "Crime")
    assert show.cast == BREAKING_BAD_CAST
    assert show.imdb_id == "tt0903747"
    assert show.tvdb_id == 81189
    assert show.status == "Ended"
    assert show.seasons[0] == SeasonSummary(
        season_number=0,
        name="Specials",
        episode_count=3,
        air_date=date(2009, 2, 17),
        poster_path=image_path("season-1396-0"),
    )
    assert [(s.season_number, s.episode_count) for s in show.seasons[1:]] == [
        (1, 7),
        (2, 13),
        (3, 13),
        (4, 13),
        (5, 16),
    ]
    assert fake_tmdb.calls_to("/tv/1396")[0]["append_to_response"] == "credits,external_ids"


def test_season_details(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    season = tmdb.season(1396, 1)
    assert isinstance(season, SeasonDetails)
    assert (season.tmdb_id, season.season_number, season.name) == (1396, 1, "Season 1")
    assert season.air_date == date(2008, 1, 20)
    assert len(season.episodes) == 7
    assert season.episodes[0] == Episode(
        season_number=1,
        episode_number=1,
        name="Pilot",
        overview="Season 1, episode 1.",
        air_date=date(2008, 1, 20),
        runtime=47,
        still_path=image_path("still-1396-1-1"),
    )
    assert season.episodes[1].name == "Cat's in the Bag..."
    assert [e.episode_number for e in season.episodes] == list(range(1, 8))
    specials = tmdb.season(1396, 0)
    assert specials.name == "Specials" and len(specials.episodes) == 3
    assert [path for path, _ in fake_tmdb.calls] == ["/tv/1396/season/1", "/tv/1396/season/0"]
    with pytest.raises(ValueError):
        tmdb.season(1396, -1)


def test_season_with_unaired_episodes(tmdb: TMDBClient) -> None:
    season = tmdb.season(HOSTILE_SHOW_ID, 1)
    assert season.name == HOSTILE_TITLE
    assert season.poster_path is None
    unaired = season.episodes[2]
    assert (unaired.name, unaired.air_date, unaired.runtime, unaired.still_path) == (
        "TBA",
        None,
        None,
        None,
    )
    show = tmdb.tv(HOSTILE_SHOW_ID)
    assert show.episode_run_time == ()
    assert show.imdb_id is None


def test_invalid_arguments_make_no_request(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    for call in (
        lambda: tmdb.trending("movie", page=0),
        lambda: tmdb.popular("tv", page=501),
        lambda: tmdb.search("x", page=True),  # type: ignore[arg-type]
        lambda: tmdb.movie(0),
        lambda: tmdb.tv(-3),
        lambda: tmdb.movie("603"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError):
            call()
    assert fake_tmdb.calls == []


# --- year and date parsing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "year"),
    [
        ("1999-03-31", 1999),
        ("1999", 1999),
        (" 2008-01-20 ", 2008),
        ("2024-13-45", 2024),  # an impossible date still has a year
        ("", None),
        ("   ", None),
        (None, None),
        ("junk", None),
        ("TBA", None),
        ("0000-00-00", None),
        ("0001-01-01", None),
        ("19990-01-01", None),
        ("99-01-01", None),
        (1999, None),
        (1999.0, None),
        (["1999"], None),
    ],
)
def test_parse_year(value: object, year: int | None) -> None:
    assert parse_year(value) == year


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2008-01-20", date(2008, 1, 20)),
        ("2024-13-45", None),
        ("2008", None),
        ("", None),
        (None, None),
        ("0000-00-00", None),
        ("2008-01-20T00:00:00", None),
    ],
)
def test_parse_date(value: object, expected: date | None) -> None:
    assert parse_date(value) == expected


def test_years_in_lists_tolerate_junk(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    def movie(tmdb_id: int, **fields: object) -> dict[str, object]:
        return {"id": tmdb_id, "title": f"Movie {tmdb_id}", **fields}

    fake_tmdb.respond(
        "/movie/popular",
        {
            "page": 1,
            "total_pages": 1,
            "total_results": 9,
            "results": [
                movie(1, release_date="2010-05-01"),
                movie(2, release_date=""),
                movie(3, release_date=None),
                movie(4),
                movie(5, release_date="junk"),
                movie(6, release_date=2010, vote_average="8.1", popularity=None),
                {"title": "no id"},
                "not even an object",
                movie(7, poster_path="../../../etc/passwd", backdrop_path="/ok.png"),
            ],
        },
    )
    page = tmdb.popular("movie")
    years = {s.tmdb_id: s.year for s in page.results}
    assert years == {1: 2010, 2: None, 3: None, 4: None, 5: None, 6: None, 7: None}
    odd = next(s for s in page.results if s.tmdb_id == 6)
    assert (odd.vote_average, odd.popularity) == (0.0, 0.0)
    paths = next(s for s in page.results if s.tmdb_id == 7)
    assert (paths.poster_path, paths.backdrop_path) == (None, "/ok.png")


def test_total_pages_is_capped_at_tmdbs_limit(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    fake_tmdb.respond(
        "/trending/all/week",
        {"page": 500, "total_pages": 48213, "total_results": 964260, "results": []},
    )
    page = tmdb.trending("all", page=500)
    assert (page.page, page.total_pages, page.has_next) == (500, 500, False)


# --- errors ---------------------------------------------------------------------------------


def test_not_found(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    with pytest.raises(TMDBNotFound) as caught:
        tmdb.movie(424242)
    error = caught.value
    assert str(error) == NOT_FOUND_MESSAGE == "TMDB has no such title."
    assert (error.transient, error.status, error.tmdb_code, error.retry_after) == (
        False,
        404,
        34,
        None,
    )
    with pytest.raises(TMDBNotFound):
        tmdb.season(1396, 9)


def test_rate_limited_with_retry_after_seconds(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    fake_tmdb.fail("/trending/movie/week", 429, retry_after=7)
    with pytest.raises(TMDBRateLimited) as caught:
        tmdb.trending("movie")
    error = caught.value
    assert error.transient is True
    assert error.retry_after == 7.0
    assert error.status == 429
    assert error.tmdb_code == 25
    assert "TMDB" in error.message and "25" not in error.message


def test_rate_limited_with_retry_after_http_date(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    fake_tmdb.fail("/configuration", 429, retry_after=format_datetime(when, usegmt=True))
    with pytest.raises(TMDBRateLimited) as caught:
        tmdb.configuration()
    assert caught.value.retry_after is not None
    assert 27 <= caught.value.retry_after <= 31


def test_rate_limited_without_retry_after(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    fake_tmdb.fail("/configuration", 429)
    with pytest.raises(TMDBRateLimited) as caught:
        tmdb.configuration()
    assert caught.value.retry_after is None
    assert caught.value.transient is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("999999999", 24 * 3600.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_relative_to_now() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:01:30 GMT", now=now) == 90.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(fake_tmdb: FakeTMDB, tmdb: TMDBClient, status: int) -> None:
    fake_tmdb.fail("/movie/603", status)
    with pytest.raises(TMDBUnavailable) as caught:
        tmdb.movie(603)
    error = caught.value
    assert str(error) == f"TMDB is having trouble right now (HTTP {status})."
    assert (error.transient, error.status) == (True, status)


def test_other_client_errors_are_not_transient(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    fake_tmdb.fail("/tv/1396", 403)
    with pytest.raises(TMDBError) as caught:
        tmdb.tv(1396)
    error = caught.value
    assert type(error) is TMDBError
    assert str(error) == "TMDB refused the request (HTTP 403)."
    assert error.transient is False


def test_upstream_text_never_reaches_the_message(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    evil = "<script>alert('upstream')</script>"
    for status in (401, 404, 429, 418, 500):
        fake_tmdb.fail(
            "/configuration",
            status,
            body={"status_code": 7, "status_message": evil, "success": False},
            times=1,
        )
        with pytest.raises(TMDBError) as caught:
            tmdb.configuration()
        assert "script" not in caught.value.message
        assert "upstream" not in str(caught.value)


def test_failure_in_a_200_body_is_mapped(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    fake_tmdb.respond(
        "/configuration",
        {"status_code": 7, "status_message": "Invalid API key", "success": False},
        times=1,
    )
    with pytest.raises(TMDBAuthError):
        tmdb.configuration()
    fake_tmdb.respond("/movie/1", {"status_code": 34, "success": False}, times=1)
    with pytest.raises(TMDBNotFound):
        tmdb.movie(1)


def test_timeout(fake_tmdb: FakeTMDB) -> None:
    fake_tmdb.slow("/trending/all/week", 3.0)
    client = TMDBClient(FAKE_API_KEY, fake_tmdb.base_url, timeout=(1.0, 0.2))
    started = time.monotonic()
    with pytest.raises(TMDBUnavailable) as caught:
        client.trending()
    assert time.monotonic() - started < 2.0
    error = caught.value
    assert str(error) == TIMEOUT_MESSAGE == "TMDB did not answer in time."
    assert error.transient is True
    assert error.status is None


def test_slow_but_in_time_is_fine(fake_tmdb: FakeTMDB) -> None:
    fake_tmdb.slow("/genre/tv/list", 0.1)
    client = TMDBClient(FAKE_API_KEY, fake_tmdb.base_url, timeout=(1.0, 2.0))
    assert client.genres("tv")[18] == "Drama"


def test_connection_refused(closed_port: int, caplog: pytest.LogCaptureFixture) -> None:
    client = TMDBClient(FAKE_API_KEY, f"http://127.0.0.1:{closed_port}/3")
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(TMDBUnavailable) as caught:
            client.configuration()
    error = caught.value
    assert str(error) == TIMEOUT_MESSAGE
    assert error.transient is True
    # requests' own exception names the URL, and so the v3 key: it is not chained or logged
    assert error.__cause__ is None and error.__suppress_context__
    assert FAKE_API_KEY not in caplog.text


def test_dropped_connection(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    fake_tmdb.fail("/movie/603", drop=True)
    with pytest.raises(TMDBUnavailable) as caught:
        tmdb.movie(603)
    assert caught.value.transient is True
    assert str(caught.value) == TIMEOUT_MESSAGE


def test_bad_base_url_is_a_configuration_error() -> None:
    client = TMDBClient(FAKE_API_KEY, "api.themoviedb.org/3")
    with pytest.raises(TMDBError) as caught:
        client.configuration()
    assert str(caught.value) == BAD_URL_MESSAGE
    assert caught.value.transient is False


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"page": 1, "results": [',
        b"",
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"page": 1, "results": {"not": "a list"}}',
    ],
)
def test_unreadable_list_answers(fake_tmdb: FakeTMDB, tmdb: TMDBClient, body: bytes) -> None:
    fake_tmdb.respond("/movie/popular", body, content_type="text/html")
    with pytest.raises(TMDBUnavailable) as caught:
        tmdb.popular("movie")
    error = caught.value
    assert str(error) == INVALID_MESSAGE == "TMDB sent an answer Plank could not read."
    assert error.transient is True


@pytest.mark.parametrize(
    ("path", "call", "body"),
    [
        ("/movie/603", lambda c: c.movie(603), {"title": "no id"}),
        ("/tv/1396", lambda c: c.tv(1396), {"id": "1396"}),
        ("/tv/1396/season/1", lambda c: c.season(1396, 1), {"id": 1, "episodes": None}),
        ("/genre/movie/list", lambda c: c.genres("movie"), {"genres": "Action"}),
        ("/configuration", lambda c: c.configuration(), {"images": {"secure_base_url": 5}}),
        (
            "/configuration",
            lambda c: c.configuration(),
            {"images": {"secure_base_url": "javascript:alert(1)//"}},
        ),
    ],
)
def test_wrong_shapes_are_unavailable(
    fake_tmdb: FakeTMDB, tmdb: TMDBClient, path: str, call, body: dict
) -> None:
    fake_tmdb.respond(path, body)
    with pytest.raises(TMDBUnavailable) as caught:
        call(tmdb)
    assert str(caught.value) == INVALID_MESSAGE
    assert caught.value.transient is True


def test_fail_times_then_recovers(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    fake_tmdb.fail("/movie/*", 503, times=2)
    for _ in range(2):
        with pytest.raises(TMDBUnavailable):
            tmdb.movie(603)
    assert tmdb.movie(603).title == "The Matrix"
    assert len(fake_tmdb.calls_to("/movie/603")) == 3


# --- images ---------------------------------------------------------------------------------


def test_fetch_image(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    poster = tmdb.movie(603).poster_path
    assert poster is not None
    data = tmdb.fetch_image(poster, "w342")
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"
    image_calls = [r for r in fake_tmdb.requests if r.path.startswith("/t/p/")]
    assert [r.path for r in image_calls] == [f"/t/p/w342{poster}"]
    # nothing of the credential goes to the image host
    assert image_calls[0].query == {} and image_calls[0].auth is None
    assert "Authorization" not in image_calls[0].headers


def test_fetched_image_decodes(tmdb: TMDBClient) -> None:
    av = pytest.importorskip("av")
    config = tmdb.configuration()
    data = tmdb.fetch_image(image_path("tv-poster-1396"), "original", config=config)
    with av.open(io.BytesIO(data), format="mjpeg") as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (16, 24)


def test_fetch_image_with_config_skips_configuration(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    config = tmdb.configuration()
    fake_tmdb.clear_calls()
    tmdb.fetch_image(image_path("still-1396-1-1"), "w300", config=config)
    assert [path for path, _ in fake_tmdb.calls] == [f"/t/p/w300{image_path('still-1396-1-1')}"]


@pytest.mark.parametrize(
    "path",
    [
        "",
        "abc.jpg",
        "/../../etc/passwd",
        "/..%2f..%2fetc.jpg",
        "/a/b.jpg",
        "/x.svg",
        "/x.jpg?x=1",
        "/x.jpg#y",
        "//evil.example/x.jpg",
        "http://evil.example/x.jpg",
        "/x.jpg\n",
        "/x .jpg",
        "/x.JPG.exe",
    ],
)
def test_fetch_image_refuses_odd_paths(fake_tmdb: FakeTMDB, tmdb: TMDBClient, path: str) -> None:
    assert not is_valid_image_path(path)
    with pytest.raises(InvalidImagePath):
        tmdb.fetch_image(path)
    assert fake_tmdb.calls == []


@pytest.mark.parametrize("size", ["", "w342/..", "../w342", "big", "w", "w12345"])
def test_fetch_image_refuses_odd_sizes(fake_tmdb: FakeTMDB, tmdb: TMDBClient, size: str) -> None:
    with pytest.raises(InvalidImagePath):
        tmdb.fetch_image("/abc.jpg", size)
    assert fake_tmdb.calls == []


def test_fetch_image_not_found(tmdb: TMDBClient) -> None:
    with pytest.raises(TMDBNotFound) as caught:
        tmdb.fetch_image("/doesNotExist.jpg")
    assert str(caught.value) == "TMDB has no such image."
    assert caught.value.transient is False


@pytest.mark.parametrize(
    "content_type", ["text/html", "image/svg+xml", "application/octet-stream", ""]
)
def test_fetch_image_refuses_non_images(
    fake_tmdb: FakeTMDB, tmdb: TMDBClient, content_type: str
) -> None:
    path = image_path("movie-poster-603")
    fake_tmdb.respond(f"/t/p/w342{path}", b"<svg onload=alert(1)>", content_type=content_type)
    with pytest.raises(TMDBBadImage) as caught:
        tmdb.fetch_image(path)
    assert str(caught.value) == "TMDB sent something that is not an image."
    assert caught.value.transient is False


@pytest.mark.parametrize("no_length", [False, True])
def test_fetch_image_caps_size(fake_tmdb: FakeTMDB, tmdb: TMDBClient, no_length: bool) -> None:
    path = image_path("movie-poster-550")
    huge = b"\xff\xd8\xff" + b"\0" * MAX_IMAGE_BYTES
    fake_tmdb.fail(
        f"/t/p/w342{path}", 200, body=huge, content_type="image/jpeg", no_length=no_length
    )
    with pytest.raises(TMDBBadImage) as caught:
        tmdb.fetch_image(path)
    assert str(caught.value) == "The image from TMDB is larger than 5 MB."


def test_fetch_image_exactly_at_the_cap_is_fine(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    path = image_path("movie-poster-550")
    exact = b"\xff\xd8\xff" + b"\0" * (MAX_IMAGE_BYTES - 3)
    fake_tmdb.fail(f"/t/p/w342{path}", 200, body=exact, content_type="image/jpeg", no_length=True)
    assert len(tmdb.fetch_image(path)) == MAX_IMAGE_BYTES


def test_fetch_image_does_not_follow_redirects(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    path = image_path("movie-poster-603")
    fake_tmdb.fail(f"/t/p/w342{path}", 302, body=b"", headers={"Location": "http://10.0.0.1/x"})
    with pytest.raises(TMDBError) as caught:
        tmdb.fetch_image(path)
    assert caught.value.transient is False
    assert len([p for p, _ in fake_tmdb.calls if p.startswith("/t/p/")]) == 1


def test_fetch_image_server_error_is_transient(fake_tmdb: FakeTMDB, tmdb: TMDBClient) -> None:
    path = image_path("movie-poster-603")
    fake_tmdb.fail(f"/t/p/*{path}", 503)
    with pytest.raises(TMDBUnavailable) as caught:
        tmdb.fetch_image(path)
    assert caught.value.transient is True


# --- the fake itself ------------------------------------------------------------------------


def test_fake_answers_like_tmdb_without_credentials(fake_tmdb: FakeTMDB) -> None:
    response = requests.get(fake_tmdb.base_url + "/configuration", timeout=5)
    assert response.status_code == 401
    assert response.json() == {
        "status_code": 7,
        "status_message": "Invalid API key: You must be granted a valid key.",
        "success": False,
    }
    bad_page = requests.get(
        fake_tmdb.base_url + "/movie/popular",
        params={"api_key": FAKE_API_KEY, "page": "501"},
        timeout=5,
    )
    assert bad_page.status_code == 400 and bad_page.json()["status_code"] == 22


def test_fake_records_calls_from_many_threads(fake_tmdb: FakeTMDB) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        client = TMDBClient(FAKE_API_KEY, fake_tmdb.base_url)
        try:
            for page in range(1, 4):
                client.popular("movie" if n % 2 else "tv", page=page)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(fake_tmdb.calls) == 18
    assert sorted(q["page"] for q in fake_tmdb.calls_to("/movie/popular")) == sorted(
        ["1", "2", "3"] * 3
    )


def test_session_is_shared_and_pooled() -> None:
    adapter = tmdb_module.SESSION.get_adapter("https://api.themoviedb.org/3")
    assert adapter.max_retries.total == 0  # the per-key cache retries, not the client
