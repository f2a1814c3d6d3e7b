"""Indexers: Jackett and Prowlarr listings, caps cached a day, "Test" in words, health and the
back-off, /system/, the settings page and ``manage.py indexers``."""

from __future__ import annotations

import io
import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from tests.factories import make_indexer
from tests.torrents import find_helpers
from tests.torrents.fake_torznab import API_KEY, plain_indexer
from tests.torrents.find_helpers import FakeIndexer, release
from torrents import indexers, torznab
from torrents.models import Indexer, IndexerHealth

pytestmark = pytest.mark.django_db
fake, fresh_search = find_helpers.fake, find_helpers.fresh_search  # fixtures

MATRIX = release("The.Matrix.1999.1080p.BluRay.x264-GRP", 1, imdb_id="tt0133093")


def test_jackett_is_the_indexers_configured_in_it(fake) -> None:
    fake.add(FakeIndexer("1337x", "1337x", [MATRIX]))
    fake.add(FakeIndexer("rarbg", "RARBG", [MATRIX], movie_params="q"))
    jackett = make_indexer(name="Jackett", kind="jackett", url=fake.jackett_url, api_key=API_KEY)
    feeds = indexers.endpoints(jackett)
    assert [(e.key, e.name) for e in feeds] == [
        ("1337x", "Jackett · 1337x"),
        ("rarbg", "Jackett · RARBG"),
    ]
    assert feeds[0].url == f"{fake.jackett_url}/api/v2.0/indexers/1337x/results/torznab/"
    assert feeds[0].caps.supports("movie", "imdbid") and not feeds[1].caps.supports(
        "movie", "imdbid"
    )
    # never the aggregate's search
    items = indexers.query(feeds[0], {"t": "search", "q": "matrix"})
    assert [i.source for i in items] == ["1337x"]
    assert fake.count("all", "search") == 0


def test_prowlarr_lists_its_indexers_with_the_key_in_a_header(fake) -> None:
    fake.add(FakeIndexer("7", "Kinozal", [MATRIX]))
    prowlarr = make_indexer(
        name="Prowlarr", kind="prowlarr", url=fake.prowlarr_url, api_key=API_KEY
    )
    [feed] = indexers.endpoints(prowlarr)
    assert (feed.key, feed.url) == ("7", f"{fake.prowlarr_url}/7/api")
    [item] = indexers.query(feed, {"t": "search", "q": "matrix"})
    assert item.title == MATRIX.title


@pytest.mark.django_db(transaction=True)  # the save's announcement runs after its commit
def test_a_listing_is_kept_an_hour(fake) -> None:
    fake.add(FakeIndexer("a", "A"))
    jackett = make_indexer(name="J", kind="jackett", url=fake.jackett_url, api_key=API_KEY)
    indexers.endpoints(jackett)
    fake.add(FakeIndexer("b", "B"))
    assert [e.key for e in indexers.endpoints(jackett)] == ["a"]  # from the cache
    jackett.save()  # its declaration makes its listing stale
    assert [e.key for e in indexers.endpoints(jackett)] == ["a", "b"]


def test_caps_are_read_once_a_day(fake) -> None:
    fake.add(FakeIndexer("good", "Good"))
    [feed] = indexers.endpoints(plain_indexer(fake, "good"))
    for _ in range(3):
        assert indexers.caps_of(feed).supports("movie", "imdbid")
    assert fake.count("good", "caps") == 1


