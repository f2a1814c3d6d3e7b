"""The TMDB client: typed answers from The Movie Database's v3 API.

Every method returns frozen dataclasses; no raw JSON leaves this module. Failures are raised as
subclasses of :class:`plank.live.errors.UpstreamError` carrying a message a person understands
(fixed wording: nothing that TMDB sent is ever put in a message) and the ``transient`` /
``retry_after`` flags that :mod:`plank.live.cache` uses to decide on retries. There are **no
retries here**: one method call is one HTTP request (two for :meth:`TMDBClient.fetch_image`
without a configuration at hand).

Credentials come in two forms, told apart by their shape (:func:`credential_kind`): a v3 API
key (32 hex characters, sent as the ``api_key`` query parameter) or a v4 read access token (a
JWT, sent as ``Authorization: Bearer``).

Image paths (``poster_path`` and friends) are validated when parsed: a path that does not look
like ``/<name>.(jpg|png|webp)`` becomes ``None``, so templates and :meth:`ImageConfig.poster_url`
never build a URL from something odd. :meth:`TMDBClient.fetch_image` checks again, never follows
redirects, sends no credentials to the image host, insists on an image content type (SVG
refused) and reads at most :data:`MAX_IMAGE_BYTES`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from plank.live.errors import UpstreamError

logger = logging.getLogger(__name__)

Kind = Literal["movie", "tv"]
TrendingKind = Literal["all", "movie", "tv"]
Window = Literal["day", "week"]
CredentialKind = Literal["v3", "v4"]

DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 10)
MAX_PAGE = 500  # TMDB answers 400 for page > 500, whatever total_pages says
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_CAST = 10
MAX_RETRY_AFTER = 24 * 3600.0

IMAGE_PATH_RE = re.compile(r"^/[A-Za-z0-9_\-]+\.(jpg|png|webp)$")
IMAGE_SIZE_RE = re.compile(r"^(w[0-9]{1,4}|h[0-9]{1,4}|original)$")
_V3_KEY_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_V4_TOKEN_RE = re.compile(r"^eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*$")
_IMDB_ID_RE = re.compile(r"^tt[0-9]{5,10}$")
_YEAR_RE = re.compile(r"^\s*([0-9]{4})(?![0-9])")
_MIN_YEAR, _MAX_YEAR = 1870, 2200

# --- messages (plain text; templates escape) -------------------------------------------------

AUTH_MESSAGE = "TMDB rejected the API key — check it on the settings page."
NO_KEY_MESSAGE = "No TMDB API key is set — add one on the settings page."
BAD_KEY_MESSAGE = (
    "That is neither a TMDB API key (32 hexadecimal characters) nor a read access token"
    " — check it on the settings page."
)
NOT_FOUND_MESSAGE = "TMDB has no such title."
IMAGE_NOT_FOUND_MESSAGE = "TMDB has no such image."
RATE_LIMITED_MESSAGE = "TMDB asked Plank to slow down; it will try again shortly."
UNAVAILABLE_MESSAGE = "TMDB is having trouble right now (HTTP {status})."
TIMEOUT_MESSAGE = "TMDB did not answer in time."
INVALID_MESSAGE = "TMDB sent an answer Plank could not read."
REFUSED_MESSAGE = "TMDB refused the request (HTTP {status})."
BAD_URL_MESSAGE = "The TMDB address is not a valid URL — check PLANK_TMDB_BASE_URL."
NOT_AN_IMAGE_MESSAGE = "TMDB sent something that is not an image."
IMAGE_TOO_LARGE_MESSAGE = "The image from TMDB is larger than 5 MB."

# TMDB's own status codes (in the JSON error body) that matter when the HTTP status is vague.
_TMDB_AUTH_CODES = {3, 7, 10, 14, 33, 35, 36}
_TMDB_NOT_FOUND_CODES = {6, 34, 37}
_TMDB_RATE_LIMIT_CODES = {25}


# --- errors ---------------------------------------------------------------------------------


class TMDBError(UpstreamError):
    """Any failure talking to TMDB. ``tmdb_code`` is TMDB's own ``status_code``, when sent."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        status: int | None = None,
        tmdb_code: int | None = None,
    ) -> None:
        super().__init__(message, transient=transient, retry_after=retry_after, status=status)
        self.tmdb_code = tmdb_code


