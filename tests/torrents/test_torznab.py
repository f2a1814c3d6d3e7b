"""The Torznab protocol against the local Torznab server (tests/torrents/fake_torznab.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.torrents.fake_torznab import (
    API_KEY,
    BILLION_LAUGHS,
    FakeIndexer,
    FakeRelease,
    FakeTorznab,
    running,
)
from torrents import torznab
from torrents.torznab import Client, TorznabError

MATRIX = FakeRelease(
    "The.Matrix.1999.1080p.BluRay.x264-GRP",
    "c9e15763f722f23e98a29decdfae341b98d53056",
    size=8_000_000_000,
    seeders=120,
    leechers=7,
    imdb_id="tt0133093",
    tmdb_id=603,
)
MATRIX_WEB = FakeRelease(
    "The Matrix 1999 2160p WEB-DL DDP5.1 H.265-NOGRP",
    "1111111111111111111111111111111111111111",
    seeders=30,
    link="redirect",
    imdb_id="tt0133093",
)


@pytest.fixture
def fake() -> Iterator[FakeTorznab]:
    with running(
        [
            FakeIndexer("good", "Good", [MATRIX, MATRIX_WEB]),
            FakeIndexer("slow", "Slow", [MATRIX], behaviour="slow", delay=2.0),
            FakeIndexer("broken", "Broken", behaviour="error"),
            FakeIndexer("limited", "Limited", behaviour="ratelimit", retry_after=90),
            FakeIndexer("garbage", "Garbage", behaviour="garbage"),
            FakeIndexer("hostile", "Hostile", [MATRIX], behaviour="hostile"),
        ]
    ) as server:
        yield server


def client(fake: FakeTorznab, ident: str, timeout: float = 5.0, key: str = API_KEY) -> Client:
    return Client(fake.url_for(ident), key, timeout=timeout)


def test_caps_say_which_modes_and_parameters(fake: FakeTorznab) -> None:
    caps = client(fake, "good").caps()
    assert caps.title == "Jackett"
    assert caps.supports("movie", "imdbid") and caps.supports("tvsearch", "tvdbid")
    assert not caps.supports("movie", "tvdbid")
    assert (2000, "Movies") in caps.categories and (2040, "Movies/HD") in caps.categories
    assert caps.limit_max == 100
    assert "movie (imdbid, q, tmdbid)" in caps.describe()


def test_a_search_gives_items_with_every_attribute(fake: FakeTorznab) -> None:
    items = client(fake, "good").search({"t": "movie", "imdbid": "tt0133093"})
    assert [i.title for i in items] == [MATRIX.title, MATRIX_WEB.title]
    first = items[0]
    assert first.info_hash == MATRIX.info_hash  # upper case in the feed
    assert first.magnet.startswith("magnet:?xt=urn:btih:c9e15763")
    assert (first.size, first.seeders, first.leechers) == (8_000_000_000, 120, 7)
    assert first.imdb_id == "tt0133093" and first.tmdb_id == 603
    assert first.categories == (2000, 2040)
    assert time.time() - first.published == pytest.approx(3 * 86400, abs=120)
    second = items[1]
    assert second.magnet == "" and second.link.startswith(f"{fake.base}/dl/good/")
    assert fake.count("good", "movie") == 1


def test_a_real_recorded_feed_parses(fake: FakeTorznab) -> None:
    """The feed recorded in Sonarr's tests (torznab_tpb.xml), one item of it, as it is."""
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="1.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:torznab="http://torznab.com/schemas/2015/feed">
  <channel>
    <title>The Pirate Bay</title>
    <item>
      <title>Series Title S05E02 HDTV x264-Xclusive [eztv]</title>
      <guid>https://thepiratebay.se/torrent/11811366/Series_Title_S05E02_HDTV_x264-Xclusive_[eztv]</guid>
      <pubDate>Sat, 11 Apr 2015 21:34:00 -0600</pubDate>
      <size>388895872</size>
      <link>magnet:?xt=urn:btih:9fb267cff5ae5603f07a347676ec3bf3e35f75e1&amp;dn=Game+of+Thrones</link>
      <enclosure url="magnet:?xt=urn:btih:9fb267cff5ae5603f07a347676ec3bf3e35f75e1" length="388895872" type="application/x-bittorrent;x-scheme-handler/magnet" />
      <torznab:attr name="seeders" value="34128" />
      <torznab:attr name="peers" value="36724" />
      <torznab:attr name="infohash" value="9fb267cff5ae5603f07a347676ec3bf3e35f75e1" />
    </item>
  </channel>
