"""The Torznab protocol: capabilities (``t=caps``), searches (``t=search``, ``tvsearch``,
``movie``), Jackett's list of its indexers (``t=indexers``), and a release's download link,
which may answer with a ``.torrent`` file or redirect to a ``magnet:`` URI (Jackett and Prowlarr
both do that).

Feeds come from the internet: XML is parsed with defusedxml with DTDs forbidden (no entity
expansion, no external entities), answers are read up to a size limit within the indexer's own
timeout, and every failure becomes a :class:`TorznabError` whose message says in words what is
wrong — without the URL, which carries the API key. No Django here.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import defusedxml
import defusedxml.ElementTree as SafeET
import requests

from plank.live.errors import UpstreamError

NS = "{http://torznab.com/schemas/2015/feed}"
USER_AGENT = "Plank/0.1 (+Torznab)"
MAX_FEED_BYTES = 8 * 1024 * 1024
MAX_TORRENT_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_NAME = 500

# TorznabError.kind: what went wrong, for the page's words and for the back-off.
UNREACHABLE = "unreachable"
TLS = "tls"
TIMEOUT = "timeout"
AUTH = "auth"
RATE_LIMITED = "rate_limited"
SERVER = "server"
NOT_FOUND = "not_found"
NOT_TORZNAB = "not_torznab"
HOSTILE = "hostile"
INDEXER = "indexer"
TOO_BIG = "too_big"
BAD_LINK = "bad_link"


class TorznabError(UpstreamError):
    """A Torznab request that failed; ``message`` is fit to show a person."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        transient: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, transient=transient, retry_after=retry_after, status=status)
        self.kind = kind


# --------------------------------------------------------------------------- what feeds say


@dataclass(frozen=True)
class SearchMode:
    available: bool
    params: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Caps:
    """What an indexer can search (``t=caps``)."""

    title: str = ""
    search: SearchMode = SearchMode(True, frozenset({"q"}))
    tv: SearchMode = SearchMode(False)
    movie: SearchMode = SearchMode(False)
    categories: tuple[tuple[int, str], ...] = ()
    limit_max: int | None = None
    limit_default: int | None = None

    def mode(self, name: str) -> SearchMode:
        return {"search": self.search, "tvsearch": self.tv, "movie": self.movie}[name]

    def supports(self, mode: str, param: str = "q") -> bool:
        m = self.mode(mode)
        return m.available and param in m.params

    def describe(self) -> str:
        """In words: "search, tv (q, season, ep, tvdbid), movie (q, imdbid)"."""
        parts = []
        for label, m in (("search", self.search), ("tv", self.tv), ("movie", self.movie)):
            if m.available:
                parts.append(f"{label} ({', '.join(sorted(m.params))})" if m.params else label)
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class Item:
    """One release of a feed."""

    title: str
    guid: str = ""
    link: str = ""  # where the release is fetched: a magnet or an http(s) URL (maybe keyed)
    magnet: str = ""
    info_hash: str = ""  # lowercase hex, "" when the feed does not say
    size: int = 0
    seeders: int | None = None
    leechers: int | None = None
    published: float | None = None  # epoch seconds
    categories: tuple[int, ...] = ()
    imdb_id: str = ""
    tmdb_id: int | None = None
    tvdb_id: int | None = None
    source: str = ""  # the tracker behind an aggregate (<jackettindexer>, <prowlarrindexer>)
    grabs: int | None = None
    files: int | None = None


@dataclass(frozen=True)
class ListedIndexer:
    """One indexer of a Jackett server (``t=indexers``) or of Prowlarr (``/api/v1/indexer``)."""

    id: str
    title: str
    configured: bool = True
    caps: Caps | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- XML


