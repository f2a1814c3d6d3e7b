"""The player plays while the download is still running: Chromium, a real ``serve`` process, a
real libtorrent seeder on 127.0.0.1 (upload-limited so the download takes about 25 s)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from media.remux import remux_to_mp4
from tests.browser.conftest import login
from tests.live.live_server import Server
from tests.media.videos import make_video
from tests.torrents.conftest import Seeder, made_torrent

H264_AAC = 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"'
RATE = 300_000  # bytes/s the seeder uploads: faster than the video plays, slower than a LAN
NAME = "Slow.River.2017.1080p.WEB"
# about 130 KB/s of picture and sound (~8 MB): it plays at 1x while ~300 KB/s arrive
VIDEO = {
    "size": (320, 240),
    "fps": 24,
    "seconds": 60,
    "noise": True,
    "video_options": {"b": "900k", "maxrate": "900k", "bufsize": "900k"},
}


def download_state(page, server: Server, title_id: int) -> tuple[str, int]:
    """(state label, percent) from the title page, as the server sees them now."""
    html = page.request.get(f"{server.url}/media/{title_id}/").text()
    state = re.search(r'data-field="state_label">([^<]*)<', html)
    percent = re.search(r'data-field="fraction"[^>]*>(\d+)%<', html)
    assert state and percent, html[:2000]
    return state.group(1), int(percent.group(1))


def test_the_player_plays_while_the_title_is_still_downloading(
    browser, server: Server, tmp_path: Path
) -> None:
    page = login(browser, server, "anna")
    h264 = page.evaluate(f"document.createElement('video').canPlayType({H264_AAC!r})")
    made = tmp_path / "made"
    if h264:  # Debian's Chromium decodes H.264/AAC: a fast-start MP4
        source = make_video(made / "raw.mp4", container="mp4", **VIDEO)
        data = remux_to_mp4(source, made / "film.mp4").read_bytes()
        ext = ".mp4"
    else:  # a Chromium without the proprietary codecs: VP9/Opus in WebM (kept as it is too)
        data = make_video(
            made / "film.webm", container="webm", vcodec="vp9", acodec="opus", **VIDEO
        ).read_bytes()
        ext = ".webm"
    torrent = made_torrent(tmp_path / "content", {f"{NAME}/{NAME}{ext}": data}, 64 * 1024)
    seeder = Seeder(upload_limit=RATE)
    magnet = seeder.seed(torrent)
    try:
        # Add the magnet through the page's Add dialog.
        page.click("[data-open-dialog=add-dialog] >> nth=0")
        page.fill("#id_magnet", magnet)
        page.click("#add-form button[type=submit]")
        card = page.wait_for_selector(
            "#library-grid [data-title-id]:has-text('Slow River')", timeout=10_000
        )
        title_id = int(card.get_attribute("data-title-id"))

        # The player, as soon as the torrent's files are known.
        deadline = time.monotonic() + 30
        while True:
            page.goto(f"{server.url}/media/{title_id}/watch")
            if page.query_selector("video#player-video"):
                break
            assert time.monotonic() < deadline, page.inner_text("main")[:1000]
            time.sleep(0.5)
        assert page.query_selector("text=Still downloading")
        pressed = time.monotonic()
        page.evaluate(  # muted, so no autoplay policy stands in the way; not awaiting play()
            "() => { const v = document.querySelector('video'); v.muted = true; v.play(); }"
        )

        # currentTime moves on while the download is still running.
        page.wait_for_function(
            "() => document.querySelector('video').currentTime > 0.5", timeout=30_000
        )
        playing_after = time.monotonic() - pressed
        state_before, percent_before = download_state(page, server, title_id)
        first = page.evaluate("document.querySelector('video').currentTime")
        time.sleep(2)
        later = page.evaluate("document.querySelector('video').currentTime")
        state_after, percent_after = download_state(page, server, title_id)
        assert state_before == state_after == "Downloading", (state_before, state_after)
        assert percent_after < 100
        assert later > first + 1, (first, later)
        assert page.evaluate("document.querySelector('video').error") is None
        print(
            f"\n{ext[1:]}: playing {playing_after:.1f}s after play was pressed; played "
            f"{first:.1f}s -> {later:.1f}s while the download was at {percent_before}% -> "
            f"{percent_after}%"
        )
    finally:
        seeder.close()
        page.context.close()
