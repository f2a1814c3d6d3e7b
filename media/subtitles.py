"""Subtitles as WebVTT, the only format a browser's <track> element reads.

`to_webvtt` normalises SubRip, SubStation Alpha and WebVTT files (any common encoding, only
safe markup), `extract_embedded` does the same for a text track inside a video, and
`subtitle_language` guesses a language from a file name. The rules: docs/streaming.md.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from media.files import replacing
from media.probe import TEXT_SUBTITLES, codec_name

MAX_BYTES = 20 * 1024 * 1024  # no real subtitle file is this big
ALLOWED_TAGS = frozenset({"b", "i", "u"})
SUBTITLE_EXTENSIONS = frozenset({".srt", ".ass", ".ssa", ".vtt", ".sub", ".txt"})


class SubtitleError(ValueError):
    """The file isn't a subtitle file we can read. The message is fit to show a person."""


@dataclass(frozen=True)
class Cue:
    start: int
    """milliseconds"""
    end: int
    """milliseconds"""
    text: str
    settings: str = ""


# --------------------------------------------------------------------------- reading


def decode_text(data: bytes) -> str:
    """Bytes of a subtitle file -> text: UTF-16 (with BOM), UTF-8 (BOM optional), Windows-1252,
    and Latin-1 as the last resort (it decodes anything)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_subtitle_text(path: str | os.PathLike[str]) -> str:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SubtitleError(f"{path.name}: too big to be a subtitle file")
        data = path.read_bytes()
    except OSError as exc:
        raise SubtitleError(f"{path.name}: can't be read ({exc.strerror or exc})") from exc
    text = decode_text(data).replace("\x00", "")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(text: str, kind: str = "") -> list[Cue]:
    """Parse subtitle text. `kind` is "srt", "ass", "ssa" or "vtt"; empty means sniff it."""
    kind = kind.lower().lstrip(".") or _sniff(text)
    if kind in ("ass", "ssa"):
        return parse_ass(text)
    if kind == "vtt":
        return parse_vtt(text)
    if kind == "srt":
        return parse_srt(text)
    raise SubtitleError("not a subtitle format Plank reads (SubRip, SubStation Alpha, WebVTT)")


def _sniff(text: str) -> str:
    head = text.lstrip("\ufeff \n\t")[:4096]
    if head.startswith("WEBVTT"):
        return "vtt"
    if "[Script Info]" in head or "[Events]" in head or re.search(r"(?m)^Dialogue:", head):
        return "ass"
    if "-->" in head:
        return "srt"
    return ""


def to_webvtt(src_path: str | os.PathLike[str]) -> str:
    """Read a .srt/.ass/.ssa/.vtt file and return it as WebVTT text. Raises `SubtitleError`."""
    path = Path(src_path)
    text = read_subtitle_text(path)
    suffix = path.suffix.lower().lstrip(".")
    kind = suffix if suffix in ("srt", "ass", "ssa", "vtt") else ""
    cues = parse(text, kind)
    if not cues and kind:
        # A wrongly named file (an .srt that is really ASS, ...) still deserves a go.
        sniffed = _sniff(text)
        if sniffed and sniffed != kind:
            cues = parse(text, sniffed)
    if not cues:
        raise SubtitleError(f"{path.name}: no subtitles found in it")
    return cues_to_webvtt(cues)


def write_webvtt(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Convert `src` to WebVTT at `dst` (UTF-8), atomically; return `dst`."""
    text = to_webvtt(src)
    with replacing(dst) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(dst)


# --------------------------------------------------------------------------- writing


def format_timestamp(ms: int) -> str:
    ms = max(0, int(ms))
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def cues_to_webvtt(cues: list[Cue]) -> str:
    """Render cues (already cleaned) as a WebVTT document, sorted, empty ones dropped."""
    blocks: list[str] = []
    seen: set[tuple[int, int, str]] = set()
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        if not cue.text or cue.end <= cue.start or (cue.start, cue.end, cue.text) in seen:
            continue
        seen.add((cue.start, cue.end, cue.text))
        timing = f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}"
        if cue.settings:
            timing += f" {cue.settings}"
        blocks.append(f"{timing}\n{cue.text}")
    if not blocks:
        return "WEBVTT\n"
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


# --------------------------------------------------------------------------- cleaning

_SCRIPT_LIKE = re.compile(
    r"<\s*(script|style|iframe|object|embed|template)\b[^>]*>.*?(<\s*/\s*\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
_TAG = re.compile(
    r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)\b[^<>]*>"  # an element tag
    r"|<(?:\d+:)?\d{2}:\d{2}\.\d{3}>"  # a WebVTT karaoke timestamp
    r"|<\s*/\s*>"
)
_SRT_OVERRIDE = re.compile(r"\{\\[^}]*\}")


