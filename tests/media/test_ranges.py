"""media.ranges: Range header parsing and If-Range, every edge the RFC and real clients hit."""

from __future__ import annotations

import pytest
from django.utils.http import http_date

from media.ranges import (
    ByteRange,
    MalformedRange,
    RangeError,
    RangeNotSatisfiable,
    if_range_matches,
    parse_range,
)

SIZE = 1000


def test_no_header_means_whole_file() -> None:
    assert parse_range(None, SIZE) is None
    assert parse_range("", SIZE) is None
    assert parse_range("  \t", SIZE) is None


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        ("bytes=100-", 100, 999),
        ("bytes=-100", 900, 999),
        ("bytes=999-", 999, 999),
        ("bytes=999-999", 999, 999),
        ("bytes=0-", 0, 999),
        ("bytes=-1", 999, 999),
        ("bytes=-1000", 0, 999),
        ("bytes=500-5000", 500, 999),  # end clamped to size - 1
        ("bytes=-5000", 0, 999),  # a suffix longer than the file is the whole file
        ("bytes=0-999", 0, 999),
        ("bytes=0-1000", 0, 999),
    ],
)
def test_single_ranges(header: str, start: int, end: int) -> None:
    result = parse_range(header, SIZE)
    assert result is not None
    assert (result.start, result.end, result.size) == (start, end, SIZE)
    assert result.length == end - start + 1
    assert result.content_range == f"bytes {start}-{end}/{SIZE}"


def test_open_ended_is_marked_and_can_be_limited() -> None:
    open_ended = parse_range("bytes=100-", SIZE)
    assert open_ended is not None and open_ended.open_ended
    assert open_ended.limited(50) == ByteRange(100, 149, SIZE, open_ended=True)
    assert open_ended.limited(5000) == open_ended
    closed = parse_range("bytes=100-899", SIZE)
    suffix = parse_range("bytes=-800", SIZE)
    assert closed is not None and not closed.open_ended and closed.limited(50) == closed
    assert suffix is not None and not suffix.open_ended and suffix.limited(50) == suffix


@pytest.mark.parametrize(
    "header",
    [
        " bytes=0-99 ",
        "bytes = 0-99",
        "bytes=\t0-99",
        "bytes=0 - 99",
        "Bytes=0-99",
        "BYTES=0-99",
        "bytes=0-99,",  # an empty list element is allowed and ignored
        "bytes=,0-99",
        "bytes= , 0-99 , ",
        "bytes=000-099",  # leading zeros are still digits
    ],
)
def test_whitespace_case_and_empty_elements_are_tolerated(header: str) -> None:
    assert parse_range(header, SIZE) == ByteRange(0, 99, SIZE)


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",
        "bytes=0-99, 200-299",
        "bytes=0-0,-1",
        "bytes=0-,0-",  # overlapping: ignored as well
        "bytes=5000-,6000-",  # even when none is satisfiable: the header is ignored
    ],
)
def test_multiple_ranges_are_ignored_whole_file_is_sent(header: str) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize("header", ["items=0-5", "pages=1-2", "none=0-1", "x-custom=a-b"])
def test_other_units_are_ignored(header: str) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "bytes=5-2",  # last before first
        "bytes=--1",
        "bytes=-",
        "bytes=",
        "bytes=,",
        "bytes= , ",
        "bytes=1-2-3",
        "bytes=0x10-20",
        "bytes=+1-2",
        "bytes=-+5",
        "bytes=1.5-2",
        "bytes=1_0-20",  # Python's int() would take this; HTTP doesn't
        "bytes=١-٢",  # Arabic-Indic digits: not DIGIT
        "bytes=1 2-3",
        "bytes=0-99,abc",  # every spec is checked even in a multi-range set
        "bytes=0-99,5-2",
        "bytes 0-99",  # no "="
        "=0-99",  # no unit
        "by tes=0-99",
        "bytes=0-99;q=1",
        "bytes=9-8",
    ],
)
def test_malformed_ranges_are_400(header: str) -> None:
    with pytest.raises(MalformedRange) as caught:
        parse_range(header, SIZE)
    assert caught.value.status == 400
    assert isinstance(caught.value, RangeError)
    assert str(caught.value)  # a message a person can read


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",
        "bytes=1000-1000",
        "bytes=1000-2000",
        "bytes=5000-",
        "bytes=-0",
        "bytes=99999999999999999999999999999999-",  # beyond int64: valid syntax, past the end
        "bytes=9223372036854775807-",
        "bytes=9223372036854775808-9223372036854775809",
    ],
)
def test_unsatisfiable_ranges_are_416_with_star_size(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, SIZE)
    assert caught.value.status == 416
    assert caught.value.content_range == f"bytes */{SIZE}"


