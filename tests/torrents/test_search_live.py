"""Results reach an open search page as each indexer answers: a real ``manage.py serve``, its
live socket, a slow indexer whose answer arrives as an ``invalidate`` frame for the page's key,
and the partial that then shows it. No polling."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websockets

from tests.live.live_server import Server, base_env, create_user, manage, start_server
from tests.torrents.fake_torznab import API_KEY, FakeIndexer, FakeRelease, FakeTorznab

FAST = FakeRelease("Quiet.Harbour.2001.1080p.WEB-DL.AAC.x264-FAST", "1" * 40, seeders=30)
SLOW = FakeRelease("Quiet.Harbour.2001.720p.WEB-DL.AAC.x264-SLOW", "2" * 40, seeders=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, FakeTorznab, requests.Session]]:
    fake = FakeTorznab(
        [
            FakeIndexer("fast", "Fast", [FAST]),
            FakeIndexer("slow", "Slow", [SLOW], behaviour="slow", delay=2.5),
        ]
    ).start()
    env = base_env(tmp_path / "data")
    manage(env, "migrate", "--noinput", "-v", "0")
    create_user(env, "anna")
    for ident in ("fast", "slow"):
        manage(env, "indexers", "add", ident.title(), fake.url_for(ident), "--api-key", API_KEY)
    server = start_server(env)
    session = requests.Session()
    session.cookies.set("sessionid", server.login("anna"))
    try:
        yield server, fake, session
    finally:
        server.stop()
        fake.stop()


def test_a_slow_answer_is_pushed_to_the_open_page(served) -> None:
    server, fake, session = served
    page = session.get(f"{server.url}/torrents/", params={"q": "quiet harbour"}, timeout=30).text
    assert FAST.title in page and SLOW.title not in page and "searching…" in page
    key = re.search(r'data-live-key="(torrents/results/[0-9a-f]+)"', page).group(1)
    seq = re.search(r'<meta name="plank-live-seq" content="(\d+)">', page).group(1)

    async def until_slow_shows() -> str:
        headers = {"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": server.url}
        async with websockets.connect(
            f"{server.ws_url}?since={seq}", additional_headers=headers
        ) as ws:
            await ws.send(json.dumps({"type": "watch", "keys": [key.split("/")]}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
                paths = {"/".join(map(str, k)) for k in frame.get("keys", [])}
                if frame["type"] != "invalidate" or key not in paths:
                    continue
                partial = await asyncio.to_thread(
                    session.get,
                    f"{server.url}/torrents/",
                    params={"q": "quiet harbour", "partial": "results"},
                    headers={"HX-Request": "true"},
                    timeout=30,
                )
                if SLOW.title in partial.text:
                    return partial.text

    html = asyncio.run(until_slow_shows())
    assert FAST.title in html and "searching…" not in html
    assert fake.searches("slow") == 1 and fake.searches("fast") == 1
