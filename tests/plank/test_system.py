"""/system/ shows the health of every part, and never fails as a whole."""

from __future__ import annotations

import pytest
from django.test import Client

from plank import system

pytestmark = pytest.mark.django_db


def test_system_page_lists_every_part(client_owner: Client) -> None:
    page = client_owner.get("/system/").content.decode()
    for name in [
        "Database",
        "Live events",
        "Live cache",
        "BitTorrent engine",
        "TMDB",
        "Library metadata",
    ]:
        assert name in page, name


def test_a_broken_check_shows_as_failed_not_as_a_500(client_owner: Client) -> None:
    def broken() -> system.Check:
        raise RuntimeError("boom <b>")

    system.register(broken)
    try:
        response = client_owner.get("/system/")
        assert response.status_code == 200
        body = response.content.decode()
        assert "check failed: boom &lt;b&gt;" in body
    finally:
        system._checks.remove(broken)
