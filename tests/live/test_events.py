"""``plank.live.events`` (emit, push), model declarations, the commands and the tags."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.template import Context, Template
from django.test import Client

from plank.live import cache as live_cache
from plank.live import hub, outbox
from plank.live.declarations import announce, forget, quiet
from plank.live.events import emit, emitted_here, push
from plank.live.models import Outbox
from plank.templatetags.live import live_attrs, live_key, live_set_attrs
from tests.factories import make_user

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
    d = emit(("tmdb",))
    assert a is not None and c is not None and d is not None
    assert a == b, "one transaction, one row"
    assert a < c < d
    assert rows() == [
        (a, [["media"], ["media", 42], ["download", 42]], None),
        (c, [["tmdb", "trending", "movie", 1]], None),
        (d, [["tmdb"]], None),
    ]


# --- one announcement per transaction ----------------------------------------------------------


def test_two_emits_in_one_transaction_write_one_row() -> None:
    with transaction.atomic():
        first = emit(("media",))
        second = emit(("download", 4))
        assert not emitted_here(first)
    assert first == second
    assert rows() == [(first, [["media"], ["download", 4]], None)]
    assert emitted_here(first)


def test_a_prefix_is_announced_once_per_transaction() -> None:
    with transaction.atomic():
        seq = emit(("media",), ("media", 1))
        emit(("media",))
        emit(("media", 1), ("media",), ("media", 2))
    assert rows() == [(seq, [["media"], ["media", 1], ["media", 2]], None)]


def test_a_rolled_back_savepoint_announces_none_of_its_keys() -> None:
    with transaction.atomic():
        seq = emit(("media", 1))
        try:
            with transaction.atomic():
                emit(("media", 2))
                with transaction.atomic():
                    emit(("media", 3))
                raise RuntimeError
        except RuntimeError:
            pass
        assert emit(("media", 4)) == seq
    assert rows() == [(seq, [["media", 1], ["media", 4]], None)]


def test_a_rolled_back_inner_savepoint_keeps_the_outer_ones() -> None:
    with transaction.atomic():
        seq = emit(("media", 1))
        with transaction.atomic():
            emit(("media", 2))
            try:
                with transaction.atomic():
                    emit(("media", 3))
                    raise RuntimeError
            except RuntimeError:
                pass
            emit(("media", 4))
        emit(("media", 5))
    assert rows() == [(seq, [["media", 1], ["media", 2], ["media", 4], ["media", 5]], None)]


def test_a_row_inserted_in_a_rolled_back_savepoint_leaves_room_for_a_new_one() -> None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                emit(("media", 1))
                raise RuntimeError
        except RuntimeError:
            pass
        seq = emit(("media", 2))
        emit(("media", 3))
    assert rows() == [(seq, [["media", 2], ["media", 3]], None)]
    assert emitted_here(seq)


def test_nested_atomic_blocks_share_the_row() -> None:
    with transaction.atomic():
        with transaction.atomic():
            seq = emit(("media", 1))
        with transaction.atomic(savepoint=False):
            emit(("media", 2))
        with transaction.atomic():
            with transaction.atomic():
                emit(("media", 3))
    assert rows() == [(seq, [["media", 1], ["media", 2], ["media", 3]], None)]


def test_each_emit_under_autocommit_writes_its_row() -> None:
    assert transaction.get_autocommit()
    a = emit(("media",))
    b = emit(("media",))
    assert a is not None and b is not None and a < b
    assert rows() == [(a, [["media"]], None), (b, [["media"]], None)]


def test_each_addressee_gets_its_own_row() -> None:
    with transaction.atomic():
        everyone = emit(("media",))
        alice = emit(("playback", 1), user_id=1)
        bob = emit(("playback", 2), user_id=2)
        emit(("media", 5))
        emit(("playback", 3), user_id="1")  # type: ignore[arg-type]
    assert len({everyone, alice, bob}) == 3
    assert rows() == [
        (everyone, [["media"], ["media", 5]], None),
        (alice, [["playback", 1], ["playback", 3]], 1),
        (bob, [["playback", 2]], 2),
    ]


def test_a_row_deleted_within_the_transaction_is_written_again() -> None:
    with transaction.atomic():
        emit(("media", 1))
        Outbox.objects.all().delete()
        seq = emit(("media", 2))
    assert rows() == [(seq, [["media", 2]], None)]


def test_after_the_commit_the_cache_is_dropped_for_every_key_once(monkeypatch) -> None:
    dropped: list[tuple[object, str]] = []
    wakes: list[int] = []
    monkeypatch.setattr(
        live_cache, "invalidate", lambda key, event_id: dropped.append((key, event_id))
    )
    monkeypatch.setattr(hub, "wake_all", lambda: wakes.append(1))
    with transaction.atomic():
        emit(("media",))
        with transaction.atomic():
            emit(("download", 1))
        emit(("media", 1), ("media",))
        assert dropped == [] and wakes == []
    assert [key for key, _ in dropped] == [("media",), ("download", 1), ("media", 1)]
    assert len({event for _, event in dropped}) == 1
    assert wakes == [1]


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


# --- the commands ------------------------------------------------------------------------------


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


# --- model declarations -----------------------------------------------------------------------


@pytest.fixture
def announced_groups():
    announce(Group, lambda g: [("groups",), ("groups", g.pk)])
    yield
    forget(Group)


def test_a_declaration_announces_save_and_delete(announced_groups: None) -> None:
    group = Group.objects.create(name="family")
    group.name = "household"
    group.save()
    pk = group.pk
    group.delete()
    assert [r[1] for r in rows()] == [[["groups"], ["groups", pk]]] * 3


def test_a_declaration_announces_with_the_transaction(announced_groups: None) -> None:
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Group.objects.create(name="gone")
            raise RuntimeError
    assert rows() == []


def test_saves_in_one_transaction_announce_once(announced_groups: None) -> None:
    with transaction.atomic():
        a = Group.objects.create(name="a")
        b = Group.objects.create(name="b")
        a.name = "a2"
        a.save()
    assert [r[1] for r in rows()] == [[["groups"], ["groups", a.pk], ["groups", b.pk]]]


def test_a_declaration_for_one_user() -> None:
    announce(Group, lambda g: [("groups", g.pk)], user=lambda g: 9)
    try:
        group = Group.objects.create(name="x")
        pk = group.pk
        group.delete()
        assert [r[1:] for r in rows()] == [([["groups", pk]], 9)] * 2
    finally:
        forget(Group)


def test_forget_stops_the_announcements(announced_groups: None) -> None:
    forget(Group)
    Group.objects.create(name="quiet")
    assert rows() == []


def test_a_quiet_model_announces_nothing_and_says_why() -> None:
    with pytest.raises(ValueError):
        quiet(Group, " ")
    quiet(Group, "groups show on no page")
    try:
        Group.objects.create(name="silent")
        assert rows() == []
    finally:
        forget(Group)


def test_raw_saves_from_fixtures_are_not_announced(announced_groups: None) -> None:
    post_save.send(
        sender=Group, instance=Group(pk=1, name="raw"), created=True, raw=True, using="default"
    )
    assert rows() == []


def test_an_admin_edit_announces_itself(announced_groups: None) -> None:
    admin = make_user("owner", username="boss")
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
    with transaction.atomic():
        emit(("media",))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
                assert cursor.fetchone()[0] == 1
    assert outbox.current_seq() == rows()[-1][0]
