"""Helpers for browse tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


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
