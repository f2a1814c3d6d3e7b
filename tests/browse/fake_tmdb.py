"""A fake TMDB: a real HTTP server on 127.0.0.1 speaking TMDB v3 JSON, for tests.

    fake = start_fake_tmdb()          # or the ``fake_tmdb`` fixture in tests/browse/conftest.py
    client = TMDBClient(FAKE_API_KEY, fake.base_url)
    ...
    fake.stop()

It serves the documented shapes of /configuration, /genre/{movie,tv}/list,
/trending/{all,movie,tv}/{day,week}, /movie/popular, /tv/popular, /search/{multi,movie,tv},
/movie/{id}, /tv/{id} (both with ``append_to_response=credits,external_ids``),
/tv/{id}/season/{n}, and images under /t/p/{size}/{file} (a tiny valid JPEG made in code; the
fake /configuration points ``secure_base_url`` there). Lists are 20 per page. The data is
fixed (:data:`MOVIES`, :data:`SHOWS`), so tests can rely on ids, order and totals.

Authentication is checked like TMDB does: the v3 key :data:`FAKE_API_KEY` as ``api_key`` or
the v4 token :data:`FAKE_BEARER_TOKEN` as ``Authorization: Bearer``; anything else gets TMDB's
401 JSON (``status_code`` 7). Images need no credential.

Every request is recorded (:attr:`FakeTMDB.calls`: ``(path, query)`` pairs, path relative to
:attr:`FakeTMDB.base_url` for API calls, the full path for images). Knobs make a path misbehave:
:meth:`FakeTMDB.fail` (status, Retry-After, delay, dropped connection, custom body, for a number
of times), :meth:`FakeTMDB.slow` and :meth:`FakeTMDB.respond`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import socket
import struct
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAKE_API_KEY = "0123456789abcdef0123456789abcdef"
# A JWT-shaped v4 read access token (header {"alg":"HS256"}, a made-up payload and signature).
FAKE_BEARER_TOKEN = (
    "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJwbGFuay1mYWtlIiwic2NvcGVzIjpbImFwaV9yZWFkIl19"
    ".ZmFrZS1zaWduYXR1cmUtZm9yLXRlc3Rz"
)
API_PREFIX = "/3"
IMAGE_PREFIX = "/t/p/"
PAGE_SIZE = 20
MAX_PAGE = 500

HOSTILE_TITLE = '<script>alert(1)</script> "quotes" & ampersands'
HOSTILE_OVERVIEW = '<img src=x onerror=alert(2)> Tom & Jerry\'s "quoted" overview'

POSTER_SIZES = ("w92", "w154", "w185", "w342", "w500", "w780", "original")
BACKDROP_SIZES = ("w300", "w780", "w1280", "original")
STILL_SIZES = ("w92", "w185", "w300", "original")
PROFILE_SIZES = ("w45", "w185", "h632", "original")
LOGO_SIZES = ("w45", "w92", "w154", "w185", "w300", "w500", "original")
ALL_SIZES = frozenset(POSTER_SIZES + BACKDROP_SIZES + STILL_SIZES + PROFILE_SIZES + LOGO_SIZES)

MOVIE_GENRES: dict[int, str] = {
    28: "Action", 12: "Adventure", 16: "Animation", 35: "Comedy", 80: "Crime",
    99: "Documentary", 18: "Drama", 10751: "Family", 14: "Fantasy", 36: "History",
    27: "Horror", 10402: "Music", 9648: "Mystery", 10749: "Romance", 878: "Science Fiction",
    10770: "TV Movie", 53: "Thriller", 10752: "War", 37: "Western",
}  # fmt: skip
TV_GENRES: dict[int, str] = {
    10759: "Action & Adventure", 16: "Animation", 35: "Comedy", 80: "Crime", 99: "Documentary",
    18: "Drama", 10751: "Family", 10762: "Kids", 9648: "Mystery", 10763: "News",
    10764: "Reality", 10765: "Sci-Fi & Fantasy", 10766: "Soap", 10767: "Talk",
    10768: "War & Politics", 37: "Western",
}  # fmt: skip

_ERRORS: dict[int, tuple[int, str]] = {
    400: (22, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."),
    401: (7, "Invalid API key: You must be granted a valid key."),
    404: (34, "The resource you requested could not be found."),
    429: (25, "Your request count (#) is over the allowed limit of (40)."),
    500: (11, "Internal error: Something went wrong, contact TMDB."),
    502: (11, "Internal error: Something went wrong, contact TMDB."),
    503: (9, "Service offline: This service is temporarily offline, try again later."),
    504: (24, "Your request to the backend server timed out. Try again."),
}

# --- deterministic helpers ------------------------------------------------------------------

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def image_path(seed: str) -> str:
    """A TMDB-looking image path (``/<27 base62 chars>.jpg``), the same for the same seed."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(27):
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "/" + "".join(chars) + ".jpg"


_CAST_POOL = (
    "Ava Lindqvist", "Marcus Obi", "Priya Raman", "Tomás Ferreira", "Hana Sato", "Daniel Kerr",
    "Léa Moreau", "Samuel Adeyemi", "Ingrid Halvorsen", "Jonah Whitfield", "Mei Chen",
    "Rafael Ortiz", "Sofia Novak", "Elijah Brooks", "Amara Nwosu", "Lukas Brandt",
    "Chloe Martin", "Kenji Watanabe", "Nadia Haddad", "Oscar Lindgren", "Isabel Cruz",
    "Theo Walsh", "Yara Costa", "Felix Wagner",
)  # fmt: skip


def _cast_for(tmdb_id: int) -> tuple[str, ...]:
    count = 3 + tmdb_id % 12
    start = tmdb_id % len(_CAST_POOL)
    return tuple(_CAST_POOL[(start + 5 * i) % len(_CAST_POOL)] for i in range(count))


