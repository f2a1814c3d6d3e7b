"""A still-downloading file streamed by a worker that does not hold the engine.

``serve --workers N`` runs the BitTorrent engine in worker 0 only, and only the engine knows
which pieces of a downloading file are here (and can ask for the rest first). The kernel hands
a stream request to any worker, so the others pass it on: worker 0 also listens on a private
127.0.0.1 port (``PLANK_STREAM_FORWARD`` names it in the other workers), and :func:`forward`
sends it the request (method, path, ``Range``, ``If-Range``, the session cookie) and streams its
answer back as it comes. Worker 0 checks the login and the range again; nothing is buffered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

log = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
HEADER_SECONDS = 60.0  # worker 0 may wait for pieces before its first byte (PLANK_STREAM_TIMEOUT)
CHUNK = 256 * 1024
SENT = ("Range", "If-Range", "Cookie", "User-Agent")  # the request headers worker 0 needs
KEPT = frozenset(  # the answer's headers passed back (lower case: names are compared so)
    name.lower()
    for name in (
        "Content-Type",
        "Content-Length",
        "Content-Range",
        "Accept-Ranges",
        "Content-Disposition",
        "Cache-Control",
        "Retry-After",
        "ETag",
        "Last-Modified",
        "Location",
    )
)
MAX_HEADER_LINES = 100


def _clean(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")


def _unavailable(message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "2"
    response["Cache-Control"] = "no-store"
    return response


async def forward(request: HttpRequest, address: str) -> HttpResponseBase:
    """Worker 0's answer to ``request``, streamed; a 503 in words when it cannot be reached."""
    host, _, port = address.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, int(port)), CONNECT_SECONDS
        )
    except (OSError, TimeoutError, ValueError) as exc:
        log.warning("stream: worker 0 at %s cannot be reached: %s", address, exc)
        return _unavailable("The worker that runs the BitTorrent engine is not answering.")
    try:
        # HTTP/1.0 so that the answer is never chunked and ends when the connection does.
        lines = [f"{request.method} {_clean(request.get_full_path())} HTTP/1.0"]
        lines.append(f"Host: {_clean(request.get_host())}")
        lines += [f"{n}: {_clean(request.headers[n])}" for n in SENT if n in request.headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))
        await writer.drain()
        status, headers = await asyncio.wait_for(_read_head(reader), HEADER_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:
        writer.close()
        log.warning("stream: worker 0 at %s did not answer: %s", address, exc)
        return _unavailable("The worker that runs the BitTorrent engine did not answer in time.")
    response = StreamingHttpResponse(_body(reader, writer), status=status)
    for name, value in headers:
        if name.lower() in KEPT:
            response[name] = value
    return response


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    status_line = (await reader.readline()).decode("latin-1")
    parts = status_line.split(maxsplit=2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
    headers = []
    for _ in range(MAX_HEADER_LINES):
        line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return int(parts[1]), headers
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    raise ValueError("too many header lines")


async def _body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> AsyncIterator[bytes]:
    try:
        while chunk := await reader.read(CHUNK):
            yield chunk
    finally:  # the client went, or the answer ended: worker 0 sees the connection close
        writer.close()
