"""Toasts and home rows in a real browser against a real ``serve``.

Two people have the library open; a download of Anna's title completes (the signal the engine
part sends, from another process): Anna's page shows a toast, Ben's does not, and Anna's menu
count goes up. Then the home rows, with something in each, photographed at a desktop and a
phone size (``PLANK_SCREENSHOT_DIR``, default a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import login
from tests.live.live_server import Server, manage

COMPLETE_ANNAS_TITLE = """
import secrets
from django.contrib.auth import get_user_model
from media.models import Status
from tests.factories import make_download, make_title
from torrents.models import Download
from torrents.signals import download_completed
anna = get_user_model().objects.get(username="anna")
title = make_title(title="Heat <b>1995</b>", status=Status.DOWNLOADING, added_by=anna)
make_download(title, state="downloading", progress=0.99, info_hash=secrets.token_hex(20))
download_completed.send(sender=Download, title=title)
print(title.pk)
"""

SEED_ROWS = """
import secrets
from django.contrib.auth import get_user_model
from media.models import PlaybackPosition, Status
from tests.factories import make_download, make_file, make_show, make_title
anna = get_user_model().objects.get(username="anna")
for n, name in enumerate(["Alien", "Brazil", "Paterson", "Arrival", "Her", "Up", "Ronin"]):
    movie = make_title(title=name, year=1979 + n * 5, quality="1080p")
    video = make_file(movie, path=f"library/{name}.mp4", container="mp4", duration=6000.0)
    if n < 4:
        PlaybackPosition.objects.create(user=anna, title=movie, file=video, position=900 + n * 700,
                                        duration=6000)
for name, progress in [("The Matrix", 0.42), ("Dune", 0.08), ("Solaris", 0.77)]:
    loading = make_title(title=name, status=Status.DOWNLOADING)
    make_download(loading, state="downloading", progress=progress, peers=9, download_rate=2_400_000,
                  eta=900, info_hash=secrets.token_hex(20))
show = make_show(title="Breaking Bad", year=2008, seasons={1: ["Pilot", "Cat's in the Bag...",
                                                                 "...And the Bag's in the River"]})
episodes = list(show.seasons.get().episodes.order_by("number"))
files = [make_file(show, episode=e, path=f"library/bb/{e.number}.mp4", duration=2800.0)
         for e in episodes]
