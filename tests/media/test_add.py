"""Adding a title by magnet through POST /media/add."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from media.models import Kind, Title
from tests.conftest import MATRIX, SHOW

pytestmark = pytest.mark.django_db


def test_add_the_matrix_as_a_movie(client_owner: Client, owner) -> None:
    response = client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"})
    assert response.status_code == 302 and response["Location"] == "/?type=movie"
    title = Title.objects.get()
    assert (title.title, title.year, title.kind) == ("The Matrix", 1999, Kind.MOVIE)
    assert title.info_hash == "c9e15763f722f23e98a29decdfae341b98d53056"
    assert title.quality == "1080p"
    assert title.added_by == owner
    page = client_owner.get("/?type=movie").content.decode()
    assert "The Matrix" in page and "1999" in page


def test_add_over_htmx_resets_the_form_and_announces_the_change(
    client_owner: Client, htmx_headers
) -> None:
    response = client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"}, **htmx_headers)
    assert response.status_code == 200
    assert "library:changed" in response["HX-Trigger"]
    assert "Added “The Matrix (1999)”" in response.content.decode()
    assert Title.objects.count() == 1


def test_the_same_hash_twice_leads_to_the_existing_title(client_owner: Client) -> None:
    client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"})
    upper = MATRIX.replace(
        "c9e15763f722f23e98a29decdfae341b98d53056", "C9E15763F722F23E98A29DECDFAE341B98D53056"
    )
    response = client_owner.post("/media/add", {"magnet": upper, "type": "tv"})
    title = Title.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/media/{title.pk}/"
    page = client_owner.get(response["Location"]).content.decode()
    assert "already in your library" in page


def test_the_same_hash_in_base32_is_the_same_title(client_owner: Client) -> None:
    b32 = base64.b32encode(bytes.fromhex("c9e15763f722f23e98a29decdfae341b98d53056")).decode()
    client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"})
    client_owner.post("/media/add", {"magnet": f"magnet:?xt=urn:btih:{b32}", "type": "movie"})
    assert Title.objects.count() == 1


def test_duplicate_over_htmx_redirects_the_client(client_owner: Client, htmx_headers) -> None:
    client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"})
    response = client_owner.post("/media/add", {"magnet": MATRIX, "type": "movie"}, **htmx_headers)
    assert response["HX-Redirect"] == f"/media/{Title.objects.get().pk}/"


def test_a_show_is_parsed_and_kept_as_tv(client_owner: Client) -> None:
    client_owner.post("/media/add", {"magnet": SHOW, "type": "tv"})
    title = Title.objects.get()
    assert (title.title, title.kind) == ("Breaking Bad", Kind.TV)


@pytest.mark.parametrize(
    ("magnet", "message"),
    [
        ("", "Paste a magnet link."),
        ("   ", "Paste a magnet link."),
        ("https://example.com/file.torrent", "magnet"),
        ("magnet:?dn=NoHash", "hash"),
        ("magnet:?xt=urn:btih:12345", "hash"),
        ("magnet:?xt=urn:btih:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "hash"),
        ("magnet:?xt=urn:btih:" + "a" * 4990, ""),
    ],
)
def test_bad_input_gets_a_message_next_to_the_field_and_changes_nothing(
    client_owner: Client, magnet: str, message: str
) -> None:
    response = client_owner.post("/media/add", {"magnet": magnet, "type": "movie"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="magnet-error"' in body
    error = body.split('id="magnet-error"', 1)[1].split("</p>", 1)[0]
    assert message.lower() in error.lower()
    assert Title.objects.count() == 0


def test_bad_input_over_htmx_rerenders_only_the_form(client_owner: Client, htmx_headers) -> None:
    response = client_owner.post(
        "/media/add", {"magnet": "not a magnet", "type": "movie"}, **htmx_headers
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form id="add-form"') and 'id="magnet-error"' in body
    assert "<html" not in body
    assert Title.objects.count() == 0


def test_a_5000_character_field_is_refused(client_owner: Client) -> None:
    response = client_owner.post("/media/add", {"magnet": "m" * 5000, "type": "movie"})
    assert response.status_code == 400
    assert Title.objects.count() == 0


def test_an_unknown_type_is_refused(client_owner: Client) -> None:
    response = client_owner.post("/media/add", {"magnet": MATRIX, "type": "podcast"})
    assert response.status_code == 400
    assert Title.objects.count() == 0


def test_preview_guesses_tv_for_an_episode(client_owner: Client, htmx_headers) -> None:
    response = client_owner.get("/media/add", {"magnet": SHOW}, **htmx_headers)
    body = response.content.decode()
    assert "Breaking Bad" in body
    assert 'value="tv" checked' in body


def test_preview_of_junk_says_what_is_wrong(client_owner: Client, htmx_headers) -> None:
    response = client_owner.get("/media/add", {"magnet": "http://x"}, **htmx_headers)
    assert 'class="error"' in response.content.decode()


def test_add_needs_csrf(owner) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/media/add", {"magnet": MATRIX, "type": "movie"})
    assert response.status_code == 403
    assert Title.objects.count() == 0
