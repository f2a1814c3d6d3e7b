"""Every model is in the admin, with lists, search and filters that work."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from media.models import Episode, MediaFile, PlaybackPosition, Season, Title
from tests.factories import make_file, make_show

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(owner):
    show = make_show(
        title="Breaking Bad", year=2008, added_by=owner, status="pending", seasons={1: ["Pilot"]}
    )
    file = make_file(show, episode=Episode.objects.get(), path="library/x.mp4", size=10)
    PlaybackPosition.objects.create(user=owner, title=show, file=file, position=12)
    return show


def test_every_project_model_is_registered() -> None:
    for app in ("media", "torrents", "live", "browse"):
        if not apps.is_installed(app) and app != "live":
            continue
        for model in apps.get_app_config(app).get_models():
            assert admin.site.is_registered(model), f"{model.__name__} is not in the admin"


@pytest.mark.parametrize("model", [Title, Season, Episode, MediaFile, PlaybackPosition])
def test_changelist_search_filter_and_change_pages(client_owner: Client, library, model) -> None:
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    assert client_owner.get(base).status_code == 200
    assert client_owner.get(base, {"q": "Bad"}).status_code == 200
    obj = model.objects.first()
    assert client_owner.get(f"{base}{obj.pk}/change/").status_code == 200
    model_admin = admin.site._registry[model]
    assert len(model_admin.list_display) > 1 and model_admin.search_fields


def test_admin_refuses_a_member_without_staff(client_member: Client) -> None:
    assert client_member.get("/admin/media/title/").status_code == 302
