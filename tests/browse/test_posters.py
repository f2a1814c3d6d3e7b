"""browse.posters: posters fetched through Plank into the disk cache and served from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.template import Context, Template
from django.test import Client

from browse import posters
from plank.models import get_preferences
from tests.browse.fake_tmdb import MOVIES_BY_ID, FakeTMDB, tiny_jpeg
from tests.browse.helpers import at_once

MATRIX_POSTER = MOVIES_BY_ID[603].poster_path
assert MATRIX_POSTER is not None
NAME = MATRIX_POSTER.lstrip("/")


def image_calls(fake: FakeTMDB) -> list[str]:
    return [path for path, _ in fake.calls if path.startswith("/t/p/")]


# --- URLs -----------------------------------------------------------------------------------


def test_poster_url_filter() -> None:
    template = Template('{% load browse %}[{{ p|poster_url:"w342" }}][{{ p|poster_url }}]')
    assert template.render(Context({"p": "/abc.jpg"})) == (
        "[/browse/posters/w342/abc.jpg][/browse/posters/w342/abc.jpg]"
    )
    for bad in (None, "", "abc.jpg", "/../etc/passwd", "/x.svg", "/a b.jpg"):
        assert template.render(Context({"p": bad})) == "[][]"
    assert posters.poster_url("/abc.jpg", "w9999") == ""
    assert posters.poster_url("/abc.png", "original") == "/browse/posters/original/abc.png"


# --- serving --------------------------------------------------------------------------------


def test_first_request_fetches_then_the_disk_serves(
    configured: FakeTMDB, client_owner: Client, settings
) -> None:
    url = posters.poster_url(MATRIX_POSTER, "w342")
    response = client_owner.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    body = b"".join(response.streaming_content)
    assert body[:2] == b"\xff\xd8" and body.endswith(b"\xff\xd9")
    assert "max-age=31536000" in response["Cache-Control"]
    etag = response["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    on_disk = Path(settings.POSTERS_DIR) / "w342" / NAME
    assert on_disk.read_bytes() == body
    assert [p.name for p in on_disk.parent.iterdir()] == [NAME]  # no temporary file left
    assert image_calls(configured) == [f"/t/p/w342{MATRIX_POSTER}"]

    again = client_owner.get(url)
    assert again.status_code == 200
    assert b"".join(again.streaming_content) == body
    assert again["ETag"] == etag
    assert len(image_calls(configured)) == 1
    assert len(configured.calls_to("/configuration")) == 1


def test_if_none_match_is_not_modified(configured: FakeTMDB, client_owner: Client) -> None:
    url = posters.poster_url(MATRIX_POSTER, "w185")
    etag = client_owner.get(url)["ETag"]
    response = client_owner.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""


def test_sizes_are_kept_apart(configured: FakeTMDB, client_owner: Client, settings) -> None:
    for size in ("w92", "w500"):
        assert client_owner.get(posters.poster_url(MATRIX_POSTER, size)).status_code == 200
    assert (Path(settings.POSTERS_DIR) / "w92" / NAME).is_file()
    assert (Path(settings.POSTERS_DIR) / "w500" / NAME).is_file()


@pytest.mark.parametrize(
    "path",
    [
        "/browse/posters/w342/abc.svg",
        "/browse/posters/w342/a%20b.jpg",
        "/browse/posters/w9999/abc.jpg",
        "/browse/posters/h632/abc.jpg",
        "/browse/posters/w342/..jpg",
        "/browse/posters/w342/%2E%2E%2Fsecret_key",
    ],
)
def test_odd_paths_are_404_without_asking_tmdb(
    configured: FakeTMDB, client_owner: Client, path: str
) -> None:
    assert client_owner.get(path).status_code == 404
    assert configured.calls == []


def test_a_poster_symlinked_out_of_the_posters_folder_is_refused(
    configured: FakeTMDB, client_owner: Client, settings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"SECRET")
    link = Path(settings.POSTERS_DIR) / "w342" / NAME
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    response = client_owner.get(posters.poster_url(MATRIX_POSTER, "w342"))
    assert response.status_code == 404
    assert b"SECRET" not in b"".join(response) and secret.read_bytes() == b"SECRET"
    assert configured.calls == []


def test_a_poster_symlinked_inside_the_posters_folder_is_served(
    configured: FakeTMDB, client_owner: Client, settings
) -> None:
    folder = Path(settings.POSTERS_DIR)
    (folder / "original").mkdir(parents=True)
    (folder / "original" / NAME).write_bytes(tiny_jpeg((7, 8, 9)))
    (folder / "w342").mkdir()
    (folder / "w342" / NAME).symlink_to(folder / "original" / NAME)
    response = client_owner.get(posters.poster_url(MATRIX_POSTER, "w342"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == tiny_jpeg((7, 8, 9))
    assert configured.calls == []


def test_no_key_is_404_at_once(configured: FakeTMDB, client_owner: Client) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = ""
    prefs.save()
    response = client_owner.get(posters.poster_url(MATRIX_POSTER))
    assert response.status_code == 404
    assert configured.calls == []


def test_an_image_tmdb_does_not_have_is_404_and_remembered(
    configured: FakeTMDB, client_owner: Client
) -> None:
    url = "/browse/posters/w342/NoSuchImageAnywhere.jpg"
    assert client_owner.get(url).status_code == 404
    assert client_owner.get(url).status_code == 404
    assert len(image_calls(configured)) == 1


def test_tmdb_failing_is_503_and_nothing_is_written(
    configured: FakeTMDB, client_owner: Client, settings
) -> None:
    configured.fail(f"/t/p/w342{MATRIX_POSTER}", 502)
    response = client_owner.get(posters.poster_url(MATRIX_POSTER))
    assert response.status_code == 503
    assert response["Cache-Control"] == "no-store"
    assert not (Path(settings.POSTERS_DIR) / "w342" / NAME).exists()
    configured.reset()
    assert client_owner.get(posters.poster_url(MATRIX_POSTER)).status_code == 200


def test_not_an_image_is_refused(configured: FakeTMDB, client_owner: Client, settings) -> None:
    configured.fail(
        f"/t/p/w342{MATRIX_POSTER}", 200, body="<svg onload=alert(1)>", content_type="image/svg+xml"
    )
    assert client_owner.get(posters.poster_url(MATRIX_POSTER)).status_code == 503
    assert not (Path(settings.POSTERS_DIR) / "w342" / NAME).exists()


def test_posters_need_a_login(configured: FakeTMDB, client: Client) -> None:
    response = client.get(posters.poster_url(MATRIX_POSTER))
    assert response.status_code in (302, 404)  # the first-run page or the login wall
    assert image_calls(configured) == []


# --- single flight and atomic writes --------------------------------------------------------


def test_concurrent_requests_fetch_the_image_once(configured_tx: FakeTMDB, settings) -> None:
    fake = configured_tx
    fake.slow(f"/t/p/w342{MATRIX_POSTER}", 0.3)
    paths: list[Path] = at_once(20, lambda: posters.ensure("w342", NAME))
    assert len(paths) == 20 and len(set(paths)) == 1
    assert len(image_calls(fake)) == 1
    assert paths[0].read_bytes()[:2] == b"\xff\xd8"


def test_a_poster_reaches_the_disk_before_it_is_renamed_into_place(
    configured: FakeTMDB, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(settings.POSTERS_DIR).resolve()
    synced: list[Path] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the real one, noting which file it flushed
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if path.is_relative_to(folder):
            synced.append(path)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = posters.ensure("w342", NAME)
    assert len(synced) == 1
    assert synced[0].parent == path.parent and synced[0] != path  # the temporary file
    assert not synced[0].exists() and path.read_bytes()[:2] == b"\xff\xd8"
