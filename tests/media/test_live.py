"""The library announces its own changes, once per change, whoever makes them (admin included)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client

from media.models import Title
from plank.live.models import Outbox
from tests.conftest import MATRIX
from tests.factories import make_file, make_show, make_title

# Committed transactions: inside one test-wide transaction every change would share one row.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_outbox")]


def rows() -> list[list]:
    return [row.keys for row in Outbox.objects.order_by("seq")]


def test_saving_a_title_announces_the_library() -> None:
    make_title(title="Heat")
    assert rows() == [[["media"]]]


def test_seasons_and_files_announce_their_title() -> None:
    show = make_show(seasons={})
    Outbox.objects.all().delete()
    show.seasons.create(number=1)
    make_file(show, path="x.mp4")
    assert rows() == [[["media", show.pk]], [["media", show.pk]]]


def test_adding_by_magnet_writes_one_announcement(client_owner: Client) -> None:
    response = client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"})
    assert response.status_code == 302
    title = Title.objects.get()
    assert title.download.state == "metadata", "the download row commits with the title"
    assert rows() == [[["media"], ["download"]]]


def test_an_admin_rename_announces_once(client_owner: Client) -> None:
    title = make_title(title="Heat", year=1995, status="pending")
    Outbox.objects.all().delete()
    response = client_owner.post(
        f"/admin/media/title/{title.pk}/change/",
        {
            "kind": "movie",
            "title": "Heat (Director's Cut)",
            "year": "1995",
            "status": "pending",
            "seasons-TOTAL_FORMS": "0",
            "seasons-INITIAL_FORMS": "0",
            "files-TOTAL_FORMS": "0",
            "files-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert rows() == [[["media"]]]


def test_a_rolled_back_change_is_not_announced() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        make_title(title="Never")
        raise RuntimeError
    assert rows() == []
