"""Slow database queries and slow upstream calls, logged (logger ``plank.slow``) with what they
were for: the query's SQL (never its parameters: they may hold secrets) and what the process was
doing (the request, the scheduled task); an upstream call with its per-key cache key.

Thresholds: ``PLANK_SLOW_QUERY_MS`` (default 200) and ``PLANK_SLOW_UPSTREAM_MS`` (default 2000).
Queries are timed by an execute wrapper on every database connection (installed when the
connection is made, from ``plank.apps``); upstream calls by :func:`upstream` around the per-key
cache's fetch; :class:`DoingMiddleware` names the request.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

log = logging.getLogger("plank.slow")

doing: contextvars.ContextVar[str] = contextvars.ContextVar("plank_doing", default="")
SQL_SHOWN = 500  # characters of a slow query's SQL in the log


@contextmanager
def work(what: str) -> Iterator[None]:
    """Name what this thread (or task) is doing, for the slow-query log."""
    token = doing.set(what)
    try:
        yield
    finally:
        doing.reset(token)


def query_wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A Django execute wrapper: run the query, log it when it took too long."""
    start = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        ms = (time.perf_counter() - start) * 1000
        if ms >= float(settings.PLANK_SLOW_QUERY_MS):
            text = " ".join(str(sql).split())
            where = doing.get() or "outside a request"
            log.warning(
                "slow query: %.0f ms (%s)%s: %s",
                ms,
                where,
                " (executemany)" if many else "",
                text[:SQL_SHOWN] + ("…" if len(text) > SQL_SHOWN else ""),
            )


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created``: time every query of the new connection."""
    if query_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(query_wrapper)


@contextmanager
def upstream(key: Any) -> Iterator[None]:
    """Time one upstream call (TMDB, an indexer) made for per-key cache ``key``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        ms = (time.perf_counter() - start) * 1000
        if ms >= float(settings.PLANK_SLOW_UPSTREAM_MS):
            path = "/".join(str(p) for p in key)
            log.warning("slow upstream call: %.0f ms for %s", ms, path)


class DoingMiddleware:
    """Names the request (method and path) for the slow-query log; sync and async alike."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        with work(f"{request.method} {request.path}"):
            return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        with work(f"{request.method} {request.path}"):
            return await self.get_response(request)
