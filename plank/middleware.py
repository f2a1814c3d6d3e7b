"""Cross-cutting request middleware: the login wall and the first-run redirect."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

# Paths served before the owner account exists: the health probe, static files, first run.
FIRST_RUN_OPEN = ("/healthz", "/static/", "/setup/")


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login wall (every view needs a login unless marked ``login_not_required``)."""


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
