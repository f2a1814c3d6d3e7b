from __future__ import annotations

import base64
import re
import unicodedata
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.magnets import (
    MAX_MAGNET_LENGTH,
    MAX_NAME_LENGTH,
    TRACKER_SCHEMES,
    Magnet,
    MagnetError,
    parse_magnet,
)

V1 = "c9e15763f722f23e98a29decdfae341b98d53056"
V1_BASE32 = "ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW"
V2 = "caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e"
OTHER_V1 = "0123456789abcdef0123456789abcdef01234567"


def error_message(text: str) -> str:
    with pytest.raises(MagnetError) as info:
        parse_magnet(text)
    assert str(info.value) == info.value.message
    return info.value.message


# --------------------------------------------------------------------------- hashes


def test_v1_hex_hash_is_lowercased() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1.upper()}")
    assert m.info_hash == V1
    assert m.info_hash_v1 == V1
    assert m.info_hash_v2 is None
    assert m.name == ""
    assert m.trackers == ()
    assert m.peers == ()


def test_base32_hash_is_converted_to_hex() -> None:
    assert base64.b32encode(bytes.fromhex(V1)).decode() == V1_BASE32
    assert parse_magnet(f"magnet:?xt=urn:btih:{V1_BASE32}").info_hash == V1
    assert parse_magnet(f"magnet:?xt=urn:btih:{V1_BASE32.lower()}").info_hash == V1


def test_v2_only_magnet_is_keyed_by_the_sha256_digest() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btmh:1220{V2.upper()}&dn=v2+only")
    assert m.info_hash == V2
    assert m.info_hash_v1 is None
    assert m.info_hash_v2 == V2
    assert m.name == "v2 only"


def test_hybrid_magnet_is_keyed_by_v1() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}")
    assert (m.info_hash, m.info_hash_v1, m.info_hash_v2) == (V1, V1, V2)


def test_scheme_and_urn_prefix_are_case_insensitive() -> None:
    assert parse_magnet(f"MAGNET:?XT=URN:BTIH:{V1}").info_hash == V1
    assert parse_magnet(f"  Magnet:?xt=Urn:BtIh:{V1}\n").info_hash == V1


def test_numbered_xt_and_repeated_equal_hashes_are_accepted() -> None:
    m = parse_magnet(f"magnet:?xt.1=urn:btih:{V1}&xt.2=urn:btih:{V1_BASE32}&xt=urn:btih:{V1}")
    assert m.info_hash == V1


def test_percent_encoded_xt_is_decoded() -> None:
    assert parse_magnet(f"magnet:?xt=urn%3Abtih%3A{V1}").info_hash == V1


def test_xt_that_lost_its_urn_prefix_is_accepted() -> None:
    assert parse_magnet(f"magnet:?xt=btih:{V1}").info_hash == V1


def test_non_bittorrent_xt_is_ignored_beside_a_btih() -> None:
    m = parse_magnet(f"magnet:?xt=urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0&xt=urn:btih:{V1}")
    assert m.info_hash == V1


# --------------------------------------------------------------------------- dn, tr, x.pe


def test_name_is_decoded_stripped_and_cleaned() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1}&dn=+The%20Matrix+%281999%29%00%1b%E2%80%8E+")
    assert m.name == "The Matrix (1999)"


def test_name_keeps_a_literal_plus_and_unicode() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1}&dn=C%2B%2B+f%C3%BCr+%E5%8D%83")
    assert m.name == "C++ für 千"


def test_name_whitespace_is_collapsed() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1}&dn=a%09b%C2%A0%C2%A0c%E2%80%A8d++e")
    assert m.name == "a b c d e"


def test_name_is_capped() -> None:
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1}&dn={'a' * 900}")
    assert m.name == "a" * MAX_NAME_LENGTH


def test_first_name_wins() -> None:
    assert parse_magnet(f"magnet:?xt=urn:btih:{V1}&dn=first&dn=second").name == "first"