# --- the data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeMovie:
    id: int
    title: str
    release_date: str
    genre_ids: tuple[int, ...]
    original_title: str = ""
    overview: str = ""
    runtime: int | None = None
    vote_average: float | None = None
    imdb_id: str | None = "auto"
    cast: tuple[str, ...] | None = None
    tagline: str = ""
    has_poster: bool = True
    popularity: float = 0.0

    @property
    def poster_path(self) -> str | None:
        return image_path(f"movie-poster-{self.id}") if self.has_poster else None

    @property
    def backdrop_path(self) -> str | None:
        return image_path(f"movie-backdrop-{self.id}") if self.has_poster else None


@dataclass(frozen=True)
class FakeEpisode:
    number: int
    name: str
    air_date: str
    runtime: int | None
    still_path: str | None
    overview: str = ""


@dataclass(frozen=True)
class FakeSeason:
    number: int
    name: str
    air_date: str
    episodes: tuple[FakeEpisode, ...]
    poster_path: str | None


@dataclass(frozen=True)
class FakeShow:
    id: int
    name: str
    first_air_date: str
    genre_ids: tuple[int, ...]
    seasons: tuple[FakeSeason, ...]
    original_name: str = ""
    overview: str = ""
    episode_run_time: tuple[int, ...] = (45,)
    vote_average: float | None = None
    imdb_id: str | None = "auto"
    tvdb_id: int | None = None
    cast: tuple[str, ...] | None = None
    status: str = "Returning Series"
    has_poster: bool = True
    popularity: float = 0.0

    @property
    def poster_path(self) -> str | None:
        return image_path(f"tv-poster-{self.id}") if self.has_poster else None

    @property
    def backdrop_path(self) -> str | None:
        return image_path(f"tv-backdrop-{self.id}") if self.has_poster else None


@dataclass(frozen=True)
class FakePerson:
    id: int
    name: str
    known_for_department: str
    popularity: float


THE_MATRIX_CAST = (
    "Keanu Reeves", "Laurence Fishburne", "Carrie-Anne Moss", "Hugo Weaving", "Joe Pantoliano",
    "Marcus Chong", "Julian Arahanga", "Matt Doran", "Gloria Foster", "Belinda McClory",
    "Anthony Ray Parker", "Paul Goddard",
)  # fmt: skip
BREAKING_BAD_CAST = (
    "Bryan Cranston", "Aaron Paul", "Anna Gunn", "RJ Mitte", "Dean Norris", "Betsy Brandt",
    "Bob Odenkirk", "Jonathan Banks", "Giancarlo Esposito",
)  # fmt: skip

# (id, title, release date, genre ids[, original title])
_MOVIE_ROWS: tuple[tuple[Any, ...], ...] = (
    (603, "The Matrix", "1999-03-31", (28, 878)),
    (550, "Fight Club", "1999-10-15", (18, 53)),
    (680, "Pulp Fiction", "1994-09-10", (53, 80)),
    (13, "Forrest Gump", "1994-06-23", (35, 18, 10749)),
    (155, "The Dark Knight", "2008-07-16", (18, 28, 80, 53)),
    (27205, "Inception", "2010-07-15", (28, 878, 12)),
    (157336, "Interstellar", "2014-11-05", (12, 18, 878)),
    (278, "The Shawshank Redemption", "1994-09-23", (18, 80)),
    (238, "The Godfather", "1972-03-14", (18, 80)),
    (240, "The Godfather Part II", "1974-12-20", (18, 80)),
    (424, "Schindler's List", "1993-12-15", (18, 36, 10752)),
    (120, "The Lord of the Rings: The Fellowship of the Ring", "2001-12-18", (12, 14, 28)),
    (121, "The Lord of the Rings: The Two Towers", "2002-12-18", (12, 14, 28)),
    (122, "The Lord of the Rings: The Return of the King", "2003-12-01", (12, 14, 28)),
    (11, "Star Wars", "1977-05-25", (12, 28, 878)),
    (1891, "The Empire Strikes Back", "1980-05-20", (12, 28, 878)),
    (105, "Back to the Future", "1985-07-03", (12, 35, 878)),
    (78, "Blade Runner", "1982-06-25", (878, 18, 53)),
    (335984, "Blade Runner 2049", "2017-10-04", (878, 18)),
    (329, "Jurassic Park", "1993-06-11", (12, 878)),
    (597, "Titanic", "1997-11-18", (18, 10749)),
    (19995, "Avatar", "2009-12-15", (28, 12, 14, 878)),
    (24428, "The Avengers", "2012-04-25", (878, 28, 12)),
    (299536, "Avengers: Infinity War", "2018-04-25", (12, 28, 878)),
    (299534, "Avengers: Endgame", "2019-04-24", (12, 878, 28)),
    (496243, "Parasite", "2019-05-30", (35, 53, 18), "기생충"),
    (129, "Spirited Away", "2001-07-20", (16, 10751, 14), "千と千尋の神隠し"),
    (372058, "Your Name.", "2016-08-26", (16, 10749, 18), "君の名は。"),
    (438631, "Dune", "2021-09-15", (878, 12)),
    (693134, "Dune: Part Two", "2024-02-27", (878, 12)),
    (872585, "Oppenheimer", "2023-07-19", (18, 36)),
    (346698, "Barbie", "2023-07-19", (35, 12)),
    (545611, "Everything Everywhere All at Once", "2022-03-24", (28, 12, 878)),
    (76341, "Mad Max: Fury Road", "2015-05-13", (28, 12, 878)),
    (62, "2001: A Space Odyssey", "1968-04-02", (878, 9648, 12)),
    (348, "Alien", "1979-05-25", (27, 878)),
    (679, "Aliens", "1986-07-18", (28, 53, 878)),
    (218, "The Terminator", "1984-10-26", (28, 53, 878)),
    (280, "Terminator 2: Judgment Day", "1991-07-03", (28, 53, 878)),
    (862, "Toy Story", "1995-11-22", (16, 12, 10751, 35)),
    (12, "Finding Nemo", "2003-05-30", (16, 10751)),
    (14160, "Up", "2009-05-28", (16, 35, 10751, 12)),
    (354912, "Coco", "2017-10-27", (10751, 16, 14, 10402)),
    (274, "The Silence of the Lambs", "1991-02-14", (80, 18, 53)),
    (807, "Se7en", "1995-09-22", (80, 9648, 53)),
)

