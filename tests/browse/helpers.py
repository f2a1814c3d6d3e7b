"""Helpers for browse tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

from browse.tmdb_answers import Summary
from media import library
from media.magnets import parse_magnet
from media.models import Title


def add(magnet: str, kind: str) -> Title:
    """``magnet`` added to the library the way the add form adds it."""
    return library.add_magnet(parse_magnet(magnet), kind, None).title


def summary(
    title: str,
    *,
    year: int | None = 2000,
    popularity: float = 10.0,
    kind: str = "movie",
    tmdb_id: int = 1,
) -> Summary:
    """A TMDB search result or list item named ``title``."""
    return Summary(
        kind=kind,  # type: ignore[arg-type]
        tmdb_id=tmdb_id,
        title=title,
        original_title=title,
        year=year,
        overview="",
        poster_path=None,
        vote_average=0.0,
        popularity=popularity,
    )


def at_once(
    count: int,
    work: Callable[..., Any],
    *,
    prepare: Callable[[], Any] | None = None,
    timeout: float = 10,
) -> list[Any]:
    """Run ``work`` in ``count`` threads released together; what they returned, in finish order.

    ``prepare`` (when given) runs in each thread before the release and its result is passed to
    ``work``. Fails the test if any thread raised. Each thread closes its database connections.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            if prepare is None:
                barrier.wait()
                results.append(work())
            else:
                ready = prepare()
                barrier.wait()
                results.append(work(ready))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert errors == []
    return results
