"""Retries of an upstream call: transient errors only, full-jitter exponential backoff.

Attempt ``k`` (from 0) that fails transiently waits ``uniform(0, min(cap, base * 2**k))``, or the
error's ``retry_after`` if longer; a ``retry_after`` beyond ``max_retry_wait`` stops retrying.
What is finally raised is an :class:`~plank.live.errors.UpstreamError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plank.live.errors import to_upstream_error


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.2
    cap: float = 5.0
    max_retry_wait: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def call(self, fn: Callable[[], Any], retries: int, count: Callable[[str], None]) -> Any:
        """``fn()``, tried up to ``retries`` more times; ``count`` hears of every call and error.

        ``count("upstream_calls")`` before each attempt, ``count("errors")`` after each failure.
        """
        attempt = 0
        while True:
            count("upstream_calls")
            try:
                return fn()
            except Exception as exc:
                count("errors")
                err = to_upstream_error(exc)
                give_up = not err.transient or attempt >= retries
                delay = random.uniform(0, min(self.cap, self.base * 2**attempt))
                if err.retry_after is not None:
                    if err.retry_after > self.max_retry_wait:
                        give_up = True
                    delay = max(delay, err.retry_after)
                if give_up:
                    if err is exc:
                        raise
                    raise err from exc
            self.sleep(delay)
            attempt += 1
