"""The indexers Plank searches: the feeds behind each ``Indexer`` row, their capabilities, one
query with its health recorded, the back-off that skips a failing feed, and the words for
"Test" and for /system/.

A plain Torznab indexer is one feed. A **Jackett** indexer is the feeds of the indexers
configured in it (``t=indexers&configured=true`` on its ``all`` feed; each then at
``/api/v2.0/indexers/<id>/results/torznab/``: never the aggregate, which waits for the slowest
tracker). A **Prowlarr** indexer is its enabled torrent indexers (``GET /api/v1/indexer`` with
``X-Api-Key``; each at ``/<id>/api``). Listings are kept an hour and capabilities a day in the
per-key cache. After a failure (timeout, 5xx, 429, anything) a feed is skipped for 30 s, doubling
with each failure in a row up to an hour, and at least as long as a 429's ``Retry-After``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from plank.live import cache
from plank.system import Check
from torrents import live, torznab
from torrents.models import Indexer, IndexerHealth
from torrents.torznab import Caps, Client, Item, TorznabError

log = logging.getLogger(__name__)

CAPS_STALE = 24 * 3600.0
LISTING_STALE = 3600.0
BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
DEFAULT_CAPS = Caps()  # a feed whose caps cannot be read: plain ``t=search&q=``
KIND_WORDS = {
    torznab.TIMEOUT: ("timeout", "timeouts"),
    torznab.RATE_LIMITED: ("rate limit", "rate limits"),
    torznab.SERVER: ("server error", "server errors"),
    torznab.UNREACHABLE: ("connection failure", "connection failures"),
}


@dataclass(frozen=True)
class Endpoint:
    """One feed to query: an indexer's own, or one behind a Jackett / Prowlarr indexer."""

    indexer_id: int
    key: str  # "" for a plain feed, else the Jackett / Prowlarr id
    name: str
    url: str
    api_key: str
    timeout: float
    priority: int
    categories: tuple[int, ...]
    min_seeders: int
    caps: Caps | None = None  # known from the listing (Jackett sends them)

    @property
    def part(self) -> str:
        """The endpoint as a key part (never empty)."""
        return self.key or "-"


def _base(url: str) -> str:
    return url.rstrip("/")


def _endpoint(indexer: Indexer, key: str, name: str, url: str, caps: Caps | None) -> Endpoint:
    return Endpoint(
        indexer_id=indexer.pk,
        key=key,
        name=name,
        url=url,
        api_key=indexer.api_key,
        timeout=indexer.timeout,
        priority=indexer.priority,
        categories=tuple(indexer.category_ids()),
        min_seeders=indexer.min_seeders,
        caps=caps,
    )


def jackett_feed(base: str, ident: str) -> str:
    return f"{_base(base)}/api/v2.0/indexers/{ident}/results/torznab/"


def list_jackett(indexer: Indexer) -> list[torznab.ListedIndexer]:
    client = Client(jackett_feed(indexer.url, "all"), indexer.api_key, timeout=indexer.timeout)
    return [i for i in client.indexers() if i.configured]


def list_prowlarr(indexer: Indexer) -> list[torznab.ListedIndexer]:
    answer = torznab.http_get(
        f"{_base(indexer.url)}/api/v1/indexer",
        headers={"X-Api-Key": indexer.api_key, "Accept": "application/json"},
        timeout=indexer.timeout,
    )
    try:
        rows = json.loads(answer.body)
    except ValueError:
        raise TorznabError(
            "not Prowlarr: /api/v1/indexer did not answer JSON", kind=torznab.NOT_TORZNAB
        ) from None
    if not isinstance(rows, list):
        raise TorznabError("not Prowlarr: /api/v1/indexer is not a list", kind=torznab.NOT_TORZNAB)
    found = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("id"), int):
            continue
        if not row.get("enable", True) or row.get("protocol", "torrent") != "torrent":
            continue
        if row.get("supportsSearch") is False:
            continue
        name = torznab.clean_text(str(row.get("name") or f"Prowlarr {row['id']}"))[:200]
        found.append(torznab.ListedIndexer(id=str(row["id"]), title=name))
    return found


