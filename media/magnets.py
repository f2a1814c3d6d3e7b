"""Parse and normalise BitTorrent magnet links (BEP 9, v1 and v2/hybrid per BEP 52).

``parse_magnet(text)`` returns a ``Magnet`` or raises ``MagnetError`` whose ``message`` is a
sentence to show the person who pasted the link. It never raises anything else, whatever the text.

What is read:

* ``xt=urn:btih:<40 hex | 32 base32>`` -> ``info_hash_v1`` (lowercase hex)
* ``xt=urn:btmh:1220<64 hex>`` -> ``info_hash_v2`` (the SHA-256 digest, lowercase hex)
  (``xt.1=``, ``xt.2=`` ... count as ``xt``; other ``urn:`` kinds are ignored)
* ``dn=`` -> ``name`` (percent-decoded, ``+`` as space, control characters removed, runs of
  whitespace made one space, stripped, at most 500 characters; the first ``dn`` wins)
* ``tr=`` -> ``trackers`` (http, https, udp and wss URLs with a host; others dropped; no duplicates)
* ``x.pe=`` -> ``peers`` (``host:port``, ``1.2.3.4:port`` or ``[v6]:port``; invalid ones dropped)

Everything else (``xl``, ``ws``, ``so`` ...) is ignored. ``Magnet.uri()`` rebuilds a clean link
from these parts; ``parse_magnet(m.uri()) == m``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus, urlsplit

MAX_MAGNET_LENGTH = 4000
MAX_NAME_LENGTH = 500
TRACKER_SCHEMES = frozenset({"http", "https", "udp", "wss"})

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_BASE32_32 = re.compile(r"[A-Za-z2-7]{32}")
_HEX = frozenset("0123456789abcdefABCDEF")
_XT_KEY = re.compile(r"xt(?:\.\d{1,3})?")
_TR_KEY = re.compile(r"tr(?:\.\d{1,3})?")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_PORT = re.compile(r"[0-9]{1,5}")


class MagnetError(ValueError):
    """A magnet link we cannot use. ``message`` says why, in words for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Magnet:
    info_hash: str  # v1 hex when there is one, else the v2 digest hex: the library's key
    info_hash_v1: str | None  # 40 lowercase hex
    info_hash_v2: str | None  # 64 lowercase hex (SHA-256 digest of a btmh multihash 1220...)
    name: str
    trackers: tuple[str, ...]
    peers: tuple[str, ...]

    def uri(self) -> str:
        """A normalised magnet URI built from the parts, fit to hand to libtorrent."""
        parts: list[str] = []
        if self.info_hash_v1:
            parts.append(f"xt=urn:btih:{self.info_hash_v1}")
        if self.info_hash_v2:
            parts.append(f"xt=urn:btmh:1220{self.info_hash_v2}")
        if self.name:
            parts.append(f"dn={quote(self.name, safe='')}")
        parts.extend(f"tr={quote(tr, safe='')}" for tr in self.trackers)
        parts.extend(f"x.pe={quote(peer, safe=':[]')}" for peer in self.peers)
        return "magnet:?" + "&".join(parts)


# --------------------------------------------------------------------------- helpers


def _shorten(text: str, limit: int = 24) -> str:
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean_name(raw: str) -> str:
    """Percent-decoded ('+' is a space), control/format characters dropped, any whitespace
    (tab, no-break space, line separator ...) made a single plain space, capped."""
    text = unquote_plus(raw, errors="replace")
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if unicodedata.category(ch)[0] != "C" or ch.isspace()
    )
    return " ".join(text.split())[:MAX_NAME_LENGTH].strip()


def _v1_hash(value: str) -> str:
    if _HEX40.fullmatch(value):
        return value.lower()
    if _BASE32_32.fullmatch(value):
        try:
            return base64.b32decode(value.upper()).hex()
        except (binascii.Error, ValueError):  # pragma: no cover - the regex already checked
            pass
    if not value:
        raise MagnetError(
            "The info hash in this magnet link is empty: after urn:btih: there should be "
            "40 hexadecimal characters."
        )
    if len(value) == 40:
        bad = sorted({ch for ch in value if ch not in _HEX})
        raise MagnetError(
            "The info hash in this magnet link has characters that aren't hexadecimal "
            f"(only 0-9 and a-f are allowed): {_shorten(''.join(bad), 12)}"
        )
    if len(value) == 32:
        raise MagnetError(
            "The info hash in this magnet link is 32 characters long but isn't valid base32 "
            "(only A-Z and 2-7 are allowed)."
        )
    raise MagnetError(
        f"The info hash in this magnet link is {len(value)} characters long; it should be 40 "
        "hexadecimal characters (or 32 in base32). Part of it may be missing: copy the whole link."
    )


