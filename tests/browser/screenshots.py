"""Screenshots of every page at a desktop and a phone size: ``make screenshots``.

    .venv/bin/python -m tests.browser.screenshots [--out data/screenshots] [--only NAME...]

Serves Plank from a subprocess (``manage.py serve --web-only`` on a fresh data directory, as
tests/live/live_server.py does), with a local fake TMDB (tests/browse/fake_tmdb.py) so Browse has
posters and nothing reaches the internet. It first photographs the first-run page, creates the
owner through it, then seeds a library with a title in each state (media/status.py), a show with
episodes and a second person, and photographs each page at 1366×900 and 390×844 with Debian's
Chromium. PNGs and an ``index.html`` that shows them side by side go to ``--out``.

Web-only on purpose: without the engine no torrent runs, so the seeded download states stay as
they were written while the pictures are taken.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.browse.fake_tmdb import FAKE_API_KEY, start_fake_tmdb
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.live.live_server import BASE_DIR, PASSWORD, Server, base_env, manage, start_server

SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
OWNER = "anna"

# Run inside the served data directory with ``manage.py shell``: a title in each state.
SEED = r"""
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from media.library_import import REMUXING
from media.models import Status
from plank.models import get_preferences
from tests.factories import make_download, make_file, make_show, make_title, make_user

now = timezone.now()
prefs = get_preferences()
prefs.tmdb_api_key = KEY
prefs.save()
make_user("member", username="ben")
ids = {}
heat = make_title(title="Heat", year=1995, tmdb_id=949, quality="1080p")
make_file(heat, path="library/Heat (1995)/Heat (1995).mp4", container="mp4", size=7_340_032_000)
ids["ready"] = heat.pk
matrix = make_title(title="The Matrix", year=1999, status=Status.DOWNLOADING, quality="1080p")
# progress_at ahead of now: it stays "downloading" (not stalled) while the pictures are taken
make_download(matrix, state="downloading", progress=0.4213, download_rate=3_250_000, peers=14,
              eta=1260, total_size=8_589_934_592, downloaded=3_619_000_000,
              progress_at=now + timedelta(minutes=30))
make_file(matrix, torrent_path="The.Matrix.1999.1080p.mkv", size=8_589_934_592)
ids["downloading"] = matrix.pk
arrival = make_title(title="Arrival", year=2016, status=Status.DOWNLOADING)
make_download(arrival, state="paused", progress=0.6, total_size=4_000_000_000)
ids["paused"] = arrival.pk
dune = make_title(title="Dune", year=2021, status=Status.DOWNLOADING)
make_download(dune, state="downloading", progress=0.18, peers=2,
              progress_at=now - timedelta(minutes=12), total_size=12_000_000_000)
ids["stalled"] = dune.pk
up = make_title(title="Up", year=2009, status=Status.PENDING)
make_download(up, state="metadata", searching_since=now - timedelta(minutes=1))
ids["metadata"] = up.pk
alien = make_title(title="Alien", year=1979, status=Status.ERROR,
                   status_detail="Refused: the torrent holds only a program (Alien.1979.exe).")
make_download(alien, state="error", error="Refused: the torrent holds only a program (Alien.1979.exe).")
ids["error"] = alien.pk
her = make_title(title="Her", year=2013, status=Status.COMPLETE, status_detail=f"{REMUXING} 40%")
make_download(her, state="complete", progress=1.0)
make_file(her, torrent_path="Her.2013.mkv")
ids["converting"] = her.pk
brazil = make_title(title="Brazil", year=1985)
make_file(brazil, path="library/Brazil (1985)/Brazil (1985).mp4", missing_since=now)
ids["missing"] = brazil.pk
ids["wanted"] = make_title(title="Paterson", year=2016, status=Status.PENDING, magnet="").pk
show = make_show(title="Breaking Bad", year=2008, seasons={1: 7, 2: 13}, tmdb_id=1396)
for n, episode in enumerate(show.seasons.get(number=1).episodes.all()[:3], start=1):
    make_file(show, episode=episode, path=f"library/Breaking Bad (2008)/Season 01/Breaking Bad - S01E0{n}.mp4")
