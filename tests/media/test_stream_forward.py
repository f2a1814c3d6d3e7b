"""A file still downloading streams from every worker of ``serve --workers 2``: the worker
without the engine passes the request on to worker 0 (media/stream_forward.py), which alone
knows the torrent's pieces. Before, that worker answered 503 for about half of the requests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.test import RequestFactory

from media import stream_forward
from tests.live.live_server import base_env, create_user, free_port, manage, running
from tests.torrents.conftest import MadeTorrent, Seeder, made_torrent, random_bytes, wait_for

NAME = "Slow.Film.2020.1080p.WEB"
SIZE = 6 * 1024 * 1024
KB = 1000


@pytest.fixture(scope="module")
def content(tmp_path_factory) -> tuple[MadeTorrent, bytes]:
    data = random_bytes(SIZE)
    root = tmp_path_factory.mktemp("forward") / "content"
    return made_torrent(root, {f"{NAME}/{NAME}.mp4": data}, piece_size=64 * 1024), data


@pytest.fixture
def slow_seeder(content) -> Iterator[str]:
    seeder = Seeder(upload_limit=150 * KB)  # about 40 s for the whole file
    try:
        yield seeder.seed(content[0])
    finally:
        seeder.close()


def _rows(data: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{data / 'plank.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_every_worker_streams_a_file_still_downloading(
    tmp_path: Path, content, slow_seeder: str
) -> None:
    _, data = content
    folder = tmp_path / "data"
    env = base_env(folder)
    manage(env, "migrate", "--noinput", "-v", "0")
    create_user(env, "anna")
    with running(env, workers=2) as server:
        session = requests.Session()
        session.cookies.set("sessionid", server.login("anna"))
        session.get(f"{server.url}/accounts/login/", timeout=20)
        answer = session.post(
            f"{server.url}/media/add",
            data={
                "magnet": slow_seeder,
                "type": "movie",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, answer.text[:500]
        (title_id,) = wait_for(
            lambda: _rows(folder, "SELECT id FROM media_title"), 30, "the title"
        )[0]
        wait_for(
            lambda: _rows(folder, "SELECT 1 FROM media_mediafile WHERE torrent_index IS NOT NULL"),
            60,
            "the vetted file",
            interval=0.2,
        )
        statuses = []
        for n in range(12):  # new connections, spread over both workers by the kernel
            start = (n % 3) * 64 * 1024
            got = requests.get(
                f"{server.url}/media/{title_id}/stream",
                headers={"Range": f"bytes={start}-{start + 65535}", "Connection": "close"},
                cookies={"sessionid": session.cookies["sessionid"]},
                timeout=60,
            )
            statuses.append(got.status_code)
            assert got.status_code == 206, got.text[:300]
            assert got.headers["Content-Range"] == f"bytes {start}-{start + 65535}/{SIZE}"
            assert got.content == data[start : start + 65536]
        state = _rows(folder, "SELECT state FROM torrents_download")[0][0]
        assert state not in ("complete", "seeding"), "it finished: the test proved nothing"
        assert statuses == [206] * 12
        assert "Traceback" not in server.log()


async def test_an_unreachable_worker_0_is_a_503_in_words() -> None:
    request = RequestFactory().get("/media/1/stream", HTTP_RANGE="bytes=0-")
    response = await stream_forward.forward(request, f"127.0.0.1:{free_port()}")
    assert response.status_code == 503
    assert "not answering" in response.content.decode()
    assert response["Retry-After"] == "2"
