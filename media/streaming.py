"""Streaming a title's video over HTTP: ``GET``/``HEAD /media/<id>/stream[?file=<file id>]``.

Complete files are read from disk in a worker thread; a file still downloading is read through
this process's piece reader (`media.downloading`). Ranges follow RFC 9110 (`media.ranges`).
How and why, in detail: docs/streaming.md.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.http import require_http_methods

from media import downloading, stream_forward
from media.downloading import PieceReader
from media.files import download_path, inside
from media.files import resolve as library_file
from media.models import MediaFile, Title
from media.ranges import ByteRange, RangeError, RangeNotSatisfiable, if_range_matches, parse_range

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
"""Bytes read (and handed to the server) at a time."""
MAX_OPEN_RANGE = 32 * 1024 * 1024
"""At most this many bytes answer an open-ended range (``bytes=N-``, what players send): it
bounds what a stalled player makes the server hold (docs/streaming.md, "Open-ended ranges")."""
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


def file_id(param: str) -> int | None:
    """A ``file`` parameter as a file id, or None when it isn't a plain (ASCII) number."""
    if param.isascii() and param.isdigit() and len(param) <= 18:
        return int(param)
    return None


def choose_file(title: Title, file_param: str | None) -> MediaFile:
    """The video file to play: ``?file=<id>`` of this title, else the title's largest video."""
    if file_param is not None:
        wanted = file_id(file_param)
        file = title.files.videos().filter(pk=wanted).first() if wanted is not None else None
        if file is None:
            raise Refusal(404, "That file isn't one of this title's videos.")
        return file
    file = title.files.main_video()
    if file is None:
        raise Refusal(404, "This title has no video file yet.")
    return file


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
        library_path = library_file(file)
        if library_path is None:  # the path would leave the data directory
            raise Refusal(404, "This video's file is missing.")
    in_download = download_path(title, file)
    common = {
        "file_id": file.pk,
        "name": name,
        "info_hash": (title.info_hash or "").lower(),
        "torrent_index": file.torrent_index,
    }
    in_progress = downloading.still_downloading(title)
    candidates = [library_path, in_download]
    if in_progress:
        # Only a filed copy can be complete; anything under downloads/ is still being written.
        candidates = [
            p for p in [library_path] if p is not None and inside(settings.DOWNLOADS_DIR, p) is None
        ]
    for path in candidates:
        st = _regular_file(path)
        if st is not None and (not in_progress or not file.size or st.st_size == file.size):
            return Located(
                **common,
                size=st.st_size,
                path=path,
                downloading=False,
                download_path=in_download,
                mtime=st.st_mtime,
            )
    if in_progress:
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

    def __init__(self, engine: PieceReader, located: Located, timeout: float) -> None:
        """`timeout`: seconds to wait for one chunk (``settings.PLANK_STREAM_TIMEOUT``)."""
        self.engine = engine
        self.located = located
        self.timeout = timeout

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
        at = offset + (0 if first else want - 1)
        try:
            start, end = self.engine.piece_span(loc.info_hash, loc.torrent_index, at)
        except Exception:  # no metadata yet, an engine that can't say ...: plain chunks
            return want
        if first:
            return max(1, min(want, end - offset))
        if want == remaining or end <= offset + want:  # the last chunk, or it ends a piece
            return want
        return start - offset if start > offset else want

    async def chunk(self, offset: int, length: int, *, urgent: bool = False) -> bytes:
        """Bytes at `offset` (at most `length`); raises `TimeoutError` when they don't come.

        Pieces the engine has are read from the file on disk, the cheap way. libtorrent may
        still hold a verified piece in its write buffer for a moment, though, so a read that
        looks unwritten (a run of zero bytes) is asked of the engine instead, which reads
        through that buffer. ``urgent``: a new position (docs/streaming.md)."""
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
            except TimeoutError:
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
    engine = downloading.current_reader()
    if engine is None and settings.PLANK_STREAM_FORWARD:
        return await stream_forward.forward(request, settings.PLANK_STREAM_FORWARD)
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
    reader = EngineReader(engine, located, settings.PLANK_STREAM_TIMEOUT)
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
    except TimeoutError:
        raise Refusal(
            503,
            "The video is still arriving from the swarm: nothing came within "
            f"{reader.timeout:g} seconds. Try again in a moment.",
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
    """The video bytes of a title (docs/streaming.md)."""
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
