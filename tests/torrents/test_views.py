"""The downloads page and the pause / resume / retry actions."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import Title
from tests.factories import make_download, make_title
from torrents.models import Download, EngineCommand

pytestmark = pytest.mark.django_db


@pytest.fixture
def downloading() -> Title:
    title = make_title(title="Big Buck Bunny", year=2008, status="downloading", info_hash="ab" * 20)
    make_download(title, save_path="/tmp/x", state="downloading", progress=0.42, peers=3)
    return title


def test_downloads_page_lists_downloads_with_live_progress(
    client_owner: Client, downloading: Title
) -> None:
    page = client_owner.get("/downloads/").content.decode()
    assert "Big Buck Bunny (2008)" in page and "42%" in page
    assert f'data-live-set="download/{downloading.pk}"' in page
    assert 'data-live-key="download"' in page


def test_empty_downloads_page(client_owner: Client) -> None:
    assert "Nothing is downloading" in client_owner.get("/downloads/").content.decode()


def test_title_page_shows_the_download_panel(client_owner: Client, downloading: Title) -> None:
    page = client_owner.get(f"/media/{downloading.pk}/").content.decode()
    assert 'class="download-panel' in page and "Pause" in page and "42%" in page


@pytest.mark.parametrize(("name", "state"), [("pause", "paused"), ("retry", "metadata")])
def test_actions_without_a_local_engine_queue_a_command(
    client_owner: Client, downloading: Title, name: str, state: str, htmx_headers
) -> None:
    response = client_owner.post(f"/downloads/{downloading.pk}/{name}", **htmx_headers)
    assert response.status_code == 204
    assert Download.objects.get().state == state
    assert EngineCommand.objects.filter(info_hash="ab" * 20, action=name).exists()


def test_unknown_action_or_no_download_is_refused(
    client_owner: Client, downloading: Title, htmx_headers
) -> None:
    assert (
        client_owner.post(f"/downloads/{downloading.pk}/explode", **htmx_headers).status_code == 409
    )
    other = make_title(title="No download", status="pending")
    assert client_owner.post(f"/downloads/{other.pk}/pause", **htmx_headers).status_code == 409
    assert client_owner.post("/downloads/9999/pause", **htmx_headers).status_code == 404


def test_actions_need_csrf(owner, downloading: Title) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/downloads/{downloading.pk}/pause").status_code == 403
    assert Download.objects.get().state == "downloading"


def test_the_old_action_address_keeps_the_post(client_owner: Client, downloading: Title) -> None:
    response = client_owner.post(f"/torrents/{downloading.pk}/pause")
    assert response.status_code == 308
    assert response["Location"] == f"/downloads/{downloading.pk}/pause"
    assert Download.objects.get().state == "downloading"  # the redirect itself changes nothing
