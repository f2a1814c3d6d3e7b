"""Plank's error pages (403, 404, 500, an expired form) in its own look with the navigation, the
favicon, and the admin in the same dark look."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import include, path
from django.views.defaults import server_error

from plank.models import get_preferences
from tests.factories import PASSWORD

NAV = ('class="site-nav"', 'href="/browse/"', 'href="/settings/"')


def boom(request):
    raise RuntimeError("a bug")


def refuse(request):
    raise PermissionDenied("raised by a view")


# A URLconf of Plank's own plus two views that fail, for the tests that need a real failure.
urlpatterns = [
    path("boom/", boom),
    path("refuse/", refuse),
    path("", include("plank.urls")),
]


def test_500_renders_without_a_database_or_a_request_context() -> None:
    # No django_db mark: any query here fails the test.
    response = server_error(RequestFactory().get("/media/1/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html and "nothing was changed" in html
    assert all(part in html for part in NAV)
    assert 'href="/static/plank/plank.css"' in html


@pytest.mark.django_db
def test_a_failing_view_gets_the_styled_500(settings, owner) -> None:
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content and b"a bug" not in response.content


@pytest.mark.django_db
def test_404_has_the_navigation_and_says_what_was_asked(client_owner: Client) -> None:
    response = client_owner.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Nothing here" in html and "/no/such/page/" in html
    assert all(part in html for part in NAV)
    assert 'class="error-code" aria-hidden="true">404<' in html


@pytest.mark.django_db
def test_a_missing_title_is_the_styled_404(client_owner: Client) -> None:
    response = client_owner.get("/media/999999/")
    assert response.status_code == 404
    assert b"Nothing here" in response.content
    assert b"No Title matches" not in response.content  # Django's words stay out of it


@pytest.mark.django_db
def test_403_from_a_role_check_says_why_with_the_navigation(client_member: Client) -> None:
    response = client_member.get("/setup/tmdb/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in html and "Only an admin can do that." in html
    assert all(part in html for part in NAV)


@pytest.mark.django_db
def test_403_raised_by_a_view_is_styled(settings, client_member: Client) -> None:
    settings.ROOT_URLCONF = __name__
    response = client_member.get("/refuse/")
    assert response.status_code == 403
    assert b"Not allowed" in response.content and b'class="site-nav"' in response.content


@pytest.mark.django_db
def test_an_expired_form_says_so_and_changes_nothing(owner) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="owner", password=PASSWORD)
    response = client.post("/settings/", {"tmdb_language": "fr-FR", "metadata_timeout": 60})
    assert response.status_code == 403
    assert b"That form had expired" in response.content
    assert get_preferences().tmdb_language == "en-US"


@pytest.mark.django_db
def test_the_favicon_needs_no_login_and_is_plank_s_icon(owner) -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/plank/icon.svg"
    icon = Client().get(response["Location"])
    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")


@pytest.mark.django_db
def test_the_favicon_is_there_before_the_first_account() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/icon.svg")


@pytest.mark.django_db
def test_the_admin_is_in_plank_s_dark_look(client_owner: Client) -> None:
    html = client_owner.get("/admin/").content.decode()
    assert "/static/plank/admin.css" in html and "admin/css/dark_mode.css" not in html
    assert "Plank admin" in html and 'name="color-scheme" content="dark"' in html
    css = Client().get("/static/plank/admin.css")
    assert css.status_code == 200
    assert b"--body-bg: #0f1216" in b"".join(css.streaming_content)


@pytest.mark.django_db
def test_the_admin_login_page_is_dark_too(owner) -> None:
    html = Client().get("/admin/login/").content.decode()
    assert "/static/plank/admin.css" in html
