"""Every URL in the URLconf needs a login, except the few that must not."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import get_converters

from tests.factories import PASSWORD

OPEN = {
    "/healthz",
    "/accounts/login/",
    "/accounts/logout/",
    "/setup/",
    "/favicon.ico",
    "/invite/1/",
}


def _walk(patterns, prefix: str = ""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


CANDIDATES = ["1", "movie", "x", "a/b.jpg", "w342"]


def _sample(match: re.Match[str]) -> str:
    """A value that the converter named in ``<conv:name>`` accepts."""
    converter = get_converters().get(match.group(1), get_converters()["str"])
    for candidate in CANDIDATES:
        if re.fullmatch(converter.regex, candidate):
            return candidate
    raise AssertionError(f"no sample value for converter {match.group(1)}")


def _example(route: str) -> str:
    """A concrete path for a route, with sample values for its converters."""
    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: _sample(m) if m.group(1) else "x", route)
    route = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", route)
    route = re.sub(r"[()?^$*+]", "", route)
    return "/" + route


def all_paths() -> list[str]:
    paths = sorted({_example(r) for r in _walk(get_resolver().url_patterns)})
    return [p for p in paths if not p.startswith("/admin/")]


@pytest.mark.django_db
@pytest.mark.parametrize("path", all_paths())
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_page_needs_login(owner, path: str, method: str) -> None:
    if path in OPEN:
        pytest.skip("open by design")
    response = getattr(Client(), method)(path)
    assert response.status_code == 302, f"{method.upper()} {path} answered {response.status_code}"
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_wall_covers_a_real_list_of_pages() -> None:
    paths = all_paths()
    # the enumeration must actually find the app's pages (guards against an empty walk)
    for expected in ["/", "/media/add", "/media/1/", "/media/1/delete", "/system/"]:
        assert expected in paths


@pytest.mark.django_db
def test_admin_needs_staff_login(owner) -> None:
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_healthz_is_open_without_users() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


@pytest.mark.django_db
def test_login_page_renders(owner) -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


@pytest.mark.django_db
def test_login_with_password_then_logout(owner) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_wrong_password_says_so(owner) -> None:
    response = Client().post("/accounts/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.django_db
def test_an_htmx_request_without_a_session_is_told_to_log_in_not_redirected(owner) -> None:
    response = Client().post(
        "/media/1/delete", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/?type=tv"
    )
    assert response.status_code == 401  # htmx treats it as a failure: the card comes back
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"
