"""Magnet to library, through the app, with real parts only.

Real short videos (PyAV) are seeded by a libtorrent session on 127.0.0.1; the app is driven over
HTTP (Django's test client, logged in through the login page) with the engine part and the job
worker running in this process as ``manage.py serve`` runs them (listening on 127.0.0.1, DHT,
local peer discovery and port mapping off; the seeder is named in the magnet, ``x.pe``). The
last test kills a real ``manage.py serve`` process with SIGKILL mid-download and starts it again.
"""

from __future__ import annotations

import html
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import libtorrent as lt
import pytest
import requests
from django.conf import settings
from django.test import Client

from media.models import MediaFile, Status, Title
from media.probe import probe
from plank.jobs import JobWorker
from tests.conftest import body
from tests.factories import PASSWORD, make_user
from tests.live.live_server import base_env, create_user, manage, start_server
from tests.media.videos import make_srt, make_video
from tests.torrents.conftest import MadeTorrent, Seeder, offline_engine, sha1, wait_for
from torrents import engine as engine_module
from torrents.engine_part import EnginePart
from torrents.models import Download

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]

KB = 1000
PIECE = 32 * 1024


@pytest.fixture
def app(settings, data_dir: Path) -> Iterator[EnginePart]:
    """The engine part and the job worker of a ``serve`` process, on a temporary data dir."""
    settings.RESUME_DIR = data_dir / "resume"
    settings.PLANK_STREAM_TIMEOUT = 15.0
    part = EnginePart(
        offline_engine(settings.RESUME_DIR),
        poll_interval=0.2,
        metadata_timeout=30,
        save_interval=0.5,
        min_video_size=50 * KB,  # the test videos are small
    )
    part.start()
    jobs = JobWorker(interval=0.1)
    jobs.start()
    yield part
    jobs.stop()
    part.stop()
    assert engine_module.current() is None


