"""Indexer search: time to the first results and to the complete list, against an aggregate
feed that waits for every indexer; and fifty identical searches at once.

    .venv/bin/python bench/bench_search.py [--slow 10] [--rounds 3]

What it does, all on 127.0.0.1:

1. a local Torznab server (tests/torrents/fake_torznab.py) with a Jackett of five indexers, one
   of which answers after ``--slow`` seconds; a throw-away data directory, migrated, one user,
   the Jackett added with ``manage.py indexers add`` (its timeout raised above ``--slow``), and a
   real ``manage.py serve`` process;
2. per round, a new query, side by side:

   - **Plank**: from ``GET /torrents/?q=`` (a browser that logged in, with the page's live socket
     open on ``/ws/live/?since=<the page's seq>``) to the first result rows in hand (in the page,
     or in the partial fetched when the socket says the results went stale), and to the list
     with every indexer answered (each ``invalidate`` frame → one partial fetch);
   - **aggregate**: the same query on Jackett's ``all`` feed, which answers once every indexer
     has (what a client that waits for all gets);

3. fifty requests for one new query at the same moment (50 threads, each its own session):
   upstream requests per indexer (the per-key cache's single-flight: the goal is one each), the
   page time p50 / max; then fifty more once it is cached (goal: no request at all).

The figures are wall-clock seconds on this machine; the server and the clients share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live.live_server import base_env, create_user, manage, start_server  # noqa: E402
from tests.torrents.fake_torznab import API_KEY, FakeIndexer, FakeRelease, FakeTorznab  # noqa: E402

NAMES = ["1337x", "RARBG", "Torlock", "TPB", "Slowtracker"]
ROW = re.compile(r'<tr class="[^"]*">\s*<td class="torrent-name"')
KEY = re.compile(r'data-live-key="(torrents/results/[0-9a-f]+)"')
SEQ = re.compile(r'<meta name="plank-live-seq" content="(\d+)">')


def releases(word: str, n: int) -> list[FakeRelease]:
    return [
        FakeRelease(
            f"{word}.{2000 + i}.1080p.WEB-DL.AAC.x264-G{n}", f"{n:02x}{i:038x}", seeders=10 + i
        )
        for i in range(20)
    ]


def session_for(server, username: str) -> requests.Session:
    s = requests.Session()
    s.cookies.set("sessionid", server.login(username))
    return s


def rows(html: str) -> int:
    return len(ROW.findall(html))


async def plank_round(
    server, session: requests.Session, query: str, indexers: int
) -> tuple[float, float, int]:
    """(seconds to the first rows, seconds to every indexer answered, rows at the end)."""
    started = time.monotonic()
    page = await asyncio.to_thread(
        session.get, f"{server.url}/torrents/", params={"q": query}, timeout=30
    )
    html = page.text
    first = time.monotonic() - started if rows(html) else None
    key = KEY.search(html).group(1)
    seq = SEQ.search(html).group(1)
    partial = f"{server.url}/torrents/"
    cookie = f"sessionid={session.cookies['sessionid']}"
    async with websockets.connect(
        f"{server.ws_url}?since={seq}", additional_headers={"Cookie": cookie, "Origin": server.url}
    ) as ws:
        await ws.send(json.dumps({"type": "watch", "keys": [key.split("/")]}))
        while True:
            done = html.count(" answered ") + html.count(">answered ")
            if "searching…" not in html and done >= indexers:
                return first or time.monotonic() - started, time.monotonic() - started, rows(html)
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("type") not in ("invalidate", "resync"):
                continue
            got = await asyncio.to_thread(
                session.get,
                partial,
                params={"q": query, "partial": "results"},
                headers={"HX-Request": "true"},
                timeout=30,
            )
            html = got.text
            if first is None and rows(html):
                first = time.monotonic() - started


def aggregate_round(fake: FakeTorznab, query: str) -> tuple[float, int]:
    started = time.monotonic()
    answer = requests.get(
        f"{fake.jackett_url}/api/v2.0/indexers/all/results/torznab/",
        params={"t": "search", "q": query, "apikey": API_KEY},
        timeout=60,
    )
    return time.monotonic() - started, answer.text.count("<item>")


def stampede(server, sessions: list[requests.Session], query: str) -> list[float]:
    barrier = threading.Barrier(len(sessions))
    took: list[float] = []

    def one(s: requests.Session) -> None:
        barrier.wait()
        started = time.monotonic()
        s.get(f"{server.url}/torrents/", params={"q": query}, timeout=60).raise_for_status()
        took.append(time.monotonic() - started)

    threads = [threading.Thread(target=one, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=float, default=10.0, help="seconds the slow indexer takes")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    words = ["ember", "harbor", "lantern", "meadow", "quarry", "summit", "willow"][: args.rounds]
    indexers = []
    for n, name in enumerate(NAMES):
        slow = name == "Slowtracker"
        found = [r for w in [*words, "stampede"] for r in releases(w, n)]
        indexers.append(
            FakeIndexer(
                name.lower(),
                name,
                found,
                behaviour="slow" if slow else "ok",
                delay=args.slow if slow else 0.02,
            )
        )
    fake = FakeTorznab(indexers).start()
    data = Path(tempfile.mkdtemp(prefix="plank-bench-search-"))
    env = base_env(data)
    manage(env, "migrate", "--noinput", "-v", "0")
    users = [f"bench{i}" for i in range(50)]
    for u in users[:1]:
        create_user(env, u)
    code = (
        "from django.contrib.auth import get_user_model; U = get_user_model(); "
        "from tests.live.live_server import PASSWORD; "
        + "; ".join(f"U.objects.create_user({u!r}, password=PASSWORD)" for u in users[1:])
    )
    manage(env, "shell", "-c", code)
    manage(
        env,
        "indexers",
        "add",
        "Jackett",
        fake.jackett_url,
        "--api-key",
        API_KEY,
        "--kind",
        "jackett",
        "--timeout",
        str(args.slow + 5),
    )
    server = start_server(env)
    try:
        session = session_for(server, users[0])
        print(
            f"five indexers behind one Jackett, one answering after {args.slow:g} s; {args.rounds} rounds\n"
        )
        print(
            f"{'query':<10} {'Plank first':>12} {'Plank complete':>15} {'aggregate':>10} {'rows':>6}"
        )
        firsts, completes, aggregates = [], [], []
        for word in words:
            first, complete, shown = asyncio.run(plank_round(server, session, word, len(NAMES)))
            whole, items = aggregate_round(fake, word)
            firsts.append(first)
            completes.append(complete)
            aggregates.append(whole)
            print(
                f"{word:<10} {first:>11.2f}s {complete:>14.2f}s {whole:>9.2f}s {shown:>6} (aggregate: {items} items)"
            )
        print(
            f"\nmedian: first results {statistics.median(firsts):.2f} s (goal < 1 s), complete "
            f"{statistics.median(completes):.2f} s, aggregate {statistics.median(aggregates):.2f} s: "
            f"first results {statistics.median(aggregates) / statistics.median(firsts):.0f}× sooner"
        )

        before = {i.id: fake.searches(i.id) for i in indexers}
        sessions = [session_for(server, u) for u in users]
        took = stampede(server, sessions, "stampede")
        time.sleep(args.slow + 1)  # the slow indexer's one request lands
        calls = {i.id: fake.searches(i.id) - before[i.id] for i in indexers}
        print(
            f"\n50 identical searches at once: upstream requests per indexer {calls} (goal: 1 each); "
            f"page p50 {statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms"
        )
        before = {i.id: fake.searches(i.id) for i in indexers}
        took = stampede(server, sessions, "stampede")
        calls = {i.id: fake.searches(i.id) - before[i.id] for i in indexers}
        print(
            f"50 more, now cached: upstream requests {sum(calls.values())} (goal: 0); "
            f"page p50 {statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms"
        )
    finally:
        server.stop()
        fake.stop()


if __name__ == "__main__":
    main()
