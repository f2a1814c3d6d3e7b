"""/search/: the library's results, and TMDB's beside them when a key is set (the fake TMDB)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_show, make_title

pytestmark = pytest.mark.django_db


def test_search_page_lists_the_library_then_loads_tmdb(
    client_owner: Client, configured, htmx_headers
) -> None:
    make_title(title="The Matrix", year=1999, tmdb_id=603)
    page = client_owner.get("/search/", {"q": "matrix"}).content.decode()
    assert "In your library" in page and "The Matrix" in page
    assert "source=tmdb" in page  # TMDB's column loads after the page
    tmdb = client_owner.get(
        "/search/", {"q": "matrix", "partial": "source", "source": "tmdb"}, **htmx_headers
    ).content.decode()
    assert "On TMDB" in tmdb and "The Matrix" in tmdb and "in your library" in tmdb


def test_without_a_key_only_the_library_answers(client_owner: Client) -> None:
    make_title(title="Heat", year=1995)
    page = client_owner.get("/search/", {"q": "heat"}).content.decode()
    assert "Heat" in page and "source=tmdb" not in page


def test_suggestions_under_the_header_box(client_owner: Client, htmx_headers) -> None:
    make_title(title="The Matrix", year=1999)
    make_show(title="Breaking Bad", seasons={1: ["Pilot"]})
    box = client_owner.get("/search/", {"q": "matirx", "partial": "suggest"}, **htmx_headers)
    html = box.content.decode()
    assert "The Matrix" in html and "Results for “matrix”" in html
    episode = client_owner.get("/search/", {"q": "pilot", "partial": "suggest"}, **htmx_headers)
    assert "Breaking Bad · S01E01" in episode.content.decode()
    nothing = client_owner.get("/search/", {"q": "zzzz", "partial": "suggest"}, **htmx_headers)
    assert "Nothing in the library matches" in nothing.content.decode()


def test_the_header_box_is_on_every_page(client_owner: Client) -> None:
    page = client_owner.get("/downloads/").content.decode()
    assert 'id="header-q"' in page and 'action="/search/"' in page


def test_search_needs_a_login(owner) -> None:
    response = Client().get("/search/", {"q": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
