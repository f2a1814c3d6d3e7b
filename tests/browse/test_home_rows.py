"""TMDB's Trending as a home row (browse/home_rows.py), against the fake TMDB."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import make_title

pytestmark = pytest.mark.django_db


def test_with_a_key_trending_loads_after_the_page(
    client_owner: Client, configured, htmx_headers
) -> None:
    page = client_owner.get("/").content.decode()
    assert 'id="home-row-trending"' in page
    assert 'data-live-key="tmdb/trending/all/1"' in page  # a new key or language refetches it
    assert 'hx-get="/?partial=row&amp;row=trending"' in page
    assert not configured.calls_to("*trending*")  # the page did not wait for TMDB
    row = client_owner.get("/", {"partial": "row", "row": "trending"}, **htmx_headers)
    html = row.content.decode()
    assert "Trending this week" in html and "home-row-pending" not in html
    assert html.count('class="poster-card home-card"') == 12
    assert "/browse/movie/" in html or "/browse/tv/" in html
    assert configured.calls_to("/trending/all/week")
    # The same cached answer as Browse's: asking again does not ask TMDB again.
    calls = len(configured.calls)
    client_owner.get("/", {"partial": "row", "row": "trending"}, **htmx_headers)
    assert len(configured.calls) == calls


def test_a_trending_title_in_the_library_says_so(
    client_owner: Client, configured, htmx_headers
) -> None:
    first = client_owner.get("/", {"partial": "row", "row": "trending"}, **htmx_headers)
    assert "In library" not in first.content.decode()
    html = first.content.decode()
    kind, tmdb_id = re.search(r'data-kind="(\w+)" data-tmdb-id="(\d+)"', html).groups()
    make_title(title="Owned", kind=kind, tmdb_id=int(tmdb_id))
    again = client_owner.get("/", {"partial": "row", "row": "trending"}, **htmx_headers)
    assert "In library" in again.content.decode()


def test_without_a_key_there_is_no_trending_row(client_owner: Client, htmx_headers) -> None:
    row = client_owner.get("/", {"partial": "row", "row": "trending"}, **htmx_headers)
    assert row.status_code == 200 and row.content == b""  # the placeholder goes


def test_tmdb_down_hides_the_row(client_owner: Client, configured, htmx_headers) -> None:
    configured.fail("*", 500)
    row = client_owner.get("/", {"partial": "row", "row": "trending"}, **htmx_headers)
    assert row.status_code == 200
    html = row.content.decode()
    assert " hidden>" in html and "home-card" not in html
