"""Streaming a title's video over HTTP: ``GET``/``HEAD /media/<id>/stream[?file=<file id>]``.

The file is chosen by id only: the title's largest video file, or ``?file=`` naming another
video file *of the same title* (an episode). Nothing in the request is ever used as a path.

Two ways to serve it:

- **Complete files** (in the library, or a finished download): an async streaming response
  that reads 1 MiB at a time with ``os.pread`` in a worker thread, so the event loop never
  blocks and memory stays flat however big the file. Django's own ``FileResponse`` is a
  *sync* iterator: under ASGI Django reads it completely into memory
  (``sync_to_async(list)``) before sending a byte, so it is not used here. Complete files
  carry ``ETag`` and ``Last-Modified`` and honour ``If-Range``, ``If-None-Match``,
  ``If-Modified-Since`` (304) and ``If-Match``/``If-Unmodified-Since`` (412).
- **Files still downloading**: each chunk is read from disk when the engine already has it
  (``Engine.have_range``), else awaited from the swarm (``Engine.read``, which sets piece
  deadlines) for at most `ENGINE_TIMEOUT` seconds. The first chunk is fetched before the
  response starts, so a file whose first bytes don't arrive in time gets a clean 503 with
  ``Retry-After``; a later timeout can only end the response early (the status is already
  sent), and the player asks again with a new Range. The first chunk ends where the piece
  holding the first byte ends (``Engine.piece_span``): the swarm delivers whole pieces, and a
  player waiting to start (or to land after a seek) should not wait for a second one; a
  response that fits in one chunk is read whole. Later chunks are up to `CHUNK_SIZE`, cut at
  piece boundaries. The first read is *urgent* (a new
  position: it goes ahead of every other read of the torrent and cancels the bulk requests
  queued at the peers); the reads that continue the response are not. The engine must run in
  this process: a web-only process answers 503 (the proxy rule in the README sends
  ``/media/<id>/stream`` to the process that runs the engine).

Range handling follows RFC 9110 (see `media.ranges`): 206 with ``Content-Range``, 416 with
``bytes */size``, 400 for a malformed Range. ``HEAD`` answers the headers of the full ``GET``
(RFC 9110 defines Range for GET only).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import re
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.http import require_http_methods

from media import files
from media.models import MediaFile, Status, Title
from media.ranges import ByteRange, RangeError, RangeNotSatisfiable, if_range_matches, parse_range

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
"""Bytes read (and handed to the server) at a time."""
ENGINE_TIMEOUT = 20.0
"""Seconds to wait for one chunk of a file that is still downloading (``PLANK_STREAM_TIMEOUT``
in the settings overrides it)."""
MAX_OPEN_RANGE = 32 * 1024 * 1024
"""At most this many bytes answer an open-ended range (``bytes=N-``, what players send).

daphne writes whatever the app sends into the socket's buffer without back-pressure: a player
that stops reading (paused, buffer full) would otherwise make the server read the rest of the
file into memory. Players ask again from where the 206 ended (its Content-Range says so), so
capping costs one small request every 32 MiB and bounds a stalled connection to 32 MiB."""
RETRY_AFTER = 5
"""Seconds a client should wait before asking again when the first bytes aren't there yet."""

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mk3d": "video/x-matroska",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".ogv": "video/ogg",
    ".ogg": "video/ogg",
    ".ts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".wmv": "video/x-ms-wmv",
    ".flv": "video/x-flv",
    ".3gp": "video/3gpp",
}
_INFO_HASH = re.compile(r"^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$")


def content_type_for(name: str) -> str:
    """The Content-Type of a video by its extension (never guessed from the bytes)."""
    ext = Path(name).suffix.lower()
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return (
        guessed
        if guessed and guessed.startswith(("video/", "audio/"))
        else "application/octet-stream"
    )


# --------------------------------------------------------------------------- the engine