PlaybackPosition.objects.create(user=anna, title=show, file=files[0], position=2790, duration=2800)
"""


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PLANK_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_finished_download_toasts_on_its_owners_page_only(
    browser, server: Server, plank_env, tmp_path: Path
) -> None:
    anna = login(browser, server, "anna")
    ben = login(browser, server, "ben")
    for page in (anna, ben):
        page.wait_for_selector('#live-badge[data-state="live"]', timeout=10_000)
    assert anna.locator(".toast").count() == 0

    title_id = manage(plank_env, "shell", "-c", COMPLETE_ANNAS_TITLE).strip().splitlines()[-1]

    toast = anna.wait_for_selector(".toasts .toast", timeout=10_000)
    text = toast.inner_text()
    assert "Heat <b>1995</b>" in text and "has finished downloading" in text  # as text, not HTML
    assert anna.locator(".toast b").count() == 0
    assert toast.query_selector("a.toast-link").get_attribute("href") == f"/media/{title_id}/"
    assert anna.get_attribute("#toasts", "aria-live") == "polite"
    anna.screenshot(path=str(shots_dir(tmp_path) / "toast-desktop.png"))
    # The count in Anna's menu follows (an invalidation for her alone).
    anna.wait_for_selector("#notify-count:not([hidden])", timeout=10_000)
    assert "1" in anna.inner_text("#notify-count")

    # Ben's page heard nothing: no toast, no count.
    ben.wait_for_timeout(1500)
    assert ben.locator(".toast").count() == 0
    assert ben.locator("#notify-count[hidden]").count() == 1

    # Dismissed by its button; the menu lists it, and Mark all read clears the count.
    toast.query_selector("button.toast-close").click()
    anna.wait_for_selector(".toasts .toast", state="detached", timeout=5_000)
    anna.click(".user-menu summary")
    anna.wait_for_selector("#notify-menu .notify-item", timeout=5_000)
    assert "has finished downloading" in anna.inner_text("#notify-menu")
    anna.screenshot(path=str(shots_dir(tmp_path) / "notifications-menu-desktop.png"))
    anna.click("#notify-menu button:text('Mark all read')")
    anna.wait_for_selector("#notify-count[hidden]", state="attached", timeout=5_000)
    for page in (anna, ben):
        page.context.close()


def test_toasts_hide_by_themselves(browser, server: Server) -> None:
    anna = login(browser, server, "anna")
    anna.wait_for_selector('#live-badge[data-state="live"]', timeout=10_000)
    anna.clock.install()
    anna.evaluate(
        "window.plankToasts.show({id: 'local', kind: 'finished', text: 'Up is ready', url: '/'})"
    )
    anna.wait_for_selector(".toast >> text=Up is ready")
    anna.mouse.move(0, 0)
    anna.clock.run_for(7_000)
    assert anna.locator(".toast").count() == 1
    anna.clock.run_for(2_000)
    anna.wait_for_selector(".toast", state="detached", timeout=5_000)
    anna.context.close()


@pytest.mark.parametrize(("size", "width", "height"), [("desktop", 1366, 900), ("phone", 390, 844)])
def test_home_rows_screenshots(
    browser, server: Server, plank_env, tmp_path: Path, size: str, width: int, height: int
) -> None:
    if size == "desktop":
        manage(plank_env, "shell", "-c", SEED_ROWS)
    anna = login(browser, server, "anna")
    anna.set_viewport_size({"width": width, "height": height})
    anna.goto(f"{server.url}/")
    for name in ("continue", "upnext", "downloading", "recent"):
        row = anna.locator(f"#home-row-{name}")
        assert row.is_visible(), name
    assert "S01E02" in anna.inner_text("#home-row-upnext")
    assert anna.locator("#home-row-continue .home-card").count() == 4
    # Rows scroll sideways within themselves; the page itself never does.
    items = anna.locator("#home-row-recent .home-row-items")
    assert items.evaluate("el => getComputedStyle(el).scrollSnapType").startswith("x")
    assert anna.evaluate("document.documentElement.scrollWidth") <= width
    anna.screenshot(path=str(shots_dir(tmp_path) / f"home-rows-{size}.png"), full_page=True)
    anna.context.close()


START_A_DOWNLOAD = """
import secrets
from media.models import Status
from tests.factories import make_download, make_title
title = make_title(title="Stalker", year=1979, status=Status.DOWNLOADING)
make_download(title, state="downloading", progress=0.1, peers=3, download_rate=1_000_000,
              info_hash=secrets.token_hex(20))
print(title.pk)
"""

PUSH_PROGRESS = """
from plank.live.events import push
push(("download", {pk}), {{"fraction": 0.5, "rate": 2_000_000, "peers": 5}})
import time; time.sleep(1.5)  # the wake-up reaches the server before this process ends
"""


def test_home_rows_update_live(browser, server: Server, plank_env) -> None:
    anna = login(browser, server, "anna")
    anna.wait_for_selector('#live-badge[data-state="live"]', timeout=10_000)
    anna.evaluate("window.__sameDocument = true")
    pk = manage(plank_env, "shell", "-c", START_A_DOWNLOAD).strip().splitlines()[-1]
    card = f'#home-row-downloading [data-title-id="{pk}"]'
    anna.wait_for_selector(card, timeout=10_000)  # the row refetched itself
    assert anna.is_visible("#home-row-downloading")
    bar = f'{card} .progress [data-bind-width="fraction"]'
    assert anna.get_attribute(bar, "style").strip().rstrip(";") == "width: 10%"
    manage(plank_env, "shell", "-c", PUSH_PROGRESS.format(pk=pk))
    anna.wait_for_function(
        "sel => parseFloat(document.querySelector(sel).style.width) === 50", arg=bar, timeout=10_000
    )
    assert anna.evaluate("window.__sameDocument") is True  # no reload
    anna.context.close()