def clean_text(text: str) -> str:
    """Cue text -> safe WebVTT cue text (see the module docstring)."""
    text = _COMMENT.sub("", text)
    text = _SCRIPT_LIKE.sub("", text)
    text = _SRT_OVERRIDE.sub("", text)

    def tag(match: re.Match[str]) -> str:
        name = (match.group(2) or "").lower()
        if name in ALLOWED_TAGS:
            return f"<{match.group(1)}{name}>"
        return ""

    parts: list[str] = []
    pos = 0
    for match in _TAG.finditer(text):
        parts.append(text[pos : match.start()].replace("<", "&lt;"))
        parts.append(tag(match))
        pos = match.end()
    parts.append(text[pos:].replace("<", "&lt;"))
    text = "".join(parts).replace("-->", "--&gt;")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line.strip())


# --------------------------------------------------------------------------- SubRip

_SRT_TIME = r"(?:(\d+)\s*:\s*)?(\d{1,2})\s*:\s*(\d{1,2})(?:\s*[,.:]\s*(\d{1,3}))?"
_SRT_TIMING = re.compile(rf"^\s*{_SRT_TIME}\s*-+>\s*{_SRT_TIME}")


def _srt_ms(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> int:
    millis = int((fraction or "0").ljust(3, "0")[:3])
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis


def parse_srt(text: str) -> list[Cue]:
    cues: list[Cue] = []
    start = end = None
    body: list[str] = []

    def close() -> None:
        if start is not None and end is not None:
            # A trailing cue number belongs to the next cue, not to this one's text.
            lines = list(body)
            while lines and not lines[-1].strip():
                lines.pop()
            cues.append(Cue(start, end, clean_text("\n".join(lines))))

    lines = text.lstrip("\ufeff").split("\n")
    for i, line in enumerate(lines):
        match = _SRT_TIMING.match(line)
        if match:
            if body and body[-1].strip().isdigit():
                body.pop()  # the index line of this cue when the blank line was missing
            close()
            g = match.groups()
            start, end = _srt_ms(*g[0:4]), _srt_ms(*g[4:8])
            body = []
            continue
        if start is None:
            continue
        if not line.strip():
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            nxt2 = lines[i + 2] if i + 2 < len(lines) else ""
            if (
                not nxt.strip()
                or _SRT_TIMING.match(nxt)
                or (nxt.strip().isdigit() and _SRT_TIMING.match(nxt2))
            ):
                close()
                start = end = None
                body = []
            continue
        body.append(line)
    close()
    return cues


# --------------------------------------------------------------------------- SubStation Alpha

_ASS_TIME = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?\s*$")
_ASS_BLOCK = re.compile(r"(\{[^}]*\})")
_ASS_DRAWING = re.compile(r"\\p(\d+)")
_DEFAULT_ASS_FORMAT = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv",
                       "effect", "text"]  # fmt: skip


def _ass_ms(value: str) -> int | None:
    match = _ASS_TIME.match(value)
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    frac = fraction or "0"
    millis = int(frac) * 10 if len(frac) == 2 else int(frac.ljust(3, "0"))
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis


def ass_text_to_plain(text: str) -> str:
    """ASS dialogue text -> cue text: override blocks and drawings removed, \\N as newline."""
    out: list[str] = []
    drawing = False
    for piece in _ASS_BLOCK.split(text):
        if piece.startswith("{") and piece.endswith("}"):
            modes = _ASS_DRAWING.findall(piece)
            if modes:
                drawing = int(modes[-1]) != 0  # the last \p in the block wins
            continue
        if not drawing:
            out.append(piece)
    plain = "".join(out)
    plain = plain.replace("\\N", "\n").replace("\\n", "\n").replace("\\h", "\u00a0")
    return clean_text(plain)


def parse_ass(text: str) -> list[Cue]:
    cues: list[Cue] = []
    section = ""
    fields = _DEFAULT_ASS_FORMAT
    for raw in text.lstrip("\ufeff").split("\n"):
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            continue
        if section and section != "events":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "format":
            fields = [f.strip().lower() for f in value.split(",")]
            continue
        if key != "dialogue" or "text" not in fields:
            continue
        values = value.lstrip().split(",", len(fields) - 1)
        if len(values) < len(fields):
            continue
        row = dict(zip(fields, values, strict=True))
        start, end = _ass_ms(row.get("start", "")), _ass_ms(row.get("end", ""))
        if start is None or end is None:
            continue
        cues.append(Cue(start, end, ass_text_to_plain(row["text"])))
    return cues


