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
    title = Title.objects.get()
    assert "<script>" in title.release_name  # kept as text, as the indexer sent it
    # titles can also come from TMDB or the admin: make the title itself hostile too
    Title.objects.filter(pk=title.pk).update(title=HOSTILE, overview=HOSTILE)
    return Title.objects.get()


@pytest.mark.parametrize(
    "page",
    ["/", "/?partial=grid", "/media/{pk}/", "/media/{pk}/delete", "/media/{pk}/?partial=detail"],
)
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