@pytest.fixture
def client(db) -> Client:
    """A browser that logged in through the login page."""
    make_user("member", username="anna")
    client = Client()
    response = client.post("/accounts/login/", {"username": "anna", "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def add(client: Client, magnet: str, kind: str = "movie") -> Title:
    response = client.post("/media/add", {"magnet": magnet, "type": kind})
    assert response.status_code == 302, response.content[:500]
    return Title.objects.get(info_hash=engine_module.magnet_info_hash(magnet))


def files_of(title: Title) -> dict[str, MediaFile]:
    return {f.torrent_path: f for f in MediaFile.objects.filter(title=title)}


def wait_filed(title: Title, timeout: float = 60) -> dict[str, MediaFile]:
    """Every video of the title has a library path (the import job ran)."""

    def filed() -> dict[str, MediaFile] | None:
        found = files_of(title)
        videos = [f for f in found.values() if f.role == "video"]
        if videos and all(f.path for f in videos):
            return found
        return None

    try:
        return wait_for(filed, timeout, "the files to be filed into the library", interval=0.2)
    except AssertionError:
        title.refresh_from_db()
        download = Download.objects.filter(title=title).first()
        raise AssertionError(
            f"not filed: title {title.status} ({title.status_detail!r}); download "
            f"{download and download.state} {download and download.progress:.0%}"
        ) from None


def video_bytes(tmp_path: Path, name: str, **options) -> bytes:
    return make_video(tmp_path / "made" / name, **options).read_bytes()


def srt_bytes(tmp_path: Path) -> bytes:
    return make_srt(tmp_path / "made" / "subs.srt").read_bytes()


# --------------------------------------------------------------------------- the core path


def test_magnet_to_a_playable_library_file_streaming_while_it_downloads(
    app: EnginePart, client: Client, make_torrent, seeder, tmp_path: Path
) -> None:
    mkv = video_bytes(
        tmp_path, "film.mkv", container="mkv", size=(320, 240), seconds=12, noise=True
    )
    subtitles = srt_bytes(tmp_path)
    torrent: MadeTorrent = make_torrent(
        {
            "Night.Train.2019.1080p.BluRay/Night.Train.2019.1080p.BluRay.mkv": mkv,
            "Night.Train.2019.1080p.BluRay/Night.Train.2019.1080p.BluRay.en.srt": subtitles,
        },
        piece_size=PIECE,
    )
    _, magnet = seeder(torrent, upload_limit=300 * KB)  # ~20 s for the whole file

    title = add(client, magnet)
    assert (title.title, title.year) == ("Night Train", 2019)
    stream = f"/media/{title.pk}/stream"

    # metadata -> files vetted
    files = wait_for(lambda: len(files_of(title)) == 2 and files_of(title), 30, "vetted files")
    video = files["Night.Train.2019.1080p.BluRay/Night.Train.2019.1080p.BluRay.mkv"]
    assert video.role == "video" and video.size == len(mkv) and video.path == ""
    engine = app.engine

    # exact bytes from the start, while downloading
    start = client.get(stream, HTTP_RANGE="bytes=0-65535")
    assert start.status_code == 206
    assert start["Content-Range"] == f"bytes 0-65535/{len(mkv)}"
    assert start["Content-Type"] == "video/x-matroska"
    assert body(start) == mkv[:65536]

    # a seek near the end, while downloading (before the last MiB, which the engine fetches
    # early for players looking for an index there)
    offset = len(mkv) - 1_500_000
    asked = time.monotonic()
    seek = client.get(stream, HTTP_RANGE=f"bytes={offset}-{offset + 99_999}")
    assert seek.status_code == 206
    assert body(seek) == mkv[offset : offset + 100_000]
    seek_seconds = time.monotonic() - asked
    status = engine.status(torrent.info_hash)
    assert status.progress < 1, "the seek was answered after the download finished"
    assert seek_seconds < 5, f"the seek took {seek_seconds:.2f}s"

    # the stream refuses anonymous requests
    anonymous = Client().get(stream, HTTP_RANGE="bytes=0-99")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")

    # completion -> filed -> remuxed into a playable MP4
    files = wait_filed(title)
    download = Download.objects.get(title=title)
    assert download.state in ("complete", "seeding") and download.progress == 1.0
    assert sha1((Path(download.save_path) / video.torrent_path).read_bytes()) == sha1(mkv)
    video = files[video.torrent_path]
    assert video.path == "library/Night Train (2019)/Night Train (2019).mp4"
    filed = Path(settings.DATA_DIR) / video.path
    assert filed.is_file()
    info = probe(filed)
    assert (info.container, info.video_codec, info.audio_codec) == ("mp4", "h264", "aac")
    assert info.plan == "keep" and info.faststart is True
    assert info.duration == pytest.approx(12.0, abs=0.3)
    assert (video.container, video.size) == ("mp4", filed.stat().st_size)
    title.refresh_from_db()
    assert title.status == Status.COMPLETE and title.status_detail == ""

    # the stream now serves the library file
    whole = client.get(stream)
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    assert "ETag" in whole
    assert body(whole) == filed.read_bytes()
    tail = client.get(stream, HTTP_RANGE="bytes=-1000")
    assert body(tail) == filed.read_bytes()[-1000:]

    # the subtitle sits next to it as WebVTT, and the player offers it
    sub = files["Night.Train.2019.1080p.BluRay/Night.Train.2019.1080p.BluRay.en.srt"]
    assert sub.path == "library/Night Train (2019)/Night Train (2019).en.vtt"
    vtt = client.get(f"/media/{title.pk}/subtitles/{sub.pk}.vtt")
    assert vtt.status_code == 200 and vtt["Content-Type"].startswith("text/vtt")
    assert vtt.content.startswith(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n")
    watch = client.get(f"/media/{title.pk}/watch").content.decode()
    assert f'src="/media/{title.pk}/subtitles/{sub.pk}.vtt" srclang="en"' in watch
    print(f"\nseek near the end answered in {seek_seconds * 1000:.0f} ms at {status.progress:.0%}")


def test_an_mp4_is_linked_into_the_library_and_keeps_seeding(
    app: EnginePart, client: Client, make_torrent, seeder, tmp_path: Path
) -> None:
    mp4 = video_bytes(tmp_path, "m.mp4", container="mp4", size=(320, 240), seconds=3, noise=True)
    torrent = make_torrent({"Short.Cut.2001.720p/Short.Cut.2001.720p.mp4": mp4}, piece_size=PIECE)
    _, magnet = seeder(torrent)
    title = add(client, magnet)

    files = wait_filed(title)
    video = files["Short.Cut.2001.720p/Short.Cut.2001.720p.mp4"]
    filed = Path(settings.DATA_DIR) / video.path
    assert video.path == "library/Short Cut (2001)/Short Cut (2001).mp4"
    downloaded = Path(Download.objects.get(title=title).save_path) / video.torrent_path
    assert os.path.samefile(filed, downloaded), "a hard link: the torrent seeds from its folder"
    assert (video.container, video.video_codec, video.audio_codec) == ("mp4", "h264", "aac")
    assert body(client.get(f"/media/{title.pk}/stream")) == mp4


def test_a_show_files_each_episode_under_its_season(
    app: EnginePart, client: Client, make_torrent, seeder, tmp_path: Path
) -> None:
    one = video_bytes(tmp_path, "1.mkv", container="mkv", size=(320, 240), seconds=2, noise=True)
    two = video_bytes(tmp_path, "2.mp4", container="mp4", size=(320, 240), seconds=3, noise=True)
    torrent = make_torrent(
        {
            "Dark.Harbour.S01.720p/Dark.Harbour.S01E01.720p.mkv": one,
            "Dark.Harbour.S01.720p/Dark.Harbour.S01E02.720p.mp4": two,
            "Dark.Harbour.S01.720p/Dark.Harbour.S01E02.720p.en.srt": srt_bytes(tmp_path),
        },
        piece_size=PIECE,
    )
    _, magnet = seeder(torrent)
    show = add(client, magnet, kind="tv")
    assert show.kind == "tv" and show.title == "Dark Harbour"

    files = wait_filed(show)
    base = "library/Dark Harbour/Season 01"
    e1 = files["Dark.Harbour.S01.720p/Dark.Harbour.S01E01.720p.mkv"]
    e2 = files["Dark.Harbour.S01.720p/Dark.Harbour.S01E02.720p.mp4"]
    assert e1.path == f"{base}/Dark Harbour - S01E01.mp4"
    assert e2.path == f"{base}/Dark Harbour - S01E02.mp4"
    assert (e1.episode.season.number, e1.episode.number) == (1, 1)
    assert probe(Path(settings.DATA_DIR) / e1.path).container == "mp4"
    sub = files["Dark.Harbour.S01.720p/Dark.Harbour.S01E02.720p.en.srt"]
    assert sub.path == f"{base}/Dark Harbour - S01E02.en.vtt"
    response = client.get(f"/media/{show.pk}/stream?file={e2.pk}", HTTP_RANGE="bytes=0-999")
    assert response.status_code == 206 and body(response) == two[:1000]


# --------------------------------------------------------------------------- refusals


def test_a_program_posing_as_a_movie_is_refused_with_the_reason_on_the_title_page(
    app: EnginePart, client: Client, make_torrent, seeder
) -> None:
    torrent = make_torrent({"Movie.2021.1080p/movie.mp4.exe": os.urandom(300 * KB)})
    _, magnet = seeder(torrent)
    title = add(client, magnet)
    wait_for(lambda: Title.objects.get(pk=title.pk).status == Status.ERROR, 30, "the refusal")
    reason = (
        "This torrent holds only a program (movie.mp4.exe), not a video — Plank won't download it."
    )
    page = client.get(f"/media/{title.pk}/")
    assert page.status_code == 200
    assert reason in html.unescape(page.content.decode())
    assert not MediaFile.objects.filter(title=title).exists()
    assert torrent.info_hash not in app.engine
    assert not list(Path(settings.DOWNLOADS_DIR).rglob("*.exe"))


def test_the_stream_refuses_anonymous_requests(app: EnginePart, client: Client) -> None:
    title = add(client, "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=Nobody.Home.2000.mkv")
    for method in ("get", "head"):
        response = getattr(Client(), method)(f"/media/{title.pk}/stream")
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next=/media/{title.pk}/stream"


# --------------------------------------------------------------------------- kill -9 of serve


def _seeded_bytes(seed: Seeder, info_hash: str) -> int:
    return int(seed.handles[info_hash].status().total_payload_upload)


def _saved_bytes(resume_file: Path, info: lt.torrent_info) -> int:
    if not resume_file.exists():
        return 0
    try:
        params = lt.read_resume_data(resume_file.read_bytes())
    except RuntimeError:  # caught mid-rename: try again
        return 0
    return sum(info.piece_size(i) for i, has in enumerate(params.have_pieces) if has)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_kill_9_of_the_serving_process_then_resume_without_fetching_verified_pieces_again(
    make_torrent, seeder, tmp_path: Path
) -> None:
    data = video_bytes(
        tmp_path, "long.mkv", container="mkv", size=(320, 240), seconds=12, noise=True
    )
    torrent = make_torrent(
        {"Long.Haul.2018.1080p/Long.Haul.2018.1080p.mkv": data}, piece_size=PIECE
    )
    seed, magnet = seeder(torrent, upload_limit=150 * KB)  # ~43 s for the whole file
    data_dir = (tmp_path / "serve").resolve()
    env = base_env(
        data_dir,
        TORRENT_DHT="0",
        TORRENT_LSD="0",
        TORRENT_UPNP="0",
        TORRENT_RESUME_SECONDS="2",  # honoured when settings read it; else the 30 s default
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    create_user(env, "anna")
    resume_file = data_dir / "resume" / f"{torrent.info_hash}.fastresume"
    downloaded = (
        data_dir
        / "downloads"
        / torrent.info_hash
        / "Long.Haul.2018.1080p"
        / "Long.Haul.2018.1080p.mkv"
    )

    server = start_server(env)
    try:
        with requests.Session() as browser:
            browser.cookies.set("sessionid", server.login("anna"))
            browser.get(f"{server.url}/accounts/login/", timeout=10)  # a CSRF cookie
            response = browser.post(
                f"{server.url}/media/add",
                data={
                    "magnet": magnet,
                    "type": "movie",
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                allow_redirects=False,
                timeout=10,
            )
            assert response.status_code == 302, response.text[:1000]
        # Kill it once a periodic resume save has recorded a fair share of the pieces.
        wait_for(
            lambda: _saved_bytes(resume_file, torrent.info) >= 0.2 * len(data),
            90,
            "a resume save with 20% of the pieces",
            interval=0.05,
        )
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait(10)
        assert server.process.returncode == -signal.SIGKILL
    finally:
        server.stop()
    saved = _saved_bytes(resume_file, torrent.info)
    assert 0.2 * len(data) <= saved < 0.95 * len(data), f"saved {saved} of {len(data)}"
    time.sleep(0.5)  # what was in flight when the process died is counted before the restart
    seeded_before = _seeded_bytes(seed, torrent.info_hash)

    restarted = start_server(env, port=server.port)  # the same address, the same listen port
    started = time.monotonic()

    def complete() -> bool:
        return downloaded.exists() and sha1(downloaded.read_bytes()) == sha1(data)

    try:
        wait_for(complete, 150, "the resumed download to complete", interval=0.25)
        took = time.monotonic() - started
        refetched = _seeded_bytes(seed, torrent.info_hash) - seeded_before
        missing = len(data) - saved
        # Only what was missing comes again (plus a little slack for blocks in flight).
        assert refetched <= missing + 8 * PIECE, (refetched, missing)
        # ... and the serving process files it: its job worker remuxes the MKV.
        filed = data_dir / "library" / "Long Haul (2018)" / "Long Haul (2018).mp4"
        wait_for(filed.exists, 60, "the remuxed file in the library", interval=0.2)
        assert probe(filed).plan == "keep"
    finally:
        restarted.stop()
    print(
        f"\nkill -9 of serve with {saved / len(data):.0%} saved; after the restart "
        f"{refetched} bytes were fetched again for {missing} missing, in {took:.0f}s "
        f"(at the seeder's rate that takes {missing / (150 * KB):.0f}s)"
    )
