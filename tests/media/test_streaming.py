"""GET/HEAD /media/<id>/stream against real files in a temporary data directory."""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import libtorrent as lt
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client
from django.utils.http import http_date

from media import downloading, files, streaming
from media.models import Kind, MediaFile, Status, Title
from tests.conftest import body
from tests.factories import make_download, make_file, make_title
from torrents import engine as engine_module
from torrents.models import Download

SIZE = 10_000
GIB = 1024**3
MIB = 1024**2


def pattern(size: int) -> bytes:
    """Bytes where every offset differs from its neighbours, so a shifted range is caught."""
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


CONTENT = pattern(SIZE)


StoredVideo = Callable[..., tuple[Title, MediaFile]]


@pytest.fixture
def stored_video(db, data_dir: Path) -> StoredVideo:
    """``stored_video(name, relative, content, ...)``: a title and its video, the video's
    ``content`` written at ``relative`` in the data directory (nothing written for ``None``)."""

    def make(
        name: str = "Movie",
        relative: str = "library/Movie (2020)/Movie (2020).mp4",
        content: bytes | None = CONTENT,
        *,
        status: str = Status.COMPLETE,
        kind: str = Kind.MOVIE,
        size: int | None = None,
    ) -> tuple[Title, MediaFile]:
        title = make_title(title=name, kind=kind, status=status)
        if content is not None:
            path = data_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        size = size if size is not None else len(content or b"")
        return title, make_file(title, path=relative, size=size)

    return make


def url(title: Title, file: MediaFile | None = None) -> str:
    return f"/media/{title.pk}/stream" + (f"?file={file.pk}" if file else "")


# --------------------------------------------------------------------------- whole file


