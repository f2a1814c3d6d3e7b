"""The socket's same-origin check.

channels' ``AllowedHostsOriginValidator`` compares host names only, so a page served by any
other program on the same machine (``http://127.0.0.1:3000``) would pass and ride the session
cookie. This middleware also requires the Origin's host *and port* to be the ones the socket
was opened on (the ``Host`` header), or an origin listed in ``PLANK_CSRF_TRUSTED_ORIGINS``
(a TLS proxy in front of Plank). Behind a proxy, keep the ``Host`` header (nginx:
``proxy_set_header Host $host;``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings


def same_origin(origin: str, host: str) -> bool:
    if not origin or not host:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    return parts.scheme in {"http", "https"} and parts.netloc.lower() == host.lower()


class SameOriginValidator:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            origin = headers.get(b"origin", b"").decode("latin-1")
            # Browsers always send Host; only an in-process test harness goes without it, and
            # then the host-name check of AllowedHostsOriginValidator still applies.
            if host and not same_origin(origin, host):
                return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
