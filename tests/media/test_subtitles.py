from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from media.subtitles import (
    SubtitleError,
    clean_text,
    decode_text,
    extract_embedded,
    subtitle_language,
    to_webvtt,
    write_webvtt,
)
from tests.media.videos import make_ass, make_srt, make_video

EXPECTED_SRT_VTT = """WEBVTT

00:00:01.000 --> 00:00:02.500
Hello, <i>world</i>!

00:00:03.000 --> 00:00:04.250
Second line
with a break
"""


def test_srt_to_webvtt(tmp_path: Path) -> None:
    assert to_webvtt(make_srt(tmp_path / "movie.srt")) == EXPECTED_SRT_VTT


def test_srt_with_bom_and_sloppy_layout(tmp_path: Path) -> None:
    # BOM, no blank line between cues, stray spaces, "." for milliseconds, no final newline,
    # short milliseconds, cues out of order.
    text = (
        "\ufeff3\n00:00:05,000 --> 00:00:06,000\nThird\n"
        "1\n 00:00:01.000 -->  00:00:02,5  \nFirst  \n\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nSecond\n\n"
        "4\n00:00:07,000 --> 00:00:07,000\nzero length is dropped"
    )
    path = tmp_path / "sloppy.srt"
    path.write_text(text, encoding="utf-8")
    assert to_webvtt(path) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.500\nFirst\n\n"
        "00:00:03.000 --> 00:00:04.000\nSecond\n\n"
        "00:00:05.000 --> 00:00:06.000\nThird\n"
    )


def test_srt_in_windows_1252(tmp_path: Path) -> None:
    text = "1\r\n00:00:01,000 --> 00:00:02,000\r\nCafé – déjà vu… “quoted”\r\n"
    path = tmp_path / "cp1252.srt"
    path.write_bytes(text.encode("cp1252"))
    assert to_webvtt(path) == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCafé – déjà vu… “quoted”\n"
    )


def test_decoding_fallbacks() -> None:
    assert decode_text("é".encode()) == "é"
    assert decode_text(codecs.BOM_UTF8 + "é".encode()) == "é"
    assert decode_text(codecs.BOM_UTF16_LE + "é€".encode("utf-16-le")) == "é€"
    assert decode_text("€".encode("cp1252")) == "€"
    assert decode_text(b"\x81\xe9") == "\x81é"  # not cp1252 at all: Latin-1 takes anything


def test_srt_in_utf16(tmp_path: Path) -> None:
    path = make_srt(tmp_path / "utf16.srt", encoding="utf-16")
    assert to_webvtt(path) == EXPECTED_SRT_VTT


def test_ass_to_webvtt(tmp_path: Path) -> None:
    assert to_webvtt(make_ass(tmp_path / "movie.ass")) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.500\nHello, world!\n\n"
        "00:00:03.000 --> 00:00:04.250\nSecond line\nwith a break, and commas\n"
    )


def test_ssa_with_drawings_hard_spaces_and_other_column_order(tmp_path: Path) -> None:
    text = (
        "[Script Info]\nScriptType: v4.00\n\n[Events]\n"
        "Format: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: Marked=0,0:00:10.50,0:00:12.00,Default,,0,0,0,,"
        "{\\p1}m 0 0 l 100 0 100 100{\\p0}Sign\\htext\n"
        "Dialogue: Marked=0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\b1}Bold{\\b0}\\nline\n"
        "Dialogue: Marked=0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\b1}Bold{\\b0}\\nline\n"
        "Dialogue: Marked=0,0:00:03.00,0:00:04.00,Default,,0,0,0,,{\\p1}m 0 0 l 1 1\n"
    )
    path = tmp_path / "old.ssa"
    path.write_text(text, encoding="utf-8")
    assert to_webvtt(path) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.000\nBold\nline\n\n"
        "00:00:10.500 --> 00:00:12.000\nSign\u00a0text\n"
    )


