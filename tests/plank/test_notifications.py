"""Notifications (plank/notifications.py, media/notify.py, torrents/notify.py): made for the
people concerned on each signal and for nobody else, listed in the user menu, marked read by
POST only, and pushed to that person's sockets only."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from media import requests
from plank import notifications
from plank.models import Notification
from tests.factories import make_title, make_user
from tests.live.conftest import (  # noqa: F401 (fixtures for the socket test)
    Connect,
    Person,
    alice,
    bob,
    connect,
    live_cleanup,
    stop_relays,
    two_sockets,
)
from torrents.models import Download
from torrents.signals import ERROR, NO_PEERS, REFUSED, download_completed, download_failed

pytestmark = pytest.mark.django_db


def texts(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("text", flat=True))


@pytest.fixture
def people(db):
    return {
        "adder": make_user("member", username="adder"),
        "asker": make_user("member", username="asker"),
        "other": make_user("member", username="other"),
        "admin": make_user("admin", username="boss"),
    }


def asked_and_approved(title, asker, admin, django_capture_on_commit_callbacks) -> None:
    request = requests.ask(title, asker, "please")
    with django_capture_on_commit_callbacks(execute=True):
        requests.approve(request, admin, "enjoy")


# --- who hears what --------------------------------------------------------------------------


def test_a_finished_download_tells_who_added_it_and_who_asked(
    people, django_capture_on_commit_callbacks
) -> None:
    title = make_title(title="Heat", year=1995, added_by=people["adder"], status="downloading")
    asked_and_approved(title, people["asker"], people["admin"], django_capture_on_commit_callbacks)
    Notification.objects.all().delete()  # the approval's own notification: another test
    download_completed.send(sender=Download, title=title)
    for who in ("adder", "asker"):
        mine = Notification.objects.get(user=people[who])
        assert mine.kind == "finished" and mine.url == f"/media/{title.pk}/"
        assert mine.text == "“Heat (1995)” has finished downloading."
        assert mine.read_at is None
    assert texts(people["other"]) == [] and texts(people["admin"]) == []


def test_a_title_nobody_added_tells_nobody(people) -> None:
    download_completed.send(sender=Download, title=make_title(title="Orphan"))
    assert Notification.objects.count() == 0


@pytest.mark.parametrize(
    ("cause", "words"),
    [(REFUSED, "was refused"), (NO_PEERS, "could not start"), (ERROR, "failed")],
)
def test_a_failed_download_says_why(people, cause: str, words: str) -> None:
    title = make_title(title="Heat", added_by=people["adder"], status="error")
    download_failed.send(
        sender=Download, title=title, reason="Only a program (.exe) in it.", cause=cause
    )
    (note,) = Notification.objects.filter(user=people["adder"])
    assert note.kind == "refused"
    assert note.text == f"“Heat” {words}: Only a program (.exe) in it."
    assert Notification.objects.exclude(user=people["adder"]).count() == 0


def test_an_approval_tells_the_person_who_asked(people, django_capture_on_commit_callbacks) -> None:
    title = make_title(title="Heat", status="pending")
    asked_and_approved(title, people["asker"], people["admin"], django_capture_on_commit_callbacks)
    (note,) = Notification.objects.all()
    assert note.user == people["asker"] and note.kind == "request_answered"
    assert note.text == "Your request for “Heat” was approved: “enjoy”"


def test_a_decline_tells_the_person_who_asked_once(people) -> None:
    request = requests.ask(make_title(title="Heat", status="pending"), people["asker"])
    decided = requests.decline(request, people["admin"], "we have it on disc")
    assert texts(people["asker"]) == ["Your request for “Heat” was declined: “we have it on disc”"]
    decided.save()  # saved again (the admin, say): not told twice
    assert len(texts(people["asker"])) == 1
    assert texts(people["admin"]) == [] and texts(people["other"]) == []


def test_a_withdrawn_request_tells_nobody(people) -> None:
    request = requests.ask(make_title(status="pending"), people["asker"])
    requests.withdraw(request, people["asker"])
    assert Notification.objects.count() == 0


def test_notify_refuses_a_link_off_this_plank(people) -> None:
    with pytest.raises(ValueError):
        notifications.notify([people["adder"]], "finished", "x", "https://evil.example/")
    with pytest.raises(ValueError):
        notifications.notify([people["adder"]], "nonsense", "x")
    made = notifications.notify(
        [people["adder"], people["adder"].pk, None], "finished", "  a\n b  ", "/"
    )
    assert len(made) == 1 and made[0].text == "a b"  # one each, whitespace tidied


# --- the menu and Mark all read --------------------------------------------------------------


def test_the_menu_shows_the_count_and_the_newest_ten_escaped(client_member: Client, member) -> None:
    for n in range(12):
        notifications.notify([member], "finished", f"Title {n} is ready", "/")
    notifications.notify([member], "refused", '<script>alert("x")</script> refused', "/media/1/")
    notifications.notify([make_user()], "finished", "Someone else's", "/")
    page = client_member.get("/").content.decode()
    assert 'id="notify-count"' in page and ">13<" in page  # the badge, on every page
    assert 'data-live-set="notify"' in page  # the toasts' target
    menu = client_member.get(
        "/notifications/", {"partial": "menu"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert menu.count('class="notify-item') == 10
    assert "just now" in menu
    assert "&lt;script&gt;alert" in menu and "<script>alert" not in menu
    assert "Title 11 is ready" in menu and "Title 1 is ready" not in menu  # the newest ten
    assert "Someone else" not in menu and "Mark all read" in menu
    assert 'data-live-key="notify"' in menu
    whole = client_member.get("/notifications/").content.decode()
    assert whole.count('class="notify-item') == 13 and "Someone else" not in whole


def test_mark_all_read_needs_a_post_with_csrf_and_a_login(member) -> None:
    notifications.notify([member], "finished", "Heat is ready", "/")
    other = make_user()
    notifications.notify([other], "finished", "Ronin is ready", "/")
    anonymous = Client()  # even without the CSRF check: the login wall
    response = anonymous.post("/notifications/read")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    assert client.get("/notifications/read").status_code == 405
    assert client.post("/notifications/read").status_code == 403  # no CSRF token
    assert notifications.unread_count(member) == 1
    page = client.get("/notifications/").content.decode()
    token = client.cookies["csrftoken"].value
    assert "Mark all read" in page
    done = client.post("/notifications/read", {"csrfmiddlewaretoken": token})
    assert done.status_code == 302 and done["Location"] == "/notifications/"
    assert notifications.unread_count(member) == 0
    assert notifications.unread_count(other) == 1  # only one's own


def test_mark_all_read_over_htmx_returns_the_menu_and_the_badge(
    client_member: Client, member
) -> None:
    notifications.notify([member], "finished", "Heat is ready", "/")
    response = client_member.post("/notifications/read", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="notify-menu"' in html
    assert 'hx-swap-oob="true"' in html and "Mark all read" not in html
    assert Notification.objects.get().read_at is not None


# --- the push reaches only that person -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_toast_is_pushed_to_that_persons_sockets_only(
    alice: Person,  # noqa: F811
    two_sockets,  # noqa: F811
) -> None:
    a, b = two_sockets
    await a.send({"type": "watch", "keys": [["notify"]]})
    await b.send({"type": "watch", "keys": [["notify"]]})
    await sync_to_async(notifications.notify)([alice.user_id], "finished", "Heat is ready", "/m")
    frames = []
    while not any(f["type"] == "set" for f in frames):
        frames.append(await a.receive())
    pushed = next(f for f in frames if f["type"] == "set")
    assert pushed["key"] == ["notify"]
    (toast,) = json.loads(pushed["data"]["toasts"])
    assert toast["text"] == "Heat is ready" and toast["url"] == "/m" and toast["kind"] == "finished"
    assert pushed["data"]["unread"] == 1
    invalidations = [f for f in frames if f["type"] == "invalidate"]
    assert all(f["keys"] == [["notify"]] for f in invalidations)
    # Bob's socket hears nothing of it: neither the toast nor the invalidation.
    assert await b.nothing(0.5)