def test_failing_caps_fall_back_to_plain_search(fake) -> None:
    fake.add(FakeIndexer("hostile", "Hostile", behaviour="hostile"))
    [feed] = indexers.endpoints(plain_indexer(fake, "hostile"))
    caps = indexers.caps_of(feed)
    assert caps.supports("search", "q") and not caps.movie.available


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("wrong_key", "wrong API key"),
        ("unreachable", "unreachable: could not connect to 127.0.0.1:"),
        ("html", "not a Torznab feed: the answer is a web page"),
        ("no_modes", "answers, but has no movie or TV search"),
        ("jackett_wrong_key", "wrong API key (Invalid API Key)"),
        ("prowlarr_wrong_key", "wrong API key: 127.0.0.1:"),
    ],
)
def test_test_says_what_is_wrong(fake, setup: str, words: str) -> None:
    fake.add(FakeIndexer("plain", "Plain", movie_params="", tv_params=""))
    if setup == "wrong_key":
        indexer = make_indexer(url=fake.url_for("plain"), api_key="nope")
    elif setup == "unreachable":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        indexer = make_indexer(url=f"http://127.0.0.1:{port}/api", api_key="k", timeout=2)
    elif setup == "html":
        indexer = make_indexer(url=f"{fake.base}/html", api_key="k")
    elif setup == "no_modes":
        indexer = plain_indexer(fake, "plain")
    elif setup == "jackett_wrong_key":
        indexer = make_indexer(kind="jackett", url=fake.jackett_url, api_key="nope")
    else:
        indexer = make_indexer(kind="prowlarr", url=fake.prowlarr_url, api_key="nope")
    report = indexers.test(indexer)
    assert not report.ok
    assert words in report.text
    assert API_KEY not in report.text and "nope" not in report.text


def test_test_of_a_working_indexer(fake) -> None:
    fake.add(FakeIndexer("good", "Good"))
    report = indexers.test(plain_indexer(fake, "good"))
    assert report.ok and "OK — search (q), tv (" in report.text


def test_failures_back_off_exponentially_and_honour_retry_after(fake) -> None:
    fake.add(FakeIndexer("broken", "Broken", behaviour="error"))
    fake.add(FakeIndexer("limited", "Limited", behaviour="ratelimit", retry_after=900))
    [broken] = indexers.endpoints(plain_indexer(fake, "broken"))
    [limited] = indexers.endpoints(plain_indexer(fake, "limited"))
    waits = []
    for _ in range(3):
        with pytest.raises(torznab.TorznabError):
            indexers.query(broken, {"t": "search", "q": "x"})
        row = IndexerHealth.objects.get(indexer_id=broken.indexer_id)
        waits.append((row.skipped_until - row.last_attempt_at).total_seconds())
    assert waits == [30, 60, 120]
    assert indexers.skip_reason(row).endswith("— 3 server errors")
    assert row.error_rate == 1.0
    with pytest.raises(torznab.TorznabError):
        indexers.query(limited, {"t": "search", "q": "x"})
    row = IndexerHealth.objects.get(indexer_id=limited.indexer_id)
    assert (row.skipped_until - row.last_attempt_at).total_seconds() == 900
    assert "1 rate limit" in indexers.skip_reason(row)


def test_a_success_ends_the_back_off(fake) -> None:
    fake.add(FakeIndexer("flaky", "Flaky", [MATRIX], behaviour="error"))
    [feed] = indexers.endpoints(plain_indexer(fake, "flaky"))
    with pytest.raises(torznab.TorznabError):
        indexers.query(feed, {"t": "search", "q": "matrix"})
    fake.indexers["flaky"].behaviour = "ok"
    assert len(indexers.query(feed, {"t": "search", "q": "matrix"})) == 1
    row = IndexerHealth.objects.get(indexer_id=feed.indexer_id)
    assert (row.failures, row.skipped_until, row.recent) == (0, None, "eo")
    assert row.error_rate == 0.5


def test_health_on_the_system_page(fake, client_owner) -> None:
    fake.add(FakeIndexer("slow", "Slow", behaviour="slow", delay=2))
    [feed] = indexers.endpoints(plain_indexer(fake, "slow", timeout=0.5))
    for _ in range(3):
        with pytest.raises(torznab.TorznabError):
            indexers.query(feed, {"t": "search", "q": "x"})
    check = indexers.health_check()
    assert not check.ok and "1 skipped" in check.summary
    assert check.table[0] == ["Indexer", "Last answer", "Took", "Error rate", "State"]
    assert "— 3 timeouts" in check.table[1][4] and check.table[1][3] == "100% of 3"
    page = client_owner.get("/system/").content.decode()
    assert "skipped until" in page and "3 timeouts" in page


