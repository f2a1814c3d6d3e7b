"""The player page and playback positions (placeholder until streaming lands)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def watch(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404("The player is not ready yet.")


def save_position(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404("The player is not ready yet.")
