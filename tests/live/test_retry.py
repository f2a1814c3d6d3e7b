"""Retries of an upstream call: transient errors only, with backoff and Retry-After."""

from __future__ import annotations

import pytest

from plank.live.errors import UpstreamError
from plank.live.retry import Backoff


def test_transient_failures_are_retried_with_capped_jittered_delays() -> None:
    delays: list[float] = []
    counted: list[str] = []
    outcomes: list[object] = [UpstreamError("down", transient=True)] * 3 + ["ok"]

    def call() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    backoff = Backoff(base=0.2, cap=0.3, sleep=delays.append)
    assert backoff.call(call, retries=3, count=counted.append) == "ok"
    assert counted == ["upstream_calls", "errors"] * 3 + ["upstream_calls"]
    assert len(delays) == 3 and all(0 <= d <= min(0.3, 0.2 * 2**i) for i, d in enumerate(delays))


def test_a_permanent_failure_is_raised_at_once_and_others_are_wrapped() -> None:
    delays: list[float] = []
    backoff = Backoff(sleep=delays.append)

    def missing() -> None:
        raise UpstreamError("not found", transient=False, status=404)

    with pytest.raises(UpstreamError, match="not found"):
        backoff.call(missing, retries=5, count=lambda name: None)

    def broken() -> None:
        raise KeyError("results")

    with pytest.raises(UpstreamError) as raised:
        backoff.call(broken, retries=5, count=lambda name: None)
    assert isinstance(raised.value.__cause__, KeyError) and delays == []


def test_retry_after_is_waited_unless_it_is_too_long() -> None:
    delays: list[float] = []
    backoff = Backoff(base=0.001, max_retry_wait=10, sleep=delays.append)
    outcomes: list[object] = [UpstreamError("slow down", transient=True, retry_after=4), "ok"]

    def call() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert backoff.call(call, retries=3, count=lambda name: None) == "ok"
    assert delays == [4]

    def too_slow() -> None:
        raise UpstreamError("slow down", transient=True, retry_after=60)

    with pytest.raises(UpstreamError):
        backoff.call(too_slow, retries=3, count=lambda name: None)
    assert delays == [4]
