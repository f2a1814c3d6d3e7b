"""The library folders' settings pages: the folders (add, scan, remove), one folder's page (its
scan, its watch, what became of each file), and the folder browser admins pick paths with.
Everyone may look; admins change."""

from __future__ import annotations

from cachalot.api import cachalot_disabled
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from media import folders, live
from media.models import LibraryFolder, MediaFile, Scan
from media.scan import scan_progress_data
from media.scan_queue import cancel_scan, request_scan
from plank.access import admin_required, is_admin
from plank.live.keys import to_path

FILES_PER_PAGE = 50
SHOWS = ("problems", "missing", "files")


def _decorate(folder: LibraryFolder, scan: Scan | None) -> LibraryFolder:
    """What the scan progress piece needs: its keys, its URL, the scan and its progress."""
    folder.last_scan = scan  # type: ignore[attr-defined]
    folder.progress = scan_progress_data(scan) if scan is not None else {}  # type: ignore[attr-defined]
    folder.scan_key = to_path(live.scan_progress(folder.pk))  # type: ignore[attr-defined]
    folder.progress_key = (*live.folder_page(folder.pk), "progress")  # type: ignore[attr-defined]
    folder.progress_url = reverse("library-folder", args=[folder.pk]) + "?partial=progress"  # type: ignore[attr-defined]
    return folder


def _with_counts() -> list[LibraryFolder]:
    rows = LibraryFolder.objects.annotate(
        videos=Count("files", filter=Q(files__role=MediaFile.Role.VIDEO), distinct=True),
        missing=Count("files", filter=Q(files__missing_since__isnull=False), distinct=True),
        problem_count=Count("problems", distinct=True),
    )
    with cachalot_disabled():  # scans write their rows from other processes all the time
        folders_list = list(rows)
        scans: dict[int, Scan] = {}
        for scan in Scan.objects.filter(folder__in=folders_list).order_by(
            "folder_id", "-requested_at", "-id"
        ):
            scans.setdefault(scan.folder_id, scan)
    return [_decorate(folder, scans.get(folder.pk)) for folder in folders_list]


@require_GET
def libraries_page(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "settings",
        "folders": _with_counts(),
        "folders_key": live.FOLDERS,
        "list_url": f"{reverse('library-folders')}?partial=list",
        "can_edit": is_admin(request.user),
        "kinds": LibraryFolder.FolderKind.choices,
        "form": {"name": "", "path": request.GET.get("path", "")[:1000], "kind": "movies"},
    }
    if request.htmx and request.GET.get("partial") == "list":
        return render(request, "media/libraries.html#list", context)
    return render(request, "media/libraries.html", context)


@require_POST
@admin_required
def add_folder(request: HttpRequest) -> HttpResponse:
    data = {k: request.POST.get(k, "") for k in ("name", "path", "kind")}
    try:
        folder = folders.add_folder(data["name"], data["path"], data["kind"], request.user)
    except folders.FolderError as exc:
        context = {
            "nav": "settings",
            "folders": _with_counts(),
            "folders_key": live.FOLDERS,
            "list_url": f"{reverse('library-folders')}?partial=list",
            "can_edit": True,
            "kinds": LibraryFolder.FolderKind.choices,
            "form": data,
            "form_error": str(exc),
        }
        return render(request, "media/libraries.html", context, status=400)
    request_scan(folder, trigger="added")
    messages.success(request, f"Added {folder.name}. Its first scan has started.")
    return redirect(folder)


@require_GET
def folder_page(request: HttpRequest, pk: int) -> HttpResponse:
    folder = get_object_or_404(LibraryFolder, pk=pk)
    show = request.GET.get("show") if request.GET.get("show") in SHOWS else "problems"
    query = request.GET.get("q", "").strip()[:200]
    with cachalot_disabled():  # scans write their rows from other processes all the time
        history = list(folder.scans.order_by("-requested_at", "-id")[:8])
    _decorate(folder, history[0] if history else None)
    params = request.GET.copy()
    params["partial"] = "page"
    context = {
        "nav": "settings",
        "folder": folder,
        "history": history,
        "show": show,
        "q": query,
        "page": _listing(request, folder, show, query),
        "counts": {
            "problems": folder.problems.count(),
            "missing": folder.files.filter(missing_since__isnull=False).count(),
            "files": folder.files.count(),
        },
        "folder_key": live.folder_page(folder.pk),
        "page_url": f"{request.path}?{params.urlencode()}",
        "can_edit": is_admin(request.user),
    }
    if request.htmx and request.GET.get("partial") == "progress":
        return render(request, "media/libraries_folder.html#progress", context)
    if request.htmx and request.GET.get("partial") == "page":
        return render(request, "media/libraries_folder.html#page", context)
    return render(request, "media/libraries_folder.html", context)


def _listing(request: HttpRequest, folder: LibraryFolder, show: str, query: str) -> Page:
    if show == "problems":
        rows = folder.problems.all()
    elif show == "missing":
        rows = folder.files.filter(missing_since__isnull=False).select_related("title", "episode")
    else:
        rows = folder.files.select_related("title", "episode__season").order_by("path")
    if query:
        rows = rows.filter(path__icontains=query)
    return Paginator(rows.order_by("path"), FILES_PER_PAGE).get_page(request.GET.get("page"))


@require_POST
@admin_required
def scan(request: HttpRequest, pk: int) -> HttpResponse:
    folder = get_object_or_404(LibraryFolder, pk=pk)
    full = request.POST.get("full") == "1"
    request_scan(folder, full=full, trigger="button")
    messages.success(
        request, f"{'A full scan' if full else 'A scan'} of {folder.name} is on its way."
    )
    return redirect(request.POST.get("next") or folder.get_absolute_url())


@require_POST
@admin_required
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    folder = get_object_or_404(LibraryFolder, pk=pk)
    messages.info(request, cancel_scan(folder))
    return redirect(folder)


@require_POST
@admin_required
def remove(request: HttpRequest, pk: int) -> HttpResponse:
    folder = get_object_or_404(LibraryFolder, pk=pk)
    name = folder.name
    removed = folders.remove_folder(folder)
    messages.success(
        request,
        f"Removed {name}: {removed.files:,} files and {removed.titles:,} titles left the library."
        " Nothing on disk was touched.",
    )
    return redirect("library-folders")


@require_GET
@admin_required
def browse(request: HttpRequest) -> HttpResponse:
    """The folder browser's listing (a partial over htmx, a page of its own without it)."""
    listing = folders.browse(request.GET.get("path"))
    context = {"listing": listing, "nav": "settings"}
    if request.htmx:
        return render(request, "media/libraries_browse.html", context)
    return render(request, "media/libraries_browse_page.html", context)