# --------------------------------------------------------------------------- WebVTT

_VTT_TIME = r"(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})"
_VTT_TIMING = re.compile(rf"^\s*{_VTT_TIME}\s+-->\s+{_VTT_TIME}(.*)$")
_VTT_SETTING = re.compile(
    r"^(?:vertical:(?:rl|lr)|line:-?\d+(?:\.\d+)?%?(?:,(?:start|center|end))?"
    r"|position:\d+(?:\.\d+)?%(?:,(?:line-left|center|line-right))?|size:\d+(?:\.\d+)?%"
    r"|align:(?:start|center|end|left|right))$"
)


def _vtt_ms(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def parse_vtt(text: str) -> list[Cue]:
    cues: list[Cue] = []
    blocks = re.split(r"\n[ \t]*\n", text.lstrip("\ufeff"))
    for number, block in enumerate(blocks):
        lines = [line for line in block.split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            continue
        first = lines[0].strip()
        if number == 0 and first.startswith("WEBVTT"):
            # The header block; a cue may follow without a blank line in sloppy files.
            lines = lines[1:]
            while lines and "-->" not in lines[0]:
                lines.pop(0)
            if not lines:
                continue
            first = lines[0].strip()
        if first.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in first:
            continue
        if "-->" not in first:
            lines = lines[1:]  # a cue identifier
        if not lines:
            continue
        match = _VTT_TIMING.match(lines[0])
        if not match:
            continue
        g = match.groups()
        settings = " ".join(s for s in g[8].split() if _VTT_SETTING.match(s))
        cues.append(
            Cue(_vtt_ms(*g[0:4]), _vtt_ms(*g[4:8]), clean_text("\n".join(lines[1:])), settings)
        )
    return cues


# --------------------------------------------------------------------------- embedded tracks


def extract_embedded(src: str | os.PathLike[str], stream_index: int) -> str:
    """The text subtitle stream `stream_index` of a video file (SubRip, ASS/SSA, WebVTT or
    MP4 timed text) as WebVTT. Raises `SubtitleError`."""
    path = Path(src)
    cues: list[Cue] = []
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            try:
                stream = container.streams[stream_index]
            except IndexError:
                raise SubtitleError(f"{path.name}: no stream {stream_index}") from None
            if stream.type != "subtitle":
                raise SubtitleError(f"{path.name}: stream {stream_index} isn't subtitles")
            name = codec_name(stream)
            if name not in TEXT_SUBTITLES:
                raise SubtitleError(
                    f"{path.name}: {name} subtitles are pictures, not text; they can't be "
                    "turned into WebVTT"
                )
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0 or packet.time_base is None:
                    continue
                start = int(packet.pts * packet.time_base * 1000)
                length = int((packet.duration or 0) * packet.time_base * 1000) or 4000
                data = bytes(packet)
                if name == "mov_text":
                    size = int.from_bytes(data[:2], "big")
                    raw = decode_text(data[2 : 2 + size])
                    text = clean_text(raw)
                else:
                    raw = decode_text(data)
                    if name in ("ass", "ssa"):
                        # "ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text"
                        parts = raw.split(",", 8)
                        text = ass_text_to_plain(parts[-1])
                    else:
                        text = clean_text(raw.replace("\r\n", "\n"))
                cues.append(Cue(start, start + length, text))
    except av.error.FFmpegError as exc:
        raise SubtitleError(f"{path.name}: can't read the subtitles ({exc})") from exc
    if not cues:
        raise SubtitleError(f"{path.name}: subtitle stream {stream_index} is empty")
    return cues_to_webvtt(cues)


# --------------------------------------------------------------------------- languages

_LANGUAGES: list[tuple[str, ...]] = [
    # ISO 639-1, then other names and codes (ISO 639-2/B and /T, English and native names)
    ("en", "eng", "english"),
    ("fr", "fre", "fra", "french", "francais", "français"),
    ("de", "ger", "deu", "german", "deutsch"),
    ("es", "spa", "spanish", "espanol", "español", "castellano"),
    ("it", "ita", "italian", "italiano"),
    ("pt", "por", "portuguese", "portugues", "português"),
    ("nl", "dut", "nld", "dutch", "nederlands", "flemish"),
    ("sv", "swe", "swedish", "svenska"),
    ("no", "nor", "nob", "nno", "norwegian", "norsk"),
    ("da", "dan", "danish", "dansk"),
    ("fi", "fin", "finnish", "suomi"),
    ("is", "ice", "isl", "icelandic"),
    ("pl", "pol", "polish", "polski"),
    ("cs", "cze", "ces", "czech", "cesky", "čeština"),
    ("sk", "slo", "slk", "slovak"),
    ("hu", "hun", "hungarian", "magyar"),
    ("ro", "rum", "ron", "romanian", "romana", "română"),
    ("bg", "bul", "bulgarian"),
    ("hr", "hrv", "croatian", "hrvatski"),
    ("sr", "srp", "serbian", "srpski"),
    ("sl", "slv", "slovenian", "slovene"),
    ("et", "est", "estonian"),
    ("lv", "lav", "latvian"),
    ("lt", "lit", "lithuanian"),
    ("ru", "rus", "russian"),
    ("uk", "ukr", "ukrainian"),
    ("el", "gre", "ell", "greek"),
    ("tr", "tur", "turkish", "turkce", "türkçe"),
    ("ar", "ara", "arabic"),
    ("he", "heb", "hebrew"),
    ("fa", "per", "fas", "persian", "farsi"),
    ("hi", "hin", "hindi"),
    ("bn", "ben", "bengali"),
    ("ta", "tam", "tamil"),
    ("ja", "jpn", "japanese"),
    ("ko", "kor", "korean"),
    ("zh", "chi", "zho", "chinese", "mandarin", "chs", "cht"),
    ("th", "tha", "thai"),
    ("vi", "vie", "vietnamese"),
    ("id", "ind", "indonesian"),
    ("ms", "may", "msa", "malay"),
    ("ca", "cat", "catalan"),
    ("eu", "baq", "eus", "basque"),
    ("gl", "glg", "galician"),
]
_BY_NAME: dict[str, str] = {name: row[0] for row in _LANGUAGES for name in row}
_BY_NAME.update({"pob": "pt-BR", "ptbr": "pt-BR", "brazilian": "pt-BR", "latino": "es-419"})
_ISO1 = frozenset(row[0] for row in _LANGUAGES)
_MODIFIERS = frozenset(
    {"forced", "sdh", "hi", "cc", "default", "full", "sub", "subs", "subtitle", "subtitles",
     "signs", "songs", "commentary", "track", "dialog", "dialogue", "hearing", "impaired"}
)  # fmt: skip
_REGIONAL = re.compile(r"^([a-z]{2,3})[-_]([a-z]{2}|[a-z]{4}|\d{3})$", re.IGNORECASE)


def normalize_language(token: str) -> str:
    """Language code or name -> tag: "eng", "English", "pt_BR" -> "en", "en", "pt-BR".

    Unknown -> ""."""
    token = token.strip()
    lowered = token.lower()
    if lowered in _BY_NAME:
        return _BY_NAME[lowered]
    match = _REGIONAL.match(token)
    if match:
        base = _BY_NAME.get(match.group(1).lower(), "")
        if base and base in _ISO1:
            sub = match.group(2)
            sub = sub.upper() if len(sub) == 2 else sub.title() if len(sub) == 4 else sub
            return f"{base}-{sub}"
    return ""


def subtitle_language(filename: str | os.PathLike[str]) -> str:
    """Guess a subtitle file's language from its name: "Movie.en.srt", "Movie.eng.forced.srt",
    "English.srt", "2_English.srt", "Movie.pt-BR.srt". Returns "" when the name doesn't say."""
    name = Path(filename).name
    stem = name
    suffix = Path(name).suffix.lower()
    if suffix in SUBTITLE_EXTENSIONS:
        stem = name[: -len(suffix)]
    # "pt_BR" -> "pt-BR" so the underscore split below keeps it whole
    stem = re.sub(r"(?<![A-Za-z])([a-z]{2})_([A-Z]{2})(?![A-Za-z])", r"\1-\2", stem)
    tokens = [t for t in re.split(r"[.\s_\[\](){},;+]+", stem) if t]
    for i in range(len(tokens) - 1, -1, -1):
        token = tokens[i]
        lowered = token.lower()
        if lowered.isdigit():
            continue  # "2_English.srt", "Movie.English.2.srt"
        if lowered == "hi" and i > 0 and normalize_language(tokens[i - 1]):
            continue  # "Movie.en.hi.srt": hearing impaired, not Hindi
        if lowered in _MODIFIERS and lowered != "hi":
            continue
        found = normalize_language(token)
        if found:
            return found
        if "-" in token:  # "Movie-English"
            for part in reversed(token.split("-")):
                found = normalize_language(part)
                if found:
                    return found
        return ""
    return ""
