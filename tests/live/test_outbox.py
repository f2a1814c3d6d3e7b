"""``plank.live.outbox``: rows written, read after a seq, replay plans and pruning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from plank.live import outbox
from plank.live.events import emit
from plank.live.models import Outbox
from plank.live.outbox import prune, replay_plan, rows_after

pytestmark = pytest.mark.django_db(transaction=True)


def rows() -> list[tuple[int, list[list[str | int]], int | None]]:
    return list(Outbox.objects.order_by("seq").values_list("seq", "keys", "user_id"))


def test_insert_set_keys_and_rows_after() -> None:
    with transaction.atomic():
        row = outbox.insert([["media"]], 3)
        assert outbox.set_keys(row.seq, [["media"], ["media", 1]])
    assert not outbox.set_keys(row.seq + 100, [["x"]])
    (read,) = rows_after(row.seq - 1)
    assert read == (row.seq, [["media"], ["media", 1]], 3, row.created_at)
    assert rows_after(row.seq) == []
    assert outbox.current_seq() == row.seq


def test_event_ids_tell_a_recreated_seq_apart() -> None:
    now = timezone.now()
    assert outbox.event_id(5, now) != outbox.event_id(5, now + timedelta(seconds=1))
    assert outbox.event_id(5, now) == outbox.event_id(5, now)


def test_replay_plan() -> None:
    assert replay_plan(None, 1, 10) == (0, [])
    a = emit(("media",))
    b = emit(("playback", 1), user_id=2)
    c = emit(("media", 3))
    assert replay_plan(None, 1, 10) == (c, [])
    assert replay_plan(c, 1, 10) == (c, [])
    assert replay_plan(a, 1, 10) == (c, [(c, [["media", 3]])])
    assert replay_plan(a, 2, 10) == (c, [(b, [["playback", 1]]), (c, [["media", 3]])])
    assert replay_plan(a, 2, 1) == (c, None), "more than the limit: resync"
    assert replay_plan(c + 1, 1, 10) == (c, None), "ahead of the outbox: resync"
    prune(max_rows=1)
    assert replay_plan(a, 1, 10) == (c, None), "pruned: resync"
    assert replay_plan(b, 1, 10) == (c, [(c, [["media", 3]])])


# --- prune -----------------------------------------------------------------------------------


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


def test_retention_reads_the_settings(settings) -> None:
    settings.PLANK_LIVE_RETAIN_MINUTES = 5
    settings.PLANK_LIVE_RETAIN_ROWS = 0
    assert outbox.retention() == (timedelta(minutes=5), 1)