def _engine_module() -> Any:
    try:
        from torrents import engine
    except ImportError:  # the torrents app isn't there (or not finished): no engine
        return None
    return engine


def current_engine() -> Any:
    """This process's BitTorrent engine, or None when it runs elsewhere (or nowhere)."""
    module = _engine_module()
    current = getattr(module, "current", None)
    if current is None:
        return None
    try:
        return current()
    except Exception:  # a half-started engine is no engine
        log.exception("asking for the BitTorrent engine failed")
        return None


def engine_timeout() -> float:
    return float(getattr(settings, "PLANK_STREAM_TIMEOUT", ENGINE_TIMEOUT))


def _stream_timeout_errors() -> tuple[type[BaseException], ...]:
    timeout = getattr(_engine_module(), "StreamTimeout", None)
    errors: tuple[type[BaseException], ...] = (TimeoutError,)
    if isinstance(timeout, type) and issubclass(timeout, BaseException):
        errors = (timeout, *errors)
    return errors


# --------------------------------------------------------------------------- finding the file


class Refusal(Exception):
    """A plain-text error response: a message a person can read, never a bare 500."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> HttpResponse:
        response = HttpResponse(
            self.message + "\n", status=self.status, content_type="text/plain; charset=utf-8"
        )
        response["Cache-Control"] = "no-store"
        for name, value in self.headers.items():
            response[name] = value
        return response


@dataclass(frozen=True)
class Located:
    """Where a title's video is: on disk complete, or still coming from the engine."""

    file_id: int
    name: str
    size: int
    path: Path | None
    """The complete file on disk (library or finished download); None while downloading."""
    downloading: bool
    download_path: Path | None
    """Where the engine writes the file (``DOWNLOADS_DIR/<info_hash>/<torrent_path>``)."""
    info_hash: str
    torrent_index: int | None
    mtime: float | None = None


def choose_file(title: Title, file_param: str | None) -> MediaFile:
    """The video file to play: ``?file=<id>`` of this title, else the title's largest video."""
    videos = MediaFile.objects.filter(title=title, role=MediaFile.Role.VIDEO)
    if file_param is not None:
        if not file_param.isascii() or not file_param.isdigit() or len(file_param) > 18:
            raise Refusal(404, "That file isn't one of this title's videos.")
        file = videos.filter(pk=int(file_param)).first()
        if file is None:
            raise Refusal(404, "That file isn't one of this title's videos.")
        return file
    file = videos.order_by("-size", "id").first()
    if file is None:
        raise Refusal(404, "This title has no video file yet.")
    return file


def download_path(title: Title, file: MediaFile) -> Path | None:
    """``DOWNLOADS_DIR/<info_hash>/<torrent_path>``, or None if that would leave the folder."""
    if not title.info_hash or not _INFO_HASH.match(title.info_hash) or not file.torrent_path:
        return None
    folder = (Path(settings.DOWNLOADS_DIR) / title.info_hash.lower()).resolve()
    path = (folder / file.torrent_path).resolve()
    if not path.is_relative_to(folder) or path == folder:
        log.warning("refusing a torrent path outside its download folder: %r", file.torrent_path)
        return None
    return path


def download_in_progress(title: Title) -> bool:
    """Whether the title's torrent is still downloading (so its files may be incomplete)."""
    if title.status == Status.COMPLETE:
        return False
    try:
        download = title.download  # torrents.models.Download
    except ObjectDoesNotExist:
        return title.status in (Status.PENDING, Status.DOWNLOADING)
    return not download.finished