class TMDBAuthError(TMDBError):
    """The credential is missing, malformed or rejected (HTTP 401). Never transient."""


class TMDBNotFound(TMDBError):
    """No such title, season or image (HTTP 404). Never transient."""


class TMDBRateLimited(TMDBError):
    """HTTP 429; ``retry_after`` holds the Retry-After header in seconds, when sent."""


class TMDBUnavailable(TMDBError):
    """5xx, timeouts, connection errors and answers that cannot be read. Transient."""


class TMDBBadImage(TMDBError):
    """The image answer is not an acceptable image (content type, size). Not transient."""


class InvalidImagePath(ValueError):
    """An image path or size that does not have the shape TMDB uses; nothing was fetched."""


class _ShapeError(Exception):
    """The JSON parsed but does not have the shape TMDB documents."""


# --- credentials ----------------------------------------------------------------------------


def credential_kind(credential: str | None) -> CredentialKind | None:
    """``"v3"`` for a 32-hex API key, ``"v4"`` for a read access token (JWT), else ``None``."""
    if not isinstance(credential, str):
        return None
    value = credential.strip()
    if _V3_KEY_RE.fullmatch(value):
        return "v3"
    if _V4_TOKEN_RE.fullmatch(value):
        return "v4"
    return None


# --- value parsing --------------------------------------------------------------------------


def parse_year(value: object) -> int | None:
    """The year of a TMDB date (``"1999-03-30"``, ``"1999"``); ``None`` for ``""``, junk, 0000."""
    if not isinstance(value, str):
        return None
    match = _YEAR_RE.match(value)
    if not match:
        return None
    year = int(match.group(1))
    return year if _MIN_YEAR <= year <= _MAX_YEAR else None


def parse_date(value: object) -> date | None:
    """A TMDB ``YYYY-MM-DD`` date, or ``None`` for ``""``, ``null`` and anything invalid."""
    if not isinstance(value, str) or len(value.strip()) != 10:
        return None
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if _MIN_YEAR <= parsed.year <= _MAX_YEAR else None


def is_valid_image_path(path: object) -> bool:
    return isinstance(path, str) and IMAGE_PATH_RE.fullmatch(path) is not None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date; ``None`` when unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _positive_int(value: object) -> int | None:
    number = _int(value)
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
    tmdb_id = _int(data.get("id"))
    if tmdb_id is None:
        raise _ShapeError("missing id")
    return tmdb_id


def _names(items: object, limit: int | None = None) -> tuple[str, ...]:
    names = [_text(item.get("name")) for item in _list(items) if isinstance(item, dict)]
    names = [name for name in names if name]
    return tuple(names[:limit] if limit is not None else names)


def _cast(credits: object) -> tuple[str, ...]:
    members = [item for item in _list(_dict(credits).get("cast")) if isinstance(item, dict)]

    def billing(item: dict[str, Any]) -> int:
        order = _int(item.get("order"))
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


# --- parsers (raise _ShapeError on a wrong shape) ------------------------------------------


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
    return Summary(
        kind=kind,
        tmdb_id=_required_id(item),
        title=_text(title) or _text(original),
        original_title=_text(original) or _text(title),
        year=parse_year(when),
        overview=_text(item.get("overview")),
        poster_path=_image(item.get("poster_path")),
        vote_average=_float(item.get("vote_average")),
        popularity=_float(item.get("popularity")),
        backdrop_path=_image(item.get("backdrop_path")),
        genre_ids=tuple(g for g in map(_int, _list(item.get("genre_ids"))) if g is not None),
    )


def _parse_page(
    data: Mapping[str, Any], kind_of: Callable[[Mapping[str, Any]], Kind | None]
) -> Page[Summary]:
    results_raw = data.get("results")
    if not isinstance(results_raw, list):
        raise _ShapeError("results is not a list")
    results: list[Summary] = []
    for item in results_raw:
        if not isinstance(item, dict):
            continue
        kind = kind_of(item)
        if kind is None or _int(item.get("id")) is None:
            continue  # a person, or an entry too broken to show; the rest of the page stands
        results.append(_parse_summary(item, kind))
    page = _positive_int(data.get("page")) or 1
    total_results = max(_int(data.get("total_results")) or 0, 0)
    total_pages = min(max(_int(data.get("total_pages")) or 0, 0), MAX_PAGE)
    return Page(
        page=page, total_pages=total_pages, total_results=total_results, results=tuple(results)
    )


