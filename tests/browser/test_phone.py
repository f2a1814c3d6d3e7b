"""Plank on a phone (390×844) in Debian's Chromium: the header fits, the navigation is a Menu,
nothing scrolls sideways, the downloads table is a list of cards; and, at both sizes, title
links preload on hover and slow htmx requests show the loading bar.

Screenshots of /downloads/ at both sizes go to ``PLANK_SHOTS_DIR`` (default: the test's
temporary folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import PASSWORD  # make_user's, which SEED uses
from tests.live.live_server import Server, manage, start_server

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
OWNER = "olga"

# Run with ``manage.py shell`` in the served data folder: an owner and downloads in a few states,
# one with a long title (it must wrap, not push the page wider).
SEED = r"""
from datetime import timedelta
from django.utils import timezone
from tests.factories import make_download, make_title, make_user
owner = make_user("owner", username="olga")
later = timezone.now() + timedelta(hours=2)  # stays "downloading" (not stalled) during the test
long = make_title(title="The Lord of the Rings The Fellowship of the Ring Extended Edition",
                  year=2001, status="downloading", added_by=owner)
make_download(long, state="downloading", progress=0.4213, download_rate=3_250_000,
              upload_rate=120_000, peers=14, eta=1260, total_size=48_000_000_000,
              downloaded=20_200_000_000, uploaded=5_100_000_000, progress_at=later)
paused = make_title(title="Arrival", year=2016, status="downloading", added_by=owner)
make_download(paused, state="paused", progress=0.6, total_size=3_900_000_000,
              downloaded=2_340_000_000, progress_at=later)
broken = make_title(title="Alien", year=1979, status="downloading", added_by=owner)
make_download(broken, state="error", error="No space left on device", progress=0.1)
print(long.pk)
"""

PAGES = [
    "/",
    "/downloads/",
    "/system/",
    "/settings/",
    "/settings/people/",
    "/settings/indexers/",
    "/tasks/",
    "/requests/",
]

# Elements whose right edge is past the viewport: named in a failure, so it says what to fix.
OFFENDERS = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > width + 0.5 && el.getClientRects().length)
    .filter(el => !el.closest(".table-wrap") || el.classList.contains("table-wrap"))
    .slice(0, 8)
    .map(el => `${el.tagName.toLowerCase()}.${el.className} right=${el.getBoundingClientRect().right}`);
}"""


@pytest.fixture(scope="module")
def phone_server(plank_env: dict[str, str]) -> Iterator[tuple[Server, int]]:
    pk = int(manage(plank_env, "shell", "-c", SEED).strip().splitlines()[-1])
    # Web only: no engine, so the seeded download rows stay as written. Every disk is "low"
    # below an exabyte: the warning is on the page, and must fit too.
    env = {**plank_env, "PLANK_LOW_DISK_BYTES": str(1024**6)}
    server = start_server(env, web_only=True)
    yield server, pk
    server.stop()