</rss>"""
    [item] = torznab.parse_feed(data)
    assert item.info_hash == "9fb267cff5ae5603f07a347676ec3bf3e35f75e1"
    assert (item.seeders, item.leechers, item.size) == (34128, 2596, 388895872)
    assert item.published is not None


@pytest.mark.parametrize(
    ("ident", "kind", "words"),
    [
        ("broken", torznab.SERVER, "server error"),
        ("garbage", torznab.NOT_TORZNAB, "not XML"),
        ("limited", torznab.RATE_LIMITED, "retry after 90 s"),
        ("nowhere", torznab.INDEXER, "Indexer is not configured"),
    ],
)
def test_failures_say_what_is_wrong(fake: FakeTorznab, ident: str, kind: str, words: str) -> None:
    with pytest.raises(TorznabError) as caught:
        client(fake, ident).search({"t": "search", "q": "matrix"})
    assert caught.value.kind == kind
    assert words in caught.value.message
    assert API_KEY not in caught.value.message


def test_a_429_carries_its_retry_after(fake: FakeTorznab) -> None:
    with pytest.raises(TorznabError) as caught:
        client(fake, "limited").search({"t": "search", "q": "matrix"})
    assert caught.value.retry_after == 90 and caught.value.transient


def test_a_wrong_key_is_named(fake: FakeTorznab) -> None:
    with pytest.raises(TorznabError) as caught:
        client(fake, "good", key="nope").caps()
    assert caught.value.kind == torznab.AUTH
    assert "wrong API key" in caught.value.message


def test_a_slow_indexer_times_out_within_its_timeout(fake: FakeTorznab) -> None:
    started = time.monotonic()
    with pytest.raises(TorznabError) as caught:
        client(fake, "slow", timeout=0.5).search({"t": "search", "q": "matrix"})
    assert time.monotonic() - started < 1.5
    assert caught.value.kind == torznab.TIMEOUT
    assert "within 0.5 s" in caught.value.message


def test_an_unreachable_indexer_says_so() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(TorznabError) as caught:
        Client(f"http://127.0.0.1:{port}/api", "k", timeout=2).caps()
    assert caught.value.kind == torznab.UNREACHABLE
    assert f"127.0.0.1:{port}" in caught.value.message


def test_a_web_page_is_not_a_feed(fake: FakeTorznab) -> None:
    with pytest.raises(TorznabError) as caught:
        Client(f"{fake.base}/html", timeout=2).caps()
    assert caught.value.kind == torznab.NOT_TORZNAB and "web page" in caught.value.message


def test_hostile_titles_stay_text(fake: FakeTorznab) -> None:
    [item] = client(fake, "hostile").search({"t": "search", "q": "matrix"})
    assert item.title.startswith("<script>alert(")  # kept as text; templates escape it
    assert item.info_hash == MATRIX.info_hash


@pytest.mark.parametrize("t", ["caps", "movie"])
def test_entity_expansion_and_external_entities_are_refused(fake: FakeTorznab, t: str) -> None:
    c = client(fake, "hostile")
    with pytest.raises(TorznabError) as caught:
        c.caps() if t == "caps" else c.search({"t": "movie", "imdbid": "tt0133093"})
    assert caught.value.kind == torznab.HOSTILE
    with pytest.raises(TorznabError):
        torznab.parse_feed(BILLION_LAUGHS)


def test_jackett_lists_its_configured_indexers(fake: FakeTorznab) -> None:
    aggregate = Client(f"{fake.jackett_url}/api/v2.0/indexers/all/results/torznab", API_KEY)
    listed = aggregate.indexers()
    assert [i.id for i in listed][:2] == ["good", "slow"]
    assert listed[0].caps is not None and listed[0].caps.supports("movie", "imdbid")


def test_a_redirect_to_a_magnet_is_followed(fake: FakeTorznab) -> None:
    [_, web] = client(fake, "good").search({"t": "search", "q": "matrix"})
    fetched = torznab.fetch_release(web.link, timeout=5)
    assert fetched.magnet.startswith("magnet:?xt=urn:btih:1111111111")
    assert fetched.torrent == b""


def test_a_torrent_link_gives_its_bytes_within_a_limit(fake: FakeTorznab) -> None:
    data = b"d8:announce3:abc4:infod4:name4:testee"
    fake.add(
        FakeIndexer(
            "files",
            "Files",
            [FakeRelease("A.Film.2020.1080p.WEB", "2" * 40, link="torrent", torrent=data)],
        )
    )
    [item] = client(fake, "files").search({"t": "search", "q": "film"})
    assert torznab.fetch_release(item.link, timeout=5).torrent == data
    with pytest.raises(TorznabError) as caught:
        torznab.fetch_release(item.link, timeout=5, max_bytes=10)
    assert caught.value.kind == torznab.TOO_BIG


def test_info_hashes_are_normalised() -> None:
    assert torznab.info_hash_of("C9E15763F722F23E98A29DECDFAE341B98D53056") == (
        "c9e15763f722f23e98a29decdfae341b98d53056"
    )
    assert torznab.info_hash_of("(removed)") == ""
    base32 = "ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW"  # the same hash in base32
    assert torznab.info_hash_of(f"magnet:?xt=urn:btih:{base32}&dn=x") == MATRIX.info_hash
