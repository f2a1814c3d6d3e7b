"""API keys are encrypted at rest and never rendered back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from plank.models import get_preferences
from plank.secrets import PREFIX, decrypt, encrypt

pytestmark = pytest.mark.django_db

KEY = "0123456789abcdef0123456789abcdef"


def stored_key() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tmdb_api_key FROM plank_preferences WHERE id = 1")
        return cursor.fetchone()[0]


def test_round_trip_and_a_fresh_iv_each_time() -> None:
    assert decrypt(encrypt(KEY)) == KEY
    assert encrypt(KEY) != encrypt(KEY)
    assert encrypt("") == "" and decrypt("") == ""


def test_the_key_is_encrypted_in_the_database() -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = KEY
    prefs.save()
    raw = stored_key()
    assert raw.startswith(PREFIX) and KEY not in raw
    prefs.refresh_from_db()
    assert prefs.tmdb_api_key == KEY


def test_a_plain_value_from_before_reads_as_it_is() -> None:
    get_preferences()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE plank_preferences SET tmdb_api_key = %s WHERE id = 1", [KEY])
    assert get_preferences().tmdb_api_key == KEY


def test_another_secret_key_reads_as_empty(settings, caplog) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = KEY
    prefs.save()
    settings.SECRET_KEY = "another secret key entirely, long enough to be one"
    assert get_preferences().tmdb_api_key == ""
    assert "cannot be decrypted" in caplog.text


def test_the_admin_and_the_settings_page_never_show_it(client_owner: Client) -> None:
    prefs = get_preferences()
    prefs.tmdb_api_key = KEY
    prefs.save()
    for url in ("/admin/plank/preferences/1/change/", "/settings/"):
        page = client_owner.get(url)
        assert page.status_code == 200
        assert KEY not in page.content.decode()
