"""Template tags of the live layer (a builtin: no ``{% load %}`` needed).

``{% live_attrs key url %}`` makes an element refetch itself when its key goes stale::

    <section {% live_attrs "media/list/movie" request.get_full_path %}>...</section>
    <div {% live_attrs key url %}>  {# key: a tuple or list, e.g. ("media", title.pk) #}

writes ``data-live-key="media/list/movie" hx-get="<url>" hx-trigger="live:refresh"
hx-swap="outerHTML" hx-sync="this:replace"``; the partial at ``url`` renders the same element.

``{% live_set_attrs key %}`` marks an element that ``set`` frames update in place
(``data-live-set="download/42"``; its ``[data-field]`` descendants take the values).
``{{ key|live_key }}`` is the key's path.

``{% live_meta %}`` (in the page's ``<head>``) writes the outbox's current sequence number,
``<meta name="plank-live-seq" content="N">``: live.js then connects with ``?since=N`` and a
change made between the render and the socket's hello is replayed instead of lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from plank.live.keys import Key, check_key, from_path, to_path
from plank.live.outbox import current_seq

register = template.Library()


def _path(key: Key | Sequence[str | int] | str) -> str:
    if isinstance(key, str):
        return to_path(from_path(key.strip("/")))
    return to_path(check_key(key))


@register.filter(name="live_key")
def live_key(key: Key | Sequence[str | int] | str) -> str:
    """The key's path: ``("media", 42)`` -> ``"media/42"``."""
    return _path(key)


@register.simple_tag
def live_attrs(key: Key | Sequence[str | int] | str, url: str) -> SafeString:
    return format_html(
        'data-live-key="{}" hx-get="{}" hx-trigger="live:refresh" hx-swap="outerHTML" '
        'hx-sync="this:replace"',
        _path(key),
        url,
    )


@register.simple_tag
def live_set_attrs(key: Key | Sequence[str | int] | str) -> SafeString:
    return format_html('data-live-set="{}"', _path(key))


@register.simple_tag
def live_meta() -> SafeString:
    try:
        seq = current_seq()
    except Exception:  # no outbox yet (before migrate): the page works without it
        return format_html("")
    return format_html('<meta name="plank-live-seq" content="{}">', seq)
