"""browse.matching: library titles matched to TMDB (automatically, refreshed, fixed by hand)."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, connections
from django.db.models.signals import pre_save
from django_tasks_db.models import DBTaskResult

from browse import discover, matching
from browse.models import MetadataSync
from browse.tmdb import NO_KEY_MESSAGE
from media.magnets import parse_magnet
from media.models import Episode, Season, Status, Title
from plank.live.models import Outbox
from plank.models import get_preferences
from tests.browse.fake_tmdb import MOVIES_BY_ID, SHOWS_BY_ID, FakeTMDB
from tests.browse.helpers import add, summary
from tests.conftest import MATRIX, SHOW
from tests.factories import make_file, make_title


def media_emits() -> int:
    return sum(1 for row in Outbox.objects.all() if ["media"] in row.keys)


# --- scoring --------------------------------------------------------------------------------


def test_exact_title_and_year_is_confident() -> None:
    assert (
        matching.score("The Matrix", 1999, summary("The Matrix", year=1999, popularity=300)) >= 0.95
    )
    assert (
        matching.score("the matrix", None, summary("The Matrix", year=1999, popularity=300)) >= 0.75
    )


def test_a_wrong_year_is_never_confident() -> None:
    confidence = matching.score("Dune", 2021, summary("Dune", year=1984, popularity=10_000))
    assert confidence < matching.CONFIDENCE_THRESHOLD


def test_one_year_off_still_matches() -> None:
    confidence = matching.score(
        "Blade Runner", 1982, summary("Blade Runner", year=1983, popularity=50)
    )
    assert confidence >= matching.CONFIDENCE_THRESHOLD


def test_a_different_title_is_not_confident() -> None:
    confidence = matching.score(
        "The Matrix", 2003, summary("The Matrix Reloaded", year=2003, popularity=300)
    )
    assert confidence < matching.CONFIDENCE_THRESHOLD


def test_close_runners_up_lower_the_confidence() -> None:
    alone = matching.rank_candidates(
        "Dune", None, [summary("Dune", year=2021, popularity=100, tmdb_id=1)]
    )
    both = matching.rank_candidates(
        "Dune",
        None,
        [
            summary("Dune", year=1984, popularity=90, tmdb_id=2),
            summary("Dune", year=2021, popularity=100, tmdb_id=1),
        ],
    )
    assert both[0].summary.tmdb_id == 1
    assert both[0].confidence < alone[0].confidence


def test_similarity_is_loose_about_punctuation_and_accents() -> None:
    assert matching.similarity("Amelie", "Amélie") == 1.0
    assert matching.similarity("Spider Man", "Spider-Man") == 1.0
    assert matching.similarity("", "x") == 0.0


# --- automatic matching ---------------------------------------------------------------------


def test_a_movie_added_by_magnet_is_matched(configured_tx: FakeTMDB) -> None:
    # Committed rows (transactional): each transaction's announcement is a row of its own.
    configured = configured_tx
    title = add(MATRIX, "movie")
    before = media_emits()
    outcome = matching.run_match(title.pk)
    assert outcome.applied is True and outcome.tmdb_id == 603
    title.refresh_from_db()
    movie = MOVIES_BY_ID[603]
    assert (title.tmdb_id, title.imdb_id, title.year) == (603, "tt0133093", 1999)
    assert title.poster == movie.poster_path
    assert title.overview == movie.overview
    assert title.original_title == "The Matrix"
    assert title.release_name.startswith("The.Matrix.1999")  # the release name is kept
    sync = MetadataSync.objects.get(title=title)
    assert sync.source == "auto" and sync.confidence >= matching.CONFIDENCE_THRESHOLD
    assert sync.synced_at is not None and sync.error == ""
    assert media_emits() == before + 1  # the title and its sync: one announcement
    assert configured.calls_to("/search/movie")[0]["year"] == "1999"


def test_a_show_gets_its_seasons_and_episodes(configured: FakeTMDB) -> None:
    title = add(SHOW, "tv")
    outcome = matching.run_match(title.pk)
    assert outcome.applied is True and outcome.tmdb_id == 1396
    title.refresh_from_db()
    assert title.title == "Breaking Bad" and title.imdb_id == "tt0903747"
    seasons = list(Season.objects.filter(show=title).order_by("number"))
    assert [s.number for s in seasons] == [0, 1, 2, 3, 4, 5]
    assert seasons[1].name == "Season 1"
    first = list(Episode.objects.filter(season=seasons[1]).order_by("number"))
    assert len(first) == 7
    assert first[0].name == "Pilot" and str(first[0].air_date) == "2008-01-20"
    expected = sum(len(s.episodes) for s in SHOWS_BY_ID[1396].seasons)
    assert Episode.objects.filter(season__show=title).count() == expected


def test_refreshing_a_matched_show_keeps_rows_and_their_files(configured: FakeTMDB) -> None:
    title = add(SHOW, "tv")
    matching.run_match(title.pk)
    pilot = Episode.objects.get(season__show=title, season__number=1, number=1)
    file = make_file(title, torrent_path="bb/s01e01.mkv", episode=pilot)
    Episode.objects.filter(pk=pilot.pk).update(name="Renamed locally")
    Title.objects.filter(pk=title.pk).update(overview="")
    configured.clear_calls()
    cache.clear()
    outcome = matching.run_match(title.pk)
    assert outcome.applied is True
    assert configured.calls_to("/search/*") == []  # refreshed by id, not searched again
    pilot.refresh_from_db()
    file.refresh_from_db()
    assert pilot.name == "Pilot" and file.episode_id == pilot.pk
    title.refresh_from_db()
    assert title.overview.startswith("Walter White")


def test_a_doubtful_candidate_is_not_applied(configured: FakeTMDB) -> None:
    title = make_title(kind="movie", title="Dark", year=2005)
    outcome = matching.run_match(title.pk)
    assert outcome.applied is False
    assert outcome.tmdb_id == 155  # The Dark Knight: found, but not close enough
    assert outcome.confidence is not None and outcome.confidence < matching.CONFIDENCE_THRESHOLD
    title.refresh_from_db()
    assert title.tmdb_id is None and title.poster == ""
    sync = MetadataSync.objects.get(title=title)
    assert sync.candidate_tmdb_id == 155 and "Fix match" in sync.error
    # searched with the year first, then without it
    assert [q.get("year") for q in configured.calls_to("/search/movie")] == ["2005", None]


def test_nothing_found(configured: FakeTMDB) -> None:
    title = make_title(kind="movie", title="Qwxzy Plorb")
    outcome = matching.run_match(title.pk)
    assert outcome.applied is False and outcome.confidence == 0.0
    assert MetadataSync.objects.get(title=title).error == "TMDB has nothing by that name."


def test_tmdb_down_leaves_the_title_and_records_why(configured: FakeTMDB) -> None:
    title = add(MATRIX, "movie")
    configured.fail("/search/movie", 503)
    outcome = matching.run_match(title.pk)
    assert outcome.applied is False and "HTTP 503" in outcome.message
    title.refresh_from_db()
    assert title.tmdb_id is None
    assert "HTTP 503" in MetadataSync.objects.get(title=title).error


def test_no_key_is_recorded(configured: FakeTMDB) -> None:
    title = add(MATRIX, "movie")
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()
    outcome = matching.run_match(title.pk)
    assert outcome.applied is False and outcome.message == NO_KEY_MESSAGE
    assert configured.calls == []


def test_a_vanished_title(configured: FakeTMDB) -> None:
    assert matching.run_match(987654).applied is False


def test_the_automatic_match_never_overrides_one_made_meanwhile(configured: FakeTMDB) -> None:
    title = add(MATRIX, "movie")
    collected = matching.collect("movie", 603)
    Title.objects.filter(pk=title.pk).update(tmdb_id=550)
    assert (
        matching.apply(title.pk, collected, source="auto", confidence=0.9, only_if_unmatched=True)
        is None
    )
    title.refresh_from_db()
    assert title.tmdb_id == 550


# --- the background job ---------------------------------------------------------------------


def test_adding_a_magnet_queues_a_match_that_the_worker_runs(configured_tx: FakeTMDB) -> None:
    title = add(MATRIX, "movie")  # autocommit: the queueing runs at once
    job = DBTaskResult.objects.get()
    assert job.task_path == "browse.matching.match_title"
    assert job.args_kwargs["args"] == [title.pk]
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    title.refresh_from_db()
    assert title.tmdb_id == 603
    job.refresh_from_db()
    assert job.status == "SUCCESSFUL"


def test_nothing_is_queued_without_a_key_or_for_titles_with_an_id(
    configured: FakeTMDB, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_title(kind="movie", title="Known", tmdb_id=603)
        prefs = get_preferences()
        prefs.tmdb_api_key = ""
        prefs.save()
        add(MATRIX, "movie")
    assert DBTaskResult.objects.count() == 0


def test_the_task_can_be_called_directly(configured: FakeTMDB) -> None:
    title = add(MATRIX, "movie")
    result = matching.match_title.call(title.pk)
    assert result["applied"] is True and result["tmdb_id"] == 603


# --- fix match ------------------------------------------------------------------------------


def test_fix_match_applies_a_persons_choice(configured: FakeTMDB) -> None:
    title = make_title(kind="movie", title="Matrix", year=1999)
    fixed = matching.fix_match(title, "movie", 603)
    assert fixed.tmdb_id == 603 and fixed.title == "The Matrix"
    sync = MetadataSync.objects.get(title=title)
    assert (sync.source, sync.confidence) == ("manual", 1.0)
    # a later sync refreshes by id and keeps it a person's choice
    cache.clear()
    matching.run_match(title.pk)
    assert MetadataSync.objects.get(title=title).source == "manual"


def test_fixing_a_show_into_a_movie_drops_the_seasons(configured: FakeTMDB) -> None:
    title = add(SHOW, "tv")
    matching.run_match(title.pk)
    assert Season.objects.filter(show=title).exists()
    fixed = matching.fix_match(title, "movie", 603)
    assert fixed.kind == "movie"
    assert not Season.objects.filter(show=title).exists()


def test_fixing_to_another_show_replaces_the_seasons(configured: FakeTMDB) -> None:
    title = add(SHOW, "tv")
    matching.run_match(title.pk)
    matching.fix_match(title, "tv", 87108)  # Chernobyl: one season
    assert list(Season.objects.filter(show=title).values_list("number", flat=True)) == [1]


# --- adding from the details page -----------------------------------------------------------


def test_add_wanted_records_the_title_without_a_magnet(configured: FakeTMDB, owner) -> None:
    details = discover.movie(603).value
    added = matching.add_wanted(details, owner)
    assert added.created is True
    title = added.title
    assert (title.status, title.magnet, title.info_hash) == (Status.PENDING, "", None)
    assert (title.tmdb_id, title.kind, title.imdb_id, title.year) == (
        603,
        "movie",
        "tt0133093",
        1999,
    )
    assert title.added_by == owner
    assert matching.add_wanted(details, owner) == matching.Added(title, created=False)
    assert Title.objects.count() == 1


def test_adding_as_wanted_announces_the_library_once(configured_tx: FakeTMDB) -> None:
    details = discover.movie(603).value
    before = media_emits()
    matching.add_wanted(details, None)  # the title and its sync, in one transaction
    assert media_emits() == before + 1


def test_add_with_magnet_fulfils_a_wanted_title(configured: FakeTMDB, owner) -> None:
    details = discover.movie(603).value
    wanted = matching.add_wanted(details, owner).title
    added = matching.add_with_magnet(details, parse_magnet(MATRIX), owner)
    assert added.created is True
    title = added.title
    assert title.info_hash == "c9e15763f722f23e98a29decdfae341b98d53056"
    assert (title.tmdb_id, title.title, title.poster) == (603, "The Matrix", details.poster_path)
    assert not Title.objects.filter(pk=wanted.pk).exists()
    assert MetadataSync.objects.get(title=title).source == "manual"


def test_adding_with_a_magnet_writes_one_outbox_row(configured_tx: FakeTMDB, owner) -> None:
    details = discover.movie(603).value
    wanted = matching.add_wanted(details, owner).title
    Outbox.objects.all().delete()
    # the title and its download, its TMDB details, the wanted entry gone: one transaction
    added = matching.add_with_magnet(details, parse_magnet(MATRIX), owner)
    assert added.created is True and not Title.objects.filter(pk=wanted.pk).exists()
    rows = list(Outbox.objects.all())
    assert len(rows) == 1 and ["media"] in rows[0].keys


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises writers (BEGIN IMMEDIATE): another add cannot commit in between",
)
def test_a_magnet_added_meanwhile_by_someone_else_is_the_answer(configured_tx, owner) -> None:
    """The race add_magnet's savepoint is for: another request commits the same magnet between
    our lookup and our insert; our insert fails, the savepoint rolls back, theirs is used."""
    details = discover.movie(603).value
    main = threading.get_ident()

    def theirs() -> None:
        try:
            add(MATRIX, "movie")
        finally:
            connections.close_all()

    def theirs_first(sender, instance: Title, **kwargs) -> None:
        if threading.get_ident() == main and instance.pk is None:
            other = threading.Thread(target=theirs)
            other.start()
            other.join(10)

    pre_save.connect(theirs_first, sender=Title, dispatch_uid="theirs_first")
    try:
        again = matching.add_with_magnet(details, parse_magnet(MATRIX), owner)
    finally:
        pre_save.disconnect(sender=Title, dispatch_uid="theirs_first")
    assert again.created is False
    title = Title.objects.get()
    assert again.title.pk == title.pk and title.tmdb_id is None  # theirs, not rewritten


def test_sync_health_reports_counts(configured: FakeTMDB) -> None:
    add(MATRIX, "movie")
    check = matching.sync_health()
    assert check.ok is True and "0 of 1 titles matched" in check.summary


def test_a_magnet_already_in_the_library_never_rewrites_that_title(configured, owner) -> None:
    matrix = matching.add_with_magnet(discover.movie(603).value, parse_magnet(MATRIX), owner).title
    assert matrix.title == "The Matrix"
    # someone pastes the same magnet on Fight Club's page by mistake
    again = matching.add_with_magnet(discover.movie(550).value, parse_magnet(MATRIX), owner)
    assert again.created is False and again.title.pk == matrix.pk
    matrix.refresh_from_db()
    assert (matrix.title, matrix.tmdb_id) == ("The Matrix", 603)
