"""plank/setup.py: the setup after the first run (TMDB key with Test, indexers, library folder,
peer discovery), each step skippable, the checklist on Settings leading back to each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from plank import sections
from plank.models import get_preferences
from tests.browse.fake_tmdb import FAKE_API_KEY, FakeTMDB, start_fake_tmdb

pytestmark = pytest.mark.django_db

STEPS = ["tmdb", "indexers", "library", "peers"]


@pytest.fixture
def fake_tmdb(settings) -> Iterator[FakeTMDB]:
    fake = start_fake_tmdb()
    settings.PLANK_TMDB_BASE_URL = fake.base_url
    yield fake
    fake.stop()


def test_the_owner_account_leads_into_the_setup() -> None:
    client = Client()
    response = client.post(
        "/setup/",
        {"username": "anna", "password1": "a long pass phrase", "password2": "a long pass phrase"},
    )
    assert response.status_code == 302 and response["Location"] == "/setup/tmdb/"
    page = client.get("/setup/tmdb/").content.decode()
    assert "Connect to TMDB" in page and "step 1 of 4" in page
    assert get_user_model().objects.get().is_superuser


@pytest.mark.parametrize("slug", STEPS)
def test_every_step_can_be_skipped_to_the_next(client_owner: Client, slug: str) -> None:
    page = client_owner.get(f"/setup/{slug}/").content.decode()
    following = STEPS[STEPS.index(slug) + 1] if slug != STEPS[-1] else None
    target = f"/setup/{following}/" if following else "/setup/checklist/"
    assert f'href="{target}">Skip</a>' in page or f'href="{target}">Later</a>' in page


def test_saving_the_key_keeps_it_encrypted_and_never_shows_it(client_owner: Client) -> None:
    response = client_owner.post("/setup/tmdb/", {"tmdb_api_key": FAKE_API_KEY})
    assert response.status_code == 302 and response["Location"] == "/setup/indexers/"
    assert get_preferences().tmdb_api_key == FAKE_API_KEY
    page = client_owner.get("/setup/tmdb/").content.decode()
    assert FAKE_API_KEY not in page and "A key is saved" in page
    checklist = client_owner.get("/setup/checklist/").content.decode()
    assert FAKE_API_KEY not in checklist and "a key is saved" in checklist


def test_a_key_that_is_not_a_tmdb_key_is_refused_and_nothing_saved(client_owner: Client) -> None:
    response = client_owner.post("/setup/tmdb/", {"tmdb_api_key": "hello"})
    assert response.status_code == 200
    assert "doesn&#x27;t look like a TMDB key" in response.content.decode()
    assert get_preferences().tmdb_api_key == ""


def test_an_empty_key_keeps_the_saved_one(client_owner: Client) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = FAKE_API_KEY
    prefs.save()
    assert client_owner.post("/setup/tmdb/", {"tmdb_api_key": ""}).status_code == 302
    assert get_preferences().tmdb_api_key == FAKE_API_KEY


def test_test_tries_the_typed_key_against_tmdb_without_saving(
    client_owner: Client, fake_tmdb: FakeTMDB
) -> None:
    page = client_owner.get("/setup/tmdb/").content.decode()
    assert 'hx-post="/browse/test-connection"' in page
    good = client_owner.post("/browse/test-connection", {"tmdb_api_key": FAKE_API_KEY})
    assert "test-ok" in good.content.decode()
    bad = client_owner.post("/browse/test-connection", {"tmdb_api_key": "f" * 32})
    assert "error" in bad.content.decode()
    assert get_preferences().tmdb_api_key == ""
    asked = [query.get("api_key") for _, query in fake_tmdb.calls]
    assert FAKE_API_KEY in asked and "f" * 32 in asked  # the typed keys, not a saved one


def test_peer_discovery_is_saved(client_owner: Client) -> None:
    response = client_owner.post("/setup/peers/", {"lsd": "on"})  # DHT and port mapping off
    assert response.status_code == 302 and response["Location"] == "/setup/checklist/"
    prefs = get_preferences()
    assert (prefs.dht, prefs.lsd, prefs.port_mapping) == (False, True, False)
    checklist = client_owner.get("/setup/checklist/").content.decode()
    assert "DHT off · local discovery on · port mapping off" in checklist


def test_indexers_and_folders_link_to_their_registered_pages(client_owner: Client) -> None:
    indexers = client_owner.get("/setup/indexers/").content.decode()
    assert 'href="/settings/indexers/">Add an indexer' in indexers
    library = client_owner.get("/setup/library/").content.decode()
    assert 'href="/settings/library/">Add a library folder' in library


def test_a_step_whose_page_is_not_registered_offers_only_later(client_owner: Client) -> None:
    saved = sections._sections.pop("indexer-settings")
    try:
        page = client_owner.get("/setup/indexers/").content.decode()
    finally:
        sections._sections["indexer-settings"] = saved
    assert "Add an indexer" not in page and ">Later</a>" in page


def test_the_checklist_is_a_settings_tab(client_owner: Client) -> None:
    settings_page = client_owner.get("/settings/").content.decode()
    assert 'href="/setup/checklist/">Setup</a>' in settings_page
    checklist = client_owner.get("/setup/checklist/").content.decode()
    assert 'href="/setup/checklist/" aria-current="page">Setup' in checklist
    assert 'href="/setup/tmdb/">Go through the setup again' in checklist


def test_members_read_the_checklist_but_change_nothing(client_member: Client) -> None:
    checklist = client_member.get("/setup/checklist/").content.decode()
    assert "Only an admin can change these." in checklist and "/setup/tmdb/" not in checklist
    assert client_member.get("/setup/tmdb/").status_code == 403
    response = client_member.post("/setup/peers/", {})
    assert response.status_code == 403
    assert get_preferences().dht is True


def test_admins_may_set_up_too(client_admin: Client) -> None:
    assert client_admin.post("/setup/peers/", {"dht": "on"}).status_code == 302


def test_steps_need_the_csrf_token(owner) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/setup/peers/", {}).status_code == 403
    assert get_preferences().dht is True


def test_an_unknown_step_is_not_found(client_owner: Client) -> None:
    assert client_owner.get("/setup/nope/").status_code == 404


def test_a_step_without_a_form_saves_nothing(client_owner: Client) -> None:
    assert client_owner.post("/setup/indexers/", {"dht": ""}).status_code == 403
    assert get_preferences().dht is True


def test_the_setup_needs_a_login(owner) -> None:
    response = Client().get("/setup/tmdb/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
