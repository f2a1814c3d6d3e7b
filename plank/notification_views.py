"""The notifications' pages: the list (``/notifications/``, and the user menu's partials) and
"Mark all read" (POST). Each person sees only their own."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from plank import notifications
from plank.templatetags.notifications import badge_context


def _menu(request: HttpRequest, *, oob_count: bool = False) -> HttpResponse:
    unread = notifications.unread_count(request.user)
    context = badge_context(unread) | {
        "items": notifications.for_user(request.user),
        "menu_url": f"{reverse('notifications')}?partial=menu",
        "oob_count": oob_count,
    }
    return render(request, "plank/_notifications.html#menu", context)


@require_GET
def notifications_page(request: HttpRequest) -> HttpResponse:
    partial = request.GET.get("partial")
    if request.htmx and partial == "count":
        context = badge_context(notifications.unread_count(request.user))
        return render(request, "plank/_notifications.html#count", context)
    if request.htmx and partial == "menu":
        return _menu(request)
    context = {
        "items": notifications.for_user(request.user, notifications.PAGE_SIZE),
        "unread": notifications.unread_count(request.user),
    }
    return render(request, "plank/notifications.html", context)


@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    notifications.mark_all_read(request.user)
    if request.htmx:
        return _menu(request, oob_count=True)
    return redirect("notifications")
