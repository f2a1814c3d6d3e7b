"""Slow queries and slow upstream calls are logged with what they were for (never parameters)."""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client

from plank.live.cache import LiveCache
from plank.models import Preferences


@pytest.mark.django_db
def test_a_slow_query_is_logged_with_the_request_not_its_parameters(
    client_member: Client, settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.PLANK_SLOW_QUERY_MS = 0  # every query is "slow"
    with caplog.at_level(logging.WARNING, logger="plank.slow"):
        Preferences.objects.filter(tmdb_language="s3cr3t-value").exists()
        client_member.get("/system/")
    lines = [r.getMessage() for r in caplog.records if r.name == "plank.slow"]
    assert any("(outside a request)" in line and "plank_preferences" in line for line in lines)
    assert any("(GET /system/)" in line for line in lines), "the request it was for"
    assert not any("s3cr3t-value" in line for line in lines), "parameters are never logged"


@pytest.mark.django_db
def test_fast_queries_are_not_logged(
    client_member: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="plank.slow"):
        client_member.get("/system/")
    assert not [r for r in caplog.records if r.name == "plank.slow"]


def test_a_slow_upstream_call_is_logged_with_its_key(
    settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.PLANK_SLOW_UPSTREAM_MS = 50
    live = LiveCache(LocMemCache("slow-test", {}), shared=False)

    def slow_fetch() -> str:
        time.sleep(0.08)
        return "answer"

    with caplog.at_level(logging.WARNING, logger="plank.slow"):
        live.fetch(("tmdb", "trending", "movie", 1), slow_fetch)
        live.fetch(("tmdb", "popular", "movie", 1), lambda: "quick")
    lines = [r.getMessage() for r in caplog.records if r.name == "plank.slow"]
    assert len(lines) == 1
    assert lines[0].startswith("slow upstream call: ") and lines[0].endswith(
        " for tmdb/trending/movie/1"
    )
