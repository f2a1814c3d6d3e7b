"""Browse pages through Django's test client, against the fake TMDB server."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from browse.models import MetadataSync
from browse.tmdb import AUTH_MESSAGE, MAX_SEASON, NO_KEY_MESSAGE, NOT_FOUND_MESSAGE
from media.models import Season, Status, Title
from plank.live import cache as live_cache
from plank.models import get_preferences
from tests.browse.fake_tmdb import (
    HOSTILE_MOVIE_ID,
    HOSTILE_SHOW_ID,
    MOVIES_BY_ID,
    FakeTMDB,
)
from tests.browse.helpers import at_once
from tests.conftest import MATRIX
from tests.factories import make_title

HX = {"HTTP_HX_REQUEST": "true"}
CARD = re.compile(
    r'<article class="poster-card browse-card" data-kind="(\w+)" data-tmdb-id="(\d+)"'
)


def cards(html: str) -> list[tuple[str, int]]:
    return [(kind, int(tmdb_id)) for kind, tmdb_id in CARD.findall(html)]


def card_html(html: str, kind: str, tmdb_id: int) -> str:
    start = html.index(f'data-kind="{kind}" data-tmdb-id="{tmdb_id}"')
    return html[start : html.index("</article>", start)]


# --- the grid -------------------------------------------------------------------------------


def test_default_page_is_trending_all(configured: FakeTMDB, client_owner: Client) -> None:
    response = client_owner.get("/browse/")
    assert response.status_code == 200
    html = response.content.decode()
    found = cards(html)
    assert len(found) == 20 and {k for k, _ in found} == {"movie", "tv"}
    assert configured.calls_to("/trending/all/week")[0]["page"] == "1"
    assert 'aria-current="page"' in html and ">Trending<" in html
    # cards link to details and show posters served by Plank
    kind, tmdb_id = found[0]
    assert f'href="/browse/{kind}/{tmdb_id}/"' in html
    assert re.search(r'<img src="/browse/posters/w342/[A-Za-z0-9]+\.jpg"', html)
    assert "image.tmdb.org" not in html and configured.image_base_url not in html
    # controls keep the URL shareable
    assert 'href="/browse/?type=popular&amp;filter=all"' in html
    assert 'href="/browse/?type=trending&amp;filter=movie"' in html


def test_filters_and_types(configured: FakeTMDB, client_owner: Client) -> None:
    movies = client_owner.get("/browse/?type=trending&filter=movie").content.decode()
    assert {k for k, _ in cards(movies)} == {"movie"}
    assert len(configured.calls_to("/trending/movie/week")) == 1
    popular = client_owner.get("/browse/?type=popular&filter=all").content.decode()
    found = cards(popular)
    assert len(found) == 40
    assert [k for k, _ in found[:4]] == ["movie", "tv", "movie", "tv"]
    shows = client_owner.get("/browse/?type=popular&filter=tv").content.decode()
    assert {k for k, _ in cards(shows)} == {"tv"}
    assert len(configured.calls_to("/tv/popular")) == 1  # popular/all's half, reused


def test_pagination_links_and_partials(configured: FakeTMDB, client_owner: Client) -> None:
    page2 = client_owner.get("/browse/?type=trending&filter=movie&page=2")
    html = page2.content.decode()
    assert configured.calls_to("/trending/movie/week")[0]["page"] == "2"
    assert 'href="/browse/?type=trending&amp;filter=movie" rel="prev"' in html
    assert 'href="/browse/?type=trending&amp;filter=movie&amp;page=3" rel="next"' in html
    # the sentinel loads the next page's cards as the grid scrolls
    assert 'hx-get="/browse/?type=trending&amp;filter=movie&amp;page=3&amp;partial=more"' in html
    assert 'hx-trigger="revealed"' in html

    more = client_owner.get("/browse/?type=trending&filter=movie&page=3&partial=more", **HX)
    chunk = more.content.decode()
    assert "<html" not in chunk
    assert 'id="browse-page-3"' in chunk
    assert len(cards(chunk)) == 7  # 47 movies: the last page
    assert 'id="browse-more"' not in chunk  # no page after the last
    assert 'id="browse-pager" aria-label="Pages" hx-swap-oob="true"' in chunk
    assert 'rel="next"' not in chunk


def test_last_page_has_no_next(configured: FakeTMDB, client_owner: Client) -> None:
    html = client_owner.get("/browse/?type=trending&filter=tv&page=3").content.decode()
    assert 'rel="prev"' in html and 'rel="next"' not in html and "partial=more" not in html


@pytest.mark.parametrize(
    ("query", "path", "page"),
    [
        ("type=bogus&filter=nope&page=abc", "/trending/all/week", "1"),
        ("type=<script>&filter=%00&page=-3", "/trending/all/week", "1"),
        ("page=0", "/trending/all/week", "1"),
        ("page=2.5", "/trending/all/week", "1"),
        ("page=%EF%BC%92", "/trending/all/week", "1"),  # a full-width digit
        ("type=popular&filter=movie&page=9999999999999", "/movie/popular", "500"),
        ("filter=tv&page=501", "/trending/tv/week", "500"),
    ],
)
def test_bad_parameters_fall_back_to_defaults(
    configured: FakeTMDB, client_owner: Client, query: str, path: str, page: str
) -> None:
    response = client_owner.get(f"/browse/?{query}")
    assert response.status_code == 200
    assert configured.calls_to(path)[0]["page"] == page


def test_a_page_past_the_end(configured: FakeTMDB, client_owner: Client) -> None:
    response = client_owner.get("/browse/?filter=movie&page=40")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No more results" in html and 'href="/browse/?type=trending&amp;filter=movie"' in html


@pytest.mark.parametrize(
    "path",
    ["/browse/film/603/", "/browse/movie/0/", "/browse/movie/abc/", "/browse/movie/99999999999/"],
)
def test_odd_detail_urls_are_404(configured: FakeTMDB, client_owner: Client, path: str) -> None:
    assert client_owner.get(path).status_code == 404
    assert configured.calls == []


def test_pages_need_a_login(configured: FakeTMDB, owner, client: Client) -> None:
    for path in ("/browse/", "/browse/movie/603/", "/browse/match/1/"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert configured.calls == []


# --- escaping -------------------------------------------------------------------------------


def test_hostile_titles_are_escaped_in_the_grid(configured: FakeTMDB, client_owner: Client) -> None:
    html = client_owner.get("/browse/?q=script").content.decode()
    assert ("movie", HOSTILE_MOVIE_ID) in cards(html) and ("tv", HOSTILE_SHOW_ID) in cards(html)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quotes&quot; &amp; ampersands" in html


def test_hostile_details_and_episodes_are_escaped(
    configured: FakeTMDB, client_owner: Client
) -> None:
    html = client_owner.get(f"/browse/movie/{HOSTILE_MOVIE_ID}/").content.decode()
    for raw in ("<script>alert(1)</script>", "<img src=x", "</title><script>", "<b>Bold</b>"):
        assert raw not in html
    assert "&lt;b&gt;Bold&lt;/b&gt; Actor, Ann &amp; Andy" in html
    assert "&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in html
    show = client_owner.get(f"/browse/tv/{HOSTILE_SHOW_ID}/").content.decode()
    assert "<script>alert(1)</script>" not in show
    episodes = client_owner.get(f"/browse/tv/{HOSTILE_SHOW_ID}/season/1/", **HX).content.decode()
    assert "<script>" not in episodes and "<i>night</i>" not in episodes
    assert "Tom &amp; Jerry&#x27;s &lt;i&gt;night&lt;/i&gt;" in episodes


def test_hostile_search_query_is_escaped(configured: FakeTMDB, client_owner: Client) -> None:
    html = client_owner.get('/browse/?q="><svg onload=alert(1)>').content.decode()
    assert "<svg onload" not in html
    assert "&quot;&gt;&lt;svg onload=alert(1)&gt;" in html


# --- search ---------------------------------------------------------------------------------


def test_search_ranks_exact_titles_first(configured: FakeTMDB, client_owner: Client) -> None:
    html = client_owner.get("/browse/?q=house").content.decode()
    found = cards(html)
    assert found[:2] == [("tv", 1408), ("tv", 94997)]  # House, then House of the Dragon
    assert "Results for “house”" in html
    shows = client_owner.get("/browse/?q=house&filter=tv").content.decode()
    assert cards(shows)[:2] == [("tv", 1408), ("tv", 94997)]
    assert configured.calls_to("/search/tv")[0]["query"] == "house"
    movies = client_owner.get("/browse/?q=house&filter=movie").content.decode()
    assert cards(movies) == [] and "No movies match “house”" in movies


def test_search_without_results(configured: FakeTMDB, client_owner: Client) -> None:
    html = client_owner.get("/browse/?q=qwxzyplorb").content.decode()
    assert "Nothing on TMDB matches “qwxzyplorb”" in html


# --- no key ---------------------------------------------------------------------------------


def test_no_key_shows_the_setup_card(configured: FakeTMDB, client_owner: Client) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()
    for path in ("/browse/", "/browse/?q=matrix", "/browse/movie/603/"):
        response = client_owner.get(path)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Connect Plank to TMDB" in html
        assert 'href="/settings/"' in html
        assert "https://www.themoviedb.org/settings/api" in html
        assert 'hx-post="/browse/test-connection"' in html
    assert configured.calls == []


def test_a_rejected_key_shows_the_setup_card_with_the_reason(
    configured: FakeTMDB, client_owner: Client
) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = "f" * 32
    prefs.save()
    html = client_owner.get("/browse/").content.decode()
    assert "Connect Plank to TMDB" in html and AUTH_MESSAGE in html


# --- in library -----------------------------------------------------------------------------


def test_in_library_badge_and_live_refresh(configured: FakeTMDB, client_owner: Client) -> None:
    url = "/browse/?type=trending&filter=movie"
    html = client_owner.get(url).content.decode()
    first_kind, first_id = cards(html)[0]
    assert "In library" not in card_html(html, first_kind, first_id)
    # the page's chunk re-renders itself when the library changes
    assert 'data-live-key="media/list/movie"' in html
    refresh = "/browse/?type=trending&amp;filter=movie&amp;partial=cards"
    assert f'hx-get="{refresh}" hx-trigger="live:refresh"' in html

    make_title(kind=first_kind, title="Added", tmdb_id=first_id)
    partial = client_owner.get(url + "&partial=cards", **HX)
    chunk = partial.content.decode()
    assert "<html" not in chunk and 'id="browse-page-1"' in chunk
    assert "In library" in card_html(chunk, first_kind, first_id)
    assert chunk.count("In library") == 1
    assert len(configured.calls_to("/trending/movie/week")) == 1  # badges cost no TMDB call


def test_all_filter_chunks_listen_to_every_list(configured: FakeTMDB, client_owner: Client) -> None:
    html = client_owner.get("/browse/").content.decode()
    assert 'data-live-key="media/list"' in html


# --- TMDB failing ---------------------------------------------------------------------------


def test_stale_note_when_tmdb_fails_after_caching(
    configured: FakeTMDB, client_owner: Client
) -> None:
    first = client_owner.get("/browse/?filter=tv").content.decode()
    live_cache.invalidate(("tmdb",))
    configured.fail("/trending/tv/week", 500)
    response = client_owner.get("/browse/?filter=tv")
    assert response.status_code == 200
    html = response.content.decode()
    assert cards(html) == cards(first)
    assert "This may be out of date" in html and "HTTP 500" in html
    assert 'class="stale-note"' in html


def test_cold_failure_shows_a_message_and_retry(configured: FakeTMDB, client_owner: Client) -> None:
    configured.fail("/trending/all/week", 503)
    response = client_owner.get("/browse/?type=trending&filter=all")
    assert response.status_code == 503
    assert response["Retry-After"]
    html = response.content.decode()
    assert "TMDB could not be reached" in html
    assert "TMDB is having trouble right now (HTTP 503)." in html
    assert (
        '<a class="button primary" href="/browse/?type=trending&amp;filter=all">Retry</a>' in html
    )
    assert "Traceback" not in html
    # TMDB is back: the Retry works (after the short negative-cache window)
    configured.reset()
    cache.clear()
    assert client_owner.get("/browse/?type=trending&filter=all").status_code == 200


def test_timeouts_are_a_message_too(configured: FakeTMDB, client_owner: Client) -> None:
    configured.fail("/movie/603", drop=True)
    response = client_owner.get("/browse/movie/603/")
    assert response.status_code == 503
    assert "TMDB did not answer in time." in response.content.decode()


def test_next_page_failing_offers_a_retry_in_place(
    configured: FakeTMDB, client_owner: Client
) -> None:
    configured.fail("/trending/all/week", 500)
    response = client_owner.get("/browse/?page=2&partial=more", **HX)
    assert response.status_code == 200  # so htmx swaps it in
    html = response.content.decode()
    assert 'id="browse-more"' in html and "Retry" in html
    assert 'hx-get="/browse/?type=trending&amp;filter=all&amp;page=2&amp;partial=more"' in html
    # a failing live refresh keeps what is shown
    assert client_owner.get("/browse/?page=2&partial=cards", **HX).status_code == 204


def test_fifty_concurrent_cold_requests_cause_one_upstream_call(
    configured_tx: FakeTMDB, owner
) -> None:
    fake = configured_tx
    fake.slow("/trending/movie/week", 0.2)

    def logged_in() -> Client:
        client = Client()
        client.force_login(owner)
        return client

    def get(client: Client) -> int:
        response = client.get("/browse/?type=trending&filter=movie")
        assert len(cards(response.content.decode())) == 20
        return response.status_code

    statuses = at_once(50, get, prepare=logged_in, timeout=30)
    assert statuses == [200] * 50
    assert len(fake.calls_to("/trending/movie/week")) == 1


# --- details --------------------------------------------------------------------------------


def test_movie_details(configured: FakeTMDB, client_owner: Client) -> None:
    response = client_owner.get("/browse/movie/603/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1>The Matrix <span class="muted">(1999)</span></h1>' in html
    assert "2 h 16 min" in html and "★ 8.2 / 10" in html
    assert "Action, Science Fiction" in html
    assert "Keanu Reeves, Laurence Fishburne" in html
    assert "Paul Goddard" not in html  # ten cast names at most
    assert "Welcome to the Real World." in html
    assert MOVIES_BY_ID[603].overview in html
    assert f'src="/browse/posters/w342{MOVIES_BY_ID[603].poster_path}"' in html
    assert "+ Add to library" in html
    assert 'data-live-key="media/list/movie"' in html


def test_show_details_with_lazy_seasons(configured: FakeTMDB, client_owner: Client) -> None:
    html = client_owner.get("/browse/tv/1396/").content.decode()
    assert "Breaking Bad" in html and "Drama, Crime" in html
    assert "5 · 62 episodes" in html
    assert html.count('class="season"') == 6
    assert 'hx-get="/browse/tv/1396/season/1/"' in html
    assert 'hx-trigger="toggle once from:closest details"' in html
    assert configured.calls_to("/tv/1396/season/*") == []  # loaded when opened

    partial = client_owner.get("/browse/tv/1396/season/1/", **HX).content.decode()
    assert "<html" not in partial
    assert "S01E01" in partial and "Pilot" in partial and "S01E07" in partial
    full = client_owner.get("/browse/tv/1396/season/1/")
    assert full.status_code == 200 and "<html" in full.content.decode()


def test_unknown_titles_and_seasons_are_404(configured: FakeTMDB, client_owner: Client) -> None:
    response = client_owner.get("/browse/movie/424242/")
    assert response.status_code == 404
    assert "TMDB has no such title." in response.content.decode()
    assert client_owner.get("/browse/tv/1396/season/99/").status_code == 404
    partial = client_owner.get("/browse/tv/1396/season/99/", **HX)
    assert partial.status_code == 200 and "TMDB has no such title." in partial.content.decode()


def test_add_to_library_as_wanted(configured: FakeTMDB, client_owner: Client, owner) -> None:
    response = client_owner.post("/browse/movie/603/add")
    title = Title.objects.get(tmdb_id=603)
    assert response.status_code == 302 and response["Location"] == title.get_absolute_url()
    assert (title.status, title.magnet, title.info_hash) == (Status.PENDING, "", None)
    assert title.title == "The Matrix" and title.added_by == owner
    html = client_owner.get("/browse/movie/603/").content.decode()
    assert "Open “The Matrix (1999)” in the library" in html and "wanted" in html
    grid = client_owner.get("/browse/?type=popular&filter=movie").content.decode()
    assert "In library" in card_html(grid, "movie", 603)
    # a second add changes nothing
    client_owner.post("/browse/movie/603/add")
    assert Title.objects.filter(tmdb_id=603).count() == 1


def test_add_a_show_as_wanted_by_htmx(configured: FakeTMDB, client_owner: Client) -> None:
    response = client_owner.post("/browse/tv/1396/add", **HX)
    title = Title.objects.get(tmdb_id=1396, kind="tv")
    assert response.status_code == 200 and response["HX-Redirect"] == title.get_absolute_url()
    assert MetadataSync.objects.get(title=title).synced_at is None  # seasons in the background


def test_add_with_a_magnet(configured: FakeTMDB, client_owner: Client) -> None:
    response = client_owner.post("/browse/movie/603/add", {"magnet": MATRIX})
    title = Title.objects.get(tmdb_id=603)
    assert response.status_code == 302
    assert title.info_hash == "c9e15763f722f23e98a29decdfae341b98d53056"
    assert title.poster == MOVIES_BY_ID[603].poster_path


def test_add_with_a_bad_magnet(configured: FakeTMDB, client_owner: Client) -> None:
    response = client_owner.post("/browse/movie/603/add", {"magnet": "magnet:?xt=nonsense"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    assert Title.objects.count() == 0


def test_add_needs_post(configured: FakeTMDB, client_owner: Client) -> None:
    assert client_owner.get("/browse/movie/603/add").status_code == 405


# --- test connection ------------------------------------------------------------------------


def test_test_connection(configured: FakeTMDB, client_owner: Client) -> None:
    ok = client_owner.post("/browse/test-connection", **HX)
    assert ok.status_code == 200 and "Connected" in ok.content.decode()
    posted = client_owner.post("/browse/test-connection", {"tmdb_api_key": "e" * 32}, **HX)
    assert AUTH_MESSAGE in posted.content.decode()
    malformed = client_owner.post("/browse/test-connection", {"tmdb_api_key": "nope"})
    assert "neither a TMDB API key" in malformed.content.decode()
    assert configured.calls_to("/configuration")[1]["api_key"] == "e" * 32
    assert client_owner.get("/browse/test-connection").status_code == 405


def test_test_connection_without_a_key(configured: FakeTMDB, client_owner: Client) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()
    html = client_owner.post("/browse/test-connection").content.decode()
    assert NO_KEY_MESSAGE in html and 'class="error"' in html


# --- fix match ------------------------------------------------------------------------------


def test_fix_match_page_and_choice(configured: FakeTMDB, client_owner: Client) -> None:
    title = make_title(kind="movie", title="Matrix", year=1999)
    page = client_owner.get(f"/browse/match/{title.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "The Matrix" in html and 'name="tmdb_id" value="603"' in html
    assert configured.calls_to("/search/movie")[0]["query"] == "matrix"

    response = client_owner.post(f"/browse/match/{title.pk}/", {"kind": "movie", "tmdb_id": "603"})
    assert response.status_code == 302 and response["Location"] == title.get_absolute_url()
    title.refresh_from_db()
    assert title.tmdb_id == 603 and title.poster == MOVIES_BY_ID[603].poster_path


def test_fix_match_to_a_show(configured: FakeTMDB, client_owner: Client) -> None:
    title = make_title(kind="movie", title="Breaking Bad")
    html = client_owner.get(f"/browse/match/{title.pk}/?kind=tv&q=breaking&year=").content.decode()
    assert 'name="tmdb_id" value="1396"' in html
    client_owner.post(f"/browse/match/{title.pk}/", {"kind": "tv", "tmdb_id": "1396"})
    title.refresh_from_db()
    assert title.kind == "tv" and title.tmdb_id == 1396
    assert Season.objects.filter(show=title).count() == 6


def test_fix_match_bad_input(configured: FakeTMDB, client_owner: Client) -> None:
    title = make_title(kind="movie", title="Matrix")
    bad = client_owner.post(f"/browse/match/{title.pk}/", {"kind": "film", "tmdb_id": "x"})
    assert bad.status_code == 400 and "Choose one of the results." in bad.content.decode()
    unknown = client_owner.post(
        f"/browse/match/{title.pk}/", {"kind": "movie", "tmdb_id": "424242"}
    )
    assert unknown.status_code == 400 and "TMDB has no such title." in unknown.content.decode()
    assert client_owner.get("/browse/match/987654/").status_code == 404
    title.refresh_from_db()
    assert title.tmdb_id is None


def test_fix_match_search_failing(configured: FakeTMDB, client_owner: Client) -> None:
    title = make_title(kind="movie", title="Matrix")
    configured.fail("/search/movie", 500)
    response = client_owner.get(f"/browse/match/{title.pk}/")
    assert response.status_code == 503
    assert "HTTP 500" in response.content.decode()


def test_fix_match_without_a_usable_key_shows_the_setup_card(
    configured: FakeTMDB, client_owner: Client
) -> None:
    title = make_title(kind="movie", title="Matrix")
    prefs = get_preferences()
    prefs.tmdb_api_key = "f" * 32  # well formed, but TMDB refuses it
    prefs.save()
    html = client_owner.get(f"/browse/match/{title.pk}/").content.decode()
    assert "Connect Plank to TMDB" in html and AUTH_MESSAGE in html


# --- TMDB trouble, page by page -------------------------------------------------------------


def no_key() -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()


def test_a_season_number_past_the_last_says_so_without_asking_tmdb(
    configured: FakeTMDB, client_owner: Client
) -> None:
    url = f"/browse/tv/1396/season/{MAX_SEASON + 1}/"
    page = client_owner.get(url)
    assert page.status_code == 404
    html = page.content.decode()
    assert "That is not a season." in html and 'href="/browse/">Back to Browse</a>' in html
    # an opened season's episode list (htmx swaps only a 2xx): the message in place
    partial = client_owner.get(url, **HX)
    assert partial.status_code == 200
    html = partial.content.decode()
    assert "<html" not in html and 'class="browse-episodes notice" role="alert"' in html
    assert "That is not a season." in html
    assert configured.calls == []
    client_owner.get(f"/browse/tv/1396/season/{MAX_SEASON}/")  # the last number TMDB is asked
    assert [path for path, _ in configured.calls] == [f"/tv/1396/season/{MAX_SEASON}"]


def test_the_next_page_without_a_key_says_so_in_place(
    configured: FakeTMDB, client_owner: Client
) -> None:
    """Changed on purpose in the redesign (it was an empty 204, which left the "Loading…"
    sentinel up for good): the scrolled-to page says why, as a refused key always did."""
    no_key()
    response = client_owner.get("/browse/?page=2&partial=more", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="browse-more"' in html and NO_KEY_MESSAGE in html
    assert 'hx-get="/browse/?type=trending&amp;filter=all&amp;page=2&amp;partial=more"' in html
    # a live refresh of shown cards keeps them
    assert client_owner.get("/browse/?partial=cards", **HX).status_code == 204
    assert configured.calls == []


def test_a_list_tmdb_calls_missing_is_a_failure_with_a_retry(
    configured: FakeTMDB, client_owner: Client
) -> None:
    """A list or a search always exists, so TMDB's 404 there is TMDB failing: the Retry page
    with the controls (503), not "Not found"."""
    configured.fail("/trending/movie/week", 404)
    response = client_owner.get("/browse/?filter=movie")
    assert response.status_code == 503 and response["Retry-After"]
    html = response.content.decode()
    assert "TMDB could not be reached" in html and NOT_FOUND_MESSAGE in html
    assert '<a class="button primary" href="/browse/?filter=movie">Retry</a>' in html
    assert 'href="/browse/?type=popular&amp;filter=movie"' in html  # the controls stay


@pytest.mark.parametrize("trouble", ["no key", "not found"])
def test_a_live_refresh_of_the_details_keeps_what_is_shown(
    configured: FakeTMDB, client_owner: Client, trouble: str
) -> None:
    """Changed on purpose in the redesign: a missing key swapped the whole setup page (with
    its navigation) into the library section; now every failing refresh is a 204, no swap."""
    if trouble == "no key":
        no_key()
        url = "/browse/movie/603/?partial=library"
    else:
        url = "/browse/movie/424242/?partial=library"
    response = client_owner.get(url, **HX)
    assert response.status_code == 204 and response.content == b""


def test_fix_match_with_a_refused_key_shows_the_setup_card(
    configured: FakeTMDB, client_owner: Client
) -> None:
    """Changed on purpose in the redesign (it was the refusal as an inline error, 503): the
    setup card, as on every other browse page; nothing on this page works without a key."""
    title = make_title(kind="movie", title="Matrix")
    prefs = get_preferences()
    prefs.tmdb_api_key = "f" * 32  # well formed, but TMDB refuses it
    prefs.save()
    response = client_owner.post(f"/browse/match/{title.pk}/", {"kind": "movie", "tmdb_id": "603"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Connect Plank to TMDB" in html and AUTH_MESSAGE in html
    assert 'href="/settings/"' in html
    title.refresh_from_db()
    assert title.tmdb_id is None


def test_adding_while_tmdb_is_down_retries_on_the_details_page(
    configured: FakeTMDB, client_owner: Client
) -> None:
    configured.fail("/movie/603", 503)
    response = client_owner.post("/browse/movie/603/add")
    assert response.status_code == 503 and response["Retry-After"]
    assert 'href="/browse/movie/603/">Retry</a>' in response.content.decode()
    assert Title.objects.count() == 0


def test_a_failing_live_refresh_of_the_details_keeps_what_is_shown(
    configured: FakeTMDB, client_owner: Client
) -> None:
    configured.fail("/movie/603", 503)
    assert client_owner.get("/browse/movie/603/?partial=library", **HX).status_code == 204
