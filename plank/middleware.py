"""Cross-cutting request middleware: the login wall and the first-run redirect."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

# Paths served before the owner account exists: the health probe, static files, first run.
FIRST_RUN_OPEN = ("/healthz", "/static/", "/setup/", "/favicon.ico")


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login wall (every view needs a login unless marked ``login_not_required``).

    An htmx request (a partial refresh, a delete) gets 401 with ``HX-Redirect`` instead of a
    302: a followed redirect would look like success to htmx and paste the login page into a
    partial, or hide a card that was never deleted.
    """

    def handle_no_permission(self, request: HttpRequest, view_func: Callable) -> HttpResponse:
        if request.headers.get("HX-Request") == "true":
            page = request.headers.get("HX-Current-URL", "")
            next_path = urlsplit(page).path if page else request.path
            response = HttpResponse("Your session has ended. Please log in again.", status=401)
            response["HX-Redirect"] = f"{reverse('login')}?{urlencode({'next': next_path or '/'})}"
            return response
        return super().handle_no_permission(request, view_func)


class FirstRunMiddleware:
    """While no user exists, send every page to the first-run page that creates the owner."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._has_users = False

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._has_users and not request.path.startswith(FIRST_RUN_OPEN):
            if get_user_model().objects.exists():
                self._has_users = True  # users never go back to none in a running process
            else:
                return redirect(reverse("setup"))
        return self.get_response(request)
