"""The daemon thread pool of background refreshes."""

from __future__ import annotations

import logging
import threading

import pytest

from plank.live.pool import DaemonPool


def test_tasks_run_on_at_most_max_workers_daemon_threads() -> None:
    pool = DaemonPool("pool-test", max_workers=2)
    gate = threading.Event()
    threads: set[threading.Thread] = set()
    lock = threading.Lock()

    def task() -> None:
        with lock:
            threads.add(threading.current_thread())
        gate.wait(5)

    for _ in range(6):
        pool.submit(task)
    assert not pool.join(0.1)  # still busy
    gate.set()
    assert pool.join(5)
    assert 1 <= len(threads) <= 2 and all(t.daemon for t in threads)


def test_a_failing_task_is_logged_and_the_pool_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    pool = DaemonPool("pool-test", max_workers=1)
    done: list[int] = []

    def broken() -> None:
        raise RuntimeError("task bug")

    with caplog.at_level(logging.ERROR, logger="plank.live.pool"):
        pool.submit(broken)
        pool.submit(done.append, 1)
        assert pool.join(5)
    assert done == [1]
    assert any("pool-test" in r.getMessage() and r.exc_info for r in caplog.records)