def _root(data: bytes) -> ET.Element:
    """Parse with defusedxml (no DTD, no entities): hostile XML is refused, never expanded."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise TorznabError(
            "not a Torznab feed: the answer is a web page (is this the feed's URL?)",
            kind=NOT_TORZNAB,
        )
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException:
        raise TorznabError(
            "refused: the answer declares a DTD or entities (an XML attack), so it was not read",
            kind=HOSTILE,
        ) from None
    except ET.ParseError:
        raise TorznabError("not a Torznab feed: the answer is not XML", kind=NOT_TORZNAB) from None


def _check_error(root: ET.Element) -> None:
    """``<error code="100" description="Invalid API Key"/>``: Torznab's way to fail."""
    if root.tag != "error":
        return
    code = root.get("code", "")
    description = clean_text(root.get("description", ""))[:200] or "no reason given"
    if code in ("100", "101", "102"):
        raise TorznabError(f"wrong API key ({description})", kind=AUTH)
    if code == "429":
        raise TorznabError(f"rate limited ({description})", kind=RATE_LIMITED, transient=True)
    raise TorznabError(f"the indexer refused: {description} (code {code})", kind=INDEXER)


def _mode(element: ET.Element | None) -> SearchMode:
    if element is None:
        return SearchMode(False)
    params = {p.strip().lower() for p in element.get("supportedParams", "").split(",")}
    return SearchMode(element.get("available", "no").lower() == "yes", frozenset(params - {""}))


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def caps_from(element: ET.Element) -> Caps:
    searching = element.find("searching")
    server = element.find("server")
    limits = element.find("limits")
    categories = []
    for cat in element.iter():
        if cat.tag in ("category", "subcat") and (number := _int(cat.get("id"))) is not None:
            categories.append((number, clean_text(cat.get("name", ""))[:100]))
    find = searching.find if searching is not None else (lambda name: None)
    return Caps(
        title=clean_text(server.get("title", "")) if server is not None else "",
        search=_mode(find("search"))
        if searching is not None
        else SearchMode(True, frozenset({"q"})),
        tv=_mode(find("tv-search")),
        movie=_mode(find("movie-search")),
        categories=tuple(categories),
        limit_max=_int(limits.get("max")) if limits is not None else None,
        limit_default=_int(limits.get("default")) if limits is not None else None,
    )


def parse_caps(data: bytes) -> Caps:
    root = _root(data)
    _check_error(root)
    if root.tag != "caps":
        raise TorznabError(
            f"not a Torznab feed: t=caps answered <{root.tag[:30]}>, not <caps>", kind=NOT_TORZNAB
        )
    return caps_from(root)