def test_vtt_is_normalised(tmp_path: Path) -> None:
    text = (
        "WEBVTT - a title\nKind: captions\n\n"
        "NOTE some comment\nspanning lines\n\n"
        "STYLE\n::cue { color: red }\n\n"
        "intro\n00:01.000 --> 00:02.500 align:start position:10% onclick:evil\n"
        "<v Bob>Hello</v> <c.yellow>there</c> <i>you</i>\n\n"
        "00:00:03.000 --> 00:00:04.000\nTom &amp; Jerry <00:00:03.500>karaoke\n"
    )
    path = tmp_path / "in.vtt"
    path.write_text(text, encoding="utf-8")
    assert to_webvtt(path) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.500 align:start position:10%\nHello there <i>you</i>\n\n"
        "00:00:03.000 --> 00:00:04.000\nTom &amp; Jerry karaoke\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>Hi", "Hi"),
        ("<SCRIPT type='x'>alert(1)</SCRIPT>Hi", "Hi"),
        ("Hi<script>alert(1)", "Hi"),
        ("<scr<script>ipt>alert(1)</script>Hi", "&lt;scrHi"),
        ('<img src=x onerror="alert(1)">Hi', "Hi"),
        ('<iframe src="//evil"></iframe>Hi', "Hi"),
        ('<b onclick="steal()">bold</b>', "<b>bold</b>"),
        ("<I>it</I> <U>u</U>", "<i>it</i> <u>u</u>"),
        ('<font color="#ff0000">red</font>', "red"),
        ("<!-- hidden -->shown", "shown"),
        ("{\\an8}top", "top"),
        ("I <3 you & you", "I &lt;3 you & you"),
        ("a --> b", "a --&gt; b"),
        ("line one\n\n  \nline two", "line one\nline two"),
    ],
)
def test_clean_text(text: str, expected: str) -> None:
    assert clean_text(text) == expected


def test_hostile_srt_file(tmp_path: Path) -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\n"
        "<script>document.cookie</script><b>Safe</b> <a href='javascript:x'>link</a>\n"
    )
    path = tmp_path / "evil.srt"
    path.write_text(text, encoding="utf-8")
    assert to_webvtt(path) == "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<b>Safe</b> link\n"


def test_format_is_sniffed_when_the_extension_lies(tmp_path: Path) -> None:
    ass = make_ass(tmp_path / "really-ass.srt")
    assert "Second line\nwith a break, and commas" in to_webvtt(ass)
    srt = make_srt(tmp_path / "subs.txt")
    assert to_webvtt(srt) == EXPECTED_SRT_VTT


def test_not_subtitles(tmp_path: Path) -> None:
    junk = tmp_path / "junk.srt"
    junk.write_bytes(b"\x00\x01 just some bytes")
    with pytest.raises(SubtitleError, match="no subtitles"):
        to_webvtt(junk)
    with pytest.raises(SubtitleError):
        to_webvtt(tmp_path / "missing.srt")
    txt = tmp_path / "readme.txt"
    txt.write_text("hello")
    with pytest.raises(SubtitleError):
        to_webvtt(txt)


def test_write_webvtt(tmp_path: Path) -> None:
    out = tmp_path / "lib" / "Movie (2000).en.vtt"
    assert write_webvtt(make_srt(tmp_path / "m.srt"), out) == out
    assert out.read_text(encoding="utf-8") == EXPECTED_SRT_VTT
    assert sorted(p.name for p in out.parent.iterdir()) == ["Movie (2000).en.vtt"]


def test_write_webvtt_failure_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.srt"
    bad.write_text("nothing here")
    out = tmp_path / "lib" / "x.vtt"
    with pytest.raises(SubtitleError):
        write_webvtt(bad, out)
    assert not out.exists()


def test_extract_embedded_subrip(tmp_path: Path) -> None:
    video = make_video(
        tmp_path / "subs.mkv",
        container="mkv",
        subtitles=[(1.0, 2.5, "Hello <i>there</i>"), (3.0, 4.0, "<script>x</script>Two\nlines")],
    )
    assert extract_embedded(video, 2) == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:02.500\nHello <i>there</i>\n\n"
        "00:00:03.000 --> 00:00:04.000\nTwo\nlines\n"
    )
    with pytest.raises(SubtitleError, match="isn't subtitles"):
        extract_embedded(video, 0)
    with pytest.raises(SubtitleError):
        extract_embedded(video, 7)


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("Movie.en.srt", "en"),
        ("Movie.eng.srt", "en"),
        ("Movie (2019).English.srt", "en"),
        ("English.srt", "en"),
        ("2_English.srt", "en"),
        ("Subs/3_French.srt", "fr"),
        ("Movie.fre.forced.srt", "fr"),
        ("Movie.de.sdh.srt", "de"),
        ("Movie.ger.srt", "de"),
        ("Movie.Deutsch.ass", "de"),
        ("Movie.en.hi.srt", "en"),
        ("Movie.hi.srt", "hi"),
        ("Movie.pt-BR.srt", "pt-BR"),
        ("Movie.pt_BR.srt", "pt-BR"),
        ("Movie.pob.srt", "pt-BR"),
        ("Movie.es-419.srt", "es-419"),
        ("Movie [Spanish].srt", "es"),
        ("Movie.Español.srt", "es"),
        ("Movie.srt", ""),
        ("The.Italian.Job.2003.srt", ""),
        ("Movie.2019.1080p.x264-GROUP.srt", ""),
    ],
)
def test_subtitle_language(name: str, language: str) -> None:
    assert subtitle_language(name) == language
