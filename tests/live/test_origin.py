"""The socket accepts only pages of its own origin: host and port."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from plank.asgi import application
from plank.live.origin import same_origin


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("https://LOCALHOST:8000", "localhost:8000", True),
        ("http://127.0.0.1:3000", "127.0.0.1:8000", False),  # another program on this machine
        ("http://evil.example", "127.0.0.1:8000", False),
        ("", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        ("file://127.0.0.1:8000", "127.0.0.1:8000", False),
    ],
)
def test_same_origin(origin: str, host: str, ok: bool) -> None:
    assert same_origin(origin, host) is ok


def test_a_trusted_proxy_origin_passes(settings) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://plank.example.org"]
    assert same_origin("https://plank.example.org", "127.0.0.1:8000")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "accepted"), [(b"http://127.0.0.1:8000", True), (b"http://127.0.0.1:3000", False)]
)
async def test_the_handshake_checks_the_port(origin: bytes, accepted: bool) -> None:
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"host", b"127.0.0.1:8000"), (b"origin", origin)]
    )
    connected, _ = await communicator.connect(timeout=3)
    # anonymous here: a same-origin socket is accepted (then closed 4401), a foreign one refused
    assert connected is accepted
    await communicator.disconnect()