_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_BTIH = re.compile(r"xt=urn:btih:([0-9a-zA-Z]{32,40})", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text from a feed, safe to keep: no control characters, single spaces, at most 500
    characters. Markup stays as text (templates escape it; the name parser drops it)."""
    return " ".join(_CONTROL.sub(" ", text or "").split())[:MAX_NAME]


def info_hash_of(value: str) -> str:
    """Lowercase hex from a hex or base32 hash, or a magnet's ``xt``; "" when there is none."""
    value = (value or "").strip()
    if m := _BTIH.search(value):
        value = m.group(1)
    if _HEX40.fullmatch(value):
        return value.lower()
    if len(value) == 32 and re.fullmatch(r"[A-Za-z2-7]{32}", value):
        return base64.b32decode(value.upper()).hex()
    return ""


def _published(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _item(element: ET.Element) -> Item | None:
    attrs: dict[str, str] = {}
    categories: list[int] = []
    for attr in element.iter(f"{NS}attr"):
        name, value = attr.get("name", "").lower(), attr.get("value", "")
        if name == "category":
            if (n := _int(value)) is not None:
                categories.append(n)
        else:
            attrs.setdefault(name, value)
    for cat in element.findall("category"):
        if (n := _int(cat.text)) is not None and n not in categories:
            categories.append(n)
    title = clean_text(element.findtext("title") or "")
    if not title:
        return None
    enclosure = element.find("enclosure")
    enclosure_url = enclosure.get("url", "") if enclosure is not None else ""
    link = (element.findtext("link") or "").strip() or enclosure_url.strip()
    magnet = next(
        (v for v in (attrs.get("magneturl", ""), link, enclosure_url) if v.startswith("magnet:")),
        "",
    )
    if not link:
        link = magnet or attrs.get("magneturl", "")
    if not link:
        return None
    size = _int(element.findtext("size")) or _int(attrs.get("size"))
    if not size and enclosure is not None:
        size = _int(enclosure.get("length"))
    seeders = _int(attrs.get("seeders"))
    leechers = _int(attrs.get("leechers"))
    peers = _int(attrs.get("peers"))
    if leechers is None and peers is not None and seeders is not None:
        leechers = max(peers - seeders, 0)
    source = element.find("jackettindexer")
    if source is None:
        source = element.find("prowlarrindexer")
    imdb = attrs.get("imdbid", "") or (f"tt{attrs['imdb']}" if attrs.get("imdb") else "")
    return Item(
        title=title,
        guid=clean_text(element.findtext("guid") or "")[:MAX_NAME],
        link=link,
        magnet=magnet,
        info_hash=info_hash_of(attrs.get("infohash", "")) or info_hash_of(magnet),
        size=max(size or 0, 0),
        seeders=seeders,
        leechers=leechers,
        published=_published(element.findtext("pubDate")),
        categories=tuple(categories),
        imdb_id=imdb if re.fullmatch(r"tt\d{5,10}", imdb) else "",
        tmdb_id=_int(attrs.get("tmdbid")) or None,
        tvdb_id=_int(attrs.get("tvdbid")) or None,
        source=clean_text(source.text or "")[:100] if source is not None else "",
        grabs=_int(element.findtext("grabs")) or _int(attrs.get("grabs")),
        files=_int(element.findtext("files")) or _int(attrs.get("files")),
    )


def parse_feed(data: bytes) -> list[Item]:
    """The items of a search answer (an RSS channel with torznab attributes)."""
    root = _root(data)
    _check_error(root)
    channel = root.find("channel") if root.tag == "rss" else None
    if channel is None:
        raise TorznabError(
            f"not a Torznab feed: the search answered <{root.tag[:30]}>, not an RSS channel",
            kind=NOT_TORZNAB,
        )
    return [item for element in channel.iter("item") if (item := _item(element)) is not None]


def parse_indexers(data: bytes) -> list[ListedIndexer]:
    """Jackett's ``t=indexers`` answer: ``<indexers><indexer id= configured=>…<caps>…``."""
    root = _root(data)
    _check_error(root)
    if root.tag != "indexers":
        raise TorznabError(
            "this is not Jackett's aggregate feed: t=indexers is not supported here",
            kind=NOT_TORZNAB,
        )
    found = []
    for element in root.findall("indexer"):
        ident = element.get("id", "").strip()
        if not ident or not re.fullmatch(r"[\w.-]{1,100}", ident):
            continue
        caps = element.find("caps")
        found.append(
            ListedIndexer(
                id=ident,
                title=clean_text(element.findtext("title") or ident)[:200],
                configured=element.get("configured", "true").lower() == "true",
                caps=caps_from(caps) if caps is not None else None,
            )
        )
    return found


# --------------------------------------------------------------------------- HTTP

_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
    return session


def where(url: str) -> str:
    """``host:port`` of a URL: what error messages may name (never the query: the key)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return None


def _status_error(response: requests.Response, url: str) -> TorznabError:
    status = response.status_code
    if status == 429:
        after = _retry_after(response)
        words = f" (retry after {after:.0f} s)" if after else ""
        return TorznabError(
            f"rate limited: {where(url)} answered HTTP 429{words}",
            kind=RATE_LIMITED,
            transient=True,
            retry_after=after,
            status=status,
        )
    if status in (401, 403):
        return TorznabError(
            f"wrong API key: {where(url)} answered HTTP {status}", kind=AUTH, status=status
        )
    if status == 404:
        return TorznabError(
            f"not found: {where(url)} answered HTTP 404 (is the URL right?)",
            kind=NOT_FOUND,
            status=status,
        )
    if status >= 500:
        return TorznabError(
            f"server error: {where(url)} answered HTTP {status}",
            kind=SERVER,
            transient=True,
            status=status,
        )
    return TorznabError(
        f"{where(url)} answered HTTP {status}", kind=SERVER if status >= 500 else INDEXER
    )


def _connection_error(exc: Exception, url: str, timeout: float) -> TorznabError:
    if isinstance(exc, requests.exceptions.SSLError):
        return TorznabError(
            f"TLS error: the certificate of {where(url)} could not be verified", kind=TLS
        )
    if isinstance(exc, (requests.Timeout, TimeoutError)):
        return TorznabError(
            f"timed out: no answer from {where(url)} within {timeout:g} s",
            kind=TIMEOUT,
            transient=True,
        )
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return TorznabError("the URL is not valid", kind=NOT_FOUND)
    return TorznabError(f"unreachable: could not connect to {where(url)}", kind=UNREACHABLE)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


def http_get(
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    max_bytes: int = MAX_FEED_BYTES,
    follow: bool = True,
) -> Answer:
    """One GET, read whole within ``timeout`` seconds in total and ``max_bytes`` at most.
    Errors are :class:`TorznabError`; a 3xx is returned as it is when ``follow`` is False."""
    deadline = time.monotonic() + timeout
    try:
        response = _session().get(
            url,
            params=params,
            headers=dict(headers or {}),
            timeout=(min(timeout, 5.0), timeout),
            stream=True,
            allow_redirects=follow,
        )
    except requests.RequestException as exc:
        raise _connection_error(exc, url, timeout) from None
    with response:
        if not follow and response.is_redirect:
            return Answer(response.status_code, response.headers, b"", url)
        if response.status_code >= 400:
            raise _status_error(response, url)
        chunks, total = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise TorznabError(
                        f"the answer of {where(url)} is larger than {max_bytes // 1_000_000} MB",
                        kind=TOO_BIG,
                    )
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _connection_error(requests.Timeout(), url, timeout)
        except requests.RequestException as exc:
            raise _connection_error(exc, url, timeout) from None
    return Answer(response.status_code, response.headers, b"".join(chunks), url)


class Client:
    """One Torznab feed (``url`` ends in ``/api`` or Jackett's ``…/results/torznab``)."""

    def __init__(
        self,
        url: str,
        api_key: str = "",
        *,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self.headers = dict(headers or {})

    def _get(self, params: Mapping[str, str]) -> bytes:
        query = dict(params)
        if self.api_key:
            query["apikey"] = self.api_key
        return http_get(self.url, params=query, headers=self.headers, timeout=self.timeout).body

    def caps(self) -> Caps:
        return parse_caps(self._get({"t": "caps"}))

    def search(self, params: Mapping[str, str]) -> list[Item]:
        """``params`` as Torznab has them: ``{"t": "movie", "imdbid": "tt0133093", ...}``."""
        return parse_feed(self._get(params))

    def indexers(self) -> list[ListedIndexer]:
        """Jackett: the configured indexers behind the ``all`` feed."""
        return parse_indexers(self._get({"t": "indexers", "configured": "true"}))


# --------------------------------------------------------------------------- download links


@dataclass(frozen=True)
class Fetched:
    """What a release's link gave: a magnet URI, or the bytes of a ``.torrent`` file."""

    magnet: str = ""
    torrent: bytes = b""


def fetch_release(
    url: str, *, timeout: float = 15.0, max_bytes: int = MAX_TORRENT_BYTES
) -> Fetched:
    """Follow a release's link: a magnet as it is; an http(s) link to the ``.torrent`` it
    serves (at most ``max_bytes``), or to the ``magnet:`` URI it redirects to."""
    if url.startswith("magnet:"):
        return Fetched(magnet=url)
    for _ in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme not in ("http", "https"):
            raise TorznabError("the release's link is not a web address", kind=BAD_LINK)
        answer = http_get(url, timeout=timeout, max_bytes=max_bytes, follow=False)
        if 300 <= answer.status < 400:
            location = answer.headers.get("Location", "").strip()
            if location.startswith("magnet:"):
                return Fetched(magnet=location)
            if not location:
                raise TorznabError("the release's link redirects nowhere", kind=BAD_LINK)
            url = urljoin(url, location)
            continue
        body = answer.body
        if body.startswith(b"magnet:"):
            return Fetched(magnet=body.decode("utf-8", "replace").strip())
        if body.startswith(b"d") and b"4:info" in body:
            return Fetched(torrent=body)
        raise TorznabError(
            "the release's link gave neither a .torrent file nor a magnet link", kind=BAD_LINK
        )
    raise TorznabError("the release's link redirects too many times", kind=BAD_LINK)
