"""Login attempts are throttled per user name and per address, with the wait in words."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import Client

from plank import throttle
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def limits(settings):
    settings.PLANK_LOGIN_FAILURES_PER_USER = 3
    settings.PLANK_LOGIN_FAILURES_PER_ADDRESS = 5
    settings.PLANK_LOGIN_WINDOW_SECONDS = 600
    caches["logins"].clear()
    yield
    caches["logins"].clear()


def attempt(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


def test_a_user_name_is_locked_after_its_failures_even_for_the_right_password(owner) -> None:
    for _ in range(2):
        assert attempt("owner", "wrong").status_code == 200
    third = attempt("owner", "wrong")
    assert third.status_code == 429
    assert "Too many failed attempts. Wait 10 minutes, then try again." in third.content.decode()
    right = attempt("owner", PASSWORD, address="10.0.0.2")  # another address: the name is locked
    assert right.status_code == 429 and "_auth_user_id" not in right.client.session
    assert attempt("OWNER ", "wrong", address="10.0.0.3").status_code == 429, "same name, any case"


def test_an_address_is_locked_after_its_failures_across_names(owner) -> None:
    for n in range(4):
        assert attempt(f"nobody{n}", "wrong").status_code == 200
    assert attempt("nobody4", "wrong").status_code == 429
    assert attempt("owner", PASSWORD).status_code == 429, "that address is locked"
    assert attempt("owner", PASSWORD, address="10.0.0.9").status_code == 302, "others are not"


def test_a_success_clears_the_user_names_count(owner) -> None:
    for _ in range(2):
        attempt("owner", "wrong")
    assert attempt("owner", PASSWORD).status_code == 302
    for _ in range(2):
        assert attempt("owner", "wrong", address="10.0.0.4").status_code == 200


def test_the_lock_ends_with_its_window(owner) -> None:
    now = 1_000_000.0
    for _ in range(3):
        throttle.failed("owner", "10.0.0.5", now=now)
    assert throttle.locked_for("owner", "10.0.0.5", now=now + 1) == 599
    assert throttle.locked_for("owner", "10.0.0.5", now=now + 601) == 0


def test_the_wait_in_words() -> None:
    assert throttle.wait_in_words(1) == "1 second"
    assert throttle.wait_in_words(45) == "45 seconds"
    assert throttle.wait_in_words(61) == "2 minutes"
    assert throttle.wait_in_words(600) == "10 minutes"


def _behind(proxy: str, forwarded: str) -> Client:
    return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded)


def test_behind_a_trusted_proxy_each_client_has_its_own_count(settings, owner) -> None:
    settings.PLANK_TRUSTED_PROXIES = frozenset({"10.9.9.9"})
    for n in range(5):  # five names from one client behind the proxy: that client is locked
        _behind("10.9.9.9", "203.0.113.7").post(
            "/accounts/login/", {"username": f"nobody{n}", "password": "x"}
        )
    locked = _behind("10.9.9.9", "203.0.113.7").post(
        "/accounts/login/", {"username": "owner", "password": PASSWORD}
    )
    assert locked.status_code == 429
    other = _behind("10.9.9.9", "198.51.100.2, 10.9.9.9")  # another client: not locked
    answer = other.post("/accounts/login/", {"username": "owner", "password": PASSWORD})
    assert answer.status_code == 302


def test_x_forwarded_for_is_ignored_from_anyone_else(settings) -> None:
    settings.PLANK_TRUSTED_PROXIES = frozenset({"10.9.9.9"})
    request = _behind("10.0.0.1", "203.0.113.7").get("/healthz").wsgi_request
    assert throttle.client_address(request) == "10.0.0.1"
    settings.PLANK_TRUSTED_PROXIES = frozenset()
    request = _behind("10.9.9.9", "203.0.113.7").get("/healthz").wsgi_request
    assert throttle.client_address(request) == "10.9.9.9"
