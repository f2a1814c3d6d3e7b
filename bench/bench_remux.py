"""How long remuxing takes per gigabyte.

    .venv/bin/python bench/bench_remux.py [--size-mb 80] [--keep DIR]

Makes a high-bitrate MKV (lossless H.264 of noise, so the bytes are real), then times
`remux_to_mp4` copying it (H.264 + AAC) and converting its audio (H.264 + AC-3 -> AAC), and
prints seconds and seconds per GB (10^9 bytes of source).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media.remux import remux_to_mp4  # noqa: E402
from tests.media.videos import make_video  # noqa: E402

SIZE = (640, 360)
FPS = 24


def make_source(path: Path, size_mb: float, acodec: str) -> tuple[Path, float, float]:
    # Lossless noise costs about 1.5 bytes per luma pixel.
    seconds = max(1.0, size_mb * 1e6 / (1.5 * SIZE[0] * SIZE[1] * FPS))
    started = time.perf_counter()
    make_video(
        path,
        container="mkv",
        vcodec="h264",
        acodec=acodec,  # type: ignore[arg-type]
        seconds=seconds,
        size=SIZE,
        fps=FPS,
        noise=True,
        video_options={"qp": "0"},
    )
    return path, time.perf_counter() - started, seconds


def run(source: Path, out: Path, transcode_audio: bool) -> float:
    calls: list[float] = []
    started = time.perf_counter()
    remux_to_mp4(source, out, progress=calls.append, transcode_audio=transcode_audio)
    elapsed = time.perf_counter() - started
    assert calls[-1] == 1.0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=80.0)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep the files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="plank-bench-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        print(f"remux benchmark, {SIZE[0]}x{SIZE[1]} {FPS} fps lossless H.264 noise")
        for acodec, transcode in (("aac", False), ("ac3", True)):
            source, made_in, seconds = make_source(
                work / f"source-{acodec}.mkv", args.size_mb, acodec
            )
            size = source.stat().st_size
            elapsed = run(source, work / f"out-{acodec}.mp4", transcode)
            out_size = (work / f"out-{acodec}.mp4").stat().st_size
            mode = "copy H.264 + AAC      " if not transcode else "copy H.264, AC-3 -> AAC"
            print(
                f"{mode}: source {size / 1e6:7.1f} MB (made in {made_in:5.1f} s) -> "
                f"{out_size / 1e6:7.1f} MB in {elapsed:6.2f} s = {elapsed / (size / 1e9):6.2f} s/GB"
                f" ({seconds / elapsed:5.0f}x real time for {seconds:.1f} s of video)"
            )
        print("(page cache warm: the source was just written; a cold disk adds its read time)")


if __name__ == "__main__":
    main()
