from __future__ import annotations

from django import template
from django.urls import reverse

from plank.sections import sections

register = template.Library()


@register.inclusion_tag("plank/_settings_tabs.html", takes_context=True)
def settings_tabs(context: template.Context) -> dict[str, object]:
    """The settings area's tabs, the current page's marked."""
    path = context["request"].path
    tabs = [(s.label, reverse(s.url_name)) for s in sections()]
    return {"tabs": [(label, url, url == path) for label, url in tabs]}