HOSTILE_MOVIE_ID = 990001
UNDATED_MOVIE_ID = 990002


def _movies() -> tuple[FakeMovie, ...]:
    movies = []
    for index, row in enumerate(_MOVIE_ROWS):
        tmdb_id, title, released, genres = row[:4]
        original = row[4] if len(row) > 4 else title
        year = released[:4]
        movies.append(
            FakeMovie(
                id=tmdb_id,
                title=title,
                release_date=released,
                genre_ids=genres,
                original_title=original,
                overview=f"{title} ({year}): a {MOVIE_GENRES[genres[0]].lower()} film.",
                runtime=90 + tmdb_id % 60,
                vote_average=round(6.0 + (tmdb_id % 29) / 10, 1),
                cast=_cast_for(tmdb_id),
                popularity=round(300.0 - index * 5.5, 3),
            )
        )
    movies[0] = FakeMovie(
        id=603,
        title="The Matrix",
        release_date="1999-03-31",
        genre_ids=(28, 878),
        original_title="The Matrix",
        overview=(
            "Set in the 22nd century, The Matrix tells the story of a computer hacker who joins a"
            " group of underground insurgents fighting the vast and powerful computers who now"
            " rule the earth."
        ),
        runtime=136,
        vote_average=8.2,
        imdb_id="tt0133093",
        cast=THE_MATRIX_CAST,
        tagline="Welcome to the Real World.",
        popularity=310.5,
    )
    movies.append(
        FakeMovie(
            id=HOSTILE_MOVIE_ID,
            title=HOSTILE_TITLE,
            release_date="2021-06-01",
            genre_ids=(35,),
            original_title=HOSTILE_TITLE,
            overview=HOSTILE_OVERVIEW,
            runtime=101,
            vote_average=5.5,
            imdb_id=None,
            cast=("<b>Bold</b> Actor", "Ann & Andy"),
            tagline="</title><script>alert(3)</script>",
            popularity=55.0,
        )
    )
    movies.append(
        FakeMovie(
            id=UNDATED_MOVIE_ID,
            title="Untitled Wachowski Project",
            release_date="",
            genre_ids=(),
            overview="",
            runtime=0,
            vote_average=0.0,
            imdb_id=None,
            cast=(),
            has_poster=False,
            popularity=1.5,
        )
    )
    return tuple(movies)


def _episodes(
    show_id: int, season: int, start: date, count: int, runtime: int, names: tuple[str, ...] = ()
) -> tuple[FakeEpisode, ...]:
    episodes = []
    for number in range(1, count + 1):
        aired = start + timedelta(days=7 * (number - 1))
        episodes.append(
            FakeEpisode(
                number=number,
                name=names[number - 1] if number <= len(names) else f"Episode {number}",
                air_date=aired.isoformat(),
                runtime=runtime,
                still_path=image_path(f"still-{show_id}-{season}-{number}"),
                overview=f"Season {season}, episode {number}.",
            )
        )
    return tuple(episodes)


_BB_S1_NAMES = (
    "Pilot", "Cat's in the Bag...", "...And the Bag's in the River", "Cancer Man",
    "Gray Matter", "Crazy Handful of Nothin'", "A No-Rough-Stuff-Type Deal",
)  # fmt: skip


def _breaking_bad() -> FakeShow:
    starts = ("2008-01-20", "2009-03-08", "2010-03-21", "2011-07-17", "2012-07-15")
    counts = (7, 13, 13, 13, 16)
    seasons = [
        FakeSeason(
            number=0,
            name="Specials",
            air_date="2009-02-17",
            episodes=_episodes(
                1396,
                0,
                date(2009, 2, 17),
                3,
                5,
                ("Good Cop Bad Cop", "Wedding Day", "Chicks 'n' Guns"),
            ),
            poster_path=image_path("season-1396-0"),
        )
    ]
    for number, (start, count) in enumerate(zip(starts, counts, strict=True), start=1):
        seasons.append(
            FakeSeason(
                number=number,
                name=f"Season {number}",
                air_date=start,
                episodes=_episodes(
                    1396,
                    number,
                    date.fromisoformat(start),
                    count,
                    47,
                    _BB_S1_NAMES if number == 1 else (),
                ),
                poster_path=image_path(f"season-1396-{number}"),
            )
        )
    return FakeShow(
        id=1396,
        name="Breaking Bad",
        first_air_date="2008-01-20",
        genre_ids=(18, 80),
        seasons=tuple(seasons),
        original_name="Breaking Bad",
        overview=(
            "Walter White, a New Mexico chemistry teacher, is diagnosed with Stage III cancer and"
            " given a prognosis of only two years left to live. He becomes filled with a sense of"
            " fearlessness and an unrelenting desire to secure his family's financial future at"
            " any cost as he enters the dangerous world of drugs and crime."
        ),
        episode_run_time=(45, 47),
        vote_average=8.9,
        imdb_id="tt0903747",
        tvdb_id=81189,
        cast=BREAKING_BAD_CAST,
        status="Ended",
        popularity=420.0,
    )


