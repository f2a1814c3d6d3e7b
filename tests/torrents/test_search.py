"""The search service and ``/torrents/``: fan-out with a timeout per indexer, answers as they
arrive, dedupe by info-hash, single-flight through the per-key cache, back-off, filters, sorts,
pages, 400s, Get, and the downloads list at /downloads/."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client

from media.models import Title
from plank.live import cache
from plank.live.models import Outbox
from tests.factories import make_title
from tests.torrents import find_helpers
from tests.torrents.fake_torznab import API_KEY, plain_indexer
from tests.torrents.find_helpers import FakeIndexer, release, wait_until
from torrents import live, search
from torrents.models import Download, IndexerAnswer, IndexerHealth
from torrents.results import BadFilter, Filters, apply, parse_size
from torrents.selection import Rules

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_reads")]
fake, fresh_search = find_helpers.fake, find_helpers.fresh_search  # fixtures

M1080 = release("The.Matrix.1999.1080p.BluRay.x264-SPARKS", 1, seeders=40, size=9_000_000_000)
M720 = release("The.Matrix.1999.720p.WEB-DL.AAC.x264-GRP", 2, seeders=12, size=1_400_000_000)
M2160 = release(
    "The.Matrix.1999.2160p.WEB-DL.DDP5.1.HEVC-NOGRP", 3, seeders=300, size=15_000_000_000
)
MCAM = release("The.Matrix.1999.HDCAM.x264", 4, seeders=900, size=700_000_000)
OTHER = release("Heat.1995.1080p.BluRay.x264-GRP", 5)


def three_indexers(fake):
    fake.add(FakeIndexer("fast", "Fast", [M1080, M720, MCAM]))
    fake.add(
        FakeIndexer(
            "slow",
            "Slow",
            [M2160, release(M1080.title, 1, seeders=70, size=9_000_000_000)],
            behaviour="slow",
            delay=2.0,
        )
    )
    fake.add(FakeIndexer("broken", "Broken", behaviour="error"))
    return [plain_indexer(fake, i, timeout=5) for i in ("fast", "slow", "broken")]


def states(snapshot: search.Snapshot) -> dict[str, str]:
    return {f.name: f.words for f in snapshot.feeds}


def test_results_arrive_as_each_indexer_answers(fake) -> None:
    three_indexers(fake)
    query = search.Query(text="matrix")
    started = time.monotonic()
    run = search.start(query)
    wait_until(
        lambda: any(f.state == "answered" for f in search.snapshot(query).feeds),
        5,
        "a first answer",
    )
    first = time.monotonic() - started
    early = search.snapshot(query)
    assert first < 1.0
    assert states(early)["Slow"] == "searching…"
    assert {r.name for r in early.results} == {M1080.title, M720.title, MCAM.title}
    assert search.wait(run, 10)
    late = search.snapshot(query)
    assert late.complete
    assert (
        states(late)["Broken"]
        == f"server error: 127.0.0.1:{fake.server.server_address[1]} answered HTTP 500"
    )
    assert states(late)["Slow"].startswith("answered 2 in 2.")
    # deduplicated by info-hash: the copy with the most seeders kept, "also on" the other
    by_name = {r.name: r for r in late.results}
    assert len(late.results) == 4
    assert (by_name[M1080.title].seeders, by_name[M1080.title].indexer) == (70, "Slow")
    assert by_name[M1080.title].also_on == ["Fast"]
    assert by_name[M1080.title].release.quality == "1080p"


def test_each_answer_announces_the_search_once(fake, empty_outbox) -> None:
    fake.add(FakeIndexer("fast", "Fast", [M1080]))
    plain_indexer(fake, "fast")
    query = search.Query(text="matrix")
    assert search.wait(search.start(query), 10)
    key = list(live.results(query.digest))
    rows = [row.keys for row in Outbox.objects.order_by("seq") if key in row.keys]
    assert rows == [[key]]  # "answered 1" (a first search needs no "searching" row)


def test_fifty_identical_searches_make_one_request_per_indexer(fake) -> None:
    three_indexers(fake)
    query = search.Query(text="matrix")
    barrier = threading.Barrier(50)
    snapshots = []

    def one() -> None:
        barrier.wait()
        snapshots.append(search.gather(query, timeout=15))

    threads = [threading.Thread(target=one) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(snapshots) == 50 and all(len(s.results) == 4 for s in snapshots)
    assert [fake.searches(i) for i in ("fast", "slow", "broken")] == [1, 1, 1]
    # and again later: from the cache (the broken one is backed off now)
    search.gather(query, timeout=15)
    assert [fake.searches(i) for i in ("fast", "slow", "broken")] == [1, 1, 1]


def test_a_backed_off_indexer_is_skipped_and_says_until_when(fake) -> None:
    three_indexers(fake)
    search.gather(search.Query(text="matrix"), timeout=15)
    later = search.gather(search.Query(text="heat"), timeout=15)
    assert states(later)["Broken"].startswith("skipped until ")
    assert states(later)["Broken"].endswith("— 1 server error")
    assert fake.searches("broken") == 1


def test_a_slow_indexer_times_out_without_failing_the_search(fake) -> None:
    fake.add(FakeIndexer("fast", "Fast", [M720]))
    fake.add(FakeIndexer("slow", "Slow", [M1080], behaviour="slow", delay=3))
    plain_indexer(fake, "fast")
    plain_indexer(fake, "slow", timeout=0.5)
    snapshot = search.gather(search.Query(text="matrix"), timeout=10)
    assert (
        states(snapshot)["Slow"]
        == f"timed out: no answer from 127.0.0.1:{fake.server.server_address[1]} within 0.5 s"
    )
    assert [r.name for r in snapshot.results] == [M720.title]
    assert IndexerHealth.objects.get(name="Slow").failure_kind == "timeout"


def test_garbage_and_hostile_indexers(fake) -> None:
    fake.add(FakeIndexer("garbage", "Garbage", behaviour="garbage"))
    fake.add(FakeIndexer("hostile", "Hostile", [M1080], behaviour="hostile"))
    plain_indexer(fake, "garbage")
    plain_indexer(fake, "hostile")
    snapshot = search.gather(search.Query(text="matrix"), timeout=10)
    assert states(snapshot)["Garbage"] == "not a Torznab feed: the answer is not XML"
    [hostile] = snapshot.results
    assert "<script>" in hostile.name and hostile.release.title == "The Matrix"


def test_an_answer_past_fifteen_minutes_is_fetched_again(fake, monkeypatch) -> None:
    fake.add(FakeIndexer("fast", "Fast", [M1080]))
    plain_indexer(fake, "fast")
    query = search.Query(text="matrix")
    search.gather(query, timeout=10)
    live_cache = cache.cache_for()
    real = live_cache.now
    monkeypatch.setattr(live_cache, "now", lambda: real() + search.STALE + 5)
    fake.indexers["fast"].releases.append(M720)
    snapshot = search.gather(query, timeout=10)
    assert fake.searches("fast") == 2
    assert len(snapshot.results) == 2


def test_title_searches_go_by_id_where_caps_allow(fake) -> None:
    fake.add(FakeIndexer("ids", "Ids", [release(M1080.title, 1, imdb_id="tt0133093")]))
    fake.add(FakeIndexer("words", "Words", [M720], movie_params="q"))
    fake.add(FakeIndexer("plain", "Plain", [M720], movie_params="", tv_params=""))
    for ident in ("ids", "words", "plain"):
        plain_indexer(fake, ident)
    query = search.Query(
        kind="movie", title="The Matrix", year=1999, imdb_id="tt0133093", tmdb_id=603
    )
    search.gather(query, timeout=10)
    sent = {ident: params for ident, params in fake.log if params.get("t") != "caps"}
    assert (sent["ids"]["t"], sent["ids"].get("imdbid"), sent["ids"].get("q")) == (
        "movie",
        "tt0133093",
        None,
    )
    assert (sent["words"]["t"], sent["words"]["q"]) == ("movie", "The Matrix 1999")
    assert (sent["plain"]["t"], sent["plain"]["q"]) == ("search", "The Matrix 1999")
    assert sent["ids"]["cat"] == "2000" and sent["ids"]["apikey"] == API_KEY


def test_tv_searches_send_season_and_episode(fake) -> None:
    fake.add(
        FakeIndexer(
            "tv", "TV", [release("Breaking.Bad.S01E02.720p.HDTV.x264-GRP", 9, tvdb_id=81189)]
        )
    )
    fake.add(FakeIndexer("old", "Old", [], tv_params="q"))
    plain_indexer(fake, "tv")
    plain_indexer(fake, "old")
    query = search.Query(kind="tv", title="Breaking Bad", tvdb_id=81189, season=1, episode=2)
    snapshot = search.gather(query, timeout=10)
    sent = {ident: params for ident, params in fake.log if params.get("t") != "caps"}
    assert (sent["tv"]["tvdbid"], sent["tv"]["season"], sent["tv"]["ep"]) == ("81189", "1", "2")
    assert sent["old"]["q"] == "Breaking Bad S01E02" and "season" not in sent["old"]
    assert [r.release.episodes for r in snapshot.results] == [(2,)]


# --------------------------------------------------------------------------- filters


def test_sizes_and_bad_values() -> None:
    assert parse_size("700MB", "min_size") == 700_000_000
    assert parse_size("1.5 GB", "min_size") == 1_500_000_000
    assert parse_size("800", "min_size") == 800_000_000
    with pytest.raises(BadFilter, match="min_size must be a size"):
        Filters.from_query({"q": "x", "min_size": "lots"})
    with pytest.raises(BadFilter, match="page must be a whole number"):
        Filters.from_query({"q": "x", "page": "0"})
    with pytest.raises(BadFilter, match="larger than max_size"):
        Filters.from_query({"q": "x", "min_size": "2GB", "max_size": "1GB"})
    lax = Filters.from_query(
        {"q": " the   matrix ", "sort": "nonsense", "order": "up", "quality": "8k", "category": "x"}
    )
    assert (lax.q, lax.sort, lax.order, lax.quality, lax.category) == (
        "the matrix",
        "relevance",
        "desc",
        "",
        "all",
    )


def test_filters_sorts_and_pages(fake) -> None:
    three_indexers(fake)
    results = search.gather(search.Query(text="matrix"), timeout=15).results
    rules = Rules.default()
    names = lambda page: [row.result.name for row in page.rows]  # noqa: E731
    best = apply(results, Filters(q="matrix"), rules)
    assert set(names(best)[-2:]) == {MCAM.title, M2160.title}  # rejected ones last
    assert {r.scored.rejected for r in best.rows[-2:]} == {
        "CAM: filmed in a cinema",
        "HEVC (H.265): your browser cannot play it",
    }
    assert names(best)[0] == M1080.title
    assert names(apply(results, Filters(q="matrix", quality="720p"), rules)) == [M720.title]
    sized = Filters(q="matrix", min_size=2_000_000_000, max_size=10_000_000_000)
    assert names(apply(results, sized, rules)) == [M1080.title]
    seeded = apply(results, Filters(q="matrix", min_seeders=100), rules)
    assert set(names(seeded)) == {M2160.title, MCAM.title}
    by_size = names(apply(results, Filters(q="matrix", sort="size", order="asc"), rules))
    assert by_size == [MCAM.title, M720.title, M1080.title, M2160.title]
    paged = apply(results, Filters(q="matrix", sort="size", order="asc", limit=3, page=2), rules)
    assert (names(paged), paged.pages, paged.total) == ([M2160.title], 2, 4)
    trusted = Rules(weights=rules.weights, trusted=frozenset({"sparks"}))
    assert names(apply(results, Filters(q="matrix", trusted=True), trusted)) == [M1080.title]


# --------------------------------------------------------------------------- the page


def test_the_search_page_shows_results_states_and_badges(fake, client_member: Client) -> None:
    three_indexers(fake)
    query = search.Query(text="matrix")
    page = client_member.get("/torrents/", {"q": "matrix"})
    assert page.status_code == 200
    assert f'data-live-key="torrents/results/{query.digest}"' in page.content.decode()
    wait_until(lambda: states(search.snapshot(query))["Fast"].startswith("answered"), 5, "Fast")
    html = client_member.get("/torrents/", {"q": "matrix"}).content.decode()
    assert M1080.title in html and "Fast" in html
    assert "searching…" in html  # the slow one is still on its way (2 s)
    search.wait(search.start(search.Query(text="matrix")), 10)
    partial = client_member.get(
        "/torrents/", {"q": "matrix", "partial": "results"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert M2160.title in partial and "answered 2" in partial
    assert "HEVC (H.265): your browser cannot play it" in partial
    assert "also on Fast" in partial
    assert "server error" in partial


def test_hostile_names_are_escaped_and_links_never_shown(fake, client_member: Client) -> None:
    fake.add(FakeIndexer("hostile", "Hostile", [M1080], behaviour="hostile"))
    fake.add(
        FakeIndexer(
            "keyed", "Keyed", [release("The.Matrix.1999.720p.WEB-DL.x264-ABC", 7, link="redirect")]
        )
    )
    plain_indexer(fake, "hostile")
    plain_indexer(fake, "keyed")
    search.gather(search.Query(text="matrix"), timeout=10)
    html = client_member.get("/torrents/", {"q": "matrix"}).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "onerror=alert" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert API_KEY not in html and "/dl/" not in html


@pytest.mark.parametrize("query", ["page=abc", "min_size=lots", "limit=100000", "min_seeders=-3"])
def test_bad_values_are_a_400_page(client_member: Client, query: str) -> None:
    page = client_member.get(f"/torrents/?q=matrix&{query}")
    assert page.status_code == 400
    assert b"That address can" in page.content


def test_get_adds_the_title_and_starts_its_download(fake, client_member: Client) -> None:
    fake.add(
        FakeIndexer(
            "keyed",
            "Keyed",
            [release("Night.Train.2019.1080p.WEB-DL.x264-GRP", 7, link="redirect")],
        )
    )
    plain_indexer(fake, "keyed")
    search.gather(search.Query(text="night train"), timeout=10)
    [result] = search.snapshot(search.Query(text="night train")).results
    response = client_member.post("/torrents/get", {"q": "night train", "ref": result.ref})
    title = Title.objects.get(info_hash=f"{7:040x}")
    assert response.status_code == 302 and response["Location"] == title.get_absolute_url()
    assert (title.title, title.year, title.kind) == ("Night Train", 2019, "movie")
    assert Download.objects.filter(title=title).exists()
    assert fake.downloads["keyed 0"] == 1  # the link was followed by Plank, to its magnet
    again = client_member.post(
        "/torrents/get", {"q": "night train", "ref": result.ref}, follow=True
    )
    assert "already in the library" in again.content.decode()
    gone = client_member.post("/torrents/get", {"q": "night train", "ref": "0" * 16}, follow=True)
    assert "no longer there" in gone.content.decode()


def test_the_downloads_list_moved_to_downloads(client_member: Client) -> None:
    title = make_title(status="downloading")
    assert client_member.get("/downloads/").status_code == 200
    moved = client_member.get("/torrents/?partial=list", HTTP_HX_REQUEST="true")
    assert (moved.status_code, moved["Location"]) == (302, "/downloads/?partial=list")
    old = client_member.post(f"/torrents/{title.pk}/pause")
    assert (old.status_code, old["Location"]) == (308, f"/downloads/{title.pk}/pause")


def test_rows_of_old_searches_are_pruned(fake) -> None:
    fake.add(FakeIndexer("fast", "Fast", [M1080]))
    plain_indexer(fake, "fast")
    search.gather(search.Query(text="matrix"), timeout=10)
    IndexerAnswer.objects.update(started_at="2000-01-01T00:00:00Z")
    search._last_prune = 0.0
    search.start(search.Query(text="heat"))
    assert not IndexerAnswer.objects.filter(search=search.Query(text="matrix").digest).exists()