def _regular_file(path: Path | None) -> os.stat_result | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def locate(pk: int, file_param: str | None) -> Located:
    """Find the bytes behind ``/media/<pk>/stream`` (sync: database and file system)."""
    title = Title.objects.filter(pk=pk).first()
    if title is None:
        raise Refusal(404, "This title isn't in the library.")
    file = choose_file(title, file_param)
    name = Path(file.path or file.torrent_path or f"video-{file.pk}").name
    library_path = None
    if file.path:
        library_path = files.resolve(file)
        if library_path is None:  # the path would leave the data directory
            raise Refusal(404, "This video's file is missing.")
    in_download = download_path(title, file)
    common = {
        "file_id": file.pk,
        "name": name,
        "info_hash": (title.info_hash or "").lower(),
        "torrent_index": file.torrent_index,
    }
    downloading = download_in_progress(title)
    candidates = [library_path, in_download]
    if downloading:
        # Only a filed copy can be complete; anything under downloads/ is still being written.
        downloads = Path(settings.DOWNLOADS_DIR).resolve()
        candidates = [
            p for p in [library_path] if p is not None and not p.is_relative_to(downloads)
        ]
    for path in candidates:
        st = _regular_file(path)
        if st is not None and (not downloading or not file.size or st.st_size == file.size):
            return Located(
                **common,
                size=st.st_size,
                path=path,
                downloading=False,
                download_path=in_download,
                mtime=st.st_mtime,
            )
    if downloading:
        return Located(
            **common, size=file.size, path=None, downloading=True, download_path=in_download
        )
    raise Refusal(404, "This video's file is missing from disk. It may have been moved or deleted.")


# --------------------------------------------------------------------------- reading


async def read_file(
    path: Path, start: int, length: int, chunk_size: int = CHUNK_SIZE
) -> AsyncIterator[bytes]:
    """`length` bytes of `path` from `start`, `chunk_size` at a time, read in a worker thread."""
    fd = await asyncio.to_thread(os.open, path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, start, length, os.POSIX_FADV_SEQUENTIAL)
        offset, remaining = start, length
        while remaining > 0:
            data = await asyncio.to_thread(os.pread, fd, min(chunk_size, remaining), offset)
            if not data:
                log.warning("%s ended %d bytes early (changed while streaming?)", path, remaining)
                return
            offset += len(data)
            remaining -= len(data)
            yield data
    finally:
        os.close(fd)


async def _pread(path: Path, offset: int, length: int) -> bytes:
    def read() -> bytes:
        with open(path, "rb", buffering=0) as f:
            return os.pread(f.fileno(), length, offset)

    return await asyncio.to_thread(read)


_ZERO_RUN = bytes(4096)
_ZERO_EDGE = bytes(1024)


def looks_unwritten(data: bytes) -> bool:
    """Whether disk bytes may be a hole not yet written (4 KiB of zeros, or 1 KiB at an edge).

    Real video rarely has such runs; when it does, the engine is asked, which is only slower."""
    return _ZERO_RUN in data or data.startswith(_ZERO_EDGE) or data.endswith(_ZERO_EDGE)


