"""TMDB's answers as frozen dataclasses, and the parsers that make them from TMDB's JSON.

No raw JSON leaves :mod:`browse.tmdb`: its client parses every answer here. A parser raises
:class:`ShapeError` when the JSON does not have the shape TMDB documents. Image paths
(``poster_path`` and friends) are validated when parsed: a path that does not look like
``/<name>.(jpg|png|webp)`` becomes ``None``, so no URL is ever built from something odd.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

Kind = Literal["movie", "tv"]

MAX_PAGE = 500  # TMDB answers 400 for page > 500, whatever total_pages says
MAX_CAST = 10
MIN_YEAR, MAX_YEAR = 1870, 2200  # a year outside these is junk (TMDB sends 0000 at times)

IMAGE_PATH_RE = re.compile(r"^/[A-Za-z0-9_\-]+\.(jpg|png|webp)$")
IMAGE_SIZE_RE = re.compile(r"^(w[0-9]{1,4}|h[0-9]{1,4}|original)$")
_IMDB_ID_RE = re.compile(r"^tt[0-9]{5,10}$")
_YEAR_RE = re.compile(r"^\s*([0-9]{4})(?![0-9])")


class InvalidImagePath(ValueError):
    """An image path or size that does not have the shape TMDB uses; nothing was fetched."""


class ShapeError(Exception):
    """The JSON parsed but does not have the shape TMDB documents."""


# --- values ---------------------------------------------------------------------------------


def parse_year(value: object) -> int | None:
    """The year of a TMDB date (``"1999-03-30"``, ``"1999"``); ``None`` for ``""``, junk, 0000."""
    if not isinstance(value, str):
        return None
    match = _YEAR_RE.match(value)
    if not match:
        return None
    year = int(match.group(1))
    return year if MIN_YEAR <= year <= MAX_YEAR else None


def parse_date(value: object) -> date | None:
    """A TMDB ``YYYY-MM-DD`` date, or ``None`` for ``""``, ``null`` and anything invalid."""
    if not isinstance(value, str) or len(value.strip()) != 10:
        return None
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


def is_valid_image_path(path: object) -> bool:
    return isinstance(path, str) and IMAGE_PATH_RE.fullmatch(path) is not None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def json_int(value: object) -> int | None:
    """An int from JSON: a whole float counts, a bool does not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _positive_int(value: object) -> int | None:
    number = json_int(value)
    return number if number is not None and number > 0 else None


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def _image(value: object) -> str | None:
    return value if is_valid_image_path(value) else None


def _imdb(value: object) -> str | None:
    return value if isinstance(value, str) and _IMDB_ID_RE.fullmatch(value) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _required_id(data: Mapping[str, Any]) -> int:
    tmdb_id = json_int(data.get("id"))
    if tmdb_id is None:
        raise ShapeError("missing id")
    return tmdb_id


def _names(items: object, limit: int | None = None) -> tuple[str, ...]:
    names = [_text(item.get("name")) for item in _list(items) if isinstance(item, dict)]
    names = [name for name in names if name]
    return tuple(names[:limit] if limit is not None else names)


def _cast(credits: object) -> tuple[str, ...]:
    members = [item for item in _list(_dict(credits).get("cast")) if isinstance(item, dict)]

    def billing(item: dict[str, Any]) -> int:
        order = json_int(item.get("order"))
        return order if order is not None else 1_000_000

    members.sort(key=billing)  # stable: TMDB's own order breaks ties
    return _names(members, MAX_CAST)


# --- typed answers --------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImageConfig:
    secure_base_url: str  # always ends with "/"
    poster_sizes: tuple[str, ...]
    backdrop_sizes: tuple[str, ...]
    still_sizes: tuple[str, ...] = ()

    def image_url(self, path: str | None, size: str = "original") -> str | None:
        """The image URL for a TMDB image path, or ``None`` when there is no (valid) path."""
        if not is_valid_image_path(path):
            return None
        if not IMAGE_SIZE_RE.fullmatch(size):
            raise InvalidImagePath("not a TMDB image size")
        return f"{self.secure_base_url}{size}{path}"

    def poster_url(self, path: str | None, size: str = "w342") -> str | None:
        return self.image_url(path, size)

    def backdrop_url(self, path: str | None, size: str = "w780") -> str | None:
        return self.image_url(path, size)

    def still_url(self, path: str | None, size: str = "w300") -> str | None:
        return self.image_url(path, size)


@dataclass(frozen=True, slots=True)
class Summary:
    """One movie or show in a list (trending, popular, search)."""

    kind: Kind
    tmdb_id: int
    title: str
    original_title: str
    year: int | None
    overview: str
    poster_path: str | None
    vote_average: float
    popularity: float
    backdrop_path: str | None = None
    genre_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    page: int
    total_pages: int
    total_results: int
    results: tuple[T, ...]

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < min(self.total_pages, MAX_PAGE)


