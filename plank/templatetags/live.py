"""Template tags of the live layer (a builtin: no ``{% load %}`` needed).

``{% live_attrs key url %}`` makes an element refetch itself when its key goes stale::

    <section {% live_attrs "media/list/movie" request.get_full_path %}>...</section>
    <div {% live_attrs key url %}>  {# key: a tuple or list, e.g. ("media", title.pk) #}

writes ``data-live-key="media/list/movie" hx-get="<url>" hx-trigger="live:refresh"
hx-swap="outerHTML" hx-sync="this:replace"``; the partial at ``url`` renders the same element.

``{% live_set_attrs key %}`` marks an element that ``set`` frames update in place
(``data-live-set="download/42"``; its ``[data-field]`` descendants take the values).
``{{ key|live_key }}`` is the key's path.

``{% live_meta %}`` (in the page's ``<head>``) writes the sequence number the page was
rendered at, ``<meta name="plank-live-seq" content="N">``: live.js then connects with
``?since=N`` and a change made between the render and the socket's hello is replayed instead
of lost. N is the position of this process's relay when one runs (every row up to it has made
this process's caches stale, so cached fragments in the page are at least that new), else the
outbox's newest seq.

``{% live_fragment key vary... %}...{% endlive_fragment %}`` serves the block from the per-key
cache until an invalidation names ``key`` (plank/live/fragments.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from plank.live import fragments, hub
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


def rendered_at() -> int:
    """The seq a page rendered now is at least as new as (see the module docstring)."""
    running = [relay for relay in hub.relays() if relay.ready.is_set()]
    if running:
        return min(int(r.last_seq) for r in running)
    return current_seq()


@register.simple_tag
def live_meta() -> SafeString:
    try:
        seq = rendered_at()
    except Exception:  # no outbox yet (before migrate): the page works without it
        return format_html("")
    return format_html('<meta name="plank-live-seq" content="{}">', seq)


class LiveFragmentNode(template.Node):
    def __init__(self, key: template.base.FilterExpression, vary: list, nodelist) -> None:
        self.key = key
        self.vary = vary
        self.nodelist = nodelist

    def render(self, context: template.Context) -> str:
        key = self.key.resolve(context)
        key = from_path(key.strip("/")) if isinstance(key, str) else check_key(key)
        vary = tuple(str(v.resolve(context)) for v in self.vary)
        html = fragments.render(key, vary, lambda: self.nodelist.render(context))
        return mark_safe(html)  # noqa: S308 (the nodelist's own output, escaped as it rendered)


@register.tag(name="live_fragment")
def live_fragment(parser: template.base.Parser, token: template.base.Token) -> LiveFragmentNode:
    """``{% live_fragment key vary... %}...{% endlive_fragment %}``: the block's HTML comes from
    the per-key cache under ``key`` (plank/live/fragments.py), rendered once per change of it.
    Nothing per request (a CSRF token, messages) may be inside."""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("live_fragment needs a key")
    nodelist = parser.parse(("endlive_fragment",))
    parser.delete_first_token()
    return LiveFragmentNode(
        parser.compile_filter(bits[1]), [parser.compile_filter(b) for b in bits[2:]], nodelist
    )