def _fixed_kind(kind: Kind) -> Callable[[Mapping[str, Any]], Kind | None]:
    return lambda item: kind


def _media_type(item: Mapping[str, Any]) -> Kind | None:
    media_type = item.get("media_type")
    return media_type if media_type in ("movie", "tv") else None


def _parse_configuration(data: Mapping[str, Any]) -> ImageConfig:
    images = data.get("images")
    if not isinstance(images, dict):
        raise _ShapeError("no images")
    base = images.get("secure_base_url") or images.get("base_url")
    if not isinstance(base, str):
        raise _ShapeError("no image base url")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise _ShapeError("image base url is not http(s)")
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


def _parse_genres(data: Mapping[str, Any]) -> dict[int, str]:
    genres = data.get("genres")
    if not isinstance(genres, list):
        raise _ShapeError("genres is not a list")
    result: dict[int, str] = {}
    for item in genres:
        if isinstance(item, dict) and (gid := _int(item.get("id"))) is not None:
            result[gid] = _text(item.get("name"))
    return result


def _parse_movie(data: Mapping[str, Any]) -> MovieDetails:
    tmdb_id = _required_id(data)
    title, original = _text(data.get("title")), _text(data.get("original_title"))
    return MovieDetails(
        tmdb_id=tmdb_id,
        title=title or original,
        original_title=original or title,
        year=parse_year(data.get("release_date")),
        release_date=parse_date(data.get("release_date")),
        overview=_text(data.get("overview")),
        tagline=_text(data.get("tagline")),
        runtime=_positive_int(data.get("runtime")),
        vote_average=_float(data.get("vote_average")),
        genres=_names(data.get("genres")),
        cast=_cast(data.get("credits")),
        imdb_id=_imdb(data.get("imdb_id")) or _imdb(_dict(data.get("external_ids")).get("imdb_id")),
        poster_path=_image(data.get("poster_path")),
        backdrop_path=_image(data.get("backdrop_path")),
    )


def _parse_show(data: Mapping[str, Any]) -> ShowDetails:
    tmdb_id = _required_id(data)
    name, original = _text(data.get("name")), _text(data.get("original_name"))
    seasons = []
    for item in _list(data.get("seasons")):
        if not isinstance(item, dict) or (number := _int(item.get("season_number"))) is None:
            continue
        seasons.append(
            SeasonSummary(
                season_number=number,
                name=_text(item.get("name")) or f"Season {number}",
                episode_count=max(_int(item.get("episode_count")) or 0, 0),
                air_date=parse_date(item.get("air_date")),
                poster_path=_image(item.get("poster_path")),
            )
        )
    seasons.sort(key=lambda s: s.season_number)
    regular = [s for s in seasons if s.season_number > 0]
    external = _dict(data.get("external_ids"))
    return ShowDetails(
        tmdb_id=tmdb_id,
        name=name or original,
        original_name=original or name,
        year=parse_year(data.get("first_air_date")),
        first_air_date=parse_date(data.get("first_air_date")),
        overview=_text(data.get("overview")),
        seasons=tuple(seasons),
        number_of_seasons=max(_int(data.get("number_of_seasons")) or len(regular), 0),
        number_of_episodes=max(
            _int(data.get("number_of_episodes")) or sum(s.episode_count for s in regular), 0
        ),
        episode_run_time=tuple(
            r for r in map(_positive_int, _list(data.get("episode_run_time"))) if r
        ),
        vote_average=_float(data.get("vote_average")),
        genres=_names(data.get("genres")),
        cast=_cast(data.get("credits")),
        imdb_id=_imdb(external.get("imdb_id")),
        tvdb_id=_positive_int(external.get("tvdb_id")),
        status=_text(data.get("status")),
        poster_path=_image(data.get("poster_path")),
        backdrop_path=_image(data.get("backdrop_path")),
    )