def listed(indexer: Indexer) -> list[torznab.ListedIndexer]:
    """The indexers behind a Jackett / Prowlarr indexer, through the cache (an hour)."""
    fetch = list_jackett if indexer.kind == Indexer.Kind.JACKETT else list_prowlarr
    return cache.fetch(
        live.endpoints(indexer.pk), lambda: fetch(indexer), stale=LISTING_STALE, retries=0
    ).value


def endpoints(indexer: Indexer) -> list[Endpoint]:
    """The feeds of ``indexer`` (raises TorznabError when a Jackett / Prowlarr listing fails)."""
    return feeds(indexer, [] if indexer.kind == Indexer.Kind.TORZNAB else listed(indexer))


def feeds(indexer: Indexer, found: list[torznab.ListedIndexer]) -> list[Endpoint]:
    """The endpoints of ``indexer``, given the indexers behind it (``found``)."""
    if indexer.kind == Indexer.Kind.TORZNAB:
        return [_endpoint(indexer, "", indexer.name, indexer.url, None)]
    if indexer.kind == Indexer.Kind.JACKETT:
        url = lambda i: jackett_feed(indexer.url, i.id)  # noqa: E731
    else:
        url = lambda i: f"{_base(indexer.url)}/{i.id}/api"  # noqa: E731
    return [_endpoint(indexer, i.id, f"{indexer.name} · {i.title}", url(i), i.caps) for i in found]


def client(endpoint: Endpoint) -> Client:
    return Client(endpoint.url, endpoint.api_key, timeout=endpoint.timeout)


def caps_of(endpoint: Endpoint) -> Caps:
    """The endpoint's capabilities, kept a day; a feed whose caps fail gets plain search."""
    if endpoint.caps is not None:
        return endpoint.caps
    try:
        return cache.fetch(
            live.caps(endpoint.indexer_id, endpoint.part),
            lambda: client(endpoint).caps(),
            stale=CAPS_STALE,
            expire=7 * CAPS_STALE,
            retries=0,
        ).value
    except TorznabError as exc:
        log.info("caps of %s: %s", endpoint.name, exc.message)
        return DEFAULT_CAPS


# --------------------------------------------------------------------------- one query + health


def health_of(endpoint: Endpoint) -> IndexerHealth:
    row, _ = IndexerHealth.objects.get_or_create(
        indexer_id=endpoint.indexer_id, endpoint=endpoint.key, defaults={"name": endpoint.name}
    )
    return row


def query(endpoint: Endpoint, params: dict[str, str]) -> list[Item]:
    """One search on one feed, its outcome written to the feed's health (raises TorznabError)."""
    started = time.monotonic()
    try:
        items = client(endpoint).search(params)
    except TorznabError as exc:
        record_failure(endpoint, exc, time.monotonic() - started)
        raise
    record_success(endpoint, time.monotonic() - started)
    return items


def _recent(row: IndexerHealth, outcome: str) -> str:
    return (row.recent + outcome)[-IndexerHealth.RECENT :]


def record_success(endpoint: Endpoint, duration: float) -> None:
    row = health_of(endpoint)
    now = timezone.now()
    row.name = endpoint.name
    row.last_attempt_at = row.last_answer_at = now
    row.last_duration = round(duration, 3)
    row.recent = _recent(row, "o")
    row.failures = 0
    row.failure_kind = ""
    row.skipped_until = None
    row.save()


def backoff_seconds(failures: int, retry_after: float | None = None) -> float:
    seconds = min(BACKOFF_BASE * 2 ** max(failures - 1, 0), BACKOFF_CAP)
    return max(seconds, retry_after or 0.0)


def record_failure(endpoint: Endpoint, exc: TorznabError, duration: float) -> None:
    row = health_of(endpoint)
    now = timezone.now()
    row.name = endpoint.name
    row.last_attempt_at = now
    row.last_duration = round(duration, 3)
    code = {torznab.TIMEOUT: "t", torznab.RATE_LIMITED: "r"}.get(exc.kind, "e")
    row.recent = _recent(row, code)
    row.failure_kind = exc.kind if row.failures == 0 or row.failure_kind == exc.kind else "mixed"
    row.failures += 1
    row.last_error = exc.message[:300]
    row.skipped_until = now + timedelta(seconds=backoff_seconds(row.failures, exc.retry_after))
    row.save()


