"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

MATRIX = "magnet:?xt=urn:btih:c9e15763f722f23e98a29decdfae341b98d53056&dn=The.Matrix.1999.1080p.BluRay.x264-GRP"
SHOW = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=Breaking.Bad.S01E02.720p.HDTV.x264-GRP"


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """A fast password hasher in the test process (a served subprocess keeps the default)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_superuser("owner", "owner@example.com", "correct horse battery")


@pytest.fixture
def member(db):
    return get_user_model().objects.create_user("member", "member@example.com", "another good password")


@pytest.fixture
def client_owner(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def client_member(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true"}