def _parse_season(data: Mapping[str, Any], tmdb_id: int, season_number: int) -> SeasonDetails:
    episodes_raw = data.get("episodes")
    if not isinstance(episodes_raw, list):
        raise _ShapeError("episodes is not a list")
    number = _int(data.get("season_number"))
    number = season_number if number is None else number
    episodes = []
    for item in episodes_raw:
        if not isinstance(item, dict) or (ep := _int(item.get("episode_number"))) is None:
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


# --- HTTP -----------------------------------------------------------------------------------


def _make_session() -> requests.Session:
    """One pooled session for the process. No retries: the per-key cache owns those."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=16, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "Plank (self-hosted media library)"
    # No cookie jar state shared between threads and users: TMDB needs none.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


SESSION = _make_session()


def _tmdb_code(response: requests.Response) -> int | None:
    """TMDB's own ``status_code`` from an error body (read at most 64 KB of it)."""
    try:
        raw = _read_capped(response, 65536)
        body = json.loads(raw) if raw else None
    except (ValueError, requests.RequestException):
        return None
    return _int(body.get("status_code")) if isinstance(body, dict) else None


def _error_for_status(response: requests.Response, *, image: bool = False) -> TMDBError:
    status = response.status_code
    code = None if image else _tmdb_code(response)
    # TMDB's message (status_message) is deliberately not used: it is upstream text.
    logger.info(
        "TMDB answered HTTP %s (TMDB code %s) for %s", status, code, urlsplit(response.url).path
    )
    if status == 401 and not image:
        return TMDBAuthError(AUTH_MESSAGE, transient=False, status=status, tmdb_code=code)
    if status == 404:
        message = IMAGE_NOT_FOUND_MESSAGE if image else NOT_FOUND_MESSAGE
        return TMDBNotFound(message, transient=False, status=status, tmdb_code=code)
    if status == 429:
        return TMDBRateLimited(
            RATE_LIMITED_MESSAGE,
            transient=True,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=status,
            tmdb_code=code,
        )
    if status >= 500:
        return TMDBUnavailable(
            UNAVAILABLE_MESSAGE.format(status=status), transient=True, status=status, tmdb_code=code
        )
    return TMDBError(
        REFUSED_MESSAGE.format(status=status), transient=False, status=status, tmdb_code=code
    )


def _error_for_body(data: Mapping[str, Any], status: int) -> TMDBError | None:
    """TMDB occasionally says ``"success": false`` with HTTP 200; map its own code."""
    if data.get("success") is not False:
        return None
    code = _int(data.get("status_code"))
    if code in _TMDB_AUTH_CODES:
        return TMDBAuthError(AUTH_MESSAGE, transient=False, status=status, tmdb_code=code)
    if code in _TMDB_NOT_FOUND_CODES:
        return TMDBNotFound(NOT_FOUND_MESSAGE, transient=False, status=status, tmdb_code=code)
    if code in _TMDB_RATE_LIMIT_CODES:
        return TMDBRateLimited(RATE_LIMITED_MESSAGE, transient=True, status=status, tmdb_code=code)
    return TMDBUnavailable(INVALID_MESSAGE, transient=True, status=status, tmdb_code=code)


def _transport_error(exc: requests.RequestException) -> TMDBError:
    # requests' own text includes the URL, and with it a v3 key: log the class name only.
    logger.info("TMDB request failed: %s", type(exc).__name__)
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return TMDBError(BAD_URL_MESSAGE, transient=False)
    return TMDBUnavailable(TIMEOUT_MESSAGE, transient=True)


