from __future__ import annotations

import os
import time
from array import array
from pathlib import Path

import av
import pytest

from media.probe import probe
from media.remux import RemuxError, remux_to_mp4
from tests.media.videos import make_video


class Cancelled(Exception):
    pass


def top_level_boxes(path: Path) -> list[str]:
    """Box types at the top level of an MP4, read straight from the bytes."""
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif size == 0:
            size = len(data) - pos
        assert size >= 8, f"broken box {kind!r} at {pos}"
        boxes.append(kind)
        pos += size
    assert pos == len(data)
    return boxes


def assert_monotonic_progress(calls: list[float]) -> None:
    assert calls[0] == 0.0
    assert calls[-1] == 1.0
    assert all(0.0 <= c <= 1.0 for c in calls)
    assert calls == sorted(calls)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    return {
        # B-frames, like real releases: Matroska then has no dts for the first packets.
        "mkv_aac": make_video(folder / "aac.mkv", container="mkv", seconds=3.0, bframes=2),
        "mkv_ac3": make_video(folder / "ac3.mkv", container="mkv", acodec="ac3", seconds=3.0),
        "avi_mp3": make_video(folder / "mp3.avi", container="avi", acodec="mp3"),
        "mkv_subs": make_video(
            folder / "subs.mkv", container="mkv", subtitles=[(0.5, 1.5, "Hello")]
        ),
        "mkv_hevc": make_video(folder / "hevc.mkv", container="mkv", vcodec="hevc"),
        "avi_mpeg4": make_video(folder / "xvid.avi", container="avi", vcodec="mpeg4"),
        "mp4": make_video(folder / "plain.mp4", container="mp4"),
    }


def test_remux_mkv_to_faststart_mp4(sources: dict[str, Path], tmp_path: Path) -> None:
    calls: list[float] = []
    dst = tmp_path / "out" / "Movie (2000).mp4"
    assert remux_to_mp4(sources["mkv_aac"], dst, progress=calls.append) == dst

    result = probe(dst)
    assert (result.container, result.video_codec, result.audio_codecs) == ("mp4", "h264", ["aac"])
    assert result.plan == "keep"
    assert result.duration == pytest.approx(probe(sources["mkv_aac"]).duration, abs=0.2)
    assert result.duration == pytest.approx(3.0, abs=0.2)
    boxes = top_level_boxes(dst)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert result.faststart is True
    assert_monotonic_progress(calls)
    assert [p.name for p in dst.parent.iterdir()] == [dst.name]  # no temp file left over
    assert dst.stat().st_mode & 0o777 == 0o644


def test_remux_keeps_every_frame(sources: dict[str, Path], tmp_path: Path) -> None:
    src = sources["mkv_aac"]
    with av.open(str(src)) as container:
        first = [p.dts for p in container.demux(video=0)][:2]
    assert first == [None, None]  # the case that must not lose the first key frame

    dst = remux_to_mp4(src, tmp_path / "frames.mp4")

    def frame_times(path: Path) -> list[float]:
        with av.open(str(path)) as container:
            return [round(float(frame.time), 3) for frame in container.decode(video=0)]

    def audio_packets(path: Path) -> int:
        with av.open(str(path)) as container:
            return sum(1 for p in container.demux(audio=0) if p.size)

    assert frame_times(dst) == frame_times(src)
    assert len(frame_times(dst)) == 36
    assert frame_times(dst)[0] == 0.0
    assert audio_packets(dst) == audio_packets(src)