def test_trackers_keep_only_known_schemes_once_each() -> None:
    trackers = [
        "udp://tracker.opentrackr.org:1337/announce",
        "http://tracker.example.org/announce?passkey=abc",
        "https://tracker.example.org:443/announce",
        "wss://tracker.webtorrent.dev",
        "udp://tracker.opentrackr.org:1337/announce",  # duplicate
        "ftp://tracker.example.org/",
        "javascript:alert(1)",
        "udp://",  # no host
        "http://[::1",  # broken IPv6
        "http://tracker.example.org:99999/",  # port out of range
        "http://tracker.example.org:0/",
        "not a url",
    ]
    query = "&".join(f"tr={quote(t, safe='')}" for t in trackers)
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1}&{query}&tr.1=udp://tr1.example:6969")
    assert m.trackers == (
        "udp://tracker.opentrackr.org:1337/announce",
        "http://tracker.example.org/announce?passkey=abc",
        "https://tracker.example.org:443/announce",
        "wss://tracker.webtorrent.dev",
        "udp://tr1.example:6969",
    )


def test_peers_are_validated_and_normalised() -> None:
    peers = [
        "1.2.3.4:6881",
        "%5B2001%3Adb8%3A0%3A0%3A0%3A0%3A0%3A1%5D%3A51413",
        "[::1]:80",
        "Peer.Example.org:06881",
        "1.2.3.4:6881",  # duplicate
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4",
        "::1:80",  # IPv6 without brackets is ambiguous
        "[not-ipv6]:80",
        "999.1.1.1:80",
        "-bad-.example:80",
        "host:port",
        ":80",
    ]
    query = "&".join(f"x.pe={p}" for p in peers)
    m = parse_magnet(f"magnet:?xt=urn:btih:{V1}&{query}")
    assert m.peers == ("1.2.3.4:6881", "[2001:db8::1]:51413", "[::1]:80", "peer.example.org:6881")


def test_html_escaped_ampersands_and_surrounding_quotes() -> None:
    m = parse_magnet(f'"magnet:?xt=urn:btih:{V1}&amp;dn=Big+Buck+Bunny&amp;tr=udp://t.example:1"')
    assert m.name == "Big Buck Bunny"
    assert m.trackers == ("udp://t.example:1",)


def test_unknown_parameters_are_ignored() -> None:
    m = parse_magnet(f"magnet:?xl=123&xt=urn:btih:{V1}&ws=http://x/&so=0-3&&=&foo")
    assert m == Magnet(V1, V1, None, "", (), ())


# --------------------------------------------------------------------------- uri()


def test_uri_rebuilds_a_normalised_link() -> None:
    m = parse_magnet(
        f"magnet:?dn=A+%26+B&xt=urn:btmh:1220{V2.upper()}&xt=urn:btih:{V1_BASE32}"
        "&tr=udp%3A%2F%2Ft.example%3A1337%2Fannounce&x.pe=[::1]:6881&xl=5"
    )
    assert m.uri() == (
        f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}&dn=A%20%26%20B"
        "&tr=udp%3A%2F%2Ft.example%3A1337%2Fannounce&x.pe=[::1]:6881"
    )
    assert parse_magnet(m.uri()) == m


def test_uri_is_understood_by_libtorrent() -> None:
    lt = pytest.importorskip("libtorrent")
    m = parse_magnet(
        f"magnet:?xt=urn:btih:{V1}&xt=urn:btmh:1220{V2}&dn=Caf%C3%A9+%2B+more"
        "&tr=udp://t.example:1337/announce&tr=https://t2.example/announce&x.pe=1.2.3.4:6881"
    )
    params = lt.parse_magnet_uri(m.uri())
    assert str(params.info_hashes.v1) == V1
    assert str(params.info_hashes.v2) == V2
    assert params.name == "Café + more"
    assert list(params.trackers) == list(m.trackers)
    assert ("1.2.3.4", 6881) in [tuple(p) for p in params.peers]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("text", ["", "   ", "\n\t", '""'])
def test_empty_input(text: str) -> None:
    assert error_message(text) == "Paste a magnet link."


def test_too_long() -> None:
    text = f"magnet:?xt=urn:btih:{V1}&dn=" + "a" * MAX_MAGNET_LENGTH
    message = error_message(text)
    assert "too long" in message
    assert "4,000" in message


def test_exactly_at_the_limit_is_fine() -> None:
    head = f"magnet:?xt=urn:btih:{V1}&dn="
    text = head + "a" * (MAX_MAGNET_LENGTH - len(head))
    assert parse_magnet(text).info_hash == V1


@pytest.mark.parametrize(
    "text",
    ["https://example.org/file.torrent", "HTTP://example.org/?magnet:?xt=urn:btih:" + V1],
)
def test_web_addresses_are_explained(text: str) -> None:
    assert "web address" in error_message(text)


