"""The title page: metadata, status, files, seasons and episodes."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import Status
from tests.factories import make_file, make_show, make_title

pytestmark = pytest.mark.django_db


def test_movie_page_shows_metadata_and_files(client_owner: Client) -> None:
    title = make_title(
        title="The Matrix",
        year=1999,
        quality="1080p",
        info_hash="c9e15763f722f23e98a29decdfae341b98d53056",
        release_name="The.Matrix.1999.1080p",
        status=Status.PENDING,
    )
    make_file(title, torrent_path="The.Matrix.1999.1080p/matrix.mkv", size=2_000_000_000)
    page = client_owner.get(f"/media/{title.pk}/").content.decode()
    assert "The Matrix" in page and "(1999)" in page and "1080p" in page
    assert "c9e15763f722f23e98a29decdfae341b98d53056" in page
    assert "matrix.mkv" in page and "1.9\xa0GB" in page
    assert f'data-live-key="media/{title.pk}"' in page


def test_show_page_lists_seasons_and_episodes(client_owner: Client) -> None:
    show = make_show(
        title="Breaking Bad",
        year=2008,
        status=Status.PENDING,
        seasons={1: ["Pilot", "Cat's in the Bag..."]},
    )
    page = client_owner.get(f"/media/{show.pk}/").content.decode()
    assert "S01E01" in page and "Pilot" in page and "Cat&#x27;s in the Bag..." in page


def test_error_status_explains_itself(client_owner: Client) -> None:
    title = make_title(
        title="Bad", status=Status.ERROR, status_detail="This torrent holds only a program."
    )
    page = client_owner.get(f"/media/{title.pk}/").content.decode()
    assert "This torrent holds only a program." in page


def test_missing_title_is_a_404_page(client_owner: Client) -> None:
    assert client_owner.get("/media/999/").status_code == 404


def test_detail_partial(client_owner: Client, htmx_headers) -> None:
    title = make_title(title="Heat", year=1995)
    body = client_owner.get(
        f"/media/{title.pk}/", {"partial": "detail"}, **htmx_headers
    ).content.decode()
    assert body.lstrip().startswith('<article id="title-detail"') and "<html" not in body


def test_nul_bytes_never_reach_the_database() -> None:
    title = make_title(title="Bad\x00Name", overview="a\x00b")
    title.refresh_from_db()
    assert (title.title, title.overview) == ("BadName", "ab")
