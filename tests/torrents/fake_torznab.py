"""A local Torznab server for the tests and benchmarks: plain Torznab feeds, a Jackett server
and a Prowlarr server, on 127.0.0.1, speaking the XML and JSON the real ones speak.

Where the shapes come from (read from public repositories, not copied):

- search answers: Jackett's ``ResultPage.ToXml`` as recorded in a Jackett client's tests
  (``<jackettindexer id=…>``, ``<link>…/dl/<id>/?jackett_apikey=…&path=…&file=…``, ``<enclosure>``,
  ``torznab:attr`` seeders / peers / infohash / imdbid / tmdbid / downloadvolumefactor), and the
  plain feed recorded in Sonarr's tests (``src/NzbDrone.Core.Test/Files/Indexers/Torznab/
  torznab_tpb.xml``: a ``magnet:`` link, ``magneturl``, seeders, peers, infohash) and Prowlarr's
  (``torznab_morethantv.xml``: ``<size>``, ``<files>``, ``<grabs>``, several ``<category>``);
- caps: Jackett's ``TorznabCapabilities.ToXml`` (``<server title="Jackett"/>``, ``<limits>``,
  ``<searching>`` with ``search`` / ``tv-search`` / ``movie-search`` and ``supportedParams``,
  ``<categories>``) and Prowlarr's ``torznab_animetosho_caps.xml``;
- the list of a Jackett server's indexers: ``ResultsController.Torznab`` for ``t=indexers``
  (``<indexers><indexer id= configured=><title/><description/><link/><language/><type/><caps/>``);
- errors: Jackett and Prowlarr answer ``<error code="100" description="Invalid API Key"/>`` (HTTP
  200 from Jackett's Torznab action), 429 with ``Retry-After`` and ``<error code="429" …/>``
  (Prowlarr's ``NewznabController``);
- download links: Jackett's ``DownloadController`` and Prowlarr's ``GetDownload`` redirect to the
  ``magnet:`` URI (302 / 301), or serve the ``.torrent`` as ``application/x-bittorrent``;
- Prowlarr's ``GET /api/v1/indexer`` (``X-Api-Key``): ``IndexerResource`` in camelCase (``id``,
  ``name``, ``enable``, ``protocol``, ``privacy``, ``priority``, ``capabilities``, ...), and each
  indexer's Torznab feed at ``/{id}/api``.

Behaviours an indexer can have (``FakeIndexer.behaviour``): ``ok``; ``slow`` (answers searches
after ``delay`` seconds); ``error`` (HTTP 500); ``ratelimit`` (429, ``Retry-After: 60``);
``garbage`` (bytes that are no XML); ``hostile`` (``<script>`` in titles, and an entity-expansion
payload for ``t=caps`` and ``t=movie``, which defusedxml must refuse).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, quote_plus, urlsplit
from xml.sax.saxutils import escape, quoteattr

API_KEY = "fake-api-key-0123456789"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<rss version="2.0" xmlns:torznab="http://torznab.com/schemas/2015/feed"><channel>
<item><title>&lol4; &xxe;</title><link>magnet:?xt=urn:btih:%s</link></item>
</channel></rss>""" % (b"ab" * 20)


@dataclass
class FakeRelease:
    title: str
    info_hash: str
    size: int = 1_500_000_000
    seeders: int = 50
    leechers: int = 5
    magnet: str = ""  # default: a magnet of info_hash and title
    torrent: bytes = b""  # a .torrent file's bytes: the link serves them
    link: str = (
        "magnet"  # "magnet" (the link is the magnet), "redirect" (http -> magnet), "torrent"
    )
    imdb_id: str = ""
    tmdb_id: int | None = None
    tvdb_id: int | None = None
    category: int = 2040
    age_days: float = 3.0

    def magnet_uri(self) -> str:
        return self.magnet or f"magnet:?xt=urn:btih:{self.info_hash}&dn={quote_plus(self.title)}"