def failures_in_words(row: IndexerHealth) -> str:
    """ "3 timeouts", "1 server error", "2 failures"."""
    one, many = KIND_WORDS.get(row.failure_kind, ("failure", "failures"))
    return f"{row.failures} {one if row.failures == 1 else many}"


def _clock(moment: datetime) -> str:
    local = timezone.localtime(moment)
    if local.date() != timezone.localtime().date():
        return local.strftime("%d %b %H:%M")
    soon = moment - timezone.now() < timedelta(minutes=10)
    return local.strftime("%H:%M:%S" if soon else "%H:%M")


def skip_reason(row: IndexerHealth | None, now: datetime | None = None) -> str:
    """ "skipped until 14:05 — 3 timeouts" while the feed is backed off, else ""."""
    if row is None or not row.skipped(now):
        return ""
    return f"skipped until {_clock(row.skipped_until)} — {failures_in_words(row)}"


# --------------------------------------------------------------------------- "Test"


@dataclass(frozen=True)
class TestReport:
    ok: bool
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def test(indexer: Indexer) -> TestReport:
    """Ask the indexer for its capabilities now (no cache) and say in words what works."""
    lines: list[str] = []
    try:
        if indexer.kind == Indexer.Kind.TORZNAB:
            found = [torznab.ListedIndexer(id="", title=indexer.name)]
        else:
            cache.delete(live.endpoints(indexer.pk))
            found = (
                list_jackett(indexer)
                if indexer.kind == Indexer.Kind.JACKETT
                else list_prowlarr(indexer)
            )
    except TorznabError as exc:
        return TestReport(False, [f"{indexer.name}: {exc.message}"])
    if not found:
        what = (
            "Jackett has no configured indexer"
            if indexer.kind == Indexer.Kind.JACKETT
            else "Prowlarr has no enabled torrent indexer"
        )
        return TestReport(False, [f"{indexer.name}: {what}."])
    ok = True
    for endpoint in feeds(indexer, found):
        try:
            caps = client(endpoint).caps()
        except TorznabError as exc:
            ok = False
            lines.append(f"{endpoint.name}: {exc.message}")
            continue
        key = live.caps(indexer.pk, endpoint.part)
        cache.set(key, caps, stale=CAPS_STALE, expire=7 * CAPS_STALE)
        if not (caps.movie.available or caps.tv.available):
            ok = False
            lines.append(
                f"{endpoint.name}: answers, but has no movie or TV search ({caps.describe()})"
            )
        else:
            lines.append(f"{endpoint.name}: OK — {caps.describe()}")
    return TestReport(ok, lines)


# --------------------------------------------------------------------------- /system/


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return timezone.localtime(moment).strftime("%d %b %H:%M")


def health_check() -> Check:
    """Indexers on /system/: each feed's last answer, error rate, back-off."""
    indexers = list(Indexer.objects.all())
    if not indexers:
        return Check(name="Indexers", ok=True, summary="none yet: add one on Settings → Indexers")
    rows = {(h.indexer_id, h.endpoint): h for h in IndexerHealth.objects.all()}
    table: list[list[object]] = [["Indexer", "Last answer", "Took", "Error rate", "State"]]
    skipped = 0
    for indexer in indexers:
        mine = sorted((h for (pk, _), h in rows.items() if pk == indexer.pk), key=lambda h: h.name)
        if not mine:
            state = "enabled, not searched yet" if indexer.enabled else "disabled"
            table.append([indexer.name, "never", "—", "—", state])
            continue
        for row in mine:
            reason = skip_reason(row)
            skipped += bool(reason)
            rate = row.error_rate
            if not indexer.enabled:
                state = "disabled"
            elif reason:
                state = reason
            elif row.failures:
                state = f"last try failed: {row.last_error}"
            else:
                state = "ok"
            table.append(
                [
                    row.name,
                    _ago(row.last_answer_at),
                    f"{row.last_duration:.2f} s" if row.last_duration is not None else "—",
                    f"{rate:.0%} of {len(row.recent)}" if rate is not None else "—",
                    state,
                ]
            )
    enabled = sum(1 for i in indexers if i.enabled)
    summary = f"{enabled} of {len(indexers)} enabled" + (
        f", {skipped} skipped (backing off)" if skipped else ""
    )
    return Check(name="Indexers", ok=skipped == 0, summary=summary, table=table)
