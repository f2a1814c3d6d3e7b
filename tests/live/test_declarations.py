"""Every model of every Plank app declares what its changes make stale, and a save or a delete
announces exactly that, once (one outbox row per change, a prefix once per transaction)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from browse.models import MetadataSync, SyncRun
from media.models import (
    Episode,
    LibraryFolder,
    MediaFile,
    PlaybackPosition,
    Request,
    Scan,
    ScanProblem,
    Season,
    Title,
)
from plank.live.declarations import declaration
from plank.live.keys import check_key, to_json
from plank.live.models import Outbox
from plank.models import (
    Invite,
    Notification,
    Preferences,
    ScheduledTask,
    SchedulerLease,
    TaskRun,
    get_preferences,
)
from tests.factories import (
    make_download,
    make_file,
    make_folder,
    make_indexer,
    make_show,
    make_title,
    make_user,
)
from torrents.models import (
    BlockedRelease,
    EngineCommand,
    IndexerAnswer,
    IndexerHealth,
    TitleSearch,
    get_release_preferences,
)

# Committed transactions: inside one test-wide transaction every change would share one row.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_outbox")]


APPS = ("plank", "live", "media", "browse", "torrents")

# One row of each model; a new model fails test_every_model_has_a_builder until it is added.
BUILDERS: dict[type[models.Model], Callable[[], Any]] = {
    Preferences: get_preferences,
    ScheduledTask: lambda: ScheduledTask.objects.create(name="a-task"),
    TaskRun: lambda: TaskRun.objects.create(task="a-task"),
    SchedulerLease: lambda: SchedulerLease.objects.create(
        name="test", holder="here", acquired_at=timezone.now(), expires_at=timezone.now()
    ),
    Outbox: lambda: Outbox.objects.create(keys=[["x"]]),
    Invite: lambda: Invite.objects.create(token_hash="f" * 64, expires_at=timezone.now()),
    Notification: lambda: Notification.objects.create(
        user=make_user(), kind="finished", text="Alien is ready"
    ),
    Request: lambda: Request.objects.create(title=make_title(), requested_by=make_user()),
    Title: lambda: make_title(),
    Season: lambda: make_show(seasons={1: 0}).seasons.get(),
    Episode: lambda: make_show(seasons={1: 1}).seasons.get().episodes.get(),
    MediaFile: lambda: make_file(make_title()),
    LibraryFolder: lambda: make_folder("/tmp/plank-test-folders/declared"),
    Scan: lambda: Scan.objects.create(folder=make_folder("/tmp/plank-test-folders/scanned")),
    ScanProblem: lambda: ScanProblem.objects.create(
        folder=make_folder("/tmp/plank-test-folders/problem"),
        path="x.mkv",
        reason="not a video",
        seen_at=timezone.now(),
    ),
    PlaybackPosition: lambda: PlaybackPosition.objects.create(
        user=make_user(), title=make_title(), position=12
    ),
    MetadataSync: lambda: MetadataSync.objects.create(title=make_title()),
    SyncRun: lambda: SyncRun.objects.create(),
    "torrents.Download": lambda: make_download(make_title()),
    EngineCommand: lambda: EngineCommand.objects.create(info_hash="ab" * 20, action="add"),
    "torrents.Indexer": make_indexer,
    IndexerHealth: lambda: IndexerHealth.objects.create(indexer=make_indexer(), name="feed"),
    IndexerAnswer: lambda: IndexerAnswer.objects.create(
        search="d" * 16, indexer=make_indexer(), name="feed"
    ),
    TitleSearch: lambda: TitleSearch.objects.create(title=make_title(status="pending")),
    BlockedRelease: lambda: BlockedRelease.objects.create(title=make_title(), info_hash="cd" * 20),
    "torrents.ReleasePreferences": get_release_preferences,
}


def _builder(model: type[models.Model]) -> Callable[[], Any] | None:
    return BUILDERS.get(model) or BUILDERS.get(model._meta.label)


def project_models() -> list[type[models.Model]]:
    return [m for label in APPS for m in apps.get_app_config(label).get_models()]


def rows_after(seq: int) -> list[Outbox]:
    return list(Outbox.objects.filter(seq__gt=seq).order_by("seq"))


def newest() -> int:
    row = Outbox.objects.order_by("-seq").first()
    return row.seq if row else 0


def expected(instance: Any) -> list[list[str | int]]:
    found = declaration(type(instance))
    assert found is not None
    keys: list[list[str | int]] = []
    for key in found.prefixes(instance):
        if to_json(check_key(key)) not in keys:
            keys.append(to_json(check_key(key)))
    return keys


def test_every_model_has_a_builder() -> None:
    assert [m._meta.label for m in project_models() if _builder(m) is None] == []


@pytest.mark.parametrize("model", project_models(), ids=lambda m: m._meta.label)
def test_every_model_is_declared(model: type[models.Model]) -> None:
    found = declaration(model)
    assert found is not None, f"{model._meta.label} is not declared in its app's live.py"
    assert found.keys is not None or found.why_quiet


@pytest.mark.parametrize("model", project_models(), ids=lambda m: m._meta.label)
def test_a_save_and_a_delete_announce_what_the_declaration_says_once(
    model: type[models.Model],
) -> None:
    instance = _builder(model)()
    keys = expected(instance)
    if model is Outbox:  # writing the outbox by hand announces nothing but the row itself
        keys = []

    before = newest()
    with transaction.atomic():
        instance.save()
    after_save = [row.keys for row in rows_after(before)]
    assert after_save == ([keys] if keys else []), f"save of {model._meta.label}"

    before = newest()
    with transaction.atomic():
        instance.delete()
    after_delete = [row.keys for row in rows_after(before)]
    assert after_delete == ([keys] if keys else []) or model is Outbox, (
        f"delete of {model._meta.label}"
    )


def test_one_transaction_is_one_announcement() -> None:
    before = newest()
    with transaction.atomic():
        title = make_title()
        make_file(title)
        title.set_status("downloading")
        make_download(title)
    rows = rows_after(before)
    assert len(rows) == 1
    assert rows[0].keys == [["media"], ["media", title.pk], ["download"]]