# (id, name, first air date, genre ids, seasons[, original name])
_SHOW_ROWS: tuple[tuple[Any, ...], ...] = (
    (1399, "Game of Thrones", "2011-04-17", (10765, 18, 10759), 8),
    (66732, "Stranger Things", "2016-07-15", (18, 10765, 9648), 4),
    (1398, "The Sopranos", "1999-01-10", (18, 80), 6),
    (1438, "The Wire", "2002-06-02", (80, 18), 5),
    (60059, "Better Call Saul", "2015-02-08", (80, 18), 6),
    (1668, "Friends", "1994-09-22", (35,), 10),
    (2316, "The Office", "2005-03-24", (35,), 9),
    (1418, "The Big Bang Theory", "2007-09-24", (35,), 12),
    (46648, "True Detective", "2014-01-12", (18, 80, 9648), 4),
    (60625, "Rick and Morty", "2013-12-02", (16, 35, 10765), 7),
    (1100, "How I Met Your Mother", "2005-09-19", (35,), 9),
    (1402, "The Walking Dead", "2010-10-31", (10759, 18, 10765), 11),
    (94997, "House of the Dragon", "2022-08-21", (10765, 18, 10759), 2),
    (100088, "The Last of Us", "2023-01-15", (18,), 2),
    (76479, "The Boys", "2019-07-25", (10765, 10759), 4),
    (82856, "The Mandalorian", "2019-11-12", (10765, 10759, 18), 3),
    (93405, "Squid Game", "2021-09-17", (10759, 9648, 18), 2, "오징어 게임"),
    (95396, "Severance", "2022-02-17", (18, 9648, 10765), 2),
    (87108, "Chernobyl", "2019-05-06", (18,), 1),
    (70523, "Dark", "2017-12-01", (80, 18, 9648, 10765), 3),
    (71446, "Money Heist", "2017-05-02", (80, 18), 5, "La casa de papel"),
    (1408, "House", "2004-11-16", (18, 9648, 35), 8),
    (4614, "NCIS", "2003-09-23", (80, 10759, 18), 21),
    (456, "The Simpsons", "1989-12-17", (10751, 16, 35), 35),
    (1433, "American Dad!", "2005-02-06", (16, 35), 19),
    (1434, "Family Guy", "1999-01-31", (16, 35), 22),
    (2190, "South Park", "1997-08-13", (16, 35), 26),
    (4607, "Lost", "2004-09-22", (10759, 9648, 18), 6),
    (1405, "Dexter", "2006-10-01", (80, 18, 9648), 8),
    (19885, "Sherlock", "2010-07-25", (80, 18, 9648), 4),
    (1622, "Supernatural", "2005-09-13", (18, 9648, 10765), 15),
    (63174, "Lucifer", "2016-01-25", (80, 10765), 6),
    (44217, "Vikings", "2013-03-03", (10759, 18, 10768), 6),
    (62560, "Mr. Robot", "2015-06-24", (80, 18, 9648), 4),
    (42009, "Black Mirror", "2011-12-04", (10765, 18, 9648), 7),
    (65494, "The Crown", "2016-11-04", (18,), 6),
    (71912, "The Witcher", "2019-12-20", (10765, 10759, 18), 4),
    (84958, "Loki", "2021-06-09", (18, 10765), 2),
    (136315, "The Bear", "2022-06-23", (18, 35), 4),
    (111803, "The White Lotus", "2021-07-11", (35, 18, 9648), 3),
    (76331, "Succession", "2018-06-03", (18,), 4),
    (1421, "Modern Family", "2009-09-23", (35,), 11),
    (37854, "One Piece", "1999-10-20", (10759, 35, 16), 22, "ワンピース"),
    (1416, "Grey's Anatomy", "2005-03-27", (18,), 21),
)

HOSTILE_SHOW_ID = 990101
UNDATED_SHOW_ID = 990102


def _shows() -> tuple[FakeShow, ...]:
    shows = [_breaking_bad()]
    for index, row in enumerate(_SHOW_ROWS, start=1):
        tmdb_id, name, first_aired, genres, season_count = row[:5]
        original = row[5] if len(row) > 5 else name
        runtime = 22 if 35 in genres[:1] or 16 in genres[:1] else 50
        first = date.fromisoformat(first_aired)
        seasons = []
        for number in range(1, season_count + 1):
            start = first + timedelta(days=365 * (number - 1))
            seasons.append(
                FakeSeason(
                    number=number,
                    name=f"Season {number}",
                    air_date=start.isoformat(),
                    episodes=_episodes(tmdb_id, number, start, 6 + (tmdb_id + number) % 5, runtime),
                    poster_path=image_path(f"season-{tmdb_id}-{number}"),
                )
            )
        shows.append(
            FakeShow(
                id=tmdb_id,
                name=name,
                first_air_date=first_aired,
                genre_ids=genres,
                seasons=tuple(seasons),
                original_name=original,
                overview=f"{name} ({first_aired[:4]}): a {TV_GENRES[genres[0]].lower()} series.",
                episode_run_time=(runtime,),
                vote_average=round(6.5 + (tmdb_id % 24) / 10, 1),
                tvdb_id=70000 + tmdb_id % 300000,
                cast=_cast_for(tmdb_id),
                popularity=round(400.0 - index * 6.25, 3),
            )
        )
    hostile_season = FakeSeason(
        number=1,
        name=HOSTILE_TITLE,
        air_date="2020-02-02",
        episodes=(
            FakeEpisode(1, HOSTILE_TITLE, "2020-02-02", 30, None, HOSTILE_OVERVIEW),
            FakeEpisode(2, "Tom & Jerry's <i>night</i>", "2020-02-09", None, None, ""),
            # not aired yet: TMDB sends "" or null for the date and runtime
            FakeEpisode(3, "TBA", "", None, None, ""),
        ),
        poster_path=None,
    )
    shows.append(
        FakeShow(
            id=HOSTILE_SHOW_ID,
            name=HOSTILE_TITLE,
            first_air_date="2020-02-02",
            genre_ids=(35,),
            seasons=(hostile_season,),
            original_name=HOSTILE_TITLE,
            overview=HOSTILE_OVERVIEW,
            episode_run_time=(),
            vote_average=4.2,
            imdb_id=None,
            cast=("<b>Bold</b> Actor", "Ann & Andy"),
            popularity=44.0,
        )
    )
    shows.append(
        FakeShow(
            id=UNDATED_SHOW_ID,
            name="Untitled Pilot",
            first_air_date="",
            genre_ids=(),
            seasons=(),
            episode_run_time=(),
            vote_average=0.0,
            imdb_id=None,
            cast=(),
            status="Planned",
            has_poster=False,
            popularity=1.0,
        )
    )
    return tuple(shows)


