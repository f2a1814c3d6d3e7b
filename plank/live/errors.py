"""The error contract between upstream clients (TMDB, Torznab, ...) and the per-key cache.

A client raises :class:`UpstreamError` (or a subclass) with a message a person understands.
``transient`` says whether trying again may help (timeouts, connection errors, 5xx, 429);
the cache retries only those, with backoff, honouring ``retry_after`` (seconds) when given.
4xx other than 429 are not transient and are never retried.
"""

from __future__ import annotations


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