@dataclass
class FakeIndexer:
    id: str  # the path part: /<id>/api (plain), Jackett's indexer id, or Prowlarr's number
    name: str
    releases: list[FakeRelease] = field(default_factory=list)
    behaviour: str = "ok"
    delay: float = 0.0
    movie_params: str = "q,imdbid,tmdbid"
    tv_params: str = "q,season,ep,tvdbid,imdbid"
    retry_after: int = 60


class FakeTorznab:
    """The server. ``url_for(id)`` is a plain feed, ``jackett_url`` a Jackett base URL,
    ``prowlarr_url`` a Prowlarr base URL; ``requests`` counts searches per indexer id."""

    def __init__(self, indexers: list[FakeIndexer] | None = None) -> None:
        self.indexers: dict[str, FakeIndexer] = {i.id: i for i in indexers or []}
        self.requests: Counter[str] = Counter()
        self.log: list[tuple[str, dict[str, str]]] = []
        self.downloads: Counter[str] = Counter()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, indexer: FakeIndexer) -> FakeIndexer:
        self.indexers[indexer.id] = indexer
        return indexer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url_for(self, ident: str) -> str:
        return f"{self.base}/{ident}/api"

    @property
    def jackett_url(self) -> str:
        return f"{self.base}/jackett"

    @property
    def prowlarr_url(self) -> str:
        return f"{self.base}/prowlarr"

    def count(self, ident: str, t: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (key, n) in self.requests.items()
                if key.split(" ")[0] == ident and (t is None or key.endswith(f" {t}"))
            )

    def searches(self, ident: str) -> int:
        return sum(self.count(ident, t) for t in ("search", "tvsearch", "movie"))

    def start(self) -> FakeTorznab:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, ident: str, params: dict[str, str]) -> None:
        with self._lock:
            self.requests[f"{ident} {params.get('t', '')}"] += 1
            self.log.append((ident, dict(params)))


@contextmanager
def running(indexers: list[FakeIndexer] | None = None) -> Iterator[FakeTorznab]:
    fake = FakeTorznab(indexers).start()
    try:
        yield fake
    finally:
        fake.stop()


# --------------------------------------------------------------------------- XML answers


def caps_xml(indexer: FakeIndexer, server_title: str = "Jackett") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<caps>\n'
        f"  <server title={quoteattr(server_title)} />\n"
        '  <limits default="100" max="100" />\n  <searching>\n'
        '    <search available="yes" supportedParams="q" />\n'
        f'    <tv-search available="{"yes" if indexer.tv_params else "no"}" supportedParams="{indexer.tv_params}" />\n'
        f'    <movie-search available="{"yes" if indexer.movie_params else "no"}" supportedParams="{indexer.movie_params}" />\n'
        '    <music-search available="no" supportedParams="q" />\n'
        '    <audio-search available="no" supportedParams="q" />\n'
        '    <book-search available="no" supportedParams="q" />\n'
        "  </searching>\n  <categories>\n"
        '    <category id="2000" name="Movies">\n'
        '      <subcat id="2040" name="Movies/HD" />\n      <subcat id="2045" name="Movies/UHD" />\n'
        "    </category>\n"
        '    <category id="5000" name="TV">\n      <subcat id="5040" name="TV/HD" />\n    </category>\n'
        "  </categories>\n</caps>"
    )


def error_xml(code: int, description: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<error code="{code}" description={quoteattr(description)} />'
    )


_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def matching(indexer: FakeIndexer, params: dict[str, str]) -> list[FakeRelease]:
    """What a real indexer would answer: the releases with every word of ``q`` (and the ids,
    season and episode asked for)."""
    found = []
    for release in indexer.releases:
        words = _words(release.title)
        if q := params.get("q"):
            if not all(w in words or any(x.startswith(w) for x in words) for w in _words(q)):
                continue
        if (imdb := params.get("imdbid")) and release.imdb_id != (
            imdb if imdb.startswith("tt") else f"tt{imdb}"
        ):
            continue
        if (tmdb := params.get("tmdbid")) and str(release.tmdb_id) != tmdb:
            continue
        if (tvdb := params.get("tvdbid")) and str(release.tvdb_id) != tvdb:
            continue
        if (season := params.get("season")) and not re.search(
            rf"s0*{int(season)}(?!\d)", release.title, re.I
        ):
            continue
        if (ep := params.get("ep")) and not re.search(rf"e0*{int(ep)}(?!\d)", release.title, re.I):
            continue
        found.append(release)
    return found


