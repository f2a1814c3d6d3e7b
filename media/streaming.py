"""Streaming a title's video over HTTP (placeholder until streaming lands)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def stream(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404("Streaming is not ready yet.")
