"""The Tasks page: every scheduled task with its interval, last run, next run and live progress;
admins change the interval, run a task now, or cancel a run."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from plank import scheduler, task_board
from plank.access import admin_required, is_admin
from plank.live.project import TASKS


@require_GET
def tasks_page(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "system",
        "rows": task_board.overview(),
        "lease": task_board.lease(),
        "tasks_key": TASKS,
        "list_url": f"{reverse('tasks')}?partial=list",
        "can_edit": is_admin(request.user),
        "units": [unit for unit, _ in task_board.UNITS],
    }
    if request.htmx and request.GET.get("partial") == "list":
        return render(request, "plank/tasks.html#list", context)
    return render(request, "plank/tasks.html", context)


@require_POST
@admin_required
def run_now(request: HttpRequest, name: str) -> HttpResponse:
    try:
        messages.success(request, scheduler.request_run(name))
    except LookupError as exc:
        messages.error(request, str(exc))
    return redirect("tasks")


@require_POST
@admin_required
def cancel(request: HttpRequest, name: str) -> HttpResponse:
    try:
        run_id = int(request.POST.get("run", ""))
    except ValueError:
        messages.error(request, "Which run? The form did not say.")
        return redirect("tasks")
    messages.info(request, scheduler.cancel(run_id))
    return redirect("tasks")


@require_POST
@admin_required
def interval(request: HttpRequest, name: str) -> HttpResponse:
    try:
        every = (
            None
            if request.POST.get("reset")
            else task_board.parse_interval(
                request.POST.get("amount", ""), request.POST.get("unit", "")
            )
        )
        scheduler.set_interval(name, every)
    except (ValueError, LookupError) as exc:
        messages.error(request, str(exc))
        return redirect("tasks")
    task = scheduler.get(name)
    if task is not None:
        every = task_board.duration_words(scheduler.interval_of(task).total_seconds(), exact=True)
        messages.success(request, f"{task.label} now runs every {every}.")
    return redirect("tasks")