def feed_xml(
    fake: FakeTorznab, indexer: FakeIndexer, releases: list[FakeRelease], flavour: str
) -> str:
    """An RSS channel as Jackett (``jackett``), Prowlarr (``prowlarr``) or a plain feed writes it."""
    items = []
    now = datetime.now(UTC)
    refs = {x.info_hash: i for i, x in enumerate(indexer.releases)}
    for n, r in enumerate(releases):
        ref = refs.get(r.info_hash, n)
        if r.link == "magnet":
            link = r.magnet_uri()
        elif flavour == "prowlarr":
            link = f"{fake.base}/prowlarr/{indexer.id}/download?apikey={API_KEY}&link={ref}&file={quote(r.title)}"
        else:
            link = f"{fake.base}/dl/{indexer.id}/?jackett_apikey={API_KEY}&path={ref}&file={quote_plus(r.title)}"
        source = ""
        if flavour == "jackett":
            source = f"<jackettindexer id={quoteattr(indexer.id)}>{escape(indexer.name)}</jackettindexer>\n      <type>public</type>"
        elif flavour == "prowlarr":
            source = f'<prowlarrindexer id="{indexer.id}" type="public">{escape(indexer.name)}</prowlarrindexer>'
        ids = ""
        if r.imdb_id:
            ids += f'<torznab:attr name="imdb" value="{r.imdb_id[2:]}" />\n      <torznab:attr name="imdbid" value="{r.imdb_id}" />\n      '
        if r.tmdb_id:
            ids += f'<torznab:attr name="tmdbid" value="{r.tmdb_id}" />\n      '
        if r.tvdb_id:
            ids += f'<torznab:attr name="tvdbid" value="{r.tvdb_id}" />\n      '
        magnet_attr = (
            f'<torznab:attr name="magneturl" value={quoteattr(r.magnet_uri())} />\n      '
            if r.link == "magnet"
            else ""
        )
        items.append(
            f"""    <item>
      <title>{escape(r.title)}</title>
      <guid>https://tracker.invalid/torrents/{indexer.id}/{n}</guid>
      {source}
      <comments>https://tracker.invalid/torrents/{indexer.id}/{n}</comments>
      <pubDate>{format_datetime(now - timedelta(days=r.age_days))}</pubDate>
      <size>{r.size}</size>
      <grabs>{r.seeders * 3}</grabs>
      <description />
      <link>{escape(link)}</link>
      <category>{r.category // 1000 * 1000}</category>
      <category>{r.category}</category>
      <enclosure url={quoteattr(link)} length="{r.size}" type="application/x-bittorrent" />
      <torznab:attr name="category" value="{r.category // 1000 * 1000}" />
      <torznab:attr name="category" value="{r.category}" />
      {ids}{magnet_attr}<torznab:attr name="seeders" value="{r.seeders}" />
      <torznab:attr name="peers" value="{r.seeders + r.leechers}" />
      <torznab:attr name="infohash" value="{r.info_hash.upper()}" />
      <torznab:attr name="downloadvolumefactor" value="1" />
      <torznab:attr name="uploadvolumefactor" value="1" />
    </item>"""
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:torznab="http://torznab.com/schemas/2015/feed">\n'
        "  <channel>\n"
        f'    <atom:link href="{fake.base}/" rel="self" type="application/rss+xml" />\n'
        f"    <title>{escape(indexer.name)}</title>\n"
        f"    <description>{escape(indexer.name)} (a local test indexer)</description>\n"
        "    <link>https://tracker.invalid/</link>\n    <language>en-US</language>\n"
        "    <category>search</category>\n" + "\n".join(items) + "\n  </channel>\n</rss>"
    )