@pytest.mark.parametrize("text", ["ftp://x", "hello", "xt=urn:btih:" + V1, "<script>"])
def test_other_text_is_not_a_magnet(text: str) -> None:
    assert error_message(text) == "This isn't a magnet link: it should start with magnet:?"


def test_bare_info_hash_gets_a_hint() -> None:
    assert "bare info hash" in error_message(V1)


def test_magnet_without_question_mark() -> None:
    assert "should start with magnet:?" in error_message(f"magnet:xt=urn:btih:{V1}")


@pytest.mark.parametrize("text", ["magnet:?", "magnet:?dn=x&tr=udp://t:1", "magnet:?xt="])
def test_no_info_hash(text: str) -> None:
    assert "no info hash" in error_message(text)


def test_other_network_only() -> None:
    message = error_message("magnet:?xt=urn:ed2k:31D6CFE0D16AE931B73C59D7E0C089C0")
    assert "another network (urn:ed2k)" in message


def test_wrong_length_hash_says_how_long() -> None:
    message = error_message(f"magnet:?xt=urn:btih:{V1[:-1]}")
    assert "39 characters long" in message
    assert "40" in message


def test_non_hex_hash_names_the_bad_characters() -> None:
    message = error_message(f"magnet:?xt=urn:btih:{V1[:-2]}zq")
    assert "aren't hexadecimal" in message
    assert message.endswith("qz")


def test_bad_base32_hash() -> None:
    assert "base32" in error_message(f"magnet:?xt=urn:btih:{'1' * 32}")


def test_empty_btih() -> None:
    assert "empty" in error_message("magnet:?xt=urn:btih:")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"1114{V2}", "should start with 1220"),
        (f"1220{V2[:-2]}", "62 characters after 1220"),
        (f"1220{V2[:-1]}g", "aren't hexadecimal"),
        ("", "empty"),
    ],
)
def test_bad_v2_hash(value: str, expected: str) -> None:
    assert expected in error_message(f"magnet:?xt=urn:btmh:{value}")


def test_disagreeing_v1_hashes() -> None:
    message = error_message(f"magnet:?xt=urn:btih:{V1}&xt=urn:btih:{OTHER_V1}")
    assert "two different info hashes" in message


def test_disagreeing_v2_hashes() -> None:
    other = "0" * 64
    message = error_message(f"magnet:?xt=urn:btmh:1220{V2}&xt=urn:btmh:1220{other}")
    assert "two different v2 info hashes" in message


# --------------------------------------------------------------------------- properties

HEX40 = re.compile(r"[0-9a-f]{40}")
HEX64 = re.compile(r"[0-9a-f]{64}")
PEER = re.compile(r"(\[[0-9a-f:.%\w]+\]|[a-z0-9.-]+):[0-9]{1,5}")


def check_magnet(m: Magnet) -> None:
    assert m.info_hash_v1 is None or HEX40.fullmatch(m.info_hash_v1)
    assert m.info_hash_v2 is None or HEX64.fullmatch(m.info_hash_v2)
    assert m.info_hash == (m.info_hash_v1 or m.info_hash_v2)
    assert len(m.name) <= MAX_NAME_LENGTH
    assert m.name == m.name.strip()
    assert all(unicodedata.category(ch)[0] != "C" for ch in m.name)
    assert "  " not in m.name
    assert all(ch == " " or not ch.isspace() for ch in m.name)
    for tracker in m.trackers:
        assert tracker.split(":", 1)[0].lower() in TRACKER_SCHEMES
    assert len(set(m.trackers)) == len(m.trackers)
    for peer in m.peers:
        assert PEER.fullmatch(peer), peer
        assert 1 <= int(peer.rsplit(":", 1)[1]) <= 65535
    uri = m.uri()
    if len(uri) <= MAX_MAGNET_LENGTH:
        assert parse_magnet(uri) == m


def check_any(text: str) -> None:
    try:
        m = parse_magnet(text)
    except MagnetError as exc:
        assert isinstance(exc.message, str) and exc.message
        return
    check_magnet(m)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_magnet_error(text: str) -> None:
    check_any(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=100).map(lambda s: "magnet:?" + s))
def test_any_query_parses_or_raises_magnet_error(text: str) -> None:
    check_any(text)


