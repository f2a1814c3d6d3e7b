"""The first-run page creates the owner account when no user exists."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

User = get_user_model()


@pytest.mark.django_db
def test_without_users_every_page_leads_to_setup() -> None:
    client = Client()
    for path in ["/", "/accounts/login/", "/system/", "/media/1/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/setup/", path


@pytest.mark.django_db
def test_setup_creates_the_owner_and_logs_in() -> None:
    client = Client()
    assert b"Create account" in client.get("/setup/").content
    response = client.post(
        "/setup/",
        {"username": "anna", "password1": "a long pass phrase", "password2": "a long pass phrase"},
    )
    assert response.status_code == 302 and response["Location"] == "/setup/tmdb/"  # the setup
    anna = User.objects.get()
    assert anna.username == "anna" and anna.is_superuser and anna.is_staff
    assert client.get("/").status_code == 200  # logged in


@pytest.mark.django_db
def test_setup_refuses_a_bad_password_and_creates_nothing() -> None:
    response = Client().post(
        "/setup/", {"username": "anna", "password1": "short", "password2": "short"}
    )
    assert response.status_code == 200
    assert b"too short" in response.content
    assert not User.objects.exists()


@pytest.mark.django_db
def test_setup_is_gone_once_a_user_exists(owner) -> None:
    client = Client()
    response = client.post(
        "/setup/",
        {
            "username": "mallory",
            "password1": "a long pass phrase",
            "password2": "a long pass phrase",
        },
    )
    assert response.status_code == 302
    assert not User.objects.filter(username="mallory").exists()


@pytest.mark.django_db
def test_setup_needs_csrf() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/setup/",
        {"username": "anna", "password1": "a long pass phrase", "password2": "a long pass phrase"},
    )
    assert response.status_code == 403
    assert not User.objects.exists()


@pytest.mark.django_db
def test_createsuperuser_noinput_also_works(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long pass phrase")
    call_command(
        "createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com"
    )
    client = Client()
    assert client.login(username="root", password="a long pass phrase")
    assert client.get("/").status_code == 200