MOVIES: tuple[FakeMovie, ...] = _movies()
SHOWS: tuple[FakeShow, ...] = _shows()
PEOPLE: tuple[FakePerson, ...] = (
    FakePerson(6384, "Keanu Reeves", "Acting", 80.0),
    FakePerson(17419, "Bryan Cranston", "Acting", 60.0),
)
MOVIES_BY_ID: dict[int, FakeMovie] = {m.id: m for m in MOVIES}
SHOWS_BY_ID: dict[int, FakeShow] = {s.id: s for s in SHOWS}


def _image_files() -> frozenset[str]:
    paths: set[str | None] = set()
    for movie in MOVIES:
        paths.update((movie.poster_path, movie.backdrop_path))
    for show in SHOWS:
        paths.update((show.poster_path, show.backdrop_path))
        for season in show.seasons:
            paths.add(season.poster_path)
            paths.update(episode.still_path for episode in season.episodes)
    return frozenset(p for p in paths if p)


IMAGE_FILES: frozenset[str] = _image_files()


# --- JSON shapes ----------------------------------------------------------------------------


def _imdb_for(tmdb_id: int, value: str | None) -> str | None:
    return f"tt{(tmdb_id * 37) % 10**7:07d}" if value == "auto" else value


def _vote(item: FakeMovie | FakeShow) -> float:
    return item.vote_average if item.vote_average is not None else 7.0


def movie_result(movie: FakeMovie, *, media_type: bool = False) -> dict[str, Any]:
    """A movie as it appears in lists (trending, popular, search)."""
    data: dict[str, Any] = {
        "adult": False,
        "backdrop_path": movie.backdrop_path,
        "id": movie.id,
        "title": movie.title,
        "original_language": "en",
        "original_title": movie.original_title or movie.title,
        "overview": movie.overview,
        "poster_path": movie.poster_path,
        "genre_ids": list(movie.genre_ids),
        "popularity": movie.popularity,
        "release_date": movie.release_date,
        "video": False,
        "vote_average": _vote(movie),
        "vote_count": 1000 + movie.id % 5000,
    }
    if media_type:
        data["media_type"] = "movie"
    return data


def show_result(show: FakeShow, *, media_type: bool = False) -> dict[str, Any]:
    """A show as it appears in lists (trending, popular, search)."""
    data: dict[str, Any] = {
        "adult": False,
        "backdrop_path": show.backdrop_path,
        "id": show.id,
        "name": show.name,
        "original_language": "en",
        "original_name": show.original_name or show.name,
        "overview": show.overview,
        "poster_path": show.poster_path,
        "genre_ids": list(show.genre_ids),
        "popularity": show.popularity,
        "first_air_date": show.first_air_date,
        "vote_average": _vote(show),
        "vote_count": 500 + show.id % 5000,
        "origin_country": ["US"],
    }
    if media_type:
        data["media_type"] = "tv"
    return data


def person_result(person: FakePerson) -> dict[str, Any]:
    known_for = [movie_result(m, media_type=True) for m in MOVIES if person.name in (m.cast or ())]
    known_for += [show_result(s, media_type=True) for s in SHOWS if person.name in (s.cast or ())]
    return {
        "adult": False,
        "id": person.id,
        "name": person.name,
        "original_name": person.name,
        "media_type": "person",
        "popularity": person.popularity,
        "gender": 2,
        "known_for_department": person.known_for_department,
        "profile_path": image_path(f"person-{person.id}"),
        "known_for": known_for[:3],
    }


def _credits(tmdb_id: int, cast: tuple[str, ...] | None) -> dict[str, Any]:
    names = cast if cast is not None else _cast_for(tmdb_id)
    return {
        "id": tmdb_id,
        "cast": [
            {
                "adult": False,
                "gender": 0,
                "id": 100000 + tmdb_id * 20 + order,
                "known_for_department": "Acting",
                "name": name,
                "original_name": name,
                "popularity": 10.0,
                "profile_path": None,
                "character": f"Character {order + 1}",
                "credit_id": f"{tmdb_id:08x}{order:016x}",
                "order": order,
            }
            for order, name in enumerate(names)
        ],
        "crew": [],
    }


def movie_details(movie: FakeMovie, append: set[str]) -> dict[str, Any]:
    imdb = _imdb_for(movie.id, movie.imdb_id)
    data: dict[str, Any] = {
        "adult": False,
        "backdrop_path": movie.backdrop_path,
        "belongs_to_collection": None,
        "budget": 63000000,
        "genres": [{"id": g, "name": MOVIE_GENRES[g]} for g in movie.genre_ids],
        "homepage": "",
        "id": movie.id,
        "imdb_id": imdb,
        "origin_country": ["US"],
        "original_language": "en",
        "original_title": movie.original_title or movie.title,
        "overview": movie.overview,
        "popularity": movie.popularity,
        "poster_path": movie.poster_path,
        "production_companies": [],
        "production_countries": [],
        "release_date": movie.release_date,
        "revenue": 463517383,
        "runtime": movie.runtime if movie.runtime is not None else 0,
        "spoken_languages": [{"english_name": "English", "iso_639_1": "en", "name": "English"}],
        "status": "Released" if movie.release_date else "In Production",
        "tagline": movie.tagline,
        "title": movie.title,
        "video": False,
        "vote_average": _vote(movie),
        "vote_count": 1000 + movie.id % 5000,
    }
    if "credits" in append:
        data["credits"] = {k: v for k, v in _credits(movie.id, movie.cast).items() if k != "id"}
    if "external_ids" in append:
        data["external_ids"] = {
            "imdb_id": imdb,
            "wikidata_id": None,
            "facebook_id": None,
            "instagram_id": None,
            "twitter_id": None,
        }
    return data


