from __future__ import annotations

import os
from pathlib import Path

import pytest

from media.probe import ProbeError, ProbeResult, probe
from tests.media.videos import make_video

CASES = {
    # name: (container, vcodec, acodec, expected container, plan)
    "mp4_h264_aac": ("mp4", "h264", "aac", "mp4", "keep"),
    "webm_vp9_opus": ("webm", "vp9", "opus", "webm", "keep"),
    "webm_vp9_vorbis": ("webm", "vp9", "vorbis", "webm", "keep"),
    "mkv_h264_aac": ("mkv", "h264", "aac", "mkv", "remux"),
    "mkv_h264_silent": ("mkv", "h264", None, "mkv", "remux"),
    "mkv_vp9_opus": ("mkv", "vp9", "opus", "mkv", "remux"),
    "avi_h264_mp3": ("avi", "h264", "mp3", "avi", "remux"),
    "mov_h264_aac": ("mov", "h264", "aac", "mov", "remux"),
    "mkv_h264_ac3": ("mkv", "h264", "ac3", "mkv", "remux_audio"),
    "mkv_h264_flac": ("mkv", "h264", "flac", "mkv", "remux_audio"),
    "mkv_h264_pcm": ("mkv", "h264", "pcm_s16le", "mkv", "remux_audio"),
    "mkv_vp9_vorbis": ("mkv", "vp9", "vorbis", "mkv", "remux_audio"),
    "mp4_h264_ac3": ("mp4", "h264", "ac3", "mp4", "remux_audio"),
    "avi_mpeg4_mp3": ("avi", "mpeg4", "mp3", "avi", "unsupported"),
    "mkv_hevc_aac": ("mkv", "hevc", "aac", "mkv", "unsupported"),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("probe")
    made: dict[str, Path] = {}
    for name, (container, vcodec, acodec, _, _) in CASES.items():
        made[name] = make_video(
            folder / f"{name}.{container}",
            container=container,  # type: ignore[arg-type]
            vcodec=vcodec,  # type: ignore[arg-type]
            acodec=acodec,  # type: ignore[arg-type]
            size=(160, 120),
            seconds=2.0,
        )
    return made


@pytest.mark.parametrize("name", list(CASES))
def test_probe_generated_videos(videos: dict[str, Path], name: str) -> None:
    _, vcodec, acodec, container, plan = CASES[name]
    result = probe(videos[name])
    assert isinstance(result, ProbeResult)
    assert result.container == container
    assert result.video_codec == vcodec
    assert (result.width, result.height) == (160, 120)
    assert result.audio_codecs == ([acodec] if acodec else [])
    assert result.audio_codec == (acodec or "")
    assert result.duration is not None
    assert result.duration == pytest.approx(2.0, abs=0.15)
    assert result.plan == plan
    assert result.browser_playable is (plan == "keep")
    assert result.reason
    assert result.size == videos[name].stat().st_size
    assert result.subtitle_streams == []


def test_keep_reasons_and_mime_types(videos: dict[str, Path]) -> None:
    mp4 = probe(videos["mp4_h264_aac"])
    assert mp4.reason == "MP4 with H.264 + AAC plays in browsers as it is."
    assert mp4.mime_type == "video/mp4"
    assert mp4.format_name.startswith("mov,mp4")
    webm = probe(videos["webm_vp9_opus"])
    assert webm.mime_type == "video/webm"
    assert webm.format_name == "matroska,webm"


def test_remux_reasons(videos: dict[str, Path]) -> None:
    assert probe(videos["mkv_h264_aac"]).reason == (
        "Matroska (MKV) isn't played by browsers; the H.264 + AAC streams are copied into MP4."
    )
    assert probe(videos["mkv_h264_ac3"]).reason == (
        "Browsers can't play Dolby Digital (AC-3) audio; the H.264 video is copied into MP4 "
        "and the audio converted to AAC stereo."
    )


@pytest.mark.parametrize(("name", "label"), [("mkv_hevc_aac", "HEVC"), ("avi_mpeg4_mp3", "MPEG-4")])
def test_unsupported_video_says_why(videos: dict[str, Path], name: str, label: str) -> None:
    result = probe(videos[name])
    assert result.plan == "unsupported"
    assert label in result.reason
    assert "doesn't convert video" in result.reason
    assert not result.browser_playable


def test_faststart_is_reported_for_mp4(videos: dict[str, Path]) -> None:
    # FFmpeg writes the index (moov) after the data unless asked for faststart.
    assert probe(videos["mp4_h264_aac"]).faststart is False
    assert probe(videos["mkv_h264_aac"]).faststart is None


def test_embedded_subtitle_streams(tmp_path: Path) -> None:
    video = make_video(
        tmp_path / "subs.mkv",
        container="mkv",
        subtitles=[(0.5, 1.5, "Hi")],
        subtitle_language="fre",
    )
    result = probe(video)
    assert result.plan == "remux"
    assert len(result.subtitle_streams) == 1
    track = result.subtitle_streams[0]
    assert (track.index, track.codec, track.language) == (2, "subrip", "fre")
    assert track.is_text
    # Subtitles don't stretch the running time.
    assert result.duration == pytest.approx(2.0, abs=0.1)


def test_corrupt_and_non_media_files(tmp_path: Path, videos: dict[str, Path]) -> None:
    text = tmp_path / "notes.mkv"
    text.write_text("this is not a video\n" * 50)
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(os.urandom(64 * 1024))
    data = videos["mp4_h264_aac"].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # the index is at the end: cut off
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    for bad in (text, noise, truncated, empty, tmp_path / "missing.mkv", tmp_path):
        with pytest.raises(ProbeError) as info:
            probe(bad)
        assert bad.name in str(info.value)


def test_probe_error_message_is_plain(tmp_path: Path) -> None:
    text = tmp_path / "notes.mkv"
    text.write_text("hello")
    with pytest.raises(ProbeError, match=r"notes\.mkv: not a readable video file \(.+\)"):
        probe(text)
