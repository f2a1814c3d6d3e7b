"""Changes to the library announce themselves, whoever makes them (admin included)."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import MediaFile, Season, Title
from plank.live.models import Outbox

pytestmark = pytest.mark.django_db


def announced() -> list[list]:
    return [k for row in Outbox.objects.order_by("seq") for k in row.keys]


def test_saving_a_title_announces_the_library() -> None:
    Title.objects.create(title="Heat")
    assert ["media"] in announced()


def test_seasons_and_files_announce_their_title() -> None:
    show = Title.objects.create(title="The Wire", kind="tv")
    Outbox.objects.all().delete()
    Season.objects.create(show=show, number=1)
    MediaFile.objects.create(title=show, path="x.mp4")
    assert announced().count(["media", show.pk]) == 2


def test_an_admin_edit_is_announced(client_owner: Client) -> None:
    title = Title.objects.create(title="Heat", year=1995)
    Outbox.objects.all().delete()
    response = client_owner.post(
        f"/admin/media/title/{title.pk}/change/",
        {
            "kind": "movie", "title": "Heat (Director's Cut)", "year": "1995", "status": "pending",
            "seasons-TOTAL_FORMS": "0", "seasons-INITIAL_FORMS": "0",
            "files-TOTAL_FORMS": "0", "files-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ["media"] in announced()


def test_a_rolled_back_change_is_not_announced() -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        Title.objects.create(title="Never")
        raise RuntimeError
    assert announced() == []
