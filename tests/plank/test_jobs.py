"""The job worker part runs queued django-tasks jobs in the serving process."""

from __future__ import annotations

import time

import pytest
from django_tasks import task

from plank.jobs import JobWorker
from plank.parts import registered

RESULTS: list[int] = []


@task()
def double(n: int) -> int:
    RESULTS.append(n * 2)
    return n * 2


def test_jobs_part_runs_only_in_engine_processes() -> None:
    reg = {r.name: r for r in registered()}["jobs"]
    assert reg.roles == frozenset({"engine"})


@pytest.mark.django_db(transaction=True)
def test_a_queued_job_runs_and_the_worker_stops() -> None:
    RESULTS.clear()
    result = double.enqueue(21)
    worker = JobWorker(interval=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not RESULTS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert RESULTS == [42]
        result.refresh()
        assert result.return_value == 42
    finally:
        worker.stop()
    assert not worker.alive