@pytest.fixture(scope="module")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("PLANK_SHOTS_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("phone-shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def session(browser, phone_server) -> dict:
    """The owner's cookies, logged in once for the module (each test gets a new context)."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{phone_server[0].url}/accounts/login/")
    page.fill("#id_username", OWNER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url, timeout=30_000)
    state = context.storage_state()
    context.close()
    return state


def open_page(browser, session: dict, viewport: dict[str, int]):
    phone = viewport["width"] < 700
    context = browser.new_context(
        viewport=viewport, is_mobile=phone, has_touch=phone, storage_state=session
    )
    return context.new_page()


@pytest.fixture
def phone(browser, session):
    page = open_page(browser, session, PHONE)
    yield page
    page.context.close()


@pytest.fixture
def desktop(browser, session):
    page = open_page(browser, session, DESKTOP)
    yield page
    page.context.close()


@pytest.mark.parametrize("path", PAGES)
def test_nothing_scrolls_sideways_on_a_phone(
    phone, phone_server, shots_dir: Path, path: str
) -> None:
    server, _ = phone_server
    phone.goto(f"{server.url}{path}")
    phone.wait_for_load_state("networkidle")
    name = path.strip("/").replace("/", "-") or "library"
    phone.screenshot(path=str(shots_dir / f"{name}-phone.png"), full_page=True)
    header = phone.locator(".site-header").bounding_box()
    assert header is not None and header["x"] >= 0 and header["x"] + header["width"] <= 390
    for element in (".brand", ".nav-menu summary", ".header-end", ".header-search"):
        box = phone.locator(element).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390, f"{element} cut off at {box}"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{path} is {width}px wide: {phone.evaluate(OFFENDERS)}"


def test_the_menu_opens_and_its_links_are_visible(phone, phone_server, shots_dir: Path) -> None:
    server, _ = phone_server
    phone.goto(f"{server.url}/system/")
    assert not phone.locator(".site-nav").is_visible()  # the wide screen's links are hidden
    menu = phone.locator(".nav-menu .menu a")
    assert not menu.first.is_visible()
    phone.click(".nav-menu summary")
    names = ["Library", "Browse", "Torrents", "Requests", "System", "Settings"]
    assert menu.all_inner_texts() == names
    for i in range(len(names)):
        assert menu.nth(i).is_visible()
        box = menu.nth(i).bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 390
        assert box["y"] + box["height"] <= 844
    assert phone.locator(".nav-menu .menu a[aria-current=page]").inner_text() == "System"
    phone.screenshot(path=str(shots_dir / "menu-phone.png"))
    phone.click(".nav-menu .menu a:text('Torrents')")
    phone.wait_for_url(f"{server.url}/downloads/")


def test_a_wide_screen_shows_the_links_and_no_menu(desktop, phone_server) -> None:
    server, _ = phone_server
    desktop.goto(f"{server.url}/downloads/")
    assert not desktop.locator(".nav-menu").is_visible()
    links = desktop.locator(".site-nav a")
    assert links.count() == 6 and all(links.nth(i).is_visible() for i in range(6))


def test_downloads_are_cards_on_a_phone(phone, desktop, phone_server, shots_dir: Path) -> None:
    server, pk = phone_server
    phone.goto(f"{server.url}/downloads/")
    phone.wait_for_load_state("networkidle")
    row = phone.locator(f'tr[data-live-set="download/{pk}"]')
    assert phone.locator(".downloads-table thead").is_hidden()
    for label, value in [("Peers", "14"), ("ETA", "21m 0s"), ("Ratio", "0.25")]:
        cell = row.locator(f'td[data-label="{label}"]')
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390, f"{label} cut off: {box}"
        assert value in cell.inner_text()
        before = cell.evaluate("el => getComputedStyle(el, '::before').content")
        assert before == f'"{label}"'  # the cell says what it is, the header row being hidden
    title = row.locator(".dl-title a")
    assert title.evaluate("el => el.getClientRects().length") >= 2  # the long title wraps
    chip = row.locator(".status-chip")
    assert chip.evaluate("el => el.scrollWidth <= el.clientWidth")  # nothing cut off
    assert "Pause" in row.locator(".dl-actions").inner_text()
    assert "nearly full" in phone.locator(".disk-warning").inner_text()
    phone.screenshot(path=str(shots_dir / "downloads-phone.png"), full_page=True)

    desktop.goto(f"{server.url}/downloads/")
    desktop.wait_for_load_state("networkidle")
    assert desktop.locator(".downloads-table thead").is_visible()
    headers = desktop.locator(".downloads-table thead th").all_inner_texts()
    assert headers[:8] == ["Title", "State", "Progress", "Size", "Speed", "Ratio", "Peers", "ETA"]
    assert desktop.evaluate("document.documentElement.scrollWidth") <= 1366
    desktop.screenshot(path=str(shots_dir / "downloads-desktop.png"), full_page=True)


def test_hovering_a_title_link_preloads_its_page(desktop, phone_server) -> None:
    server, pk = phone_server
    desktop.goto(f"{server.url}/downloads/")
    desktop.wait_for_load_state("networkidle")
    link = desktop.locator(f'.dl-title a[href="/media/{pk}/"]')
    with desktop.expect_request(
        lambda r: r.url == f"{server.url}/media/{pk}/" and r.headers.get("hx-preloaded") == "true",
        timeout=5_000,
    ):
        link.hover()


def test_a_slow_htmx_request_shows_the_loading_bar(desktop, phone_server) -> None:
    server, _ = phone_server
    desktop.goto(f"{server.url}/downloads/")
    desktop.wait_for_load_state("networkidle")
    opacity = "() => getComputedStyle(document.body, '::before').opacity"
    assert desktop.evaluate(opacity) == "0"
    # What htmx does while a request is in flight: the requesting element gets .htmx-request.
    desktop.evaluate("document.querySelector('#downloads').classList.add('htmx-request')")
    desktop.wait_for_timeout(60)
    assert float(desktop.evaluate(opacity)) < 0.5  # a quick request shows nothing
    desktop.wait_for_timeout(500)
    assert desktop.evaluate(opacity) == "1"
    desktop.evaluate("document.querySelector('#downloads').classList.remove('htmx-request')")
    desktop.wait_for_timeout(400)
    assert desktop.evaluate(opacity) == "0"


@pytest.mark.parametrize("width", [720, 800, 900, 960, 1024, 1100, 1366])
def test_the_header_fits_at_every_width(browser, session, phone_server, width: int) -> None:
    page = open_page(browser, session, {"width": width, "height": 800})
    try:
        page.goto(f"{phone_server[0].url}/downloads/")
        nav = page.locator(".site-nav")
        if nav.is_visible():  # every link shown whole, none scrolled out of its strip
            assert nav.evaluate("el => el.scrollWidth <= el.clientWidth"), f"nav clipped at {width}"
        else:
            assert page.locator(".nav-menu summary").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        end = page.locator(".header-end").bounding_box()
        assert end is not None and end["x"] + end["width"] <= width
    finally:
        page.context.close()