def test_huge_last_pos_and_suffix_are_clamped() -> None:
    assert parse_range("bytes=10-99999999999999999999999999999999", SIZE) == ByteRange(
        10, 999, SIZE
    )
    assert parse_range("bytes=-99999999999999999999999999999999", SIZE) == ByteRange(0, 999, SIZE)
    # thousands of digits don't reach int() (whose str limit is 4300 digits)
    assert parse_range("bytes=0-" + "9" * 10_000, SIZE) == ByteRange(0, 999, SIZE)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=" + "9" * 10_000 + "-", SIZE)


def test_empty_file_has_no_satisfiable_range() -> None:
    for header in ("bytes=0-", "bytes=0-0", "bytes=-1"):
        with pytest.raises(RangeNotSatisfiable) as caught:
            parse_range(header, 0)
        assert caught.value.content_range == "bytes */0"
    assert parse_range(None, 0) is None


def test_one_byte_file() -> None:
    assert parse_range("bytes=0-", 1) == ByteRange(0, 0, 1, open_ended=True)
    assert parse_range("bytes=-5", 1) == ByteRange(0, 0, 1)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=1-", 1)


def test_large_file_offsets() -> None:
    size = 50 * 1024**3
    result = parse_range(f"bytes={size - 10}-", size)
    assert result == ByteRange(size - 10, size - 1, size, open_ended=True)


def test_negative_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_range("bytes=0-1", -1)


# --------------------------------------------------------------------------- If-Range

ETAG = '"3e8-5f1a2b"'
MTIME = 1_700_000_000


def test_if_range_absent_always_matches() -> None:
    assert if_range_matches(None, etag=ETAG, last_modified=MTIME)
    assert if_range_matches(None, etag=None, last_modified=None)


def test_if_range_etag_strong_comparison() -> None:
    assert if_range_matches(ETAG, etag=ETAG, last_modified=MTIME)
    assert if_range_matches(f" {ETAG} ", etag=ETAG, last_modified=MTIME)
    assert not if_range_matches('"other"', etag=ETAG, last_modified=MTIME)
    assert not if_range_matches(f"W/{ETAG}", etag=ETAG, last_modified=MTIME)  # weak never matches
    assert not if_range_matches(ETAG, etag=None, last_modified=MTIME)


def test_if_range_date_must_be_exact() -> None:
    assert if_range_matches(http_date(MTIME), etag=ETAG, last_modified=MTIME)
    assert not if_range_matches(http_date(MTIME - 1), etag=ETAG, last_modified=MTIME)
    assert not if_range_matches(http_date(MTIME + 1), etag=ETAG, last_modified=MTIME)
    assert not if_range_matches(http_date(MTIME), etag=ETAG, last_modified=None)
    # the obsolete forms RFC 9110 still asks recipients to accept
    assert if_range_matches("Tuesday, 14-Nov-23 22:13:20 GMT", etag=None, last_modified=MTIME)
    assert if_range_matches("Tue Nov 14 22:13:20 2023", etag=None, last_modified=MTIME)


@pytest.mark.parametrize(
    "value", ["", "  ", "yesterday", "*", "W/", '"unterminated', "Tue, 99 Nov 2023 99:99:99 GMT"]
)
def test_if_range_junk_never_matches(value: str) -> None:
    assert not if_range_matches(value, etag=ETAG, last_modified=MTIME)
