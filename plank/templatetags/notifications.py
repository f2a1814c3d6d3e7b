"""``{% load notifications %}{% notifications_badge %}``: the user menu's count of unread
notifications (plank/notifications.py), a live partial refetched when the person's
notifications change. One query, kept by the ORM cache until a notification is written."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from plank import notifications
from plank.live.keys import to_path
from plank.live.project import NOTIFY

register = template.Library()


@register.inclusion_tag("plank/_notifications.html#count", takes_context=True)
def notifications_badge(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return badge_context(notifications.unread_count(user) if signed_in else 0)


@register.inclusion_tag("plank/_notifications.html#slot")
def notifications_slot() -> dict[str, Any]:
    """The menu's list, loaded when the menu opens, and the hidden target of the toasts."""
    return {"notify_key": to_path(NOTIFY), "menu_url": f"{reverse('notifications')}?partial=menu"}


def badge_context(unread: int) -> dict[str, Any]:
    return {
        "unread": unread,
        "notify_key": to_path(NOTIFY),
        "count_url": f"{reverse('notifications')}?partial=count",
    }
