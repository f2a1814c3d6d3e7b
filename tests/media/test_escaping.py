"""Names full of markup are always escaped, on every page that shows them."""

from __future__ import annotations

import pytest
from django.test import Client

from media.models import Title

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def hostile(client_owner: Client) -> Title:
    magnet = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=" + HOSTILE.replace(" ", "+")
    client_owner.post("/media/add", {"magnet": magnet, "type": "movie"})
    return Title.objects.get()


def test_hostile_name_is_stored_as_text(hostile: Title) -> None:
    assert "<script>" in hostile.release_name or "<script>" in hostile.title


@pytest.mark.parametrize("page", ["/", "/?partial=grid", "/media/{pk}/", "/media/{pk}/delete", "/media/{pk}/?partial=detail"])
def test_hostile_name_is_escaped(client_owner: Client, hostile: Title, page: str) -> None:
    body = client_owner.get(page.format(pk=hostile.pk), HTTP_HX_REQUEST="true").content.decode()
    assert "<script>alert" not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;" in body or "&lt;img" in body


def test_hostile_name_in_the_admin_is_escaped(owner, hostile: Title) -> None:
    client = Client()
    client.force_login(owner)
    body = client.get("/admin/media/title/").content.decode()
    assert "<script>alert" not in body