@dataclass(frozen=True, slots=True)
class MovieDetails:
    tmdb_id: int
    title: str
    original_title: str
    year: int | None
    release_date: date | None
    overview: str
    tagline: str
    runtime: int | None  # minutes
    vote_average: float
    genres: tuple[str, ...]
    cast: tuple[str, ...]  # first ten, in billing order
    imdb_id: str | None
    poster_path: str | None
    backdrop_path: str | None

    kind: Kind = "movie"


@dataclass(frozen=True, slots=True)
class SeasonSummary:
    season_number: int
    name: str
    episode_count: int
    air_date: date | None
    poster_path: str | None


@dataclass(frozen=True, slots=True)
class ShowDetails:
    tmdb_id: int
    name: str
    original_name: str
    year: int | None
    first_air_date: date | None
    overview: str
    seasons: tuple[SeasonSummary, ...]
    number_of_seasons: int
    number_of_episodes: int
    episode_run_time: tuple[int, ...]  # minutes; often empty for recent shows
    vote_average: float
    genres: tuple[str, ...]
    cast: tuple[str, ...]  # first ten, in billing order
    imdb_id: str | None
    tvdb_id: int | None
    status: str
    poster_path: str | None
    backdrop_path: str | None

    kind: Kind = "tv"

    @property
    def title(self) -> str:
        return self.name

    @property
    def original_title(self) -> str:
        return self.original_name


@dataclass(frozen=True, slots=True)
class Episode:
    season_number: int
    episode_number: int
    name: str
    overview: str
    air_date: date | None
    runtime: int | None  # minutes
    still_path: str | None


@dataclass(frozen=True, slots=True)
class SeasonDetails:
    tmdb_id: int  # the show's TMDB id
    season_number: int
    name: str
    overview: str
    air_date: date | None
    poster_path: str | None
    episodes: tuple[Episode, ...]


# --- parsers (raise ShapeError on a wrong shape) ------------------------------------------


def _titles(title: object, original: object) -> tuple[str, str]:
    """A title and its original title, each standing in for the other when it is missing."""
    title, original = _text(title), _text(original)
    return title or original, original or title


def _parse_summary(item: Mapping[str, Any], kind: Kind) -> Summary:
    if kind == "movie":
        title, original, when = (
            item.get("title"),
            item.get("original_title"),
            item.get("release_date"),
        )
    else:
        title, original, when = (
            item.get("name"),
            item.get("original_name"),
            item.get("first_air_date"),
        )
    title, original = _titles(title, original)
    return Summary(
        kind=kind,
        tmdb_id=_required_id(item),
        title=title,
        original_title=original,
        year=parse_year(when),
        overview=_text(item.get("overview")),
        poster_path=_image(item.get("poster_path")),
        vote_average=_float(item.get("vote_average")),
        popularity=_float(item.get("popularity")),
        backdrop_path=_image(item.get("backdrop_path")),
        genre_ids=tuple(g for g in map(json_int, _list(item.get("genre_ids"))) if g is not None),
    )


def parse_page(
    data: Mapping[str, Any], kind_of: Callable[[Mapping[str, Any]], Kind | None]
) -> Page[Summary]:
    results_raw = data.get("results")
    if not isinstance(results_raw, list):
        raise ShapeError("results is not a list")
    results: list[Summary] = []
    for item in results_raw:
        if not isinstance(item, dict):
            continue
        kind = kind_of(item)
        if kind is None or json_int(item.get("id")) is None:
            continue  # a person, or an entry too broken to show; the rest of the page stands
        results.append(_parse_summary(item, kind))
    page = _positive_int(data.get("page")) or 1
    total_results = max(json_int(data.get("total_results")) or 0, 0)
    total_pages = min(max(json_int(data.get("total_pages")) or 0, 0), MAX_PAGE)
    return Page(
        page=page, total_pages=total_pages, total_results=total_results, results=tuple(results)
    )


def fixed_kind(kind: Kind) -> Callable[[Mapping[str, Any]], Kind | None]:
    return lambda item: kind


def kind_from_media_type(item: Mapping[str, Any]) -> Kind | None:
    media_type = item.get("media_type")
    return media_type if media_type in ("movie", "tv") else None


def parse_configuration(data: Mapping[str, Any]) -> ImageConfig:
    images = data.get("images")
    if not isinstance(images, dict):
        raise ShapeError("no images")
    base = images.get("secure_base_url") or images.get("base_url")
    if not isinstance(base, str):
        raise ShapeError("no image base url")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ShapeError("image base url is not http(s)")
    if not base.endswith("/"):
        base += "/"

    def sizes(name: str) -> tuple[str, ...]:
        return tuple(
            s for s in _list(images.get(name)) if isinstance(s, str) and IMAGE_SIZE_RE.fullmatch(s)
        )

    return ImageConfig(
        secure_base_url=base,
        poster_sizes=sizes("poster_sizes"),
        backdrop_sizes=sizes("backdrop_sizes"),
        still_sizes=sizes("still_sizes"),
    )