def _v2_hash(value: str) -> str:
    if len(value) == 68 and value[:4] == "1220" and _HEX64.fullmatch(value[4:]):
        return value[4:].lower()
    if not value:
        raise MagnetError(
            "The v2 info hash in this magnet link is empty: after urn:btmh: there should be "
            "1220 followed by 64 hexadecimal characters."
        )
    if not value.startswith("1220"):
        raise MagnetError(
            "The v2 info hash (urn:btmh:) in this magnet link isn't a SHA-256 multihash: "
            "it should start with 1220."
        )
    digest = value[4:]
    if len(digest) != 64:
        raise MagnetError(
            f"The v2 info hash in this magnet link has {len(digest)} characters after 1220; "
            "it should have 64 hexadecimal characters. Part of it may be missing: copy the "
            "whole link."
        )
    bad = sorted({ch for ch in digest if ch not in _HEX})
    raise MagnetError(
        "The v2 info hash in this magnet link has characters that aren't hexadecimal "
        f"(only 0-9 and a-f are allowed): {_shorten(''.join(bad), 12)}"
    )


def _tracker(raw: str) -> str | None:
    url = unquote(raw, errors="replace").strip()
    if not url or len(url) > 1000:
        return None
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        return None
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        return None
    if scheme not in TRACKER_SCHEMES or not host:
        return None
    if port == 0:
        return None
    return url


def _peer(raw: str) -> str | None:
    text = unquote(raw, errors="replace").strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            return None
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return None
        host_out = f"[{address.compressed}]"
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host or ":" in host:
            return None
        try:
            host_out = str(ipaddress.IPv4Address(host))
        except ValueError:
            if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
                return None
            host_out = host.lower()
    if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        return None
    return f"{host_out}:{int(port)}"


def _not_a_magnet(text: str) -> MagnetError:
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return MagnetError(
            "This is a web address, not a magnet link. A magnet link starts with magnet:? "
            "(on most sites it's behind a magnet icon)."
        )
    if _HEX40.fullmatch(text) or _BASE32_32.fullmatch(text):
        return MagnetError(
            "This looks like a bare info hash. Paste the whole magnet link, which starts "
            "with magnet:?xt=urn:btih:"
        )
    if lowered.startswith("magnet:"):
        return MagnetError("This magnet link is incomplete: it should start with magnet:?")
    return MagnetError("This isn't a magnet link: it should start with magnet:?")


# --------------------------------------------------------------------------- the parser


def parse_magnet(text: str) -> Magnet:
    """Parse a pasted magnet link. Raises MagnetError (only) when it can't be used."""
    if not isinstance(text, str):
        raise MagnetError("Paste a magnet link.")
    text = text.strip()
    if len(text) >= 2 and text[0] + text[-1] in ('""', "''", "<>"):
        text = text[1:-1].strip()  # pasted with its quotes or angle brackets
    if not text:
        raise MagnetError("Paste a magnet link.")
    if len(text) > MAX_MAGNET_LENGTH:
        raise MagnetError(
            f"This magnet link is too long ({len(text):,} characters); the limit is "
            f"{MAX_MAGNET_LENGTH:,}."
        )
    if text[:8].lower() != "magnet:?":
        raise _not_a_magnet(text)

    v1: set[str] = set()
    v2: set[str] = set()
    other_urns: list[str] = []
    name: str | None = None
    trackers: dict[str, None] = {}
    peers: dict[str, None] = {}

    query = text[8:].replace("&amp;", "&")  # copied out of HTML source
    for param in query.split("&"):
        key, _, value = param.partition("=")
        key = key.strip().lower()
        if _XT_KEY.fullmatch(key):
            urn = unquote(value, errors="replace").strip()
            if urn[:5].lower() in ("btih:", "btmh:"):
                urn = "urn:" + urn  # a hand-typed link that lost its urn:
            kind = urn[:9].lower()
            if kind == "urn:btih:":
                v1.add(_v1_hash(urn[9:].strip()))
            elif kind == "urn:btmh:":
                v2.add(_v2_hash(urn[9:].strip()))
            elif urn:
                other_urns.append(urn)
        elif key == "dn" and name is None:
            name = _clean_name(value)
        elif _TR_KEY.fullmatch(key):
            if tracker := _tracker(value):
                trackers[tracker] = None
        elif key == "x.pe":
            if peer := _peer(value):
                peers[peer] = None

    if len(v1) > 1:
        raise MagnetError(
            "This magnet link has two different info hashes (urn:btih:), so it isn't clear "
            "which torrent it means."
        )
    if len(v2) > 1:
        raise MagnetError(
            "This magnet link has two different v2 info hashes (urn:btmh:), so it isn't clear "
            "which torrent it means."
        )
    hash_v1 = next(iter(v1), None)
    hash_v2 = next(iter(v2), None)
    if hash_v1 is None and hash_v2 is None:
        if other_urns:
            kind = _shorten(":".join(other_urns[0].split(":")[:2]), 20)
            raise MagnetError(
                f"This magnet link is for another network ({kind}), not BitTorrent: it has no "
                "urn:btih: or urn:btmh: info hash."
            )
        raise MagnetError(
            "This magnet link has no info hash (xt=urn:btih:...), so there's no way to tell "
            "which torrent it is."
        )
    return Magnet(
        info_hash=hash_v1 or hash_v2 or "",
        info_hash_v1=hash_v1,
        info_hash_v2=hash_v2,
        name=name or "",
        trackers=tuple(trackers),
        peers=tuple(peers),
    )
