"""The Content-Security-Policy on every response (issue 11).

Scripts run only from Plank's own files: no inline ``<script>``, no ``on*=`` handlers, no
``javascript:`` URLs and no eval (htmx's ``allowEval`` is off in ``templates/base.html``, so
``hx-on``, ``js:`` values and ``[filter]`` triggers would do nothing). Page behaviour lives in
``static/plank/*.js``, wired by data attributes and event delegation.
``tests/plank/test_csp.py`` scans every template for inline script.

A response that already carries a policy (a view that needs a stricter one) keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

DIRECTIVES = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    # 'unsafe-inline' for styles only: templates set style="" for progress widths and poster
    # hues, and htmx injects its small .htmx-indicator <style>. No script can run from a style.
    ("style-src", "'self' 'unsafe-inline'"),
    ("img-src", "'self' data: blob:"),
    ("media-src", "'self' blob:"),
    ("font-src", "'self'"),
    ("connect-src", None),  # 'self' and the live socket, per request (see connect_src)
    ("object-src", "'none'"),
    ("base-uri", "'self'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'self'"),
)


def connect_src(request: HttpRequest) -> str:
    """'self' plus ws:// and wss:// of this host: older Chromes do not match ws: with 'self'.

    The host comes from ``get_host()``, which Django has checked against ALLOWED_HOSTS and its
    host pattern (letters, digits, dots, dashes, a port), so it cannot break out of the header.
    """
    try:
        host = request.get_host()
    except DisallowedHost:  # the 400 for a bad Host header still gets a policy, without it
        return "'self'"
    return f"'self' ws://{host} wss://{host}"


def policy(request: HttpRequest) -> str:
    parts = []
    for name, value in DIRECTIVES:
        parts.append(f"{name} {connect_src(request) if value is None else value}")
    return "; ".join(parts)


class ContentSecurityPolicyMiddleware:
    """Sets the policy on every response that has none; sync and async alike."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return self._apply(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return self._apply(request, await self.get_response(request))

    @staticmethod
    def _apply(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if HEADER not in response:
            response[HEADER] = policy(request)
        return response
