"""The library page: tabs with counts, the grid, sorting, filtering, the empty state."""

from __future__ import annotations

import re
import time
from html import unescape
from html.parser import HTMLParser

import pytest
import requests
from django.test import Client

from media.models import Kind, Status, Title
from tests.factories import make_download, make_file, make_title, new_info_hash
from tests.live.live_server import base_env, create_user, manage, running

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
    """Each card says the title's one state (media.status), not DOWNLOADING for everything;
    a title that is simply ready has no chip."""
    paused = make_title(title="Alien", status=Status.DOWNLOADING, info_hash=new_info_hash())
    make_download(paused, state="paused", progress=0.3)
    waiting = make_title(title="Brazil", status=Status.DOWNLOADING, info_hash=new_info_hash())
    make_download(waiting, state="no_peers")
    make_title(title="Gone", status=Status.COMPLETE)  # no video file: missing
    ready = make_title(title="Heat", status=Status.COMPLETE)
    make_file(ready)
    grid = client_owner.get("/?sort=title").content.decode()
    articles = grid.split('<article class="poster-card"')[1:]
    cards = {
        name: next(a.split("</article>")[0] for a in articles if f'title="{name}"' in a)
        for name in ("Alien", "Brazil", "Gone", "Heat")
    }
    assert 'data-state="paused"' in cards["Alien"] and "30%" in cards["Alien"]
    assert 'data-state="waiting"' in cards["Brazil"]
    assert 'data-state="missing"' in cards["Gone"]
    assert "status-chip" not in cards["Heat"]


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


# --- a page at a time (issue 10) --------------------------------------------------------------

CARD = re.compile(r'<article class="poster-card" id="title-(\d+)"')
NEXT = re.compile(r'class="grid-more" hx-get="([^"]+)" hx-trigger="revealed"')


class _Fields(HTMLParser):
    """The fields a browser would post from a page's form (inputs, selects, text areas)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in {"submit", "checkbox", "file"}:
            self.data[name] = a.get("value") or ""
        elif tag == "input" and name and a.get("type") == "checkbox" and "checked" in a:
            self.data[name] = a.get("value") or "on"
        elif tag == "select" and name:
            self._select = name
        elif (
            tag == "option" and self._select and ("selected" in a or self._select not in self.data)
        ):
            self.data[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data


def form_fields(html: str) -> dict[str, str]:
    parser = _Fields()
    parser.feed(html)
    return parser.data


def card_ids(html: str) -> list[int]:
    return [int(n) for n in CARD.findall(html)]


def all_pages(client: Client, htmx_headers, params: dict) -> list[list[int]]:
    """Every page of the grid, following each page's revealed sentinel."""
    html = client.get("/", params).content.decode()
    pages = [card_ids(html)]
    while match := NEXT.search(html):
        html = client.get(unescape(match.group(1)), **htmx_headers).content.decode()
        pages.append(card_ids(html))
    return pages


@pytest.fixture
def small_pages(settings) -> int:
    settings.PLANK_LIBRARY_PAGE_SIZE = 5
    return 5


@pytest.mark.parametrize("sort", ["added", "title", "year"])
def test_every_title_once_in_order_a_page_at_a_time(
    client_owner: Client, htmx_headers, small_pages: int, sort: str
) -> None:
    titles = [
        make_title(title=name, year=year)
        for name, year in [
            ("Heat", 1995),
            ("Alien", 1979),
            ("Ran", None),
            ("Up", 2009),
            ("Heat", 1986),
            ("Brazil", 1985),
            ("Ed Wood", None),
            ("Zodiac", 2007),
            ("Coco", 2017),
            ("Big", 1988),
            ("Jaws", 1975),
            ("Amelie", 2001),
        ]
    ]
    make_title(title="Wire", kind=Kind.TV)
    pages = all_pages(client_owner, htmx_headers, {"sort": sort})
    assert [len(p) for p in pages] == [5, 5, 2]
    order = {
        "added": sorted(titles, key=lambda t: (t.added_at, t.pk), reverse=True),
        "title": sorted(titles, key=lambda t: (t.title, t.pk)),
        "year": sorted(titles, key=lambda t: (t.year is None, -(t.year or 0), t.title, t.pk)),
    }[sort]
    assert [n for p in pages for n in p] == [t.pk for t in order]


def test_pages_stay_stable_while_titles_are_added(
    client_owner: Client, htmx_headers, small_pages: int
) -> None:
    first = [make_title(title=f"Old {n:02d}") for n in range(12)]
    html = client_owner.get("/").content.decode()
    seen = card_ids(html)
    for n in range(7):  # newer titles arrive while the person scrolls
        make_title(title=f"New {n}")
    while match := NEXT.search(html):
        html = client_owner.get(unescape(match.group(1)), **htmx_headers).content.decode()
        seen += card_ids(html)
    assert sorted(seen) == sorted(t.pk for t in first)  # none twice, none skipped


