"""One playback position per person and file, on every database; and ``migrate`` says nothing.

SQLite has no NULLS NOT DISTINCT: the old constraint was skipped there (models.W047 at every
``migrate``), so nothing stopped two rows for the same person and title. Migration 0003 replaces it
with two partial constraints, folding the rows that doubled up meanwhile.
"""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from media.models import PlaybackPosition
from tests.factories import make_file, make_title, make_user

BEFORE = ("media", "0002_library_folders")
AFTER = ("media", "0003_playback_unique_on_sqlite")


@pytest.mark.django_db(databases=["default"])
def test_the_model_checks_say_nothing_about_the_database() -> None:
    found = checks.run_checks(databases=["default"], include_deployment_checks=False)
    assert [m.id for m in found if m.id == "models.W047"] == []
    assert [str(m) for m in found if m.level >= checks.WARNING] == []


@pytest.mark.django_db
def test_one_position_per_person_and_title_without_a_file() -> None:
    user, title = make_user(), make_title()
    PlaybackPosition.objects.create(user=user, title=title, file=None, position=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlaybackPosition.objects.create(user=user, title=title, file=None, position=20)
    PlaybackPosition.objects.create(user=make_user(), title=title, file=None, position=5)
    assert PlaybackPosition.objects.filter(title=title).count() == 2


@pytest.mark.django_db
def test_one_position_per_person_and_file() -> None:
    user, title = make_user(), make_title()
    first, second = make_file(title, path="a.mp4"), make_file(title, path="b.mp4")
    PlaybackPosition.objects.create(user=user, title=title, file=first, position=10)
    PlaybackPosition.objects.create(user=user, title=title, file=second, position=10)
    PlaybackPosition.objects.create(user=user, title=title, file=None, position=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlaybackPosition.objects.create(user=user, title=title, file=first, position=20)


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_newest_of_rows_that_doubled_up() -> None:
    try:
        _migrate_with_doubles()
    finally:
        call_command("migrate", verbosity=0)  # back to the newest state for the next tests


def _migrate_with_doubles() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    User = apps.get_model("auth", "User")
    Title = apps.get_model("media", "Title")
    Position = apps.get_model("media", "PlaybackPosition")
    anna = User.objects.create(username="anna")
    heat = Title.objects.create(title="Heat", kind="movie", status="complete")
    # Before 0003 SQLite had no constraint at all (PostgreSQL had NULLS NOT DISTINCT, so there
    # rows never doubled up: one is written, and kept).
    doubled = connection.vendor == "sqlite"
    rows = [
        Position.objects.create(user=anna, title=heat, position=p)
        for p in ((10, 20) if doubled else (20,))
    ]
    assert Position.objects.filter(user=anna, title=heat).count() == len(rows)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([AFTER])
    kept = list(Position.objects.filter(user=anna, title=heat).values_list("position", flat=True))
    assert kept == [rows[-1].position]