def test_full_file_200_exact_bytes_and_headers(
    client_member: Client, stored_video: StoredVideo
) -> None:
    title, file = stored_video()
    response = client_member.get(url(title))
    assert response.status_code == 200
    assert response.streaming and response.is_async  # never FileResponse's sync iterator
    assert body(response) == CONTENT
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert response["Cache-Control"] == "private"
    assert response["Content-Disposition"] == 'inline; filename="Movie (2020).mp4"'
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    path = files.resolve(file)
    assert path is not None
    assert response["Last-Modified"] == http_date(int(path.stat().st_mtime))
    assert "Content-Range" not in response


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, SIZE - 1),
        ("bytes=-100", SIZE - 100, SIZE - 1),
        ("bytes=5000-5000", 5000, 5000),
        ("bytes=9990-20000", 9990, SIZE - 1),
    ],
)
def test_ranges_206_exact_bytes(
    client_member: Client, stored_video: StoredVideo, header: str, start: int, end: int
) -> None:
    title, _ = stored_video()
    response = client_member.get(url(title), HTTP_RANGE=header)
    assert response.status_code == 206
    assert body(response) == CONTENT[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert "ETag" in response


def test_unsatisfiable_range_416(client_member: Client, stored_video: StoredVideo) -> None:
    title, _ = stored_video()
    response = client_member.get(url(title), HTTP_RANGE=f"bytes={SIZE}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert b"outside this file" in response.content


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=5-2", "bytes=--1", "bytes=", "bytes 0-1"])
def test_malformed_range_400(client_member: Client, stored_video: StoredVideo, header: str) -> None:
    title, _ = stored_video()
    response = client_member.get(url(title), HTTP_RANGE=header)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.startswith(b"Bad Range header")


def test_multi_range_and_other_units_get_the_whole_file(
    client_member: Client, stored_video: StoredVideo
) -> None:
    title, _ = stored_video()
    for header in ("bytes=0-1,5-6", "items=0-5"):
        response = client_member.get(url(title), HTTP_RANGE=header)
        assert response.status_code == 200
        assert body(response) == CONTENT


def test_head_has_headers_and_no_body(client_member: Client, stored_video: StoredVideo) -> None:
    title, _ = stored_video()
    response = client_member.head(url(title))
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert "ETag" in response and "Last-Modified" in response
    # Range is defined for GET only: HEAD describes the whole file
    ranged = client_member.head(url(title), HTTP_RANGE="bytes=0-99")
    assert ranged.status_code == 200 and ranged.content == b""
    assert ranged["Content-Length"] == str(SIZE)


def test_if_range(client_member: Client, stored_video: StoredVideo) -> None:
    title, _ = stored_video()
    first = client_member.head(url(title))
    etag, last_modified = first["ETag"], first["Last-Modified"]

    stale = client_member.get(url(title), HTTP_RANGE="bytes=0-99", HTTP_IF_RANGE='"not-the-etag"')
    assert stale.status_code == 200
    assert body(stale) == CONTENT

    weak = client_member.get(url(title), HTTP_RANGE="bytes=0-99", HTTP_IF_RANGE=f"W/{etag}")
    assert weak.status_code == 200

    old_date = client_member.get(
        url(title), HTTP_RANGE="bytes=0-99", HTTP_IF_RANGE="Mon, 01 Jan 2001 00:00:00 GMT"
    )
    assert old_date.status_code == 200

    for validator in (etag, last_modified):
        fresh = client_member.get(url(title), HTTP_RANGE="bytes=0-99", HTTP_IF_RANGE=validator)
        assert fresh.status_code == 206
        assert body(fresh) == CONTENT[:100]

    # If-Range with a stale validator ignores even a malformed Range (RFC 9110 §13.1.5)
    ignored = client_member.get(url(title), HTTP_RANGE="bytes=abc", HTTP_IF_RANGE='"nope"')
    assert ignored.status_code == 200


def test_conditional_get_304(client_member: Client, stored_video: StoredVideo) -> None:
    title, _ = stored_video()
    etag = client_member.head(url(title))["ETag"]
    response = client_member.get(url(title), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert client_member.get(url(title), HTTP_IF_MATCH='"other"').status_code == 412


def test_changed_file_changes_the_etag(
    client_member: Client, stored_video: StoredVideo, data_dir: Path
) -> None:
    title, file = stored_video()
    etag = client_member.head(url(title))["ETag"]
    path = data_dir / file.path
    path.write_bytes(CONTENT[::-1])
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    assert client_member.head(url(title))["ETag"] != etag
    response = client_member.get(url(title), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert response.status_code == 200
    assert body(response) == CONTENT[::-1]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.mp4", "video/mp4"),
        ("a.M4V", "video/mp4"),
        ("a.webm", "video/webm"),
        ("a.mkv", "video/x-matroska"),
        ("a.avi", "video/x-msvideo"),
        ("a.mov", "video/quicktime"),
        ("a.ts", "video/mp2t"),
        ("a", "application/octet-stream"),
        ("a.html", "application/octet-stream"),  # never text/html from a video route
    ],
)
def test_content_type_by_extension(name: str, content_type: str) -> None:
    assert streaming.content_type_for(name) == content_type


def test_mkv_is_served_as_matroska(client_member: Client, stored_video: StoredVideo) -> None:
    title, _ = stored_video(relative="library/Show/ep.mkv")
    response = client_member.get(url(title), HTTP_RANGE="bytes=0-3")
    assert response["Content-Type"] == "video/x-matroska"
    assert body(response) == CONTENT[:4]


# --------------------------------------------------------------------------- who and what


@pytest.mark.parametrize("method", ["get", "head"])
def test_anonymous_is_sent_to_login(stored_video: StoredVideo, member, method: str) -> None:
    title, _ = stored_video()
    response = getattr(Client(), method)(url(title))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not response.streaming


def test_post_is_not_allowed(client_member: Client, stored_video: StoredVideo) -> None:
    title, _ = stored_video()
    assert client_member.post(url(title)).status_code == 405


def test_largest_video_is_the_default_and_file_picks_an_episode(
    client_member: Client, stored_video: StoredVideo, data_dir: Path
) -> None:
    title, small = stored_video(
        kind=Kind.TV, relative="library/Show/Season 01/Show - S01E01.mp4", content=b"episode one"
    )
    (data_dir / "library/Show/Season 01/Show - S01E02.mp4").write_bytes(
        b"episode two, a longer one"
    )
    big = make_file(title, path="library/Show/Season 01/Show - S01E02.mp4", size=25)
    sub = make_file(
        title,
        role=MediaFile.Role.SUBTITLE,
        path="library/Show/Season 01/Show - S01E01.mp4",
        size=11,
    )

    assert body(client_member.get(url(title))) == b"episode two, a longer one"
    assert body(client_member.get(url(title, small))) == b"episode one"
    assert body(client_member.get(url(title, big))) == b"episode two, a longer one"
    # a subtitle file isn't a video, even if its path points at one
    assert client_member.get(url(title, sub)).status_code == 404


def test_another_titles_file_is_404(client_member: Client, stored_video: StoredVideo) -> None:
    mine, _ = stored_video("Mine")
    _, theirs = stored_video(
        "Theirs", relative="library/Theirs/theirs.mp4", content=b"secret bytes"
    )
    response = client_member.get(url(mine, theirs))
    assert response.status_code == 404
    assert b"secret" not in body(response)
    for junk in ("abc", "-1", "1.0", "", "1e3", "٣", "9" * 40):
        assert client_member.get(f"/media/{mine.pk}/stream", {"file": junk}).status_code == 404


@pytest.mark.parametrize(
    "bad_path",
    ["../../etc/passwd", "/etc/passwd", "library/../../../etc/passwd", "library/../../outside.mp4"],
)
def test_paths_never_leave_the_data_dir(
    client_member: Client, stored_video: StoredVideo, data_dir: Path, bad_path: str
) -> None:
    outside = data_dir.parent / "outside.mp4"
    outside.write_bytes(b"OUTSIDE THE DATA DIR")
    title, file = stored_video(content=None, size=100)
    MediaFile.objects.filter(pk=file.pk).update(path=bad_path)
    for response in (
        client_member.get(url(title)),
        client_member.get(url(title), HTTP_RANGE="bytes=0-10"),
        client_member.head(url(title)),
    ):
        assert response.status_code == 404
        content = body(response)
        assert b"OUTSIDE" not in content and b"root:" not in content


def test_torrent_path_never_leaves_the_download_folder(
    client_member: Client, stored_video: StoredVideo, data_dir: Path
) -> None:
    (data_dir / "library" / "elsewhere.mp4").write_bytes(b"NOT THIS TORRENT")
    title, file = stored_video(content=None, size=100)
    Title.objects.filter(pk=title.pk).update(info_hash="c9e15763f722f23e98a29decdfae341b98d53056")
    MediaFile.objects.filter(pk=file.pk).update(
        path="", torrent_path="../../library/elsewhere.mp4", torrent_index=0
    )
    response = client_member.get(url(title))
    assert response.status_code == 404
    assert b"NOT THIS" not in body(response)


def test_finished_download_is_served_from_the_download_folder(
    client_member: Client, stored_video: StoredVideo, data_dir: Path
) -> None:
    info_hash = "c9e15763f722f23e98a29decdfae341b98d53056"
    title, file = stored_video(content=None, size=SIZE)
    Title.objects.filter(pk=title.pk).update(info_hash=info_hash)
    MediaFile.objects.filter(pk=file.pk).update(
        path="", torrent_path="Movie.2020/movie.webm", torrent_index=0
    )
    target = data_dir / "downloads" / info_hash / "Movie.2020" / "movie.webm"
    target.parent.mkdir(parents=True)
    target.write_bytes(CONTENT)
    response = client_member.get(url(title), HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Type"] == "video/webm"
    assert body(response) == CONTENT[10:20]


def test_missing_file_is_404_with_a_message(
    client_member: Client, stored_video: StoredVideo
) -> None:
    title, _ = stored_video(content=None, size=SIZE)
    response = client_member.get(url(title))
    assert response.status_code == 404
    assert b"missing" in response.content
    assert response["Content-Type"].startswith("text/plain")


def test_no_video_and_no_title_are_404(client_member: Client, db, data_dir: Path) -> None:
    title = make_title(title="Empty", status=Status.PENDING)
    response = client_member.get(url(title))
    assert response.status_code == 404
    assert b"no video file yet" in response.content
    assert client_member.get("/media/999999/stream").status_code == 404


def test_downloading_without_an_engine_in_this_process_is_503(
    client_member: Client, stored_video: StoredVideo
) -> None:
    title, _ = stored_video(content=None, size=SIZE, status=Status.DOWNLOADING)
    MediaFile.objects.filter(title=title).update(
        path="", torrent_path="Movie/movie.mp4", torrent_index=0
    )
    Title.objects.filter(pk=title.pk).update(info_hash="c9e15763f722f23e98a29decdfae341b98d53056")
    assert downloading.current_reader() is None
    for response in (client_member.get(url(title)), client_member.head(url(title))):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
    assert (
        b"This file is still downloading in the engine process"
        in client_member.get(url(title)).content
    )


def test_a_download_row_decides_whether_the_file_is_still_coming(
    client_member: Client, stored_video: StoredVideo, data_dir: Path
) -> None:
    info_hash = "c9e15763f722f23e98a29decdfae341b98d53056"
    title, file = stored_video(content=None, size=SIZE, status=Status.DOWNLOADING)
    Title.objects.filter(pk=title.pk).update(info_hash=info_hash)
    MediaFile.objects.filter(pk=file.pk).update(
        path="", torrent_path="Movie/movie.mp4", torrent_index=0
    )
    target = data_dir / "downloads" / info_hash / "Movie" / "movie.mp4"
    target.parent.mkdir(parents=True)
    target.write_bytes(CONTENT)  # full size on disk, as a preallocated file would be
    download = make_download(
        title,
        info_hash=info_hash,
        save_path=str(target.parent.parent),
        state=Download.State.DOWNLOADING,
    )
    response = client_member.get(url(title))
    assert response.status_code == 503  # never served as complete while the engine writes it
    assert b"still downloading in the engine process" in response.content

    Download.objects.filter(pk=download.pk).update(state=Download.State.SEEDING)
    response = client_member.get(url(title), HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206
    assert body(response) == CONTENT[:10]
    assert "ETag" in response


def test_a_library_copy_is_served_while_the_torrent_still_downloads(
    client_member: Client, stored_video: StoredVideo, data_dir: Path
) -> None:
    title, _ = stored_video(status=Status.DOWNLOADING)  # filed and complete, torrent still busy
    response = client_member.get(url(title))
    assert response.status_code == 200
    assert body(response) == CONTENT
    # ... but not one that is short of its size
    title2, _ = stored_video(
        "Short",
        relative="library/Short/short.mp4",
        content=CONTENT[:10],
        status=Status.DOWNLOADING,
        size=SIZE,
    )
    assert client_member.get(url(title2)).status_code == 503


# --------------------------------------------------------------------------- big files


@pytest.fixture
def big_title(stored_video: StoredVideo, data_dir: Path) -> Title:
    relative = "library/Big (2020)/Big (2020).mkv"
    title, _ = stored_video("Big", relative=relative, content=None, size=GIB)
    path = data_dir / relative
    path.parent.mkdir(parents=True)
    with open(path, "wb") as f:
        f.truncate(GIB)  # sparse: costs no disk
        f.seek(GIB - 4)
        f.write(b"END!")
    return title


def test_one_gib_streams_with_bounded_memory(client_member: Client, big_title: Title) -> None:
    response = client_member.get(url(big_title))
    assert response.status_code == 200
    assert response["Content-Length"] == str(GIB)

    async def consume() -> tuple[int, bytes]:
        total, last = 0, b""
        async for part in response.streaming_content:
            total += len(part)
            last = part[-4:]
        return total, last

    tracemalloc.start()
    try:
        total, last = async_to_sync(consume)()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == GIB
    assert last == b"END!"
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB while streaming 1 GiB"


def test_open_ended_range_is_capped_but_closed_ones_are_not(
    client_member: Client, big_title: Title
) -> None:
    cap = streaming.MAX_OPEN_RANGE
    response = client_member.get(url(big_title), HTTP_RANGE="bytes=0-")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-{cap - 1}/{GIB}"
    assert response["Content-Length"] == str(cap)

    tail = client_member.get(url(big_title), HTTP_RANGE=f"bytes={GIB - 10}-")
    assert tail["Content-Range"] == f"bytes {GIB - 10}-{GIB - 1}/{GIB}"
    assert body(tail) == bytes(6) + b"END!"

    closed = client_member.get(url(big_title), HTTP_RANGE=f"bytes=0-{cap}")
    assert closed["Content-Length"] == str(cap + 1)

    suffix = client_member.get(url(big_title), HTTP_RANGE="bytes=-4")
    assert body(suffix) == b"END!"


# --------------------------------------------------------------------------- the real async path


@pytest.mark.django_db(transaction=True)
async def test_through_the_async_handler(data_dir: Path) -> None:
    user = await get_user_model().objects.acreate_user("viewer", password="a good long password")
    title = await Title.objects.acreate(title="Async", status=Status.COMPLETE)
    relative = "library/Async/async.mp4"
    (data_dir / relative).parent.mkdir(parents=True)
    (data_dir / relative).write_bytes(CONTENT)
    await MediaFile.objects.acreate(
        title=title, role=MediaFile.Role.VIDEO, path=relative, size=SIZE
    )

    anonymous = AsyncClient()
    assert (await anonymous.get(url(title))).status_code == 302
    assert (await anonymous.head(url(title))).status_code == 302

    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(url(title), headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{SIZE}"
    assert b"".join([part async for part in response]) == CONTENT[100:200]

    response = await client.get(url(title))
    assert b"".join([part async for part in response]) == CONTENT

    head = await client.head(url(title))
    assert head.status_code == 200 and head["Content-Length"] == str(SIZE)


# --------------------------------------------------------------------------- while downloading
#
# A real libtorrent seeder on 127.0.0.1 and the real engine (torrents.engine) in this process.

PIECE = 64 * 1024


@pytest.fixture
def engine(settings, data_dir: Path):
    settings.PLANK_STREAM_TIMEOUT = 3.0
    running = engine_module.Engine(
        listen="127.0.0.1:0", resume_dir=data_dir / "resume", dht=False, lsd=False, upnp=False
    )
    running.start()
    engine_module.install(running)
    yield running
    engine_module.install(None)
    running.stop(timeout=2)


@pytest.fixture
def seeder(tmp_path: Path):
    """seed(content, have=None) -> (info_hash, port): a seeding session on 127.0.0.1 that has
    the whole `content`, or only its first `have` bytes (whole pieces)."""
    session = lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
        }
    )

    def seed(content: bytes, have: int | None = None) -> tuple[str, int]:
        folder = tmp_path / "seed"
        folder.mkdir()
        path = folder / "movie.mp4"
        path.write_bytes(content)
        creator = lt.create_torrent(lt.list_files(str(path)), PIECE, lt.create_torrent.v1_only)
        lt.set_piece_hashes(creator, str(folder))
        info = lt.torrent_info(creator.generate())
        if have is not None:
            with open(path, "r+b") as f:
                f.truncate(have)
        params = lt.add_torrent_params()
        params.ti = info
        params.save_path = str(folder)
        params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        if have is None:
            params.flags |= lt.torrent_flags.seed_mode
        handle = session.add_torrent(params)
        deadline = time.monotonic() + 10
        expected = info.num_pieces() if have is None else have // PIECE
        while time.monotonic() < deadline:
            status = handle.status()
            if (
                status.state not in (status.checking_files, status.checking_resume_data)
                and status.num_pieces >= expected
            ):
                break
            time.sleep(0.05)
        return str(info.info_hashes().v1), session.listen_port()

    yield seed
    session.pause()


def downloading_title(info_hash: str, size: int) -> Title:
    title = make_title(title="Streaming", status=Status.DOWNLOADING, info_hash=info_hash)
    make_file(title, torrent_path="movie.mp4", torrent_index=0, size=size)
    return title


@pytest.mark.slow
def test_streams_while_downloading_through_the_engine(
    client_member: Client, engine, seeder, settings
) -> None:
    content = os.urandom(3 * MIB + 12345)
    info_hash, port = seeder(content)
    engine.add_magnet(
        f"magnet:?xt=urn:btih:{info_hash}&x.pe=127.0.0.1:{port}",
        Path(settings.DOWNLOADS_DIR) / info_hash,
    )
    title = downloading_title(info_hash, len(content))

    head = client_member.head(url(title))
    assert head.status_code == 200
    assert head["Content-Length"] == str(len(content))
    assert "ETag" not in head  # no validators for a file still changing

    response = client_member.get(url(title), HTTP_RANGE="bytes=1000-")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 1000-{len(content) - 1}/{len(content)}"
    assert body(response) == content[1000:]

    ranged = client_member.get(url(title), HTTP_RANGE="bytes=-100")
    assert body(ranged) == content[-100:]


@pytest.mark.slow
def test_first_bytes_not_arriving_is_503_with_retry_after(
    client_member: Client, engine, settings
) -> None:
    settings.PLANK_STREAM_TIMEOUT = 1.0
    info_hash = "0123456789abcdef0123456789abcdef01234567"  # nobody has it
    engine.add_magnet(f"magnet:?xt=urn:btih:{info_hash}", Path(settings.DOWNLOADS_DIR) / info_hash)
    title = downloading_title(info_hash, 5 * MIB)
    response = client_member.get(url(title), HTTP_RANGE="bytes=0-")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"still arriving from the swarm" in response.content


@pytest.mark.slow
def test_a_later_chunk_timing_out_ends_the_response(
    client_member: Client, engine, seeder, settings
) -> None:
    content = os.urandom(3 * MIB)
    info_hash, port = seeder(content, have=3 * MIB // 2)  # the swarm only has the first half
    engine.add_magnet(
        f"magnet:?xt=urn:btih:{info_hash}&x.pe=127.0.0.1:{port}",
        Path(settings.DOWNLOADS_DIR) / info_hash,
    )
    title = downloading_title(info_hash, len(content))
    response = client_member.get(url(title), HTTP_RANGE="bytes=0-")
    assert response.status_code == 206  # the first chunk came
    assert response["Content-Length"] == str(len(content))
    received = body(response)
    assert len(received) < len(content)  # ended early: the status was already sent
    assert received == content[: len(received)]
    assert len(received) >= streaming.CHUNK_SIZE


def test_a_torrent_the_engine_doesnt_have_is_503(client_member: Client, engine) -> None:
    title = downloading_title("89abcdef0123456789abcdef0123456789abcdef", 5 * MIB)
    response = client_member.get(url(title))
    assert response.status_code == 503
    assert b"isn't downloading this title" in response.content


class MemoryReader:
    """A `media.downloading.PieceReader` over bytes in memory: nothing is on disk, every chunk
    comes from `read` (64 KiB pieces)."""

    def __init__(self, info_hash: str, content: bytes, fail: BaseException | None = None) -> None:
        self.info_hash, self.content, self.fail = info_hash, content, fail
        self.reads: list[tuple[int, int, bool]] = []
        self.prioritised: list[tuple[str, int]] = []

    def __contains__(self, info_hash: object) -> bool:
        return info_hash == self.info_hash

    def have_range(self, info_hash: str, file_index: int, start: int, end: int) -> bool:
        return False

    def piece_span(self, info_hash: str, file_index: int, offset: int) -> tuple[int, int]:
        start = offset // PIECE * PIECE
        return start, start + PIECE

    async def read(
        self,
        info_hash: str,
        file_index: int,
        offset: int,
        length: int,
        timeout: float = 30.0,
        *,
        urgent: bool = True,
    ) -> bytes:
        if self.fail is not None:
            raise self.fail
        self.reads.append((offset, length, urgent))
        return self.content[offset : offset + length]

    def prioritise_for_streaming(self, info_hash: str, file_index: int) -> None:
        self.prioritised.append((info_hash, file_index))


@pytest.fixture
def reader_of():
    """reader_of(reader): make `reader` this process's piece reader for the test (afterwards
    the engine's again, as the torrents app registers it)."""
    yield lambda reader: downloading.register_reader(lambda: reader)
    downloading.register_reader(engine_module.current)


class NoBytesYet(TimeoutError):
    """What an engine's own timeout looks like to the library: a TimeoutError subclass."""


def test_streams_through_the_registered_piece_reader(
    client_member: Client, data_dir: Path, reader_of
) -> None:
    info_hash = "ab" * 20
    content = pattern(3 * MIB)
    reader = MemoryReader(info_hash, content)
    reader_of(reader)
    title = downloading_title(info_hash, len(content))
    response = client_member.get(url(title), HTTP_RANGE="bytes=1000-")
    assert response.status_code == 206
    assert body(response) == content[1000:]
    assert reader.prioritised == [(info_hash, 0)]
    first, *rest = reader.reads
    assert first == (1000, PIECE - 1000, True)  # the rest of the first piece, urgently
    assert rest and not any(urgent for _, _, urgent in rest)
    assert all((offset + length) % PIECE == 0 or offset + length == len(content)
               for offset, length, _ in rest)  # fmt: skip


def test_a_reader_timeout_on_the_first_bytes_is_503(
    client_member: Client, data_dir: Path, reader_of
) -> None:
    info_hash = "cd" * 20
    reader_of(MemoryReader(info_hash, b"", fail=NoBytesYet("nothing yet")))
    title = downloading_title(info_hash, 5 * MIB)
    response = client_member.get(url(title), HTTP_RANGE="bytes=0-")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"still arriving from the swarm" in response.content


def test_unwritten_looking_disk_reads_go_to_the_engine() -> None:
    assert streaming.looks_unwritten(bytes(5000))
    assert streaming.looks_unwritten(b"x" * 5000 + bytes(4096) + b"y")
    assert streaming.looks_unwritten(bytes(1024) + b"x" * 5000)
    assert streaming.looks_unwritten(b"x" * 5000 + bytes(1024))
    assert not streaming.looks_unwritten(os.urandom(1 << 20).replace(b"\0", b"\1"))


class PiecedEngine:
    """Just enough engine for `EngineReader.chunk_length`: 512 KiB pieces, the file starting
    100 KiB into its first piece (as in a torrent with a file before it)."""

    PIECE = 512 * 1024
    SHIFT = 100 * 1024

    def piece_span(self, info_hash: str, file_index: int, offset: int) -> tuple[int, int]:
        start = (offset + self.SHIFT) // self.PIECE * self.PIECE - self.SHIFT
        return start, start + self.PIECE


def test_engine_reader_chunks_end_on_piece_boundaries() -> None:
    located = streaming.Located(
        file_id=1,
        name="movie.mkv",
        size=64 * MIB,
        path=None,
        downloading=True,
        download_path=None,
        info_hash="ab" * 20,
        torrent_index=0,
    )
    reader = streaming.EngineReader(PiecedEngine(), located, timeout=1.0)
    piece, shift = PiecedEngine.PIECE, PiecedEngine.SHIFT
    # the first chunk: the rest of the piece holding the first byte, no more
    assert reader.chunk_length(0, 64 * MIB, first=True) == piece - shift
    assert reader.chunk_length(piece - shift - 10, 64 * MIB, first=True) == 10
    assert reader.chunk_length(5 * MIB, 100, first=True) == 100
    # later ones: up to CHUNK_SIZE, cut where a piece ends
    assert reader.chunk_length(piece - shift, 64 * MIB) == streaming.CHUNK_SIZE
    assert reader.chunk_length(piece - shift + 1000, 64 * MIB) == 2 * piece - 1000
    assert reader.chunk_length(piece - shift + 1000, 5000) == 5000  # the end of the response
    # an engine that can't say where pieces end: plain chunks
    plain = streaming.EngineReader(object(), located, timeout=1.0)
    assert plain.chunk_length(12345, 64 * MIB, first=True) == streaming.CHUNK_SIZE