hex_chars = st.sampled_from("0123456789abcdefABCDEFgz")
base32_chars = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abc018")
v1_values = st.one_of(
    st.text(st.sampled_from("0123456789abcdefABCDEF"), min_size=40, max_size=40),
    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), min_size=32, max_size=32),
    st.text(hex_chars, min_size=38, max_size=42),
    st.text(base32_chars, min_size=31, max_size=33),
    st.just(V1),
    st.just(V1_BASE32),
)
v2_values = st.one_of(
    st.text(st.sampled_from("0123456789abcdefABCDEF"), min_size=64, max_size=64).map(
        lambda h: "1220" + h
    ),
    st.text(hex_chars, min_size=62, max_size=66).map(lambda h: "1220" + h),
    st.text(hex_chars, min_size=66, max_size=70),
    st.just("1220" + V2),
)
xt_params = st.one_of(
    st.builds(lambda k, v: f"{k}=urn:btih:{v}", st.sampled_from(["xt", "XT", "xt.1"]), v1_values),
    st.builds(lambda k, v: f"{k}=urn:btmh:{v}", st.sampled_from(["xt", "xt.2"]), v2_values),
    st.builds(lambda v: f"xt=urn:{v}", st.text(max_size=20)),
    st.builds(lambda v: f"xt=btih:{v}", v1_values),
)
tracker_values = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["udp", "http", "https", "wss", "ftp", "UDP", "", "javascript"]),
    st.one_of(st.from_regex(r"[a-z0-9.-]{0,20}", fullmatch=True), st.text(max_size=10)),
    st.one_of(st.just(""), st.integers(-1, 70000).map(lambda p: f":{p}"), st.text(max_size=5)),
    st.one_of(st.just("/announce"), st.text(max_size=20)),
)
peer_values = st.one_of(
    st.builds(
        lambda a, b, p: f"{a}.{b}.3.4:{p}",
        st.integers(0, 300),
        st.integers(0, 9),
        st.integers(-5, 70000),
    ),
    st.builds(
        lambda h, p: f"[{h}]:{p}",
        st.sampled_from(["::1", "2001:db8::1", "fe80::1%eth0", "x"]),
        st.integers(0, 70000),
    ),
    st.text(max_size=30),
)
other_params = st.one_of(
    st.builds(lambda v: f"dn={v}", st.text(max_size=80)),
    st.builds(lambda v: f"dn={quote(v)}", st.text(max_size=80)),
    st.builds(lambda v: f"tr={v}", tracker_values),
    st.builds(lambda v: f"tr={quote(v, safe='')}", tracker_values),
    st.builds(lambda v: f"x.pe={v}", peer_values),
    st.builds(
        lambda k, v: f"{k}={v}", st.sampled_from(["xl", "ws", "so", "kt", ""]), st.text(max_size=20)
    ),
    st.text(max_size=20),
)


@st.composite
def near_valid_magnets(draw: st.DrawFn) -> str:
    prefix = draw(
        st.sampled_from(
            ["magnet:?"] * 6
            + ["magnet:?", "MAGNET:?", "magnet:", "magnet:?&", " magnet:?", "http://x/?"]
        )
    )
    params = draw(st.lists(xt_params, min_size=draw(st.sampled_from([0, 1, 1, 1])), max_size=3))
    params += draw(st.lists(other_params, max_size=8))
    params = draw(st.permutations(params))
    sep = draw(st.sampled_from(["&", "&amp;", "&&"]))
    return prefix + sep.join(params)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid_magnets())
def test_near_valid_magnets_parse_or_raise_magnet_error(text: str) -> None:
    check_any(text)


@settings(max_examples=150, deadline=None)
@given(
    name=st.text(max_size=120),
    trackers=st.lists(tracker_values, max_size=4),
    peers=st.lists(peer_values, max_size=4),
    hybrid=st.booleans(),
)
def test_valid_magnets_always_parse_and_round_trip(
    name: str, trackers: list[str], peers: list[str], hybrid: bool
) -> None:
    parts = [f"xt=urn:btih:{V1}", f"dn={quote(name)}"]
    if hybrid:
        parts.append(f"xt=urn:btmh:1220{V2}")
    parts += [f"tr={quote(t, safe='')}" for t in trackers]
    parts += [f"x.pe={quote(p, safe='')}" for p in peers]
    m = parse_magnet("magnet:?" + "&".join(parts))
    assert m.info_hash == V1
    assert m.info_hash_v2 == (V2 if hybrid else None)
    check_magnet(m)