def test_transcode_ac3_to_aac(sources: dict[str, Path], tmp_path: Path) -> None:
    calls: list[float] = []
    dst = remux_to_mp4(
        sources["mkv_ac3"], tmp_path / "ac3.mp4", progress=calls.append, transcode_audio=True
    )
    result = probe(dst)
    assert (result.video_codec, result.audio_codecs, result.plan) == ("h264", ["aac"], "keep")
    assert result.audio_tracks[0].channels == 2
    assert result.duration == pytest.approx(3.0, abs=0.2)
    assert_monotonic_progress(calls)
    with av.open(str(dst)) as container:
        # The tone came through: decode the AAC and measure it (float planar samples).
        frames = list(container.decode(audio=0))
        assert frames[0].format.name == "fltp"
        samples = array("f")
        for frame in frames:
            samples.frombytes(bytes(frame.planes[0])[: frame.samples * 4])
    assert len(samples) / frames[0].sample_rate == pytest.approx(3.0, abs=0.2)
    with av.open(str(dst)) as container:
        audio = container.streams.audio[0]
        assert audio.start_time == 0  # in step with the video
        sizes = {p.duration for p in container.demux(audio) if p.size}
    assert sizes <= {1024, 768}, sizes  # whole AAC frames, no timestamp jitter
    # make_video: a 12000/32768 tone, spread from mono to stereo at -3 dB (about 0.26)
    assert 0.2 < max(abs(x) for x in samples) < 0.4


def test_unsafe_audio_is_not_silently_dropped(sources: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(RemuxError, match="Dolby Digital"):
        remux_to_mp4(sources["mkv_ac3"], tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_avi_fourcc_is_fixed(sources: dict[str, Path], tmp_path: Path) -> None:
    dst = remux_to_mp4(sources["avi_mp3"], tmp_path / "avi.mp4")
    result = probe(dst)
    assert (result.container, result.video_codec, result.audio_codecs) == ("mp4", "h264", ["mp3"])
    assert result.duration == pytest.approx(2.0, abs=0.2)


def test_subtitles_are_dropped(sources: dict[str, Path], tmp_path: Path) -> None:
    dst = remux_to_mp4(sources["mkv_subs"], tmp_path / "subs.mp4")
    result = probe(dst)
    assert result.subtitle_streams == []
    assert result.audio_codecs == ["aac"]


@pytest.mark.parametrize("name", ["mkv_hevc", "avi_mpeg4"])
def test_video_that_needs_converting_is_refused(
    sources: dict[str, Path], tmp_path: Path, name: str
) -> None:
    with pytest.raises(RemuxError, match="doesn't convert video"):
        remux_to_mp4(sources[name], tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_source(tmp_path: Path) -> None:
    src = tmp_path / "src" / "broken.mkv"
    src.parent.mkdir()
    src.write_bytes(os.urandom(32 * 1024))
    out = tmp_path / "out"
    with pytest.raises(RemuxError, match="broken.mkv"):
        remux_to_mp4(src, out / "x.mp4")
    assert list(out.iterdir()) == []
    with pytest.raises(RemuxError, match="no such file"):
        remux_to_mp4(tmp_path / "missing.mkv", out / "x.mp4")


def test_interrupted_remux_leaves_no_partial_file(sources: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "Movie.mp4"
    dst.write_bytes(b"the previous version")
    calls: list[float] = []
    seen_during: list[list[str]] = []

    def slow_then_cancel(fraction: float) -> None:
        calls.append(fraction)
        if fraction == 0.0:
            time.sleep(0.12)  # a slow consumer: the next packet reports again
            return
        seen_during.append(sorted(p.name for p in tmp_path.iterdir()))
        raise Cancelled

    with pytest.raises(Cancelled):
        remux_to_mp4(sources["mkv_aac"], dst, progress=slow_then_cancel)
    assert 0.0 < calls[-1] < 1.0  # stopped mid-way
    assert any(name.endswith(".part") for name in seen_during[0])  # the work in progress...
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Movie.mp4"]  # ...is gone
    assert dst.read_bytes() == b"the previous version"


def test_progress_is_throttled_and_rising(sources: dict[str, Path], tmp_path: Path) -> None:
    calls: list[tuple[float, float]] = []

    def slow(fraction: float) -> None:
        calls.append((time.monotonic(), fraction))
        if len(calls) < 4:
            time.sleep(0.11)

    remux_to_mp4(sources["mkv_aac"], tmp_path / "p.mp4", progress=slow)
    fractions = [f for _, f in calls]
    assert len(fractions) >= 4
    assert fractions == sorted(set(fractions))  # strictly rising
    assert fractions[-1] == 1.0
    gaps = [b[0] - a[0] for a, b in zip(calls[:-2], calls[1:-1], strict=True)]
    assert all(gap >= 0.09 for gap in gaps)