def test_a_shown_page_refreshes_within_its_range(
    client_owner: Client, htmx_headers, small_pages: int
) -> None:
    for name in "ABCDEFGHIJKL":
        make_title(title=f"{name} title")
    html = client_owner.get("/", {"sort": "title"}).content.decode()
    second = client_owner.get(unescape(NEXT.search(html).group(1)), **htmx_headers)
    refresh_url = re.search(
        r'class="grid-page" data-page-after="[^"]+" data-live-key="media/list/movie" hx-get="([^"]+)"',
        second.content.decode(),
    ).group(1)
    added = make_title(title="G2 title")  # inside the second page's range (F..J)
    refreshed = client_owner.get(unescape(refresh_url), **htmx_headers).content.decode()
    ids = card_ids(refreshed)
    assert len(ids) == 6 and added.pk in ids
    assert 'class="grid-more"' not in refreshed  # the page below it is still in the page


def test_a_junk_cursor_is_the_first_page(client_owner: Client, small_pages: int) -> None:
    titles = [make_title() for _ in range(7)]
    for junk in ["zzz", "eyJ4Ijoy", "W10", "WyJ0aXRsZSIsMSwyXQ", "%00" * 10, "x" * 5000]:
        page = client_owner.get("/", {"after": junk})
        assert page.status_code == 200
        assert card_ids(page.content.decode()) == [t.pk for t in reversed(titles)][:5]


def test_no_javascript_gets_page_links(client_owner: Client, small_pages: int) -> None:
    for _ in range(7):
        make_title()
    html = client_owner.get("/").content.decode()
    link = re.search(r'<a class="button" href="([^"]+)">Next page</a>', html).group(1)
    second = client_owner.get(unescape(link)).content.decode()
    assert "<html" in second and len(card_ids(second)) == 2 and "First page" in second


@pytest.mark.django_db(transaction=True)  # real commits: they make the fragments stale
def test_the_grid_is_served_from_the_cache_until_a_change(
    client_owner: Client, django_assert_max_num_queries
) -> None:
    make_title(title="Alien", year=1979)
    client_owner.get("/")  # renders the fragments once
    with django_assert_max_num_queries(5) as hot:
        page = client_owner.get("/").content.decode()
    assert "Alien" in page
    assert not [q for q in hot.captured_queries if "media_title" in q["sql"]]  # from the cache
    make_title(title="Heat", year=1995)  # the commit announces media: the fragments go stale
    page = client_owner.get("/").content.decode()
    assert "Heat" in page and 'data-count="movie">2<' in page


@pytest.mark.django_db(transaction=True)
def test_an_admin_edit_makes_the_grid_fresh(client_owner: Client) -> None:
    client_admin = client_owner  # the owner may change titles in the admin
    title = make_title(title="Working Title", year=2001)
    assert "Working Title" in client_owner.get("/").content.decode()
    form = client_admin.get(f"/admin/media/title/{title.pk}/change/").content.decode()
    data = form_fields(form)
    data["title"] = "Final Title"
    saved = client_admin.post(f"/admin/media/title/{title.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    grid = client_owner.get("/", {"partial": "grid"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Final Title" in grid and "Working Title" not in grid


def test_the_first_page_is_small_and_cheap(
    client_owner: Client, django_assert_max_num_queries
) -> None:
    Title.objects.bulk_create(
        Title(title=f"A rather long title number {n}", year=1990 + n % 30, quality="1080p")
        for n in range(300)
    )
    # 8 for the page and its grid, one for the grid's videos (each card's status chip says
    # when a file is missing), and the home rows' first rendering (media/home.py): one for
    # the person's positions, one for Recently added (Downloading now has nothing here).
    with django_assert_max_num_queries(11):
        page = client_owner.get("/").content
    assert len(card_ids(page.decode())) == 48
    assert len(page) < 100_000


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_command_in_another_process_makes_the_served_grid_fresh(tmp_path) -> None:
    """A real ``serve`` caches the grid; ``manage.py shell`` renames a title (another process):
    the outbox row wakes the server's relay, which drops the cached fragment."""
    env = base_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v0")
    create_user(env, "anna")
    manage(env, "shell", "-c", "from tests.factories import make_title; make_title(title='Old')")
    with running(env) as server:
        session = server.login("anna")

        def grid() -> str:
            return requests.get(
                f"{server.url}/?partial=grid",
                headers={"HX-Request": "true"},
                cookies={"sessionid": session},
                timeout=10,
            ).text

        assert "Old" in grid() and "Old" in grid()  # rendered, then served from the cache
        rename = (
            "from media.models import Title; t = Title.objects.get(); t.title = 'New'; t.save()"
        )
        manage(env, "shell", "-c", rename)
        deadline = time.monotonic() + 5
        while "New" not in (html := grid()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "New" in html and "Old" not in html


def test_counts_follow_every_write() -> None:
    from django.db import connection

    from media import library

    heat = make_title(title="Heat")
    make_title(title="Alien")
    make_title(title="Wire", kind=Kind.TV)
    assert library.counts() == {"movie": 2, "tv": 1}
    Title.objects.filter(pk=heat.pk).update(kind=Kind.TV)
    assert library.counts() == {"movie": 1, "tv": 2}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE media_title SET status = %s WHERE title = %s", ["removed", "Wire"])
    assert library.counts() == {"movie": 1, "tv": 1}
    Title.objects.filter(title="Alien").delete()
    assert library.counts() == {"movie": 0, "tv": 1}