class EngineReader:
    """Chunks of a file still downloading: from disk when the engine has them, else awaited."""

    def __init__(self, engine: Any, located: Located, timeout: float = ENGINE_TIMEOUT) -> None:
        self.engine = engine
        self.located = located
        self.timeout = timeout
        self.timeouts = _stream_timeout_errors()
        self._pieces: tuple[int, int] | None = (
            None  # (a piece boundary, piece length), file offsets
        )

    def has(self, offset: int, length: int) -> bool:
        loc = self.located
        try:
            return bool(
                self.engine.have_range(loc.info_hash, loc.torrent_index, offset, offset + length)
            )
        except Exception:
            log.exception("have_range failed for %s file %s", loc.info_hash, loc.torrent_index)
            return False

    def chunk_length(self, offset: int, remaining: int, *, first: bool = False) -> int:
        """How much to read at ``offset``: the rest of its piece for a ``first`` chunk, else up
        to `CHUNK_SIZE` ending on a piece boundary (whole pieces are what the swarm delivers).
        `CHUNK_SIZE` when the engine can't say where pieces end."""
        want = min(CHUNK_SIZE, remaining)
        if want <= 0:
            return want
        loc = self.located
        span = getattr(self.engine, "piece_span", None)
        try:
            start, end = span(loc.info_hash, loc.torrent_index, offset + (0 if first else want - 1))
        except Exception:  # no such method, no metadata yet ...: plain chunks
            return want
        if first:
            return max(1, min(want, end - offset))
        if want == remaining or end <= offset + want:  # the last chunk, or it ends a piece
            return want
        return start - offset if start > offset else want

    async def chunk(self, offset: int, length: int, *, urgent: bool = False) -> bytes:
        """Bytes at `offset` (at most `length`); raises the engine's timeout when they don't come.

        Pieces the engine has are read from the file on disk, the cheap way. libtorrent may
        still hold a verified piece in its write buffer for a moment, though, so a read that
        looks unwritten (a run of zero bytes) is asked of the engine instead, which reads
        through that buffer. ``urgent``: a new position (see the module doc)."""
        loc = self.located
        if loc.download_path is not None and self.has(offset, length):
            try:
                data = await _pread(loc.download_path, offset, length)
            except OSError:
                data = b""
            if len(data) == length and not looks_unwritten(data):
                return data
        read = self.engine.read(
            loc.info_hash, loc.torrent_index, offset, length, timeout=self.timeout, urgent=urgent
        )
        # a safety net in case the engine doesn't keep its own deadline
        data = await asyncio.wait_for(read, self.timeout + 5)
        if not data:
            raise EOFError(f"the engine returned no bytes at {offset}")
        return bytes(data)

    async def stream(self, start: int, length: int, first: bytes) -> AsyncIterator[bytes]:
        if first:
            yield first
        offset, remaining = start + len(first), length - len(first)
        while remaining > 0:
            try:
                data = await self.chunk(offset, self.chunk_length(offset, remaining))
            except self.timeouts:
                log.warning(
                    "stream of %s file %s: no data at %d within %.0f s; ending the response",
                    self.located.info_hash,
                    self.located.torrent_index,
                    offset,
                    self.timeout,
                )
                return
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception:
                log.exception(
                    "stream of %s file %s failed at %d",
                    self.located.info_hash,
                    self.located.torrent_index,
                    offset,
                )
                return
            data = data[:remaining]
            offset += len(data)
            remaining -= len(data)
            yield data


# --------------------------------------------------------------------------- the view


def _base_headers(response: HttpResponseBase, located: Located) -> None:
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private"
    response["Content-Disposition"] = content_disposition_header(False, located.name) or "inline"


def _etag(located: Located) -> str:
    assert located.path is not None and located.mtime is not None
    return f'"{located.size:x}-{int(located.mtime * 1_000_000):x}"'


def _range_for(
    request: HttpRequest, size: int, etag: str | None, last_modified: int | None
) -> ByteRange | None:
    """The requested byte range (None: send everything); raises `RangeError`."""
    if request.method != "GET":
        return None  # RFC 9110 defines Range for GET only
    header = request.headers.get("Range")
    if header is None:
        return None
    if not if_range_matches(
        request.headers.get("If-Range"), etag=etag, last_modified=last_modified
    ):
        return None  # the client's copy is stale: it gets the whole new file
    byte_range = parse_range(header, size)
    return byte_range.limited(MAX_OPEN_RANGE) if byte_range is not None else None


def _range_error(exc: RangeError, located: Located) -> HttpResponse:
    if isinstance(exc, RangeNotSatisfiable):
        response = Refusal(416, str(exc), {"Content-Range": exc.content_range}).response()
    else:
        response = Refusal(400, f"Bad Range header: {exc}").response()
    response["Accept-Ranges"] = "bytes"
    return response


