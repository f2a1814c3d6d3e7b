"""The headline figure: from **Get best** on a wanted title to the player's ``currentTime > 0``
in Chromium, with a local seeder of a browser-playable release.

    .venv/bin/python bench/bench_play.py [--rate-mbyte 4] [--seconds 90] [--runs 3]

What it does, all on 127.0.0.1:

1. a video made for the run (H.264 + AAC in a fast-start MP4 when this Chromium plays it, else
   VP9 + Opus in WebM), about ``--seconds`` long at ~2 Mbit/s, in a torrent seeded by a
   libtorrent session in this process (named in the magnet, ``x.pe``);
2. a local Torznab server (tests/torrents/fake_torznab.py) whose indexer answers the title's
   search with that release (its link redirects to the magnet, as Jackett's do) and two worse
   ones; a throw-away data directory, one user, a real ``manage.py serve`` process;
3. per run, a new wanted title (a new torrent of the same video): the title page in Chromium,
   **Find releases**, and once the candidates are shown the clock starts: **Get best** → the
   title page → its **▶ Play** (it appears when the torrent's files are known) → the player →
   ``currentTime > 0``. The figure is that span; the parts are printed beside it.

Twice: the seeder unlimited (loopback: the ceiling), and rate-limited to ``--rate-mbyte`` MB/s.
Goal: under 3 s. Playback starts muted (no autoplay policy in the way).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from media.remux import remux_to_mp4  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.live.live_server import PASSWORD, base_env, manage, start_server  # noqa: E402
from tests.media.videos import make_video  # noqa: E402
from tests.torrents.conftest import Seeder, made_torrent  # noqa: E402
from tests.torrents.fake_torznab import API_KEY, FakeIndexer, FakeRelease, FakeTorznab  # noqa: E402

H264_AAC = 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"'
MB = 1_000_000


def make_film(folder: Path, seconds: int, h264: bool) -> tuple[bytes, str]:
    options = {
        "size": (640, 360),
        "fps": 24,
        "seconds": seconds,
        "noise": True,
        "video_options": {"b": "2000k", "maxrate": "2000k", "bufsize": "2000k"},
    }
    if h264:
        raw = make_video(folder / "raw.mp4", container="mp4", **options)
        return remux_to_mp4(raw, folder / "film.mp4").read_bytes(), "mp4"
    made = make_video(
        folder / "film.webm", container="webm", vcodec="vp9", acodec="opus", **options
    )
    return made.read_bytes(), "webm"


def one_run(
    page, server, seeder: Seeder, film: bytes, ext: str, n: int, fake: FakeTorznab, work: Path
) -> dict[str, float]:
    name = f"Quiet.Harbour.{2000 + n}.1080p.WEB-DL.AAC2.0.H.264-GRP"
    torrent = made_torrent(work / f"content-{n}", {f"{name}/{name}.{ext}": film}, 256 * 1024)
    magnet = seeder.seed(torrent)
    tmdb = 90000 + n
    fake.indexers["local"].releases[:] = [
        FakeRelease(
            name,
            torrent.info_hash,
            size=2_500_000_000,
            seeders=40,
            magnet=magnet,
            link="redirect",
            tmdb_id=tmdb,
        ),
        FakeRelease(
            f"Quiet.Harbour.{2000 + n}.720p.HDTV.x264-OTHER",
            "a" * 39 + str(n),
            size=900_000_000,
            seeders=3,
            tmdb_id=tmdb,
        ),
        FakeRelease(
            f"Quiet.Harbour.{2000 + n}.2160p.WEB-DL.DDP5.1.HEVC-X",
            "b" * 39 + str(n),
            size=12_000_000_000,
            seeders=90,
            tmdb_id=tmdb,
        ),
    ]
    # No TMDB id: a title added as wanted by hand, so nothing starts it before Get best.
    code = (
        "from media.models import Title; "
        f"print(Title.objects.create(title='Quiet Harbour', year={2000 + n}, "
        "status='pending', magnet='').pk)"
    )
    pk = int(manage(server.env, "shell", "-c", code).strip().splitlines()[-1])
    page.goto(f"{server.url}/media/{pk}/")
    page.click("#title-releases button:has-text('Find releases')")
    page.wait_for_selector("#title-releases button:has-text('Get best')", timeout=30_000)

    started = time.monotonic()
    page.click("#title-releases button:has-text('Get best')")
    page.wait_for_url(f"{server.url}/media/{pk}/", timeout=30_000)
    got = time.monotonic()
    page.wait_for_selector("a.button:has-text('Play')", timeout=60_000)
    playable = time.monotonic()
    page.click("a.button:has-text('Play')")
    page.wait_for_selector("video#player-video", timeout=30_000)
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0", timeout=60_000)
    playing = time.monotonic()
    error = page.evaluate(
        "document.querySelector('video').error && document.querySelector('video').error.message"
    )
    if error:
        raise RuntimeError(f"the player failed: {error}")
    return {
        "total": playing - started,
        "get": got - started,
        "files": playable - got,
        "play": playing - playable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate-mbyte", type=float, default=4.0)
    parser.add_argument("--seconds", type=int, default=90, help="length of the video")
    parser.add_argument("--runs", type=int, default=3, help="runs per seeder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="plank-bench-play-"))
    # Making the film (media.remux) reads Plank's settings: this process's own, in the work dir.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plank.settings")
    os.environ.setdefault("PLANK_DATA_DIR", str(work / "maker"))
    django.setup()
    fake = FakeTorznab([FakeIndexer("local", "Local")]).start()
    env = base_env(work / "data")
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(
        env,
        "shell",
        "-c",
        f"from django.contrib.auth import get_user_model; get_user_model().objects.create_superuser('bench', 'b@example.org', {PASSWORD!r})",
    )
    server = start_server(env)
    server.env = env  # type: ignore[attr-defined]
    manage(env, "indexers", "add", "Local", fake.url_for("local"), "--api-key", API_KEY)
    results: dict[str, list[dict[str, float]]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            page.goto(f"{server.url}/accounts/login/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            h264 = bool(page.evaluate(f"document.createElement('video').canPlayType({H264_AAC!r})"))
            film, ext = make_film(work, args.seconds, h264)
            print(
                f"a {args.seconds} s {ext.upper()} ({len(film) / MB:.1f} MB, {len(film) * 8 / args.seconds / MB:.1f} Mbit/s)"
            )
            n = 0
            for label, limit in (
                ("unlimited", None),
                (f"{args.rate_mbyte:g} MB/s", int(args.rate_mbyte * MB)),
            ):
                seeder = Seeder(upload_limit=limit)
                results[label] = []
                for _ in range(args.runs):
                    n += 1
                    results[label].append(one_run(page, server, seeder, film, ext, n, fake, work))
                seeder.close()
            browser.close()
    finally:
        server.stop()
        fake.stop()
    print(f"\nGet best → currentTime > 0 in Chromium (goal < 3 s), {args.runs} runs each:")
    for label, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        worst = max(r["total"] for r in runs)
        print(
            f"  seeder {label:<10} median {med['total']:.2f} s (max {worst:.2f} s): Get best → title page "
            f"{med['get']:.2f} s, → Play shown {med['files']:.2f} s, → playing {med['play']:.2f} s"
        )


if __name__ == "__main__":
    main()