def test_the_api_key_is_encrypted_at_rest_and_never_shown(client_owner) -> None:
    indexer = make_indexer(name="Secret", api_key="very-secret-key-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM torrents_indexer WHERE id = %s", [indexer.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("enc1:") and "very-secret" not in stored
    assert Indexer.objects.get(pk=indexer.pk).api_key == "very-secret-key-123"
    for url in (
        "/settings/indexers/",
        f"/settings/indexers/{indexer.pk}/",
        f"/admin/torrents/indexer/{indexer.pk}/change/",
    ):
        page = client_owner.get(url)
        assert page.status_code == 200, url
        assert b"very-secret-key-123" not in page.content, url


def test_the_settings_page_adds_edits_and_removes(fake, client_admin, client_member) -> None:
    fake.add(FakeIndexer("good", "Good"))
    data = {
        "name": "Good",
        "kind": "torznab",
        "url": fake.url_for("good"),
        "api_key": API_KEY,
        "enabled": "on",
        "priority": "10",
        "categories": "2000, 5000",
        "timeout": "8",
        "min_seeders": "3",
    }
    assert client_member.post("/settings/indexers/add", data).status_code == 403
    response = client_admin.post("/settings/indexers/add", data, follow=True)
    assert "Added “Good”. Good: OK" in response.content.decode()
    indexer = Indexer.objects.get(name="Good")
    assert (indexer.categories, indexer.timeout, indexer.api_key) == ("2000,5000", 8.0, API_KEY)
    # an empty key field keeps the saved key
    edit = dict(data, api_key="", timeout="12")
    assert client_admin.post(f"/settings/indexers/{indexer.pk}/", edit).status_code == 302
    indexer.refresh_from_db()
    assert (indexer.timeout, indexer.api_key) == (12.0, API_KEY)
    bad = client_admin.post(
        "/settings/indexers/add", dict(data, name="Bad", url="ftp://x", timeout="0")
    )
    assert bad.status_code == 400 and b"Give a timeout from 1 to 120 seconds." in bad.content
    assert not Indexer.objects.filter(name="Bad").exists()
    test = client_admin.post(f"/settings/indexers/{indexer.pk}/test", HTTP_HX_REQUEST="true")
    assert b"OK" in test.content
    assert client_member.post(f"/settings/indexers/{indexer.pk}/delete").status_code == 403
    assert client_admin.post(f"/settings/indexers/{indexer.pk}/delete").status_code == 302
    assert not Indexer.objects.exists()


def test_the_command_adds_lists_tests_and_removes(fake) -> None:
    fake.add(FakeIndexer("good", "Good"))
    out = io.StringIO()
    call_command(
        "indexers",
        "add",
        "Good",
        fake.url_for("good"),
        "--api-key",
        API_KEY,
        "--timeout",
        "5",
        stdout=out,
    )
    call_command("indexers", "list", stdout=out)
    call_command("indexers", "test", "Good", stdout=out)
    text = out.getvalue()
    assert "Added Good (Torznab feed)." in text and "Good: working" in text
    assert "key saved" in text and API_KEY not in text
    with pytest.raises(CommandError, match="No indexer is called “Nope”"):
        call_command("indexers", "test", "Nope", stdout=out)
    with pytest.raises(CommandError, match="url"):
        call_command("indexers", "add", "Bad", "not a url", stdout=out)
    call_command("indexers", "remove", "Good", stdout=out)
    assert not Indexer.objects.exists()


def test_a_test_that_fails_fails_the_command(fake) -> None:
    make_indexer(name="Dead", url=f"{fake.base}/html")
    with pytest.raises(CommandError, match="Not working: Dead"):
        call_command("indexers", "test", stdout=io.StringIO())


def test_skip_reason_names_the_clock() -> None:
    row = IndexerHealth(
        name="x",
        failures=3,
        failure_kind=torznab.TIMEOUT,
        skipped_until=timezone.now() + timedelta(minutes=30),
    )
    reason = indexers.skip_reason(row)
    local = timezone.localtime(row.skipped_until)
    assert reason == f"skipped until {local:%H:%M} — 3 timeouts"
