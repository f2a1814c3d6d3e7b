"""Find and get, end to end, with real parts: a wanted title → Find releases on a local Torznab
server → Get best → the download starts from a real libtorrent seeder on 127.0.0.1 → the video
streams while it downloads. The engine part and the job worker run in this process as
``manage.py serve`` runs them (``app`` of tests/torrents/test_end_to_end.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from media.models import MediaFile, Title
from tests.conftest import body
from tests.factories import PASSWORD, make_title, make_user
from tests.media.videos import make_video
from tests.torrents import find_helpers, test_end_to_end
from tests.torrents.conftest import MadeTorrent, wait_for
from tests.torrents.fake_torznab import FakeIndexer, FakeRelease, plain_indexer
from torrents.models import Download, TitleSearch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]
fake, fresh_search = find_helpers.fake, find_helpers.fresh_search  # fixtures
app = test_end_to_end.app  # the engine part and the job worker, as `serve` runs them

KB = 1000
NAME = "Night.Train.2019.1080p.WEB-DL.AAC2.0.H.264-GRP"


@pytest.fixture
def client(db) -> Client:
    """Someone who logged in through the login page."""
    make_user("member", username="anna")
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": "anna", "password": PASSWORD}).status_code
        == 302
    )
    return client


def video(tmp_path: Path) -> bytes:
    made = make_video(
        tmp_path / "made" / "film.mp4", container="mp4", size=(320, 240), seconds=12, noise=True
    )
    return made.read_bytes()


def wanted_title(client: Client) -> Title:
    anna = get_user_model().objects.get(username="anna")
    return make_title(
        title="Night Train", year=2019, tmdb_id=4242, status="pending", magnet="", added_by=anna
    )


def test_wanted_title_to_a_stream(
    app, client: Client, fake, make_torrent, seeder, tmp_path: Path
) -> None:
    data = video(tmp_path)
    torrent: MadeTorrent = make_torrent({f"{NAME}/{NAME}.mp4": data}, piece_size=32 * 1024)
    _, magnet = seeder(torrent, upload_limit=200 * KB)  # a few seconds for the whole file
    title = wanted_title(client)  # before any indexer: it waits for someone to press Find
    fake.add(
        FakeIndexer(
            "local",
            "Local",
            [
                FakeRelease(
                    NAME,
                    torrent.info_hash,
                    size=4_000_000_000,
                    tmdb_id=4242,
                    seeders=12,
                    magnet=magnet,
                    link="redirect",
                ),
                FakeRelease(
                    "Night.Train.2019.720p.HDTV.x264-OTHER",
                    "9" * 40,
                    size=2_000_000_000,
                    seeders=3,
                    tmdb_id=4242,
                ),
                FakeRelease("Night.Train.2019.HDCAM.x264", "8" * 40, seeders=900, tmdb_id=4242),
            ],
        )
    )
    plain_indexer(fake, "local")

    # Find releases: the candidates, scored, with the CAM rejected
    assert client.post(f"/torrents/title/{title.pk}/find").status_code == 302
    row = wait_for(
        lambda: TitleSearch.objects.filter(title=title, state="found").first(), 20, "the search"
    )
    assert row.found == 3 and row.acceptable == 2
    section = client.get(f"/torrents/title/{title.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "CAM: filmed in a cinema" in section and "Get best" in section

    # Get best: the redirect link is followed to the seeder's magnet, the download starts
    response = client.post(f"/torrents/title/{title.pk}/get")
    assert response.status_code == 302
    title.refresh_from_db()
    assert (title.info_hash, title.release_name) == (torrent.info_hash, NAME)
    assert fake.downloads["local 0"] == 1
    video_file = wait_for(
        lambda: MediaFile.objects.filter(title=title, role="video").first(), 30, "the files, vetted"
    )
    assert video_file.size == len(data)

    # it streams while it downloads: exact bytes from the start and from near the end
    stream = f"/media/{title.pk}/stream"
    first = client.get(stream, HTTP_RANGE="bytes=0-65535")
    assert first.status_code == 206 and body(first) == data[:65536]
    download = Download.objects.get(title=title)
    tail = len(data) - 40_000
    end = client.get(stream, HTTP_RANGE=f"bytes={tail}-{tail + 9999}")
    assert body(end) == data[tail : tail + 10_000]
    assert download.state in ("downloading", "metadata", "vetting")
    wait_for(
        lambda: Title.objects.get(pk=title.pk).status == "complete", 90, "the download to complete"
    )
    assert TitleSearch.objects.get(title=title).state == TitleSearch.State.STARTED


def test_a_torrent_link_needs_no_peer_for_its_files(
    app, client: Client, fake, make_torrent, tmp_path: Path
) -> None:
    """A release served as a .torrent file (fetched through Plank, at most 10 MB): the engine
    has its metadata at once, so the files are vetted and listed before any peer is found."""
    data = video(tmp_path)
    torrent: MadeTorrent = make_torrent({f"{NAME}/{NAME}.mp4": data}, piece_size=32 * 1024)
    raw = torrent.info.info_section()
    file_bytes = b"d4:info" + bytes(raw) + b"e"
    title = wanted_title(client)
    fake.add(
        FakeIndexer(
            "files",
            "Files",
            [
                FakeRelease(
                    NAME,
                    torrent.info_hash,
                    size=4_000_000_000,
                    tmdb_id=4242,
                    seeders=9,
                    link="torrent",
                    torrent=file_bytes,
                )
            ],
        )
    )
    plain_indexer(fake, "files")
    client.post(f"/torrents/title/{title.pk}/find")
    wait_for(
        lambda: TitleSearch.objects.filter(title=title, state="found").first(), 20, "the search"
    )
    client.post(f"/torrents/title/{title.pk}/get")
    title.refresh_from_db()
    assert title.info_hash == torrent.info_hash
    files = wait_for(
        lambda: list(MediaFile.objects.filter(title=title)), 10, "the files, with no peer at all"
    )
    assert [f.torrent_path for f in files] == [f"{NAME}/{NAME}.mp4"]
    assert Download.objects.get(title=title).metadata_at is not None