def _read_capped(response: requests.Response, limit: int) -> bytes | None:
    """The body, or ``None`` when it is larger than ``limit`` bytes (checked as it arrives)."""
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        return None
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_content(chunk_size=65536):
        received += len(chunk)
        if received > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class TMDBClient:
    """A TMDB v3 client for one credential. Cheap to create; the HTTP pool is shared."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        language: str = "en-US",
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        if base_url is None:
            from django.conf import settings

            base_url = settings.PLANK_TMDB_BASE_URL
        credential = (api_key or "").strip()
        if not credential:
            raise TMDBAuthError(NO_KEY_MESSAGE, transient=False)
        kind = credential_kind(credential)
        if kind is None:
            raise TMDBAuthError(BAD_KEY_MESSAGE, transient=False)
        self.credential_kind: CredentialKind = kind
        self._credential = credential
        self.base_url = base_url.rstrip("/")
        self.language = language
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the credential
        return f"<TMDBClient {self.credential_kind} {self.base_url}>"

    @classmethod
    def from_settings(cls, **kwargs: Any) -> TMDBClient:
        """A client with ``PLANK_TMDB_API_KEY`` and ``PLANK_TMDB_BASE_URL``."""
        from django.conf import settings

        return cls(settings.PLANK_TMDB_API_KEY, settings.PLANK_TMDB_BASE_URL, **kwargs)

    # -- plumbing --

    def _get(
        self, path: str, params: Mapping[str, str | int] | None = None, *, language: bool = True
    ) -> dict[str, Any]:
        query: dict[str, str | int] = {}
        headers = {"Accept": "application/json"}
        if self.credential_kind == "v3":
            query["api_key"] = self._credential
        else:
            headers["Authorization"] = f"Bearer {self._credential}"
        if language and self.language:
            query["language"] = self.language
        query.update(params or {})
        try:
            response = SESSION.get(
                self.base_url + path,
                params=query,
                headers=headers,
                timeout=self.timeout,
                stream=True,
            )
        except requests.RequestException as exc:
            raise _transport_error(exc) from None
        with response:
            if not 200 <= response.status_code < 300:
                raise _error_for_status(response)
            try:
                body = _read_capped(response, MAX_JSON_BYTES)
            except requests.RequestException as exc:
                raise _transport_error(exc) from None
            status = response.status_code
        if body is None:
            raise TMDBUnavailable(INVALID_MESSAGE, transient=True, status=status)
        try:
            data = json.loads(body)
        except ValueError:
            logger.info("TMDB sent invalid JSON for %s", path)
            raise TMDBUnavailable(INVALID_MESSAGE, transient=True, status=status) from None
        if not isinstance(data, dict):
            raise TMDBUnavailable(INVALID_MESSAGE, transient=True, status=status)
        if (error := _error_for_body(data, status)) is not None:
            raise error
        return data

    def _parsed(self, parse: Callable[[dict[str, Any]], T], data: dict[str, Any]) -> T:
        try:
            return parse(data)
        except (_ShapeError, AttributeError, TypeError, ValueError) as exc:
            logger.info("TMDB answer has an unexpected shape: %s", exc)
            raise TMDBUnavailable(INVALID_MESSAGE, transient=True, status=200) from None

    def _page(
        self,
        path: str,
        params: Mapping[str, str | int],
        kind_of: Callable[[Mapping[str, Any]], Kind | None],
    ) -> Page[Summary]:
        data = self._get(path, params)
        return self._parsed(lambda d: _parse_page(d, kind_of), data)

    def _search(
        self,
        path: str,
        kind_of: Callable[[Mapping[str, Any]], Kind | None],
        query: str,
        page: int,
        **filters: int | None,
    ) -> Page[Summary]:
        """A search (no adult titles); the ``filters`` that are not None go along as ints."""
        query = (query or "").strip()
        if not query:
            return _empty_page()
        params: dict[str, str | int] = {
            "query": query,
            "page": _check_page(page),
            "include_adult": "false",
        }
        params.update({name: int(value) for name, value in filters.items() if value is not None})
        return self._page(path, params, kind_of)

    # -- the API --

    def configuration(self) -> ImageConfig:
        return self._parsed(_parse_configuration, self._get("/configuration", language=False))

    def test_connection(self) -> str:
        """For the settings page's "test connection" button: ``"Connected"`` or the mapped error."""
        self.configuration()
        return "Connected"

    def genres(self, kind: Kind) -> dict[int, str]:
        _check_kind(kind, ("movie", "tv"))
        return self._parsed(_parse_genres, self._get(f"/genre/{kind}/list"))

    def trending(
        self, kind: TrendingKind = "all", page: int = 1, window: Window = "week"
    ) -> Page[Summary]:
        _check_kind(kind, ("all", "movie", "tv"))
        _check_kind(window, ("day", "week"))
        kind_of = _media_type if kind == "all" else _fixed_kind(kind)
        return self._page(f"/trending/{kind}/{window}", {"page": _check_page(page)}, kind_of)

    def popular(self, kind: Kind, page: int = 1) -> Page[Summary]:
        """Popular movies or shows; for "all" the caller merges the two."""
        _check_kind(kind, ("movie", "tv"))
        return self._page(f"/{kind}/popular", {"page": _check_page(page)}, _fixed_kind(kind))

    def search(self, query: str, page: int = 1) -> Page[Summary]:
        """Movies and shows matching ``query`` (/search/multi); people are dropped."""
        return self._search("/search/multi", _media_type, query, page)

    def search_movie(self, query: str, year: int | None = None, page: int = 1) -> Page[Summary]:
        return self._search("/search/movie", _fixed_kind("movie"), query, page, year=year)

    def search_tv(
        self, query: str, first_air_date_year: int | None = None, page: int = 1
    ) -> Page[Summary]:
        return self._search(
            "/search/tv", _fixed_kind("tv"), query, page, first_air_date_year=first_air_date_year
        )

    def movie(self, tmdb_id: int) -> MovieDetails:
        data = self._get(
            f"/movie/{_check_id(tmdb_id)}", {"append_to_response": "credits,external_ids"}
        )
        return self._parsed(_parse_movie, data)

    def tv(self, tmdb_id: int) -> ShowDetails:
        data = self._get(
            f"/tv/{_check_id(tmdb_id)}", {"append_to_response": "credits,external_ids"}
        )
        return self._parsed(_parse_show, data)

    def season(self, tmdb_id: int, season_number: int) -> SeasonDetails:
        tmdb_id = _check_id(tmdb_id)
        if (
            isinstance(season_number, bool)
            or not isinstance(season_number, int)
            or season_number < 0
        ):
            raise ValueError("season_number must be an int >= 0")
        data = self._get(f"/tv/{tmdb_id}/season/{season_number}")
        return self._parsed(lambda d: _parse_season(d, tmdb_id, season_number), data)

    def fetch_image(
        self, path: str, size: str = "w342", *, config: ImageConfig | None = None
    ) -> bytes:
        """The bytes of a TMDB image (at most 5 MB, image/* but not SVG).

        ``config`` saves a /configuration request when the caller has one (cached) at hand.
        Raises :class:`InvalidImagePath` before any request when ``path`` or ``size`` is odd.
        """
        if not is_valid_image_path(path):
            raise InvalidImagePath("not a TMDB image path")
        if not isinstance(size, str) or not IMAGE_SIZE_RE.fullmatch(size):
            raise InvalidImagePath("not a TMDB image size")
        config = config or self.configuration()
        url = config.image_url(path, size)
        assert url is not None  # the path was validated above
        try:
            # No credentials, no redirects: the image host gets nothing but the path.
            response = SESSION.get(
                url,
                headers={"Accept": "image/*"},
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise _transport_error(exc) from None
        with response:
            if response.status_code != 200:
                raise _error_for_status(response, image=True)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not content_type.startswith("image/") or "svg" in content_type:
                raise TMDBBadImage(NOT_AN_IMAGE_MESSAGE, transient=False, status=200)
            try:
                body = _read_capped(response, MAX_IMAGE_BYTES)
            except requests.RequestException as exc:
                raise _transport_error(exc) from None
        if body is None:
            raise TMDBBadImage(IMAGE_TOO_LARGE_MESSAGE, transient=False, status=200)
        if not body:
            raise TMDBBadImage(NOT_AN_IMAGE_MESSAGE, transient=False, status=200)
        return body


def _check_kind(value: str, allowed: Iterable[str]) -> None:
    if value not in tuple(allowed):
        raise ValueError(f"expected one of {tuple(allowed)}, got {value!r}")


def _check_page(page: int) -> int:
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page must be an int from 1 to {MAX_PAGE}")
    return page


def _check_id(tmdb_id: int) -> int:
    if isinstance(tmdb_id, bool) or not isinstance(tmdb_id, int) or tmdb_id <= 0:
        raise ValueError("a TMDB id is a positive int")
    return tmdb_id


def _empty_page() -> Page[Summary]:
    return Page(page=1, total_pages=0, total_results=0, results=())
