"""The error contract between upstream clients (TMDB, Torznab, ...) and the per-key cache.

A client raises :class:`UpstreamError` (or a subclass) with a message a person understands;
``transient`` says whether trying again may help (timeouts, connection errors, 5xx, 429), and only
those are retried. Anything else a fetcher raises is classified here (:func:`to_upstream_error`).
The cache keeps a key's last failure as a plain record (:func:`error_record`) and raises it again
from there (:func:`error_from_record`), in any process.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import socket
from typing import Any

import requests


class UpstreamError(Exception):
    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.status = status

    def __str__(self) -> str:
        return self.message


# --- classification ---------------------------------------------------------------------------

_CONNECTION_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNREFUSED",
        "ECONNRESET",
        "ECONNABORTED",
        "ETIMEDOUT",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "ENETDOWN",
        "EHOSTDOWN",
        "EPIPE",
        "ENOTCONN",
    )
    if hasattr(errno, name)
)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may help: timeouts, connection errors, HTTP 5xx and 429."""
    if isinstance(exc, UpstreamError):
        return exc.transient
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else None
        return status is not None and (status >= 500 or status == 429)
    if isinstance(
        exc,
        (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            TimeoutError,
            ConnectionError,
            socket.gaierror,
        ),
    ):
        return True
    return isinstance(exc, OSError) and exc.errno in _CONNECTION_ERRNOS


def _retry_after_header(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def to_upstream_error(exc: BaseException) -> UpstreamError:
    """``exc`` as an :class:`UpstreamError`; the message never repeats the upstream's URL."""
    if isinstance(exc, UpstreamError):
        return exc
    transient = is_transient(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        return UpstreamError(
            f"the upstream service answered HTTP {status}",
            transient=transient,
            status=status,
            retry_after=_retry_after_header(exc.response),
        )
    if isinstance(exc, (requests.Timeout, TimeoutError)):
        message = "the upstream service did not answer in time"
    elif transient:
        message = "could not connect to the upstream service"
    else:
        message = f"the upstream service failed ({type(exc).__name__})"
    return UpstreamError(message, transient=transient)


# --- records: a failure kept in the cache, raised again by another caller ---------------------


def clone_error(exc: UpstreamError) -> UpstreamError:
    """A copy of ``exc`` (same class, same attributes) for another waiter to raise."""
    cls = type(exc)
    clone = cls.__new__(cls)
    Exception.__init__(clone, *exc.args)
    clone.__dict__.update(exc.__dict__)
    clone.__cause__ = exc.__cause__
    return clone


def error_record(exc: UpstreamError, at: float) -> dict[str, Any]:
    """``exc`` as plain data (any process can read it back), failed at ``at`` (epoch seconds)."""
    attrs = {
        name: value
        for name, value in exc.__dict__.items()
        if value is None or isinstance(value, (str, int, float, bool))
    }
    return {
        "cls": f"{type(exc).__module__}:{type(exc).__qualname__}",
        "args": tuple(a for a in exc.args if isinstance(a, (str, int, float))),
        "attrs": attrs,
        "message": exc.message,
        "transient": exc.transient,
        "retry_after": exc.retry_after,
        "at": at,
    }


def error_from_record(record: dict[str, Any]) -> UpstreamError:
    """The recorded failure raised again, as its own class when that can still be imported."""
    cls: Any = UpstreamError
    with contextlib.suppress(Exception):
        module, _, qualname = str(record.get("cls", "")).partition(":")
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, UpstreamError):
            cls = found
    exc = cls.__new__(cls)
    Exception.__init__(exc, *(record.get("args") or (record["message"],)))
    exc.__dict__.update(record.get("attrs") or {})
    exc.message = record["message"]
    exc.transient = bool(record["transient"])
    exc.retry_after = record.get("retry_after")
    exc.status = exc.__dict__.get("status")
    return exc
