"""The settings page: run-time settings stored in the database."""

from __future__ import annotations

import pytest
from django.test import Client

from plank.live.models import Outbox
from plank.models import Preferences, get_preferences

pytestmark = pytest.mark.django_db

V3 = "0123456789abcdef0123456789abcdef"


def test_first_value_comes_from_the_environment(settings) -> None:
    settings.PLANK_TMDB_API_KEY = V3
    assert get_preferences().tmdb_api_key == V3
    settings.PLANK_TMDB_API_KEY = "ffffffffffffffffffffffffffffffff"
    assert get_preferences().tmdb_api_key == V3  # the database wins once it has a value


def test_owner_saves_settings(client_owner: Client) -> None:
    response = client_owner.post(
        "/settings/",
        {
            "tmdb_api_key": V3,
            "tmdb_language": "fr-FR",
            "dht": "on",
            "metadata_timeout": "60",
            "seed_ratio": "1.5",
        },
    )
    assert response.status_code == 302
    prefs = Preferences.objects.get()
    assert (
        prefs.tmdb_api_key,
        prefs.tmdb_language,
        prefs.dht,
        prefs.lsd,
        prefs.seed_ratio,
        prefs.metadata_timeout,
    ) == (V3, "fr-FR", True, False, 1.5, 60)
    assert Preferences.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tmdb_api_key", "not-a-key", "doesn&#x27;t look like a TMDB key"),
        ("tmdb_language", "english", "language code"),
        ("metadata_timeout", "1", "greater than or equal to 5"),
    ],
)
def test_bad_values_are_refused_with_a_message(
    client_owner: Client, field: str, value: str, message: str
) -> None:
    data = {"tmdb_api_key": "", "tmdb_language": "en-US", "metadata_timeout": "120"} | {
        field: value
    }
    response = client_owner.post("/settings/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert get_preferences().tmdb_language == "en-US"


def test_a_member_can_look_but_not_change(client_member: Client) -> None:
    page = client_member.get("/settings/").content.decode()
    assert "Only an admin can change these." in page
    client_member.post(
        "/settings/", {"tmdb_api_key": V3, "tmdb_language": "de-DE", "metadata_timeout": "60"}
    )
    assert get_preferences().tmdb_language == "en-US"


def test_settings_need_csrf(owner) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert (
        client.post("/settings/", {"tmdb_language": "de-DE", "metadata_timeout": "60"}).status_code
        == 403
    )


def test_the_saved_key_is_never_sent_back_and_an_empty_field_keeps_it(
    client_owner: Client, client_member: Client
) -> None:
    client_owner.post(
        "/settings/", {"tmdb_api_key": V3, "tmdb_language": "en-US", "metadata_timeout": "120"}
    )
    for client in (client_owner, client_member):
        assert V3 not in client.get("/settings/").content.decode()
    client_owner.post(
        "/settings/", {"tmdb_api_key": "", "tmdb_language": "de-DE", "metadata_timeout": "120"}
    )
    prefs = get_preferences()
    assert (prefs.tmdb_api_key, prefs.tmdb_language) == (V3, "de-DE")
    client_owner.post(
        "/settings/",
        {
            "tmdb_api_key": "",
            "clear_tmdb_api_key": "on",
            "tmdb_language": "de-DE",
            "metadata_timeout": "120",
        },
    )
    assert get_preferences().tmdb_api_key == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("empty_outbox")
def test_a_save_that_changes_the_tmdb_key_is_one_announcement(client_owner: Client) -> None:
    form = {"tmdb_api_key": V3, "tmdb_language": "en-US", "metadata_timeout": "60"}
    assert client_owner.post("/settings/", form).status_code == 302
    assert [row.keys for row in Outbox.objects.all()] == [[["preferences"], ["tmdb"]]]