def _season_summary(show: FakeShow, season: FakeSeason) -> dict[str, Any]:
    return {
        "air_date": season.air_date or None,
        "episode_count": len(season.episodes),
        "id": show.id * 100 + season.number,
        "name": season.name,
        "overview": "",
        "poster_path": season.poster_path,
        "season_number": season.number,
        "vote_average": 0.0,
    }


def show_details(show: FakeShow, append: set[str]) -> dict[str, Any]:
    regular = [s for s in show.seasons if s.number > 0]
    last_episode = regular[-1].episodes[-1] if regular and regular[-1].episodes else None
    imdb = _imdb_for(show.id, show.imdb_id)
    data: dict[str, Any] = {
        "adult": False,
        "backdrop_path": show.backdrop_path,
        "created_by": [],
        "episode_run_time": list(show.episode_run_time),
        "first_air_date": show.first_air_date,
        "genres": [{"id": g, "name": TV_GENRES[g]} for g in show.genre_ids],
        "homepage": "",
        "id": show.id,
        "in_production": show.status != "Ended",
        "languages": ["en"],
        "last_air_date": last_episode.air_date if last_episode else None,
        "name": show.name,
        "networks": [],
        "number_of_episodes": sum(len(s.episodes) for s in regular),
        "number_of_seasons": len(regular),
        "origin_country": ["US"],
        "original_language": "en",
        "original_name": show.original_name or show.name,
        "overview": show.overview,
        "popularity": show.popularity,
        "poster_path": show.poster_path,
        "production_companies": [],
        "seasons": [_season_summary(show, s) for s in show.seasons],
        "status": show.status,
        "tagline": "",
        "type": "Scripted",
        "vote_average": _vote(show),
        "vote_count": 500 + show.id % 5000,
    }
    if "credits" in append:
        data["credits"] = {k: v for k, v in _credits(show.id, show.cast).items() if k != "id"}
    if "external_ids" in append:
        data["external_ids"] = {
            "imdb_id": imdb,
            "freebase_mid": None,
            "freebase_id": None,
            "tvdb_id": show.tvdb_id,
            "tvrage_id": None,
            "wikidata_id": None,
            "facebook_id": None,
            "instagram_id": None,
            "twitter_id": None,
        }
    return data


def season_details(show: FakeShow, season: FakeSeason) -> dict[str, Any]:
    return {
        "_id": hashlib.sha1(f"{show.id}-{season.number}".encode()).hexdigest()[:24],
        "air_date": season.air_date or None,
        "episodes": [
            {
                "air_date": episode.air_date or None,
                "episode_number": episode.number,
                "episode_type": "standard",
                "id": show.id * 10000 + season.number * 100 + episode.number,
                "name": episode.name,
                "overview": episode.overview,
                "production_code": "",
                "runtime": episode.runtime,
                "season_number": season.number,
                "show_id": show.id,
                "still_path": episode.still_path,
                "vote_average": 0.0,
                "vote_count": 0,
                "crew": [],
                "guest_stars": [],
            }
            for episode in season.episodes
        ],
        "name": season.name,
        "overview": "",
        "id": show.id * 100 + season.number,
        "poster_path": season.poster_path,
        "season_number": season.number,
        "vote_average": 0.0,
    }


def configuration(image_base_url: str) -> dict[str, Any]:
    return {
        "change_keys": ["adult", "air_date", "also_known_as", "backdrop_path", "poster_path"],
        "images": {
            "base_url": image_base_url,
            "secure_base_url": image_base_url,
            "backdrop_sizes": list(BACKDROP_SIZES),
            "logo_sizes": list(LOGO_SIZES),
            "poster_sizes": list(POSTER_SIZES),
            "profile_sizes": list(PROFILE_SIZES),
            "still_sizes": list(STILL_SIZES),
        },
    }


def error_body(status: int) -> dict[str, Any]:
    code, message = _ERRORS.get(status, (11, "Internal error: Something went wrong, contact TMDB."))
    return {"status_code": code, "status_message": message, "success": False}


