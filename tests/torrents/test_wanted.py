"""Releases for a title: matching, Find releases in the background with its outcome live, the
release cache per title and Browse's "12 releases · best 1080p", Get best, wanted titles
searched at once and on a schedule, and the pages."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from media.models import Title
from media.release_names import parse_release_name
from plank.live import cache
from tests.factories import make_show, make_title, make_user
from tests.torrents import find_helpers
from tests.torrents.conftest import wait_for
from tests.torrents.fake_torznab import plain_indexer
from tests.torrents.find_helpers import FakeIndexer, release
from torrents import live, wanted
from torrents.models import Download, TitleSearch
from torrents.targets import TitleTarget, matches

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_reads", "jobs"),
]
fake, fresh_search, jobs = find_helpers.fake, find_helpers.fresh_search, find_helpers.jobs

IMDB = "tt0133093"
BEST = release(
    "The.Matrix.1999.1080p.BluRay.x264-SPARKS", 1, seeders=80, size=9_000_000_000, imdb_id=IMDB
)
OK = release(
    "The.Matrix.1999.720p.WEB-DL.AAC.x264-GRP", 2, seeders=20, size=1_500_000_000, imdb_id=IMDB
)
HEVC = release(
    "The.Matrix.1999.2160p.WEB-DL.DDP5.1.HEVC-NOGRP",
    3,
    seeders=300,
    size=15_000_000_000,
    imdb_id=IMDB,
)
RELOADED = release("The.Matrix.Reloaded.2003.1080p.BluRay.x264-GRP", 4, seeders=90)
CAM = release("The Matrix Resurrections 2021 HDCAM x264", 5, seeders=500, size=800_000_000)


def matrix(**fields) -> Title:
    fields.setdefault("title", "The Matrix")
    fields.setdefault("year", 1999)
    fields.setdefault("tmdb_id", 603)
    fields.setdefault("imdb_id", IMDB)
    return make_title(status="pending", magnet="", **fields)


def result(name: str, **fields) -> SimpleNamespace:
    return SimpleNamespace(
        release=parse_release_name(name),
        imdb_id=fields.get("imdb_id", ""),
        tmdb_id=fields.get("tmdb_id"),
    )


def until(row_state: str, title: Title, timeout: float = 20) -> TitleSearch:
    return wait_for(
        lambda: TitleSearch.objects.filter(title=title, state=row_state).first(),
        timeout,
        f"the search to be {row_state}",
    )


@pytest.mark.parametrize(
    ("name", "fields", "expected"),
    [
        ("The.Matrix.1999.1080p.BluRay.x264-GRP", {}, True),
        ("Matrix.1999.1080p.BluRay.x264-GRP", {}, True),  # "The" dropped
        ("The.Matrix.2000.1080p.BluRay.x264-GRP", {}, True),  # a year off is allowed
        ("The.Matrix.2003.1080p.BluRay.x264-GRP", {}, False),
        ("The.Matrix.Reloaded.2003.1080p.BluRay.x264-GRP", {}, False),
        ("Totally Different Name 1080p", {"imdb_id": IMDB}, True),  # ids win
        ("The.Matrix.1999.1080p.BluRay.x264-GRP", {"imdb_id": "tt0234215"}, False),
        ("The.Matrix.S01E01.1080p.WEB.x264-GRP", {}, False),  # not a movie
    ],
)
def test_which_releases_are_the_titles(name: str, fields: dict, expected: bool) -> None:
    target = TitleTarget(kind="movie", title="The Matrix", year=1999, imdb_id=IMDB)
    assert matches(result(name, **fields), target) is expected


def test_a_show_matches_its_season_and_episode() -> None:
    season = TitleTarget(kind="tv", title="Breaking Bad", season=2)
    assert matches(result("Breaking.Bad.S02.1080p.BluRay.x264-ROVERS"), season)
    assert matches(result("Breaking.Bad.S02E03.720p.HDTV.x264-GRP"), season)
    assert not matches(result("Breaking.Bad.S01E03.720p.HDTV.x264-GRP"), season)
    episode = TitleTarget(kind="tv", title="Breaking Bad", season=2, episode=3)
    assert not matches(result("Breaking.Bad.S02E04.720p.HDTV.x264-GRP"), episode)


def test_a_show_is_searched_by_its_first_season_without_files() -> None:
    show = make_show(seasons={1: 3, 2: 4}, title="Breaking Bad", tmdb_id=1396)
    target = TitleTarget.of(show)
    assert (target.season, target.episodes_in_season) == (1, 3)
    assert target.identity() == ("tv", "tmdb", 1396, "s1")
    assert TitleTarget.of(show, season=2).query().words == "Breaking Bad S02"


def test_find_releases_in_the_background_with_its_outcome(fake, client_member: Client) -> None:
    fake.add(FakeIndexer("a", "A", [BEST, HEVC, RELOADED]))
    fake.add(FakeIndexer("b", "B", [OK, CAM], movie_params="q"))
    plain_indexer(fake, "a")
    plain_indexer(fake, "b")
    title = matrix()  # no indexer when it was added? there is: it is searched at once
    row = until(TitleSearch.State.STARTED, title)
    title.refresh_from_db()
    assert title.info_hash == BEST.info_hash and Download.objects.filter(title=title).exists()
    assert row.trigger == TitleSearch.Trigger.WANTED
    assert row.found == 3 and row.acceptable == 2
    assert (
        row.outcome
        == f"Found 3 releases; started “{BEST.title}” (score {row.outcome.split('score ')[1][:-2]})."
    )
    # the release cache per title, and Browse's card from it
    target = TitleTarget.of(title)
    assert target.cache_key() == ("torrents", "releases", "movie", "tmdb", 603)
    assert wanted.summary(target) == "3 releases · best 1080p"
    card = client_member.get("/torrents/badge/movie/603", HTTP_HX_REQUEST="true").content.decode()
    assert "3 releases · best 1080p" in card and 'data-live-key="torrents/badge/movie/603"' in card


def test_the_title_page_shows_candidates_reasons_and_rejections(fake, client_owner: Client) -> None:
    title = matrix()  # added before any indexer: not searched
    fake.add(FakeIndexer("a", "A", [BEST, HEVC, OK]))
    plain_indexer(fake, "a")
    assert client_owner.post(f"/torrents/title/{title.pk}/find").status_code == 302
    until(TitleSearch.State.FOUND, title)
    section = client_owner.get(
        f"/torrents/title/{title.pk}/", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'data-live-key="torrents/title/{title.pk}"' in section
    assert f"Found 3 releases; the best is “{BEST.title}”" in section
    assert "HEVC (H.265): your browser cannot play it" in section
    assert "H.264 plays in the browser" in section and "Get best" in section
    page = client_owner.get(title.get_absolute_url()).content.decode()
    assert f'hx-get="/torrents/title/{title.pk}/"' in page  # the title page loads the section
    # Get best starts the best one
    response = client_owner.post(f"/torrents/title/{title.pk}/get", follow=True)
    assert f"Started “{BEST.title}”." in response.content.decode()
    title.refresh_from_db()
    assert title.info_hash == BEST.info_hash and title.release_name == BEST.title
    assert TitleSearch.objects.get(title=title).state == TitleSearch.State.STARTED


def test_get_one_candidate_by_hand(fake, client_owner: Client) -> None:
    title = matrix()
    fake.add(FakeIndexer("a", "A", [BEST, OK]))
    plain_indexer(fake, "a")
    wanted.find_releases(title)
    until(TitleSearch.State.FOUND, title)
    found = wanted.remembered(TitleTarget.of(title))
    ok = next(r for r in found.releases if r.name == OK.title)
    client_owner.post(f"/torrents/title/{title.pk}/get", {"ref": ok.ref})
    title.refresh_from_db()
    assert title.info_hash == OK.info_hash
    assert "chosen by hand" in TitleSearch.objects.get(title=title).outcome


def test_only_the_one_who_added_it_chooses_its_release(fake) -> None:
    alice, bob = make_user("member"), make_user("member")
    title = matrix(added_by=alice)
    client = Client()
    client.force_login(bob)
    response = client.post(f"/torrents/title/{title.pk}/get")
    assert response.status_code == 403
    assert b"Only the person who added this title" in response.content


def test_nothing_that_fits_is_searched_again_on_a_schedule(fake) -> None:
    fake.add(FakeIndexer("a", "A", [HEVC, CAM]))
    indexer = plain_indexer(fake, "a")
    title = matrix()
    row = until(TitleSearch.State.NOTHING, title)
    assert row.next_at is not None and row.next_at > timezone.now() + timedelta(hours=5)
    assert "1 release found, none fits: HEVC (H.265): your browser cannot play it." in row.outcome
    assert "Searching again at" in row.outcome
    assert wanted.research_wanted() == "No wanted title is due."
    # later a good release turns up, and the schedule's search starts it
    fake.indexers["a"].releases.append(BEST)
    cache.invalidate(live.search(indexer.pk))  # hours later, its answers are old
    TitleSearch.objects.filter(pk=row.pk).update(next_at=timezone.now() - timedelta(minutes=1))
    progress = []
    run = SimpleNamespace(
        cancelled=False, progress=lambda done, total, text: progress.append((done, total))
    )
    assert wanted.research_wanted(run) == "Searched 1 wanted title: 1 started, 0 still waiting."
    title.refresh_from_db()
    assert title.info_hash == BEST.info_hash
    assert progress[0] == (0, 1) and progress[-1] == (1, 1)


def test_no_indexer_says_so(client_owner: Client) -> None:
    title = matrix()
    wanted.find_releases(title)
    row = until(TitleSearch.State.FAILED, title)
    assert row.outcome.startswith("No indexer is enabled")


def test_the_find_page_of_a_browse_title(fake, client_member: Client) -> None:
    fake.add(FakeIndexer("a", "A", [BEST, OK, RELOADED]))
    plain_indexer(fake, "a")
    params = {"kind": "movie", "tmdb": "603", "title": "The Matrix", "year": "1999", "imdb": IMDB}
    page = client_member.get("/torrents/find/", params)
    assert page.status_code == 200
    wanted.candidates(
        TitleTarget(kind="movie", title="The Matrix", year=1999, tmdb_id=603, imdb_id=IMDB), None
    )
    find_helpers.search._pool.join(10)
    html = client_member.get(
        "/torrents/find/", params | {"partial": "results"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert BEST.title in html and OK.title in html and "Get best" in html
    response = client_member.post("/torrents/find/get", params)
    title = Title.objects.get(info_hash=BEST.info_hash)
    assert response["Location"] == title.get_absolute_url()
    assert (title.title, title.year) == ("The Matrix", 1999)  # TMDB matching fills in the rest
    # a title of the library with that TMDB id: its own page has the releases
    Title.objects.filter(pk=title.pk).update(tmdb_id=603)
    assert client_member.get("/torrents/find/", params)["Location"] == title.get_absolute_url()
    assert client_member.get("/torrents/find/", {"kind": "movie"}).status_code == 400


def test_the_scheduler_runs_the_wanted_search(fake) -> None:
    from plank import scheduler  # the scheduler's own run of the task
    from plank.models import TaskRun

    assert scheduler.get("wanted-releases").fn is wanted.research_wanted
    title = matrix()  # before any indexer: never searched, so due
    fake.add(FakeIndexer("a", "A", [BEST]))
    plain_indexer(fake, "a")
    run = TaskRun.objects.create(task="wanted-releases")
    outcome = scheduler.execute(run.pk)
    assert outcome == "Searched 1 wanted title: 1 started, 0 still waiting."
    title.refresh_from_db()
    assert title.info_hash == BEST.info_hash
    assert TitleSearch.objects.get(title=title).trigger == TitleSearch.Trigger.SCHEDULE


def test_a_search_whose_process_died_can_be_run_again(client_owner: Client) -> None:
    title = matrix()
    TitleSearch.objects.create(
        title=title, state="searching", started_at=timezone.now() - timedelta(minutes=10)
    )
    section = client_owner.get(f"/torrents/title/{title.pk}/", HTTP_HX_REQUEST="true")
    assert "The search was interrupted" in section.content.decode()
    assert title in wanted.wanted_titles()
