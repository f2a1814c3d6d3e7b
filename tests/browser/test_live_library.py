"""Two people, two pages: a title added in one appears in the other without a reload; the
socket is cut, the badge says so, and the page catches up on what it missed."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.conftest import MATRIX
from tests.live.live_server import Server, manage, start_server

HEAT = (
    "magnet:?xt=urn:btih:1111111111111111111111111111111111111111&dn=Heat.1995.720p.BluRay.x264-GRP"
)

ADD_FROM_A_COMMAND = """
from media.library import add_magnet
from media.magnets import parse_magnet
add_magnet(parse_magnet({magnet!r}), "movie", None)
"""


@pytest.fixture(scope="module")
def restartable(plank_env: dict[str, str]):
    holder = {"server": start_server(plank_env)}
    yield holder
    holder["server"].stop()


def test_add_in_one_page_appears_in_the_other_then_catch_up_after_a_cut(
    browser, restartable, plank_env
) -> None:
    server: Server = restartable["server"]
    page_a = login(browser, server, "anna")
    page_b = login(browser, server, "ben")
    for page in (page_a, page_b):
        page.wait_for_selector('#live-badge[data-state="live"]', timeout=10_000)
    page_b.evaluate("window.__sameDocument = true")

    # Anna adds The Matrix through the Add dialog.
    page_a.click("text=+ Add")
    page_a.fill("#id_magnet", MATRIX)
    page_a.click("#add-form button[type=submit]")
    page_a.wait_for_selector("#library-grid >> text=The Matrix", timeout=10_000)

    # Ben's page shows it without a reload.
    page_b.wait_for_selector("#library-grid >> text=The Matrix", timeout=10_000)
    assert page_b.evaluate("window.__sameDocument") is True
    assert page_b.inner_text('[data-count="movie"]') == "1"

    # Cut the socket: the server goes away, Ben's badge says so.
    server.stop()
    page_b.wait_for_selector('#live-badge:not([data-state="live"])', timeout=10_000)
    assert page_b.get_attribute("#live-badge", "data-state") in {"reconnecting", "offline"}

    # While Ben is cut off, a management command adds another title.
    manage(plank_env, "shell", "-c", ADD_FROM_A_COMMAND.format(magnet=HEAT))

    # The server comes back on the same address; Ben's page reconnects and catches up.
    restartable["server"] = start_server(plank_env, port=server.port)
    page_b.wait_for_selector('#live-badge[data-state="live"]', timeout=45_000)
    page_b.wait_for_selector("#library-grid >> text=Heat", timeout=10_000)
    assert page_b.evaluate("window.__sameDocument") is True
    assert page_b.inner_text('[data-count="movie"]') == "2"
