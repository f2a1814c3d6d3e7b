"""The setup after the first run: the few things a household sets once, each skippable.

Right after the owner account is made (``plank.views.first_run``) Plank walks through four
steps, ``/setup/<step>/``: the TMDB key (with Test), indexers, the library folder, and peer
discovery (DHT, local discovery, port mapping). Each has Skip; nothing is required. The
checklist at ``/setup/checklist/`` (the "Setup" tab of Settings) says where each one stands
and leads back to any step, so every step can be revisited later.

``plank`` knows no app: indexers and library folders are the pages their apps register in
``plank.sections`` (``indexer-settings``, ``library-folders``); a step whose page is not
registered says so and offers only "later". The TMDB test is browse's ``browse:test-connection``
when it is there. What is saved here (the key, the switches) is the same ``Preferences`` row the
General settings page edits.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from plank import sections
from plank.access import admin_required, forbidden, is_admin
from plank.forms import PreferencesForm
from plank.models import Preferences, get_preferences

INDEXERS_PAGE = "indexer-settings"
FOLDERS_PAGE = "library-folders"
TMDB_TEST = "browse:test-connection"


@dataclass(frozen=True)
class Step:
    slug: str
    label: str
    template: str


STEPS = (
    Step("tmdb", "TMDB", "plank/setup_tmdb.html"),
    Step("indexers", "Indexers", "plank/setup_indexers.html"),
    Step("library", "Library folder", "plank/setup_library.html"),
    Step("peers", "Peer discovery", "plank/setup_peers.html"),
)
BY_SLUG = {step.slug: step for step in STEPS}


class TmdbKeyForm(PreferencesForm):
    """Just the key, checked as the settings page checks it (an empty field keeps a saved one)."""

    class Meta(PreferencesForm.Meta):
        fields = ("tmdb_api_key",)


class PeerDiscoveryForm(forms.ModelForm):
    class Meta:
        model = Preferences
        fields = ("dht", "lsd", "port_mapping")
        help_texts = {
            "dht": "Finds peers without a tracker. Most magnet links need it.",
            "lsd": "Finds peers on your own network (another computer at home sharing it).",
            "port_mapping": "Asks your router (UPnP / NAT-PMP) to let other peers reach Plank, "
            "which makes downloads faster. Off if you don't want Plank to open a port.",
        }


FORMS: dict[str, type[forms.ModelForm]] = {"tmdb": TmdbKeyForm, "peers": PeerDiscoveryForm}


def page_url(url_name: str) -> str | None:
    """The URL of a settings page an app registered in ``plank.sections``, or None."""
    if url_name not in {s.url_name for s in sections.sections()}:
        return None
    return _reverse_or_none(url_name)


def _reverse_or_none(url_name: str) -> str | None:
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


def _next_url(step: Step) -> str:
    index = STEPS.index(step)
    if index + 1 < len(STEPS):
        return reverse("setup-step", args=[STEPS[index + 1].slug])
    return reverse("setup-checklist")


@require_http_methods(["GET", "POST"])
@admin_required
def step(request: HttpRequest, slug: str) -> HttpResponse:
    """One step: GET shows it, POST saves it (the steps with a form) and goes on to the next."""
    current = BY_SLUG.get(slug)
    if current is None:
        raise Http404("no such setup step")
    prefs = get_preferences()
    form_class = FORMS.get(slug)
    if request.method == "POST" and form_class is None:
        return forbidden(request, "This step has nothing to save.")
    form = form_class(request.POST or None, instance=prefs) if form_class else None
    if request.method == "POST" and form is not None and form.is_valid():
        with transaction.atomic():  # the row and its announcement together
            form.save()
        messages.success(request, f"{current.label}: saved.")
        return redirect(_next_url(current))
    context = {
        "nav": "settings",
        "step": current,
        "steps": STEPS,
        "number": STEPS.index(current) + 1,
        "next_url": _next_url(current),
        "form": form,
        "prefs": prefs,
        "tmdb_test_url": _reverse_or_none(TMDB_TEST),
        "indexers_url": page_url(INDEXERS_PAGE),
        "folders_url": page_url(FOLDERS_PAGE),
        "library_dir": settings.LIBRARY_DIR,
    }
    return render(request, current.template, context)


@require_GET
def checklist(request: HttpRequest) -> HttpResponse:
    """Where each part of the setup stands; admins can go back to any step."""
    prefs = get_preferences()
    context = {
        "nav": "settings",
        "steps": STEPS,
        "prefs": prefs,
        "can_edit": is_admin(request.user),
        "indexers_url": page_url(INDEXERS_PAGE),
        "folders_url": page_url(FOLDERS_PAGE),
        "library_dir": settings.LIBRARY_DIR,
    }
    return render(request, "plank/setup_checklist.html", context)