def paginate(results: list[dict[str, Any]], page: int) -> dict[str, Any]:
    total = len(results)
    return {
        "page": page,
        "results": results[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        "total_pages": max(1, math.ceil(total / PAGE_SIZE)) if total else 1,
        "total_results": total,
    }


def _by_popularity(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (-item["popularity"], item["id"]))


def _by_day(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # "Today" is a different (deterministic) order than "this week".
    return sorted(items, key=lambda item: ((item["id"] * 7919) % 1009, item["id"]))


def trending(kind: str, window: str) -> list[dict[str, Any]]:
    if kind == "movie":
        items = [movie_result(m, media_type=True) for m in MOVIES]
    elif kind == "tv":
        items = [show_result(s, media_type=True) for s in SHOWS]
    else:
        items = [movie_result(m, media_type=True) for m in MOVIES]
        items += [show_result(s, media_type=True) for s in SHOWS]
        items.append(person_result(PEOPLE[0]))  # trending/all has people in it too
    return _by_popularity(items) if window == "week" else _by_day(items)


def popular(kind: str) -> list[dict[str, Any]]:
    if kind == "movie":
        return _by_popularity([movie_result(m) for m in MOVIES])
    return _by_popularity([show_result(s) for s in SHOWS])


def _matches(query: str, *names: str) -> bool:
    needle = query.casefold().strip()
    return bool(needle) and any(needle in name.casefold() for name in names if name)


def search(kind: str, query: str, year: str | None = None) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    if kind in ("multi", "movie"):
        for movie in MOVIES:
            if _matches(query, movie.title, movie.original_title) and (
                not year or movie.release_date[:4] == year
            ):
                results.append(movie_result(movie, media_type=kind == "multi"))
    if kind in ("multi", "tv"):
        for show in SHOWS:
            if _matches(query, show.name, show.original_name) and (
                not year or show.first_air_date[:4] == year
            ):
                results.append(show_result(show, media_type=kind == "multi"))
    if kind == "multi":
        results += [person_result(p) for p in PEOPLE if _matches(query, p.name)]
    return _by_popularity(results)


# --- a tiny baseline JPEG, made here ---------------------------------------------------------


def _rgb_for(seed: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(seed.encode()).digest()
    return digest[0], digest[1], digest[2]


def tiny_jpeg(
    rgb: tuple[int, int, int] = (200, 40, 40), width: int = 16, height: int = 24
) -> bytes:
    """A valid baseline JPEG of one flat colour; ``width`` and ``height`` multiples of 8.

    Each 8x8 block carries only a DC coefficient (quantised by 8, so DC == level - 128); the
    DC table codes categories 0-11 as 4-bit codes, the AC table has just end-of-block.
    """
    assert width % 8 == 0 and height % 8 == 0 and 0 < width <= 4096 and 0 < height <= 4096
    r, g, b = rgb
    ycc = (
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )
    levels = [min(255, max(0, round(v))) - 128 for v in ycc]

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload

    out = bytearray(b"\xff\xd8")
    out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += segment(0xDB, b"\x00" + bytes([8] * 64))
    components = b"".join(bytes([cid, 0x11, 0]) for cid in (1, 2, 3))
    out += segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components)
    dc_bits = bytes([0, 0, 0, 12] + [0] * 12)
    out += segment(0xC4, b"\x00" + dc_bits + bytes(range(12)))
    ac_bits = bytes([0, 1] + [0] * 14)
    out += segment(0xC4, b"\x10" + ac_bits + b"\x00")
    out += segment(
        0xDA, b"\x03" + b"".join(bytes([cid, 0x00]) for cid in (1, 2, 3)) + b"\x00\x3f\x00"
    )

    bits: list[str] = []
    blocks = (width // 8) * (height // 8)
    for block in range(blocks):
        for level in levels:
            diff = level if block == 0 else 0
            category = abs(diff).bit_length()
            bits.append(format(category, "04b"))
            if category:
                value = diff if diff >= 0 else diff + (1 << category) - 1
                bits.append(format(value, f"0{category}b"))
            bits.append("00")  # end of block
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    for i in range(0, len(stream), 8):
        byte = int(stream[i : i + 8], 2)
        out.append(byte)
        if byte == 0xFF:
            out.append(0x00)
    out += b"\xff\xd9"
    return bytes(out)


# --- the server -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    path: str  # relative to base_url for API calls ("/movie/603"); full for images ("/t/p/...")
    query: dict[str, str]
    headers: dict[str, str]
    auth: str | None  # "v3", "v4", "invalid" or None (no credential sent)


@dataclass
class _Rule:
    pattern: str
    status: int | None  # None: answer normally (after the delay)
    retry_after: str | None = None
    delay: float = 0.0
    drop: bool = False
    body: bytes | None = None
    content_type: str = "application/json;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    remaining: int | None = None  # None: for ever
    no_length: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeTMDB

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up (a timeout, a size cap) closes its end: expected, not news.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_open_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTMDB/1.0"
    sys_version = ""
    timeout = 15  # idle keep-alive connections go away on their own
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def do_GET(self) -> None:  # http.server names it so
        self.server.fake._handle(self)

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        *,
        no_length: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(
        self, status: int, data: object, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_body(status, json.dumps(data).encode(), "application/json;charset=utf-8", headers)

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _page_number(query: Mapping[str, str]) -> int | None:
    raw = query.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        return None
    return int(raw)


class FakeTMDB:
    """One fake TMDB server. Use :func:`start_fake_tmdb`, then :meth:`stop`."""

    api_key = FAKE_API_KEY
    bearer_token = FAKE_BEARER_TOKEN

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port))
        self._server.fake = self
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._rules: list[_Rule] = []
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-tmdb",
            daemon=True,
        )
        self.host, self.port = self._server.server_address[:2]

    # -- addresses --

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What PLANK_TMDB_BASE_URL would be: ``http://127.0.0.1:<port>/3``."""
        return self.origin + API_PREFIX

    @property
    def image_base_url(self) -> str:
        return self.origin + IMAGE_PREFIX

    # -- life --

    def start(self) -> FakeTMDB:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTMDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it received --

    @property
    def calls(self) -> list[tuple[str, dict[str, str]]]:
        """``(path, query)`` for every request so far, oldest first (a copy)."""
        with self._lock:
            return [(r.path, dict(r.query)) for r in self._requests]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def calls_to(self, path: str) -> list[dict[str, str]]:
        """The queries of the requests made to ``path`` (fnmatch patterns allowed)."""
        return [query for p, query in self.calls if fnmatch.fnmatchcase(p, path)]

    def clear_calls(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- knobs --

    def fail(
        self,
        path: str,
        status: int | None = 500,
        *,
        retry_after: str | int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
        no_length: bool = False,
    ) -> None:
        """Make requests to ``path`` misbehave; the newest rule for a path wins.

        ``path`` is relative to :attr:`base_url` (``"/movie/603"``) or a full image path
        (``"/t/p/w342/x.jpg"``); fnmatch patterns (``"/movie/*"``, ``"*"``) work.
        ``status``: answer with it (TMDB's error JSON unless ``body`` is given); ``None`` to answer
        normally after ``delay``. ``retry_after`` sets the Retry-After header. ``delay`` waits
        before answering (beyond a client's read timeout = a timeout). ``drop`` closes the
        connection without answering. ``times``: only the next N requests (default: all).
        ``no_length`` sends the body without Content-Length, ending it by closing the connection.
        """
        raw: bytes | None
        if body is None or isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body).encode()
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        rule = _Rule(
            pattern=path,
            status=status,
            delay=delay,
            drop=drop,
            body=raw,
            content_type=content_type or "application/json;charset=utf-8",
            headers=extra,
            remaining=times,
            no_length=no_length,
        )
        with self._lock:
            self._rules.insert(0, rule)

    def slow(self, path: str, delay: float, *, times: int | None = None) -> None:
        """Answer ``path`` normally, but only after ``delay`` seconds."""
        self.fail(path, None, delay=delay, times=times)

    def respond(
        self,
        path: str,
        body: bytes | str | dict[str, Any] | list[Any],
        *,
        status: int = 200,
        content_type: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``path`` with exactly ``body`` (JSON-encoded unless bytes or str)."""
        self.fail(path, status, body=body, content_type=content_type, times=times)

    def reset(self) -> None:
        """Forget every knob and every recorded call."""
        with self._lock:
            self._rules.clear()
            self._requests.clear()

    def _take_rule(self, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if fnmatch.fnmatchcase(path, rule.pattern):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    # -- answering --

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        is_api = split.path.startswith(API_PREFIX + "/")
        path = split.path[len(API_PREFIX) :] if is_api else split.path
        authorization = handler.headers.get("Authorization")
        auth: str | None = None
        if "api_key" in query:
            auth = "v3" if query["api_key"] == FAKE_API_KEY else "invalid"
        elif authorization:
            auth = "v4" if authorization == f"Bearer {FAKE_BEARER_TOKEN}" else "invalid"
        with self._lock:
            self._requests.append(RecordedRequest(path, query, dict(handler.headers.items()), auth))

        rule = self._take_rule(path)
        if rule is not None:
            if rule.delay and self._server.stopping.wait(rule.delay):
                handler.drop()
                return
            if rule.drop:
                handler.drop()
                return
            if rule.status is not None:
                body = (
                    rule.body
                    if rule.body is not None
                    else json.dumps(error_body(rule.status)).encode()
                )
                handler.send_body(
                    rule.status, body, rule.content_type, rule.headers, no_length=rule.no_length
                )
                return

        if split.path.startswith(IMAGE_PREFIX):
            self._image(handler, split.path[len(IMAGE_PREFIX) :])
        elif not is_api:
            handler.send_json(404, error_body(404))
        elif auth not in ("v3", "v4"):
            handler.send_json(401, error_body(401))
        else:
            status, data = self._route(path, query)
            handler.send_json(status, data)

    def _image(self, handler: _Handler, rest: str) -> None:
        size, _, name = rest.partition("/")
        file = "/" + name
        if size not in ALL_SIZES or file not in IMAGE_FILES:
            handler.send_body(404, b"<html><body>404 Not Found</body></html>", "text/html")
            return
        handler.send_body(
            200, tiny_jpeg(_rgb_for(file)), "image/jpeg", {"Cache-Control": "max-age=31536000"}
        )

    def _route(self, path: str, query: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path.split("/") if p]
        append = {a.strip() for a in query.get("append_to_response", "").split(",") if a.strip()}
        listing = (
            (parts[:1] == ["trending"] and len(parts) == 3)
            or parts in (["movie", "popular"], ["tv", "popular"])
            or (parts[:1] == ["search"] and len(parts) == 2)
        )
        page = _page_number(query)
        if listing and page is None:
            return 400, error_body(400)
        page = page or 1

        match parts:
            case ["configuration"]:
                return 200, configuration(self.image_base_url)
            case ["genre", "movie", "list"]:
                return 200, {"genres": [{"id": k, "name": v} for k, v in MOVIE_GENRES.items()]}
            case ["genre", "tv", "list"]:
                return 200, {"genres": [{"id": k, "name": v} for k, v in TV_GENRES.items()]}
            case ["trending", ("all" | "movie" | "tv") as kind, ("day" | "week") as window]:
                return 200, paginate(trending(kind, window), page)
            case [("movie" | "tv") as kind, "popular"]:
                return 200, paginate(popular(kind), page)
            case ["search", ("multi" | "movie" | "tv") as kind]:
                year = None
                if kind == "movie":
                    year = query.get("year") or query.get("primary_release_year")
                elif kind == "tv":
                    year = query.get("first_air_date_year") or query.get("year")
                return 200, paginate(search(kind, query.get("query", ""), year), page)
            case ["movie", movie_id] if movie_id.isdigit() and int(movie_id) in MOVIES_BY_ID:
                return 200, movie_details(MOVIES_BY_ID[int(movie_id)], append)
            case ["tv", show_id] if show_id.isdigit() and int(show_id) in SHOWS_BY_ID:
                return 200, show_details(SHOWS_BY_ID[int(show_id)], append)
            case ["tv", show_id, "season", number] if show_id.isdigit() and number.isdigit():
                show = SHOWS_BY_ID.get(int(show_id))
                season = (
                    next((s for s in show.seasons if s.number == int(number)), None)
                    if show
                    else None
                )
                if show and season:
                    return 200, season_details(show, season)
        return 404, error_body(404)


def start_fake_tmdb(host: str = "127.0.0.1", port: int = 0) -> FakeTMDB:
    """A running fake TMDB on ``host``:<a free port>; call ``.stop()`` when done."""
    return FakeTMDB(host, port).start()


def running_fake_tmdb() -> Iterator[FakeTMDB]:
    """For fixtures: ``yield from running_fake_tmdb()`` starts one and stops it afterwards."""
    fake = start_fake_tmdb()
    try:
        yield fake
    finally:
        fake.stop()