ids["show"] = show.pk
print(json.dumps(ids))
"""


def pages(ids: dict[str, int]) -> list[tuple[str, str]]:
    """(name, path) of every page to photograph, logged in as the owner."""
    found = [
        ("library-movies", "/"),
        ("library-tv", "/?type=tv"),
        *[(f"title-{state}", f"/media/{pk}/") for state, pk in ids.items()],
        ("downloads", "/downloads/"),
        ("browse", "/browse/"),
        ("search", "/search/?q=heat"),
        ("torrents-search", "/torrents/"),
        ("system", "/system/"),
        ("tasks", "/tasks/"),
        ("settings", "/settings/"),
        ("settings-indexers", "/settings/indexers/"),
        ("settings-library", "/settings/library/"),
        ("setup-tmdb", "/setup/tmdb/"),
        ("setup-indexers", "/setup/indexers/"),
        ("setup-library", "/setup/library/"),
        ("setup-peers", "/setup/peers/"),
        ("setup-checklist", "/setup/checklist/"),
        ("not-found", "/no/such/page/"),
        ("delete-confirm", f"/media/{ids['ready']}/delete"),
        ("admin", "/admin/"),
        ("admin-titles", "/admin/media/title/"),
    ]
    return found


def shoot(page: Page, url: str, path: Path) -> None:
    page.goto(url, wait_until="load", timeout=30_000)
    try:  # htmx partials and posters: wait until the network is quiet, but not forever
        page.wait_for_load_state("networkidle", timeout=5_000)
    except Exception:  # a live page may keep a request open; what is there is photographed
        pass
    page.wait_for_timeout(250)
    page.screenshot(path=str(path), full_page=True)


def new_page(browser: Browser, size: str) -> Page:
    width, height = SIZES[size]
    phone = size == "phone"
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        is_mobile=phone,
        has_touch=phone,
    )
    return context.new_page()


def log_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/accounts/login/")
    page.fill("#id_username", OWNER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def first_run(browser: Browser, server: Server, out: Path, taken: list[tuple[str, str]]) -> None:
    """The first-run page at both sizes, then the owner account made through it."""
    for size in SIZES:
        page = new_page(browser, size)
        shoot(page, f"{server.url}/setup/", out / f"first-run-{size}.png")
        page.context.close()
    taken.append(("first-run", "/setup/"))
    page = new_page(browser, "desktop")
    page.goto(f"{server.url}/setup/")
    page.fill("#id_username", OWNER)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/setup/tmdb/")
    page.context.close()


def write_index(out: Path, taken: list[tuple[str, str]]) -> None:
    rows = "\n".join(
        f"<h2>{html.escape(name)} <small>{html.escape(path)}</small></h2><div class=row>"
        + "".join(
            f'<a href="{name}-{s}.png"><img src="{name}-{s}.png" alt="{name} {s}"></a>'
            for s in SIZES
        )
        + "</div>"
        for name, path in taken
    )
    out.joinpath("index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Plank screenshots</title>"
        "<style>body{background:#0f1216;color:#e6e9ee;font:14px system-ui;margin:20px}"
        ".row{display:flex;gap:16px;align-items:flex-start}img{border:1px solid #2a3340}"
        ".row a:first-child img{width:683px}.row a:last-child img{width:195px}"
        "small{color:#98a2b3;font-weight:400}</style>"
        f"<h1>Plank at {' and '.join(f'{w}×{h}' for w, h in SIZES.values())}</h1>{rows}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BASE_DIR / "data" / "screenshots")
    parser.add_argument("--only", nargs="*", help="page names to take (default: all)")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not Path(CHROMIUM).exists():
        print(
            f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)", file=sys.stderr
        )
        return 1
    started = time.monotonic()
    fake = start_fake_tmdb()
    with tempfile.TemporaryDirectory(prefix="plank-screenshots-") as data:
        env = base_env(Path(data), TMDB_BASE_URL=fake.base_url)
        manage(env, "migrate", "--noinput", "-v", "0")
        server = start_server(env, web_only=True)
        taken: list[tuple[str, str]] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                first_run(browser, server, out, taken)
                code = f"KEY = {FAKE_API_KEY!r}\n" + SEED
                ids = json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
                wanted = [(n, u) for n, u in pages(ids) if not args.only or n in args.only]
                for size in SIZES:
                    page = new_page(browser, size)
                    log_in(page, server)
                    for name, path in wanted:
                        shoot(page, f"{server.url}{path}", out / f"{name}-{size}.png")
                    page.context.close()
                    page = new_page(browser, size)  # logged out: the login page
                    shoot(page, f"{server.url}/accounts/login/", out / f"login-{size}.png")
                    page.context.close()
                taken += wanted + [("login", "/accounts/login/")]
                browser.close()
        finally:
            server.stop()
            fake.stop()
    write_index(out, taken)
    count = len(taken) * len(SIZES)
    print(
        f"{count} screenshots of {len(taken)} pages in {time.monotonic() - started:.0f} s: {out}/index.html"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
