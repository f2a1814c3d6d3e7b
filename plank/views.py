"""Project-wide pages: the health probe, the first-run page, and the system page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plank import cache_admin, setup
from plank import system as system_health
from plank.access import admin_required, forbidden, is_admin
from plank.forms import OwnerForm, PreferencesForm
from plank.models import get_preferences


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


@login_not_required
@require_http_methods(["GET", "POST"])
def first_run(request: HttpRequest) -> HttpResponse:
    """Create the owner account when no user exists yet, then go on to the setup
    (plank/setup.py); afterwards this page is gone."""
    if get_user_model().objects.exists():
        return redirect("library")
    form = OwnerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("setup-step", slug=setup.STEPS[0].slug)  # then the rest of the setup
    return render(request, "plank/first_run.html", {"form": form})


@require_GET
def system(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "system",
        "checks": system_health.checks(),
        "cache": cache_admin.prefix_table(),
        "can_edit": is_admin(request.user),
    }
    return render(request, "plank/system.html", context)


@require_POST
@admin_required
def cache_clear(request: HttpRequest) -> HttpResponse:
    """Clear one prefix of the per-key cache (the /system/ table's Clear button)."""
    path = request.POST.get("prefix", "")
    try:
        cleared = cache_admin.clear_prefix(path)
    except ValueError:
        messages.error(request, f"“{path[:100]}” is not a cache prefix; nothing was cleared.")
        return redirect("system")
    messages.success(request, cache_admin.cleared_words(cleared))
    return redirect("system")


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """The household's run-time settings. Only staff may change them; everyone may look."""
    prefs = get_preferences()
    form = PreferencesForm(request.POST or None, instance=prefs)
    if request.method == "POST":
        if not is_admin(request.user):
            return forbidden(request, "Only an admin can change the settings.")
        if form.is_valid():
            # One transaction: the row and what it makes stale (the preferences' declaration,
            # and browse's TMDB key check) are announced together, once.
            with transaction.atomic():
                form.save()
            messages.success(request, "Settings saved.")
            return redirect("preferences")
    return render(
        request,
        "plank/preferences.html",
        {"nav": "settings", "form": form, "can_edit": is_admin(request.user)},
    )
