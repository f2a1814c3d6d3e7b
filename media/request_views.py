"""The requests page: what people asked for, live; admins approve or decline each with a note,
the person who asked sees the outcome (and may withdraw a pending one). Rules:
``media.requests``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from media import live, requests
from media.models import Request
from plank.access import ADMIN_ONLY, forbidden, is_admin

DECISIONS = {"approve": requests.approve, "decline": requests.decline}
DONE = {"approve": "Approved: the search starts now.", "decline": "Declined."}


@require_GET
def requests_page(request: HttpRequest) -> HttpResponse:
    visible = requests.visible_to(request.user)
    context = {
        "nav": "requests",
        "can_decide": is_admin(request.user),
        "pending": list(visible.filter(state=Request.State.PENDING).order_by("created_at")),
        "decided": list(visible.exclude(state=Request.State.PENDING)[:50]),
        "requests_key": live.REQUESTS,
        "list_url": f"{reverse('requests')}?partial=list",
    }
    if request.htmx and request.GET.get("partial") == "list":
        return render(request, "media/requests.html#list", context)
    return render(request, "media/requests.html", context)


@require_POST
def decide(request: HttpRequest, pk: int, verdict: str) -> HttpResponse:
    if not is_admin(request.user):
        return forbidden(request, ADMIN_ONLY)
    asked = get_object_or_404(Request, pk=pk)
    if verdict not in DECISIONS:
        return _refused(request, "Approve or decline: nothing else.")
    try:
        DECISIONS[verdict](asked, request.user, request.POST.get("note", ""))
    except requests.RequestError as exc:
        return _refused(request, str(exc))
    return _done(request, DONE[verdict])


@require_POST
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    asked = get_object_or_404(Request, pk=pk)
    if asked.requested_by_id != request.user.pk:
        return forbidden(request, "Only the person who asked can withdraw a request.")
    try:
        requests.withdraw(asked, request.user)
    except requests.RequestError as exc:
        return _refused(request, str(exc))
    return _done(request, "Withdrawn.")


def _done(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:
        return HttpResponse(status=204)  # the list refreshes itself (its live key)
    messages.success(request, message)
    return redirect("requests")


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:
        return HttpResponse(message, status=409, content_type="text/plain; charset=utf-8")
    messages.error(request, message)
    return redirect("requests")
