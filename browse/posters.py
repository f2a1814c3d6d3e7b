"""Posters through Plank: fetched from TMDB's image host once, kept on disk, served by us.

A browser only ever asks ``/browse/posters/<size>/<file>``; it never talks to TMDB. The file
lives at ``settings.POSTERS_DIR/<size>/<file>``:

- present: served from disk with a year-long ``Cache-Control`` and a strong ``ETag`` (TMDB image
  paths name immutable images, so the path is the identity); ``If-None-Match`` gives 304.
- missing: fetched once, however many requests (threads and processes on this machine) ask at
  the same moment: a ``threading.Lock`` inside the process and an ``fcntl.flock`` on a lock
  file across processes (256 stripes, hashed by path); whoever gets the lock second finds the
  file written. The write is atomic (`media.files.replacing`): a reader never sees a
  half-written poster.
- no key configured, an odd path or size, or TMDB says the image does not exist: 404 at once
  (a missing image is remembered for an hour, so it is not asked for again and again).
- TMDB failing: 503 with ``Retry-After``, never cached by the browser.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.views.decorators.http import require_safe

from browse import discover
from browse.tmdb import (
    IMAGE_SIZE_RE,
    InvalidImagePath,
    TMDBError,
    TMDBNotFound,
    is_valid_image_path,
)
from media.files import inside, replacing

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the in-process lock alone
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

SIZES: tuple[str, ...] = ("w92", "w154", "w185", "w342", "w500", "w780", "original")
DEFAULT_SIZE = "w342"
CACHE_CONTROL = "private, max-age=31536000, immutable"
MISSING_TTL = 3600
CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}

# Striped locks: a poster's fetch is serialised with the few others that share its stripe.
STRIPES = 256
_locks = [threading.Lock() for _ in range(STRIPES)]


class PosterMissing(Exception):
    """No poster to serve (no key, odd path, TMDB has none)."""


class PosterUnavailable(Exception):
    """TMDB failed; try again later. ``message`` is for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_valid(size: str, name: str) -> bool:
    return (
        isinstance(size, str)
        and size in SIZES
        and IMAGE_SIZE_RE.fullmatch(size) is not None
        and is_valid_image_path("/" + str(name))
    )


def poster_url(path: str | None, size: str = DEFAULT_SIZE) -> str:
    """Our URL for a TMDB poster path (``"/abc.jpg"``), or ``""`` when there is none."""
    if not path or not is_valid_image_path(path) or size not in SIZES:
        return ""
    return reverse("browse:poster", args=[size, path.lstrip("/")])


def file_path(size: str, name: str) -> Path:
    """Where the poster lives (or will), never outside ``POSTERS_DIR`` (`media.files.inside`)."""
    path = inside(settings.POSTERS_DIR, Path(size, name)) if is_valid(size, name) else None
    if path is None:
        raise InvalidImagePath("not a TMDB image")
    return path


def etag(size: str, name: str) -> str:
    return '"' + hashlib.sha256(f"{size}/{name}".encode()).hexdigest()[:32] + '"'


def _missing_key(size: str, name: str) -> str:
    return f"browse:poster-missing:{size}:{name}"


def _stripe(path: Path) -> int:
    return int.from_bytes(hashlib.sha256(str(path).encode()).digest()[:4], "big") % STRIPES


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """This file's lock across threads (a Lock) and processes (flock on a stripe's lock file)."""
    stripe = _stripe(path)
    with _locks[stripe]:
        if fcntl is None:
            yield
            return
        lock_dir = Path(settings.POSTERS_DIR) / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{stripe:03d}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure(size: str, name: str) -> Path:
    """The poster on disk, fetched if needed. Raises PosterMissing / PosterUnavailable."""
    try:
        path = file_path(size, name)
    except InvalidImagePath:
        raise PosterMissing("not a TMDB image") from None
    if path.is_file():
        return path
    if cache.get(_missing_key(size, name)):
        raise PosterMissing("TMDB has no such image")
    try:
        api = discover.client()
    except discover.NotConfigured:
        raise PosterMissing("no TMDB key") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path):
        if path.is_file():  # someone else fetched it while we waited for the lock
            return path
        try:
            config = discover.configuration().value
            data = api.fetch_image("/" + name, size, config=config)
        except TMDBNotFound:
            cache.set(_missing_key(size, name), True, MISSING_TTL)
            raise PosterMissing("TMDB has no such image") from None
        except InvalidImagePath:
            raise PosterMissing("not a TMDB image") from None
        except TMDBError as exc:
            raise PosterUnavailable(exc.message) from None
        with replacing(path) as tmp:  # a reader never sees a half-written poster
            tmp.write_bytes(data)
        logger.debug("poster %s/%s fetched (%d bytes)", size, name, len(data))
    return path


def _not_found() -> HttpResponse:
    response = HttpResponse("No such poster.", status=404, content_type="text/plain")
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_safe
def poster(request: HttpRequest, size: str, name: str) -> HttpResponse:
    if not is_valid(size, name):
        return _not_found()
    tag = etag(size, name)
    if tag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
        response: HttpResponse = HttpResponseNotModified()
        response["ETag"] = tag
        response["Cache-Control"] = CACHE_CONTROL
        return response
    try:
        path = ensure(size, name)
    except PosterMissing:
        return _not_found()
    except PosterUnavailable as exc:
        response = HttpResponse(exc.message, status=503, content_type="text/plain")
        response["Retry-After"] = "30"
        response["Cache-Control"] = "no-store"
        return response
    response = FileResponse(
        open(path, "rb"), content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    )
    response["ETag"] = tag
    response["Cache-Control"] = CACHE_CONTROL
    return response
