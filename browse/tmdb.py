"""The TMDB client: one method a request of The Movie Database's v3 API, typed answers back.

Answers are the frozen dataclasses of :mod:`browse.tmdb_answers`; no raw JSON leaves here.
Failures are raised as subclasses of :class:`plank.live.errors.UpstreamError` carrying a message
a person understands (fixed wording: nothing TMDB sent is ever put in a message) and the
``transient`` / ``retry_after`` flags the per-key cache retries by. There are **no retries
here**: one call is one HTTP request (two for :meth:`TMDBClient.fetch_image` without a
configuration at hand). Design notes: ``docs/browse.md``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from browse.tmdb_answers import (
    IMAGE_SIZE_RE,
    MAX_PAGE,
    ImageConfig,
    InvalidImagePath,
    Kind,
    MovieDetails,
    Page,
    SeasonDetails,
    ShapeError,
    ShowDetails,
    Summary,
    empty_page,
    fixed_kind,
    is_valid_image_path,
    json_int,
    kind_from_media_type,
    parse_configuration,
    parse_genres,
    parse_movie,
    parse_page,
    parse_season,
    parse_show,
)
from plank.live.errors import UpstreamError
from plank.tmdb_credentials import CredentialKind, credential_kind

logger = logging.getLogger(__name__)

T = TypeVar("T")
TrendingKind = Literal["all", "movie", "tv"]
Window = Literal["day", "week"]

DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 10)
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_RETRY_AFTER = 24 * 3600.0
MAX_ID = 999_999_999  # a TMDB id as Plank takes it (the URLs and forms use the same bound)
MAX_SEASON = 1000


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

    def __init__(self, message: str, *, tmdb_code: int | None = None, **upstream: Any) -> None:
        """``upstream``: :class:`UpstreamError`'s ``transient``, ``retry_after``, ``status``."""
        super().__init__(message, **upstream)
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


# --- HTTP -----------------------------------------------------------------------------------


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
    return json_int(body.get("status_code")) if isinstance(body, dict) else None


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
    code = json_int(data.get("status_code"))
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
        base_url: str,
        language: str = "en-US",
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
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
        except (ShapeError, AttributeError, TypeError, ValueError) as exc:
            logger.info("TMDB answer has an unexpected shape: %s", exc)
            raise TMDBUnavailable(INVALID_MESSAGE, transient=True, status=200) from None

    def _page(
        self,
        path: str,
        params: Mapping[str, str | int],
        kind_of: Callable[[Mapping[str, Any]], Kind | None],
    ) -> Page[Summary]:
        data = self._get(path, params)
        return self._parsed(lambda d: parse_page(d, kind_of), data)

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
            return empty_page()
        params: dict[str, str | int] = {
            "query": query,
            "page": check_page(page),
            "include_adult": "false",
        }
        params.update({name: int(value) for name, value in filters.items() if value is not None})
        return self._page(path, params, kind_of)

    # -- the API --

    def configuration(self) -> ImageConfig:
        return self._parsed(parse_configuration, self._get("/configuration", language=False))

    def test_connection(self) -> str:
        """For the settings page's "test connection" button: ``"Connected"`` or the mapped error."""
        self.configuration()
        return "Connected"

    def genres(self, kind: Kind) -> dict[int, str]:
        _check_kind(kind, ("movie", "tv"))
        return self._parsed(parse_genres, self._get(f"/genre/{kind}/list"))

    def trending(
        self, kind: TrendingKind = "all", page: int = 1, window: Window = "week"
    ) -> Page[Summary]:
        _check_kind(kind, ("all", "movie", "tv"))
        _check_kind(window, ("day", "week"))
        kind_of = kind_from_media_type if kind == "all" else fixed_kind(kind)
        return self._page(f"/trending/{kind}/{window}", {"page": check_page(page)}, kind_of)

    def popular(self, kind: Kind, page: int = 1) -> Page[Summary]:
        """Popular movies or shows; for "all" the caller merges the two."""
        _check_kind(kind, ("movie", "tv"))
        return self._page(f"/{kind}/popular", {"page": check_page(page)}, fixed_kind(kind))

    def search(self, query: str, page: int = 1) -> Page[Summary]:
        """Movies and shows matching ``query`` (/search/multi); people are dropped."""
        return self._search("/search/multi", kind_from_media_type, query, page)

    def search_movie(self, query: str, year: int | None = None, page: int = 1) -> Page[Summary]:
        return self._search("/search/movie", fixed_kind("movie"), query, page, year=year)

    def search_tv(
        self, query: str, first_air_date_year: int | None = None, page: int = 1
    ) -> Page[Summary]:
        return self._search(
            "/search/tv", fixed_kind("tv"), query, page, first_air_date_year=first_air_date_year
        )

    def movie(self, tmdb_id: int) -> MovieDetails:
        data = self._get(
            f"/movie/{check_id(tmdb_id)}", {"append_to_response": "credits,external_ids"}
        )
        return self._parsed(parse_movie, data)

    def tv(self, tmdb_id: int) -> ShowDetails:
        data = self._get(f"/tv/{check_id(tmdb_id)}", {"append_to_response": "credits,external_ids"})
        return self._parsed(parse_show, data)

    def season(self, tmdb_id: int, season_number: int) -> SeasonDetails:
        tmdb_id = check_id(tmdb_id)
        check_season(season_number)
        data = self._get(f"/tv/{tmdb_id}/season/{season_number}")
        return self._parsed(lambda d: parse_season(d, tmdb_id, season_number), data)

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


def check_page(page: int) -> int:
    """``page``, an int from 1 to :data:`MAX_PAGE`; :class:`ValueError` otherwise."""
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page must be an int from 1 to {MAX_PAGE}")
    return page


def check_id(tmdb_id: int) -> int:
    """``tmdb_id``, an int from 1 to :data:`MAX_ID`; :class:`ValueError` otherwise."""
    if isinstance(tmdb_id, bool) or not isinstance(tmdb_id, int) or not 1 <= tmdb_id <= MAX_ID:
        raise ValueError(f"a TMDB id is an int from 1 to {MAX_ID}")
    return tmdb_id


def check_season(number: int) -> int:
    """``number``, a season number from 0 (the specials) to :data:`MAX_SEASON`."""
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_SEASON:
        raise ValueError(f"a season number is an int from 0 to {MAX_SEASON}")
    return number
