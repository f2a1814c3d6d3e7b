"""``plank.live.events`` (emit, push, prune), the signal helper, the commands and the tags."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import transaction
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from plank.live import cache as live_cache
from plank.live import events
from plank.live.events import emit, emitted_here, prune, push
from plank.live.models import Outbox
from plank.live.signals import unwatch, watch
from plank.templatetags.live import live_attrs, live_key, live_set_attrs

pytestmark = pytest.mark.django_db(transaction=True)


def rows() -> list[tuple[int, list[list[str | int]], int | None]]:
    return list(Outbox.objects.order_by("seq").values_list("seq", "keys", "user_id"))


# --- emit --------------------------------------------------------------------------------------


def test_an_emit_in_a_rolled_back_transaction_writes_nothing() -> None:
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            seq = emit(("media", 1))
            assert seq is not None
            raise RuntimeError("the change failed")
    assert rows() == []
    assert not emitted_here(seq)


def test_an_emit_in_a_rolled_back_savepoint_writes_nothing() -> None:
    with transaction.atomic():
        kept = emit(("media", 1))
        try:
            with transaction.atomic():
                emit(("media", 2))
                raise RuntimeError
        except RuntimeError:
            pass
    assert rows() == [(kept, [["media", 1]], None)]


def test_committed_emits_get_increasing_seqs() -> None:
    with transaction.atomic():
        a = emit(("media",))
        b = emit(("media", 42), ("download", 42))
    c = emit(("tmdb", "trending", "movie", 1))
    assert a is not None and b is not None and c is not None
    assert a < b < c
    assert rows() == [
        (a, [["media"]], None),
        (b, [["media", 42], ["download", 42]], None),
        (c, [["tmdb", "trending", "movie", 1]], None),
    ]


def test_the_commit_hook_runs_after_commit_only() -> None:
    with transaction.atomic():
        seq = emit(("media",))
        assert seq is not None
        assert not emitted_here(seq), "nothing is announced before the commit"
    assert emitted_here(seq)


def test_an_emit_outside_a_transaction_commits_at_once() -> None:
    assert transaction.get_autocommit()
    seq = emit(("media", 7), user_id=3)
    assert rows() == [(seq, [["media", 7]], 3)]
    assert emitted_here(seq)


def test_keys_are_checked_and_made_canonical() -> None:
    seq = emit(["media", "42"], ("media", 42), ("media",))
    assert rows() == [(seq, [["media", 42], ["media"]], None)]
    for bad in [("",), ("a/b",), (True,), (), "media", ("media", 1.5)]:
        with pytest.raises(ValueError):
            emit(bad)  # type: ignore[arg-type]
    assert len(rows()) == 1


def test_no_prefix_no_row() -> None:
    assert emit() is None
    assert rows() == []


def test_an_emit_drops_the_per_key_cache_after_commit() -> None:
    calls: list[int] = []
    key = ("media", "list", uuid.uuid4().hex)  # the cache may be a Redis that outlives tests

    def fetch() -> None:
        live_cache.fetch(key, lambda: calls.append(1), stale=300)

    fetch()
    fetch()
    assert len(calls) == 1
    with transaction.atomic():
        emit(("media", "list"))
        fetch()
        assert len(calls) == 1, "not before the commit"
    fetch()
    assert len(calls) == 2


# --- push --------------------------------------------------------------------------------------


def test_push_checks_its_key() -> None:
    with pytest.raises(ValueError):
        push(("download", ""), {"progress": 1})


def test_push_with_nobody_listening_is_harmless() -> None:
    push(("download", 42), {"progress": 0.25})
    push(("download", 42), {"progress": 0.5}, user_id=1)
    assert rows() == [], "pushes are not stored"


# --- pruning -----------------------------------------------------------------------------------


def test_prune_keeps_the_newest_rows() -> None:
    seqs = [emit(("media", i)) for i in range(10)]
    assert prune(max_rows=3) == 7
    assert [r[0] for r in rows()] == seqs[-3:]
    assert prune(max_rows=3) == 0


def test_prune_by_age_keeps_the_newest_row() -> None:
    seqs = [emit(("media", i)) for i in range(4)]
    Outbox.objects.update(created_at=timezone.now() - timedelta(hours=2))
    assert prune(max_age=timedelta(hours=1), max_rows=1000) == 3
    assert [r[0] for r in rows()] == seqs[-1:]


def test_prune_by_age_deletes_a_prefix_only() -> None:
    seqs = [emit(("media", i)) for i in range(5)]
    # An out-of-order clock: only rows up to the newest old one go, never a row in between.
    Outbox.objects.filter(seq__in=[seqs[0], seqs[2]]).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    assert prune(max_age=timedelta(hours=1), max_rows=1000) == 3
    assert [r[0] for r in rows()] == seqs[3:]


def test_prune_on_an_empty_outbox() -> None:
    assert prune() == 0


def test_live_prune_command(capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(5):
        emit(("media", i))
    call_command("live_prune", rows=2)
    assert "pruned 3 outbox row(s)" in capsys.readouterr().out
    assert len(rows()) == 2


def test_live_emit_command(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("live_emit", "media/list/movie", "/download/42/", user=5)
    ((seq, keys, user_id),) = rows()
    assert keys == [["media", "list", "movie"], ["download", 42]]
    assert user_id == 5
    assert f"emitted seq {seq}" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("live_emit", "media//x")


# --- the signal helper -------------------------------------------------------------------------


@pytest.fixture
def watched_groups():
    watch(Group, keys=lambda g: [("groups",), ("groups", g.pk)])
    yield
    unwatch(Group)


def test_watch_emits_on_save_and_delete(watched_groups: None) -> None:
    group = Group.objects.create(name="family")
    group.name = "household"
    group.save()
    pk = group.pk
    group.delete()
    assert [r[1] for r in rows()] == [[["groups"], ["groups", pk]]] * 3


def test_watch_emits_with_the_transaction(watched_groups: None) -> None:
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Group.objects.create(name="gone")
            raise RuntimeError
    assert rows() == []


def test_watch_for_one_user_and_on_save_only() -> None:
    watch(Group, keys=lambda g: [("groups", g.pk)], user=lambda g: 9, on=("save",))
    try:
        group = Group.objects.create(name="x")
        pk = group.pk
        group.delete()
        ((_, keys, user_id),) = rows()
        assert keys == [["groups", pk]]
        assert user_id == 9
    finally:
        unwatch(Group)


def test_unwatch_stops_the_announcements(watched_groups: None) -> None:
    unwatch(Group)
    Group.objects.create(name="quiet")
    assert rows() == []


def test_watch_refuses_unknown_signals() -> None:
    with pytest.raises(ValueError):
        watch(Group, keys=lambda g: [("groups",)], on=("update",))


def test_raw_saves_from_fixtures_are_not_announced(watched_groups: None) -> None:
    from django.db.models.signals import post_save

    post_save.send(
        sender=Group, instance=Group(pk=1, name="raw"), created=True, raw=True, using="default"
    )
    assert rows() == []


def test_an_admin_edit_announces_itself(watched_groups: None) -> None:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser(
        "boss", "boss@example.com", "a good long password"
    )
    client = Client()
    client.force_login(admin)
    response = client.post("/admin/auth/group/add/", {"name": "editors", "_save": "Save"})
    assert response.status_code == 302, response.content[:500]
    group = Group.objects.get(name="editors")
    assert [r[1] for r in rows()] == [[["groups"], ["groups", group.pk]]]


# --- the template tags -------------------------------------------------------------------------


def test_live_attrs() -> None:
    html = live_attrs(("media", "list", "movie"), "/?type=movie&page=2")
    assert html == (
        'data-live-key="media/list/movie" hx-get="/?type=movie&amp;page=2" '
        'hx-trigger="live:refresh" hx-swap="outerHTML" hx-sync="this:replace"'
    )
    assert live_attrs("media/42", "/media/42/").startswith('data-live-key="media/42" ')
    assert live_attrs(["media", 42], '/x"><script>').count("<script>") == 0


def test_live_set_attrs_and_key_filter() -> None:
    assert live_set_attrs(("download", 42)) == 'data-live-set="download/42"'
    assert live_key(("tmdb", "trending", "movie", 1)) == "tmdb/trending/movie/1"
    assert live_key("/media/1/") == "media/1"
    with pytest.raises(ValueError):
        live_key("media//1")


def test_the_tags_are_builtins() -> None:
    template = Template(
        '<div {% live_attrs key url %}><p {% live_set_attrs "download/7" %}>{{ key|live_key }}</p></div>'
    )
    html = template.render(Context({"key": ("media", 42), "url": "/media/42/?partial=files"}))
    assert html == (
        '<div data-live-key="media/42" hx-get="/media/42/?partial=files" hx-trigger="live:refresh" '
        'hx-swap="outerHTML" hx-sync="this:replace"><p data-live-set="download/7">media/42</p></div>'
    )


def test_live_meta_tells_the_current_seq() -> None:
    assert (
        Template("{% live_meta %}").render(Context()) == '<meta name="plank-live-seq" content="0">'
    )
    seq = emit(("media",))
    assert (
        Template("{% live_meta %}").render(Context())
        == f'<meta name="plank-live-seq" content="{seq}">'
    )


def test_emit_vendor_paths_are_exercised() -> None:
    """On PostgreSQL the emit takes the ordering lock and notifies; on SQLite neither."""
    from django.db import connection

    with transaction.atomic():
        emit(("media",))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
                assert cursor.fetchone()[0] == 1
    assert events.current_seq() == rows()[-1][0]