def parse_genres(data: Mapping[str, Any]) -> dict[int, str]:
    genres = data.get("genres")
    if not isinstance(genres, list):
        raise ShapeError("genres is not a list")
    result: dict[int, str] = {}
    for item in genres:
        if isinstance(item, dict) and (gid := json_int(item.get("id"))) is not None:
            result[gid] = _text(item.get("name"))
    return result


def _details(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a movie's details and a show's have alike, as keyword arguments."""
    return {
        "tmdb_id": _required_id(data),
        "overview": _text(data.get("overview")),
        "vote_average": _float(data.get("vote_average")),
        "genres": _names(data.get("genres")),
        "cast": _cast(data.get("credits")),
        "poster_path": _image(data.get("poster_path")),
        "backdrop_path": _image(data.get("backdrop_path")),
    }


def parse_movie(data: Mapping[str, Any]) -> MovieDetails:
    shared = _details(data)
    title, original = _titles(data.get("title"), data.get("original_title"))
    external = _dict(data.get("external_ids"))
    return MovieDetails(
        title=title,
        original_title=original,
        year=parse_year(data.get("release_date")),
        release_date=parse_date(data.get("release_date")),
        tagline=_text(data.get("tagline")),
        runtime=_positive_int(data.get("runtime")),
        imdb_id=_imdb(data.get("imdb_id")) or _imdb(external.get("imdb_id")),
        **shared,
    )


def _season_summaries(items: object) -> tuple[SeasonSummary, ...]:
    seasons = []
    for item in _list(items):
        if not isinstance(item, dict) or (number := json_int(item.get("season_number"))) is None:
            continue
        seasons.append(
            SeasonSummary(
                season_number=number,
                name=_text(item.get("name")) or f"Season {number}",
                episode_count=max(json_int(item.get("episode_count")) or 0, 0),
                air_date=parse_date(item.get("air_date")),
                poster_path=_image(item.get("poster_path")),
            )
        )
    return tuple(sorted(seasons, key=lambda s: s.season_number))


def parse_show(data: Mapping[str, Any]) -> ShowDetails:
    shared = _details(data)
    name, original = _titles(data.get("name"), data.get("original_name"))
    seasons = _season_summaries(data.get("seasons"))
    regular = [s for s in seasons if s.season_number > 0]
    external = _dict(data.get("external_ids"))
    return ShowDetails(
        name=name,
        original_name=original,
        year=parse_year(data.get("first_air_date")),
        first_air_date=parse_date(data.get("first_air_date")),
        seasons=seasons,
        number_of_seasons=max(json_int(data.get("number_of_seasons")) or len(regular), 0),
        number_of_episodes=max(
            json_int(data.get("number_of_episodes")) or sum(s.episode_count for s in regular), 0
        ),
        episode_run_time=tuple(
            r for r in map(_positive_int, _list(data.get("episode_run_time"))) if r
        ),
        imdb_id=_imdb(external.get("imdb_id")),
        tvdb_id=_positive_int(external.get("tvdb_id")),
        status=_text(data.get("status")),
        **shared,
    )


def parse_season(data: Mapping[str, Any], tmdb_id: int, season_number: int) -> SeasonDetails:
    episodes_raw = data.get("episodes")
    if not isinstance(episodes_raw, list):
        raise ShapeError("episodes is not a list")
    number = json_int(data.get("season_number"))
    number = season_number if number is None else number
    episodes = []
    for item in episodes_raw:
        if not isinstance(item, dict) or (ep := json_int(item.get("episode_number"))) is None:
            continue
        episodes.append(
            Episode(
                season_number=number,
                episode_number=ep,
                name=_text(item.get("name")) or f"Episode {ep}",
                overview=_text(item.get("overview")),
                air_date=parse_date(item.get("air_date")),
                runtime=_positive_int(item.get("runtime")),
                still_path=_image(item.get("still_path")),
            )
        )
    episodes.sort(key=lambda e: e.episode_number)
    return SeasonDetails(
        tmdb_id=tmdb_id,
        season_number=number,
        name=_text(data.get("name")) or f"Season {number}",
        overview=_text(data.get("overview")),
        air_date=parse_date(data.get("air_date")),
        poster_path=_image(data.get("poster_path")),
        episodes=tuple(episodes),
    )


def empty_page() -> Page[Summary]:
    return Page(page=1, total_pages=0, total_results=0, results=())
