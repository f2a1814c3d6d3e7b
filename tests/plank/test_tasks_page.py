"""The Tasks page: what each task does and when, Run now, Cancel, the interval; admins only for
the changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from plank import scheduler
from plank.models import ScheduledTask, TaskRun
from plank.scheduler import Run, Scheduler

pytestmark = pytest.mark.django_db


def count(run: Run) -> str:
    return "Counted."


@pytest.fixture(autouse=True)
def one_task() -> Iterator[None]:
    saved = dict(scheduler._tasks)
    scheduler._tasks.clear()
    scheduler.register("count", count, every=timedelta(hours=6), label="Count the sheep")
    yield
    scheduler._tasks.clear()
    scheduler._tasks.update(saved)


def page(client: Client) -> str:
    response = client.get("/tasks/")
    assert response.status_code == 200
    return response.content.decode()


def test_members_read_admins_act(client_member: Client, client_admin: Client) -> None:
    html = page(client_member)
    assert "Count the sheep" in html and "every 6 hours" in html
    assert ">Run now<" not in html
    assert client_member.post("/tasks/count/run").status_code == 403
    assert ScheduledTask.objects.get(name="count").run_requested_at is None
    assert ">Run now<" in page(client_admin)


def test_without_a_scheduler_the_page_says_so(client_admin: Client) -> None:
    assert "No scheduler is running" in page(client_admin)
    Scheduler("host:1").tick()
    html = page(client_admin)
    assert "No scheduler is running" not in html
    assert "The scheduler is running in <code>host:1</code>" in html


def test_run_now(client_admin: Client) -> None:
    response = client_admin.post("/tasks/count/run", follow=True)
    assert ScheduledTask.objects.get(name="count").run_requested_at is not None
    assert "Count the sheep will run as soon as" in response.content.decode()
    assert "in a moment (asked for)" in response.content.decode()
    response = client_admin.post("/tasks/nothing/run", follow=True)
    assert "There is no task called" in response.content.decode()


def test_the_interval(client_admin: Client) -> None:
    response = client_admin.post(
        "/tasks/count/interval", {"amount": "90", "unit": "minutes"}, follow=True
    )
    assert "Count the sheep now runs every 90 minutes." in response.content.decode()
    assert ScheduledTask.objects.get(name="count").every_seconds == 5400
    for bad, message in [
        ({"amount": "0", "unit": "hours"}, "above 0"),
        ({"amount": "ten", "unit": "hours"}, "a whole number"),
        ({"amount": "2", "unit": "weeks"}, "Choose minutes, hours or days."),
        ({"amount": "30", "unit": "seconds"}, "Choose minutes"),
        ({"amount": "400", "unit": "days"}, "1 minute to 365 days"),
    ]:
        response = client_admin.post("/tasks/count/interval", bad, follow=True)
        assert message in response.content.decode(), bad
        assert ScheduledTask.objects.get(name="count").every_seconds == 5400, "unchanged"
    response = client_admin.post("/tasks/count/interval", {"reset": "1"}, follow=True)
    assert ScheduledTask.objects.get(name="count").every_seconds is None
    assert "every 6 hours" in response.content.decode()


def test_progress_and_cancel(client_admin: Client) -> None:
    now = timezone.now()
    run = TaskRun.objects.create(
        task="count",
        state=TaskRun.State.RUNNING,
        started_at=now,
        heartbeat_at=now,
        done=250,
        total=1000,
        text="sheep 250",
    )
    html = page(client_admin)
    assert "250 of 1,000 · 25%" in html and "sheep 250" in html
    assert 'data-live-set="tasks/count"' in html
    assert "width: 25%" in html
    response = client_admin.post("/tasks/count/cancel", {"run": run.pk}, follow=True)
    assert "Stopping…" in response.content.decode()
    assert TaskRun.objects.get(pk=run.pk).cancel_requested
    response = client_admin.post("/tasks/count/cancel", {"run": "x"}, follow=True)
    assert "The form did not say" in response.content.decode()


def test_unknown_totals_show_a_count_not_a_percentage(client_admin: Client) -> None:
    TaskRun.objects.create(task="count", state=TaskRun.State.RUNNING, done=42, total=None)
    html = page(client_admin)
    assert "42 so far" in html and "%" not in html.split("42 so far")[1].split("</p>")[0]


def test_last_run_in_words(client_admin: Client) -> None:
    run = TaskRun.objects.create(task="count")
    scheduler.execute(run.pk)
    html = page(client_admin)
    assert "Counted." in html and "Done" in html and "just now · took 0.0 s" in html


def test_the_list_partial(client_admin: Client, htmx_headers: dict[str, str]) -> None:
    response = client_admin.get("/tasks/?partial=list", **htmx_headers)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="tasks"')
    assert 'data-live-key="tasks"' in html


def test_changes_need_the_csrf_token(admin) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.post("/tasks/count/run").status_code == 403
    assert ScheduledTask.objects.filter(run_requested_at__isnull=False).count() == 0


def test_system_page_shows_the_scheduler(client_member: Client) -> None:
    html = client_member.get("/system/").content.decode()
    assert "Scheduler" in html and "not running" in html
    Scheduler("here:2").tick()
    html = client_member.get("/system/").content.decode()
    assert "running in here:2" in html
    assert 'href="/tasks/"' in html