def indexers_xml(indexers: list[FakeIndexer]) -> str:
    body = []
    for i in indexers:
        caps = caps_xml(i).split("\n", 1)[1]  # without the declaration
        body.append(
            f'  <indexer id={quoteattr(i.id)} configured="true">\n'
            f"    <title>{escape(i.name)}</title>\n    <description>{escape(i.name)}</description>\n"
            "    <link>https://tracker.invalid/</link>\n    <language>en-US</language>\n"
            f"    <type>public</type>\n    {caps}\n  </indexer>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<indexers>\n' + "\n".join(body) + "\n</indexers>"
    )


def prowlarr_json(fake: FakeTorznab, indexers: list[FakeIndexer]) -> str:
    rows = []
    for n, i in enumerate(indexers):
        rows.append(
            {
                "indexerUrls": ["https://tracker.invalid/"],
                "legacyUrls": [],
                "definitionName": i.name.lower().replace(" ", ""),
                "description": f"{i.name} (a local test indexer)",
                "language": "en-US",
                "enable": True,
                "redirect": False,
                "supportsRss": True,
                "supportsSearch": True,
                "supportsRedirect": False,
                "supportsPagination": False,
                "appProfileId": 1,
                "protocol": "torrent",
                "privacy": "public",
                "capabilities": {
                    "limitsMax": 100,
                    "limitsDefault": 100,
                    "categories": [{"id": 2000, "name": "Movies", "subCategories": []}],
                    "supportsRawSearch": False,
                    "searchParams": ["q"],
                    "tvSearchParams": i.tv_params.split(","),
                    "movieSearchParams": i.movie_params.split(","),
                },
                "priority": 25,
                "downloadClientId": 0,
                "added": "2024-01-01T00:00:00Z",
                "sortName": i.name.lower(),
                "name": i.name,
                "fields": [{"order": 0, "name": "baseUrl", "value": "https://tracker.invalid/"}],
                "implementationName": "Cardigann",
                "implementation": "Cardigann",
                "configContract": "CardigannSettings",
                "infoLink": "https://wiki.servarr.com/prowlarr/supported-indexers",
                "tags": [],
                "id": int(i.id) if i.id.isdigit() else n + 1,
            }
        )
    return json.dumps(rows)


