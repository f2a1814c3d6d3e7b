"""Deleting a title: POST /media/<id>/delete, behind a confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from media.models import Title
from tests.conftest import MATRIX
from tests.factories import make_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def matrix(client_owner: Client) -> Title:
    client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"})
    return Title.objects.get()


def test_get_shows_a_confirmation_and_deletes_nothing(client_owner: Client, matrix: Title) -> None:
    response = client_owner.get(f"/media/{matrix.pk}/delete")
    assert response.status_code == 200
    assert "Delete “The Matrix (1999)”?" in response.content.decode()
    assert Title.objects.filter(pk=matrix.pk).exists()


def test_post_deletes_and_returns_to_the_library(client_owner: Client, matrix: Title) -> None:
    response = client_owner.post(f"/media/{matrix.pk}/delete")
    assert response.status_code == 302 and response["Location"] == "/?type=movie"
    assert not Title.objects.exists()
    assert "Deleted “The Matrix (1999)”" in client_owner.get("/").content.decode()


def test_htmx_delete_from_the_grid_answers_204_with_a_change_event(
    client_owner: Client, matrix: Title, htmx_headers
) -> None:
    response = client_owner.post(f"/media/{matrix.pk}/delete", **htmx_headers)
    assert response.status_code == 204
    assert "library:changed" in response["HX-Trigger"]
    assert not Title.objects.exists()


def test_htmx_delete_from_the_title_page_redirects(
    client_owner: Client, matrix: Title, htmx_headers
) -> None:
    response = client_owner.post(f"/media/{matrix.pk}/delete", {"from": "title"}, **htmx_headers)
    assert response["HX-Redirect"] == "/?type=movie"


def test_someone_else_cannot_delete_and_is_told_why(
    client_member: Client, matrix: Title, htmx_headers
) -> None:
    response = client_member.post(f"/media/{matrix.pk}/delete", **htmx_headers)
    assert response.status_code == 403
    assert "Only the person who added this title" in response.content.decode()
    assert Title.objects.filter(pk=matrix.pk).exists()


def test_deleting_twice_is_harmless(client_owner: Client, matrix: Title, htmx_headers) -> None:
    client_owner.post(f"/media/{matrix.pk}/delete")
    response = client_owner.post(f"/media/{matrix.pk}/delete", **htmx_headers)
    assert response.status_code == 404
    assert "already removed" in response.content.decode()


def test_delete_needs_csrf(owner, matrix: Title) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/media/{matrix.pk}/delete").status_code == 403
    assert Title.objects.filter(pk=matrix.pk).exists()


def test_the_grid_card_is_removed_optimistically_and_can_roll_back(
    client_owner: Client, matrix: Title
) -> None:
    page = client_owner.get("/").content.decode()
    # the card's form hides the card at once (plank.js) and restores it when refused
    assert f'data-optimistic-remove="#title-{matrix.pk}"' in page
    assert f'id="title-{matrix.pk}"' in page


def test_deleting_files_touches_only_the_library(
    client_owner: Client, matrix: Title, data_dir: Path
) -> None:
    filed = data_dir / "library" / "The Matrix (1999)" / "The Matrix (1999).mp4"
    filed.parent.mkdir(parents=True)
    filed.write_bytes(b"movie")
    elsewhere = data_dir / "plank.sqlite3"  # e.g. a path edited in the admin
    elsewhere.write_bytes(b"db")
    make_file(matrix, path="library/The Matrix (1999)/The Matrix (1999).mp4")
    make_file(matrix, path="plank.sqlite3")
    client_owner.post(f"/media/{matrix.pk}/delete", {"delete_files": "on"})
    assert not filed.exists() and not filed.parent.exists()
    assert elsewhere.exists()


def test_deleting_in_the_admin_goes_through_the_library(
    client_owner: Client, matrix: Title
) -> None:
    response = client_owner.post(f"/admin/media/title/{matrix.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Title.objects.exists()
