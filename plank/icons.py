"""``/favicon.ico``: browsers ask for it where a page names no icon (the admin, a file opened
directly, a bookmark); it sends them to Plank's icon (static/plank/icon.svg)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_GET


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    return HttpResponsePermanentRedirect(static("plank/icon.svg"))
