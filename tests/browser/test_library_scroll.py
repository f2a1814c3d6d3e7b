"""A 2,000-title library in a real browser: the first page comes with the page, scrolling loads
the rest a page at a time, each title once; the socket watches what the page shows; a change
refreshes only the pages it touches; the header box suggests as you type. Screenshots of the
grid and of the search at 1366x900 and 390x844 go to the test's temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import login
from tests.live.live_server import Server, base_env, create_user, manage, running

SEED = """
from media.models import Title
Title.objects.bulk_create(
    Title(title=f"Film {n:04d}", year=1950 + n % 70, status="complete") for n in range(2000)
)
Title.objects.create(title="The Matrix", year=1999, status="complete")
"""


@pytest.fixture(scope="module")
def big_library(tmp_path_factory: pytest.TempPathFactory):
    env = base_env(tmp_path_factory.mktemp("plank-scroll"))
    manage(env, "migrate", "--noinput", "-v", "0")
    create_user(env, "anna")
    manage(env, "shell", "-c", SEED)
    with running(env) as server:
        yield server, env


def test_scrolling_a_2000_title_library(browser, big_library, tmp_path: Path) -> None:
    server, env = big_library
    server: Server
    page = login(browser, server, "anna")
    page.wait_for_selector('#live-badge[data-state="live"]', timeout=15_000)
    first = page.locator("#library-grid .poster-card").count()
    assert first == 48  # the first page came with the page itself
    watched = page.evaluate("window.plankLive.watched")
    assert "media/list/movie" in watched and "media/counts" in watched

    for _ in range(60):  # scroll to the end, a page at a time
        before = page.locator("#library-grid .poster-card").count()
        if before >= 2001:
            break
        page.locator("#library-grid .grid-more").last.scroll_into_view_if_needed()
        page.wait_for_function(
            f"() => document.querySelectorAll('#library-grid .poster-card').length > {before}",
            timeout=10_000,
        )
    ids = page.eval_on_selector_all(
        "#library-grid .poster-card", "cards => cards.map(c => c.dataset.titleId)"
    )
    assert len(ids) == 2001 and len(set(ids)) == 2001  # every title, once
    assert page.locator("#library-grid .grid-more").count() == 0  # the end

    # A title renamed by a command in another process: only the page it is on refreshes.
    refreshes = page.evaluate("window.plankLive.refreshes")
    rename = "from media.models import Title; t = Title.objects.get(title='Film 0007'); "
    rename += "t.title = 'Renamed 0007'; t.save()"
    manage(env, "shell", "-c", rename)
    page.wait_for_selector("#library-grid >> text=Renamed 0007", timeout=10_000)
    assert page.locator("#library-grid .poster-card").count() == 2001
    assert page.evaluate("window.plankLive.refreshes") > refreshes

    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(tmp_path / f"library-{width}.png"))
        page.fill("#header-q", "matirx")
        page.wait_for_selector("#header-suggest >> text=The Matrix", timeout=10_000)
        page.screenshot(path=str(tmp_path / f"suggest-{width}.png"))
        page.fill("#header-q", "")
    page.goto(f"{server.url}/search/?q=film 012")
    assert page.locator(".hit").count() >= 10
    page.screenshot(path=str(tmp_path / "search-390.png"))
    print(f"screenshots in {tmp_path}")