# --------------------------------------------------------------------------- the handler


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (a timeout under test) is no error of the server's.
        return


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTorznab
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _send(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "application/rss+xml; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/")
        fake = self.fake
        # Jackett: /jackett/api/v2.0/indexers/<id>/results/torznab
        if m := re.fullmatch(
            r"/jackett/api/v2\.0/indexers/([\w.-]+)/results/torznab(?:/api)?", path
        ):
            ident = m.group(1)
            if params.get("apikey") != API_KEY:
                return self._send(200, error_xml(100, "Invalid API Key"), "application/xml")
            if ident == "all":
                return self._jackett_all(params)
            return self._feed(ident, params, "jackett")
        # Prowlarr: /prowlarr/api/v1/indexer (JSON), /prowlarr/<id>/api, /prowlarr/<id>/download
        if path == "/prowlarr/api/v1/indexer":
            if self.headers.get("X-Api-Key") != API_KEY:
                return self._send(401, b"", "text/plain")
            return self._send(
                200,
                prowlarr_json(fake, list(fake.indexers.values())),
                "application/json; charset=utf-8",
            )
        if m := re.fullmatch(r"/prowlarr/(\d+)/api", path):
            if params.get("apikey") != API_KEY and self.headers.get("X-Api-Key") != API_KEY:
                return self._send(401, b"", "text/plain")
            return self._feed(m.group(1), params, "prowlarr")
        if m := re.fullmatch(r"/prowlarr/(\d+)/download", path):
            return self._download(m.group(1), params.get("link", ""), permanent=True)
        if m := re.fullmatch(r"/dl/([\w.-]+)", path):
            return self._download(m.group(1), params.get("path", ""), permanent=False)
        # A plain Torznab feed: /<id>/api
        if m := re.fullmatch(r"/([\w.-]+)/api", path):
            if params.get("apikey") != API_KEY:
                return self._send(
                    200, error_xml(100, "Incorrect user credentials"), "application/xml"
                )
            return self._feed(m.group(1), params, "plain")
        if path == "/html":
            return self._send(200, "<!doctype html><html><body>Log in</body></html>", "text/html")
        self._send(404, b"not found", "text/plain")

    def _feed(self, ident: str, params: dict[str, str], flavour: str) -> None:
        fake = self.fake
        indexer = fake.indexers.get(ident)
        if indexer is None:
            return self._send(200, error_xml(201, "Indexer is not configured"), "application/xml")
        t = params.get("t", "")
        fake.record(ident, params)
        behaviour = indexer.behaviour
        if t == "caps":
            if behaviour == "hostile":
                return self._send(200, BILLION_LAUGHS)
            if behaviour == "garbage":
                return self._send(200, b"\x00\xffnot xml at all <<<")
            if behaviour == "error":
                return self._send(500, error_xml(900, "Internal error"), "application/xml")
            return self._send(
                200, caps_xml(indexer, "Prowlarr" if flavour == "prowlarr" else "Jackett")
            )
        if t not in ("search", "tvsearch", "movie"):
            return self._send(400, error_xml(202, f"No such function ({t})"), "application/xml")
        if behaviour == "slow":
            time.sleep(indexer.delay)
        elif indexer.delay:
            time.sleep(indexer.delay)
        if behaviour == "error":
            return self._send(
                500, error_xml(900, "System.Exception: the tracker is down"), "application/xml"
            )
        if behaviour == "ratelimit":
            return self._send(
                429,
                error_xml(429, "Request limit reached"),
                "application/xml",
                {"Retry-After": str(indexer.retry_after)},
            )
        if behaviour == "garbage":
            return self._send(200, b"<rss><channel><item><title>broken", "text/html")
        if behaviour == "hostile" and t == "movie":
            return self._send(200, BILLION_LAUGHS)
        releases = matching(indexer, params)
        if behaviour == "hostile":
            releases = [
                FakeRelease(
                    title=f"<script>alert('{r.title}')</script>{r.title}<img src=x onerror=alert(1)>",
                    info_hash=r.info_hash,
                    size=r.size,
                    seeders=r.seeders,
                )
                for r in releases
            ]
        self._send(200, feed_xml(fake, indexer, releases, flavour))

    def _jackett_all(self, params: dict[str, str]) -> None:
        fake = self.fake
        if params.get("t") == "indexers":
            listed = list(fake.indexers.values())
            if params.get("configured") == "true":
                listed = [i for i in listed if i.behaviour != "unconfigured"]
            return self._send(200, indexers_xml(listed), "application/xml; charset=utf-8")
        if params.get("t") == "caps":
            return self._send(200, caps_xml(FakeIndexer("all", "All")))
        # The aggregate: waits for every indexer, as Jackett's "all" feed does.
        fake.record("all", params)
        slowest = max((i.delay for i in fake.indexers.values()), default=0.0)
        time.sleep(slowest)
        releases = [r for i in fake.indexers.values() for r in matching(i, params)]
        self._send(200, feed_xml(fake, FakeIndexer("all", "All"), releases, "jackett"))

    def _download(self, ident: str, ref: str, permanent: bool) -> None:
        fake = self.fake
        indexer = fake.indexers.get(ident)
        if indexer is None or not ref.isdigit() or int(ref) >= len(indexer.releases):
            return self._send(404, b"", "text/plain")
        release = indexer.releases[int(ref)]
        fake.downloads[f"{ident} {ref}"] += 1
        if release.link == "torrent" and release.torrent:
            return self._send(
                200,
                release.torrent,
                "application/x-bittorrent",
                {"Content-Disposition": 'attachment; filename="release.torrent"'},
            )
        self.send_response(301 if permanent else 302)
        self.send_header("Location", release.magnet_uri())
        self.send_header("Content-Length", "0")
        self.end_headers()


# --------------------------------------------------------------------------- pytest helpers


def plain_indexer(fake: FakeTorznab, ident: str, **fields: object):
    """An ``Indexer`` row for one of the fake's plain feeds (tests.factories.make_indexer)."""
    from tests.factories import make_indexer  # the tests' factories import Django models

    fields.setdefault("name", fake.indexers[ident].name)
    return make_indexer(url=fake.url_for(ident), api_key=API_KEY, **fields)
