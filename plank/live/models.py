"""The outbox: one row per announced change, written in the changing transaction."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Outbox(models.Model):
    """An announcement that everything under ``keys`` went stale.

    ``seq`` is the sequence clients see on the wire. It only grows, and rows become visible in
    ``seq`` order (see :func:`plank.live.outbox.insert`), so "every row after N" is a complete
    answer for a client that saw N. ``user_id`` addresses the row to one user's sockets only.
    Read and written only through :mod:`plank.live.outbox`.
    """

    seq = models.BigAutoField(primary_key=True)
    keys = models.JSONField(default=list)
    user_id = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "live_outbox"
        ordering = ["seq"]
        verbose_name = "outbox row"

    def __str__(self) -> str:
        who = f" for user {self.user_id}" if self.user_id is not None else ""
        return f"#{self.seq} {self.keys}{who}"
