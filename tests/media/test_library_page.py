"""The library page: tabs with counts, the grid, sorting, filtering, the empty state."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import Kind, Status
from tests.factories import make_title

pytestmark = pytest.mark.django_db


def order_in(page: str, *names: str) -> list[int]:
    return [page.index(n) for n in names]


def test_first_response_already_contains_the_items(client_owner: Client) -> None:
    make_title(title="Alien", year=1979)
    page = client_owner.get("/").content.decode()
    assert "Alien" in page and 'class="grid"' in page
    assert 'hx-trigger="load' not in page  # no spinner-then-fetch on first load


def test_tabs_show_counts_and_switch_kind(client_owner: Client) -> None:
    make_title(title="Alien")
    make_title(title="Heat")
    make_title(title="The Wire", kind=Kind.TV)
    movies = client_owner.get("/?type=movie").content.decode()
    assert 'data-count="movie">2<' in movies and 'data-count="tv">1<' in movies
    assert "Alien" in movies and "The Wire" not in movies
    tv = client_owner.get("/?type=tv").content.decode()
    assert "The Wire" in tv and "Alien" not in tv


def test_bad_type_falls_back_to_movies(client_owner: Client) -> None:
    make_title(title="Alien")
    response = client_owner.get("/?type=<script>")
    assert response.status_code == 200 and "Alien" in response.content.decode()


def test_sorts(client_owner: Client) -> None:
    make_title(title="Bravo", year=2001)
    make_title(title="Alpha", year=1990)
    make_title(title="Charlie", year=2010)
    assert order_in(
        client_owner.get("/?sort=title").content.decode(), "Alpha", "Bravo", "Charlie"
    ) == sorted(
        order_in(client_owner.get("/?sort=title").content.decode(), "Alpha", "Bravo", "Charlie")
    )
    by_year = client_owner.get("/?sort=year").content.decode()
    assert by_year.index("Charlie") < by_year.index("Bravo") < by_year.index("Alpha")
    recent = client_owner.get("/?sort=added").content.decode()
    assert recent.index("Charlie") < recent.index("Alpha") < recent.index("Bravo")
    assert client_owner.get("/?sort=nonsense").status_code == 200


def test_filter_box(client_owner: Client, htmx_headers) -> None:
    make_title(title="The Matrix", year=1999)
    make_title(title="Heat", year=1995)
    response = client_owner.get("/", {"q": "matr", "partial": "grid"}, **htmx_headers)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="library-grid"')
    assert "The Matrix" in body and "Heat" not in body
    none = client_owner.get("/", {"q": "zzz"}).content.decode()
    assert "Nothing matches" in none


def test_empty_state_tells_a_new_user_what_to_do(client_owner: Client) -> None:
    page = client_owner.get("/").content.decode()
    assert "No movies yet" in page and "magnet link" in page


def test_status_on_each_card(client_owner: Client) -> None:
    make_title(title="Alien", status=Status.DOWNLOADING)
    page = client_owner.get("/").content.decode()
    assert "status-downloading" in page


def test_removed_titles_are_hidden(client_owner: Client) -> None:
    make_title(title="Gone", status=Status.REMOVED)
    assert "Gone" not in client_owner.get("/").content.decode()


def test_partials_are_live_elements(client_owner: Client, htmx_headers) -> None:
    page = client_owner.get("/?type=tv").content.decode()
    assert 'data-live-key="media/list/tv"' in page
    assert 'data-live-key="media/counts"' in page
    tabs = client_owner.get("/", {"partial": "tabs", "type": "tv"}, **htmx_headers).content.decode()
    assert tabs.lstrip().startswith('<nav class="tabs"')


def test_pages_work_on_a_phone(client_owner: Client) -> None:
    page = client_owner.get("/").content.decode()
    assert 'name="viewport" content="width=device-width' in page


def test_the_filter_box_gets_the_grid_and_back_gets_the_whole_page(client_owner: Client) -> None:
    make_title(title="The Matrix", year=1999)
    grid = client_owner.get(
        "/", {"q": "matr"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="library-grid"
    ).content.decode()
    assert grid.lstrip().startswith('<section id="library-grid"')
    # htmx restoring history asks for the pushed URL: it must be a whole page
    page = client_owner.get(
        "/", {"q": "matr"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    ).content.decode()
    assert "<html" in page and "The Matrix" in page
