"""A member's Get that needs approval asks instead of downloading; an admin's approval starts
the release picked, or the best one."""

from __future__ import annotations

import pytest
from django.test import Client

from media import requests
from media.models import Request, Title
from plank.models import get_preferences
from tests.factories import make_title, make_user
from tests.torrents import find_helpers
from tests.torrents.conftest import wait_for
from tests.torrents.fake_torznab import plain_indexer
from tests.torrents.find_helpers import FakeIndexer, release
from torrents import search, wanted
from torrents.models import Download, TitleSearch
from torrents.targets import TitleTarget

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_reads", "jobs"),
]
fake, fresh_search, jobs = find_helpers.fake, find_helpers.fresh_search, find_helpers.jobs

BEST = release("Night.Train.2019.1080p.WEB-DL.AAC2.0.H.264-GRP", 1, seeders=50, tmdb_id=4242)
OTHER = release("Night.Train.2019.720p.WEB-DL.AAC2.0.H.264-GRP", 2, seeders=20, tmdb_id=4242)


@pytest.fixture
def approval_on() -> None:
    prefs = get_preferences()
    prefs.members_need_approval = True
    prefs.save()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_members_get_asks_and_approval_starts_the_release_picked(fake, approval_on) -> None:
    fake.add(FakeIndexer("a", "A", [BEST, OTHER]))
    plain_indexer(fake, "a")
    member, admin = make_user("member"), make_user("admin")
    search.gather(search.Query(text="night train"), timeout=10)
    other = next(
        r
        for r in search.snapshot(search.Query(text="night train")).results
        if r.name == OTHER.title
    )
    response = logged_in(member).post(
        "/torrents/get", {"q": "night train", "ref": other.ref}, follow=True
    )
    assert "Asked an admin" in response.content.decode()
    request = Request.objects.get()
    title = request.title
    assert (request.requested_by, request.release_name, request.state) == (
        member,
        OTHER.title,
        "pending",
    )
    assert (title.title, title.year, title.magnet) == ("Night Train", 2019, "")
    assert not Download.objects.exists()
    requests.approve(request, admin, "enjoy")
    title.refresh_from_db()
    assert title.info_hash == OTHER.info_hash and Download.objects.filter(title=title).exists()
    assert TitleSearch.objects.get(title=title).trigger == TitleSearch.Trigger.APPROVED


def test_get_best_of_a_members_title_asks_and_approval_searches(fake, approval_on) -> None:
    member, admin = make_user("member"), make_user("admin")
    title = make_title(title="Night Train", year=2019, status="pending", magnet="", added_by=member)
    fake.add(FakeIndexer("a", "A", [BEST, OTHER]))
    plain_indexer(fake, "a")
    response = logged_in(member).post(f"/torrents/title/{title.pk}/get", follow=True)
    assert "Asked an admin" in response.content.decode()
    assert not Download.objects.exists()
    requests.approve(Request.objects.get(title=title), admin)
    wait_for(
        lambda: Title.objects.get(pk=title.pk).info_hash == BEST.info_hash, 20, "the best release"
    )
    wait_for(  # the search's row is written just after the release is attached
        lambda: TitleSearch.objects.get(title=title).state == TitleSearch.State.STARTED,
        10,
        "the search's outcome",
    )


def test_a_members_wanted_title_is_searched_but_not_started(fake, approval_on) -> None:
    fake.add(FakeIndexer("a", "A", [BEST]))
    plain_indexer(fake, "a")
    member = make_user("member")
    title = make_title(
        title="Night Train", year=2019, tmdb_id=4242, status="pending", magnet="", added_by=member
    )
    row = wait_for(
        lambda: TitleSearch.objects.filter(title=title, state="found").first(), 20, "the search"
    )
    assert row.outcome.startswith("Found 1 release; the best is")
    assert not Download.objects.exists()


def test_admins_never_need_approval(fake, approval_on) -> None:
    fake.add(FakeIndexer("a", "A", [BEST]))
    plain_indexer(fake, "a")
    search.gather(search.Query(text="night train"), timeout=10)
    [result] = search.snapshot(search.Query(text="night train")).results
    logged_in(make_user("admin")).post("/torrents/get", {"q": "night train", "ref": result.ref})
    assert not Request.objects.exists()
    assert Download.objects.filter(info_hash=BEST.info_hash).exists()


def test_get_from_the_find_page_on_a_members_own_title_asks_too(fake, approval_on) -> None:
    """The find page's Get on a title already in the library (the member's own) is a request
    like any other Get: no download until an admin approves."""
    member = make_user("member")
    title = make_title(
        title="Night Train", year=2019, tmdb_id=4242, status="pending", magnet="", added_by=member
    )
    fake.add(FakeIndexer("a", "A", [BEST]))
    plain_indexer(fake, "a")
    target = TitleTarget(kind="movie", title="Night Train", year=2019, tmdb_id=4242)
    wanted.candidates(target, title)
    find_helpers.search._pool.join(10)
    params = {"kind": "movie", "tmdb": "4242", "title": "Night Train", "year": "2019"}
    response = logged_in(member).post("/torrents/find/get", params, follow=True)
    assert "Asked an admin" in response.content.decode()
    request = Request.objects.get()
    assert (request.title, request.requested_by, request.state) == (title, member, "pending")
    assert not Download.objects.exists()
    assert Title.objects.count() == 1  # asked for the title it is, not a new one