def _body_response(
    request: HttpRequest,
    located: Located,
    byte_range: ByteRange | None,
    body: AsyncIterator[bytes] | None,
) -> HttpResponseBase:
    if request.method == "HEAD" or body is None:
        response: HttpResponseBase = HttpResponse(b"", content_type=content_type_for(located.name))
    else:
        response = StreamingHttpResponse(body, content_type=content_type_for(located.name))
    _base_headers(response, located)
    if byte_range is not None:
        response.status_code = 206
        response["Content-Range"] = byte_range.content_range
        response["Content-Length"] = str(byte_range.length)
    else:
        response["Content-Length"] = str(located.size)
    return response


async def _serve_complete(request: HttpRequest, located: Located) -> HttpResponseBase:
    assert located.path is not None and located.mtime is not None
    etag, last_modified = _etag(located), int(located.mtime)
    conditional = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if conditional is not None:  # 304 Not Modified or 412 Precondition Failed
        _base_headers(conditional, located)
        conditional["ETag"] = etag
        conditional["Last-Modified"] = http_date(last_modified)
        return conditional
    try:
        byte_range = _range_for(request, located.size, etag, last_modified)
    except RangeError as exc:
        return _range_error(exc, located)
    start, length = (byte_range.start, byte_range.length) if byte_range else (0, located.size)
    body = read_file(located.path, start, length) if request.method == "GET" else None
    response = _body_response(request, located, byte_range, body)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    return response


async def _serve_downloading(request: HttpRequest, located: Located) -> HttpResponseBase:
    engine = current_engine()
    if engine is None:
        raise Refusal(
            503,
            "This file is still downloading in the engine process.",
            {"Retry-After": str(RETRY_AFTER)},
        )
    if located.torrent_index is None or not located.info_hash or located.size <= 0:
        raise Refusal(
            503,
            "This file is still being prepared: the torrent's details haven't arrived yet.",
            {"Retry-After": str(RETRY_AFTER)},
        )
    try:
        known = located.info_hash in engine
    except Exception:
        known = True  # let the read say what is wrong
    if not known:
        raise Refusal(
            503,
            "The BitTorrent engine isn't downloading this title right now. Try again in a moment.",
            {"Retry-After": str(RETRY_AFTER)},
        )
    reader = EngineReader(engine, located, engine_timeout())
    try:
        byte_range = _range_for(request, located.size, None, None)
    except RangeError as exc:
        return _range_error(exc, located)
    start, length = (byte_range.start, byte_range.length) if byte_range else (0, located.size)
    if request.method == "HEAD":
        return _body_response(request, located, byte_range, None)
    try:
        engine.prioritise_for_streaming(located.info_hash, located.torrent_index)
    except Exception as exc:  # e.g. the metadata isn't here yet: the read below waits for it
        log.info(
            "could not prioritise %s file %s for streaming: %s",
            located.info_hash,
            located.torrent_index,
            exc,
        )
    try:
        # A response that fits in one chunk (a player probing an index, say) is wanted whole;
        # a longer one (a player streaming from here) starts with the rest of the first piece.
        first_length = (
            length if length <= CHUNK_SIZE else reader.chunk_length(start, length, first=True)
        )
        first = await reader.chunk(start, first_length, urgent=True)
    except reader.timeouts:
        raise Refusal(
            503,
            f"The video is still arriving from the swarm: nothing came within {reader.timeout:g} seconds. Try again in a moment.",
            {"Retry-After": str(RETRY_AFTER)},
        ) from None
    except Exception:
        log.exception(
            "reading %s file %s from the engine failed", located.info_hash, located.torrent_index
        )
        raise Refusal(
            503,
            "The BitTorrent engine couldn't read this file right now. Try again in a moment.",
            {"Retry-After": str(RETRY_AFTER)},
        ) from None
    return _body_response(
        request, located, byte_range, reader.stream(start, length, first[:length])
    )


@require_http_methods(["GET", "HEAD"])
async def stream(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The video bytes of a title (see the module doc)."""
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        located = await sync_to_async(locate)(pk, request.GET.get("file"))
        if located.downloading:
            return await _serve_downloading(request, located)
        return await _serve_complete(request, located)
    except Refusal as refusal:
        return refusal.response()
