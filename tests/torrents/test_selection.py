"""Scoring releases: reasons, red flags, playability by the library's codec rules, presets and
the owner's weights. Names are real release names (the shapes of tests/media/fixtures)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from media.release_names import Release, parse_release_name
from torrents import selection
from torrents.selection import QUALITY, SMALL, STREAMING, Rules, Target, rank, score, weights_for

GB = 1_000_000_000


@dataclass
class Candidate:
    name: str
    size: int = 4 * GB
    seeders: int | None = 50
    info_hash: str = ""
    priority: int = 25

    @property
    def release(self) -> Release:
        return parse_release_name(self.name)


def rules(preset: str = STREAMING, **changes) -> Rules:
    weights = weights_for(preset, changes.pop("weights", None))
    return Rules(weights=weights, **changes)


def texts(scored) -> list[str]:
    return [r.text for r in scored.reasons]


def test_hevc_is_rejected_for_streaming_and_says_why() -> None:
    s = score(
        Candidate("Dune.Part.Two.2024.2160p.WEB-DL.DDP5.1.Atmos.HDR.H.265-FLUX", 20 * GB),
        Target(),
        rules(),
    )
    assert s.rejected == "HEVC (H.265): your browser cannot play it"
    q = score(
        Candidate("Dune.Part.Two.2024.2160p.WEB-DL.DDP5.1.Atmos.HDR.H.265-FLUX", 20 * GB),
        Target(),
        rules(QUALITY),
    )
    assert q.rejected == "" and "HEVC (H.265): your browser cannot play it" in texts(q)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Oppenheimer.2023.HDCAM.x264-NoGRP", "CAM: filmed in a cinema"),
        ("Barbie 2023 HDTS 720p x264", "telesync: filmed in a cinema"),
        ("The.Movie.2021.1080p.WEB-DL.x264.Sample", "a sample, not the whole film"),
        ("The.Movie.2021.1080p.BluRay.x264.RARBG.Password", "a password-protected pack"),
        ("The.Movie.2021.1080p.BluRay.x264.part01.rar", "a RAR archive"),
        (
            "The.Movie.2021.1080p.WEB-DL.x264.mp4.exe",
            "a program in the name (.exe): likely malware",
        ),
        (
            "Anime.Movie.2019.1080p.BluRay.10bit.x264-GRP",
            "10-bit H.264: your browser cannot play it",
        ),
        ("Old.Film.1968.DVDRip.XviD-GRP", "MPEG-4 Part 2 (DivX/Xvid): your browser cannot play it"),
    ],
)
def test_red_flags_reject(name: str, reason: str) -> None:
    assert score(Candidate(name, size=2 * GB), Target(), rules()).rejected == reason


def test_too_few_seeders_names_the_minimum() -> None:
    s = score(
        Candidate("Heat.1995.1080p.BluRay.x264-GRP", seeders=2), Target(), rules(min_seeders=5)
    )
    assert s.rejected == "2 seeders, minimum 5"


def test_size_against_the_runtime() -> None:
    small = score(
        Candidate("Heat.1995.1080p.WEB-DL.x264-GRP", size=500_000_000), Target(minutes=170), rules()
    )
    assert "500 MB for about 170 min at 1080p: suspiciously small" in texts(small)
    fake = score(
        Candidate("Heat.1995.2160p.WEB-DL.x264-GRP", size=300_000_000), Target(minutes=170), rules()
    )
    assert fake.rejected == "300 MB for about 170 min at 2160p: far too small, likely a fake"
    fine = score(
        Candidate("Heat.1995.1080p.WEB-DL.x264-GRP", size=6 * GB), Target(minutes=170), rules()
    )
    assert "6.0 GB for about 170 min at 1080p: a plausible size" in texts(fine)


def test_seeders_break_ties_but_do_not_decide() -> None:
    hd = Candidate("Heat.1995.1080p.BluRay.x264-GRP", seeders=20)
    swarm = Candidate("Heat.1995.DVDRip.x264-GRP", seeders=5000, size=1 * GB)
    assert [s.candidate for s in rank([swarm, hd], Target(), rules())] == [hd, swarm]
    more = Candidate("Heat.1995.1080p.BluRay.x264-OTHER", seeders=200)
    assert rank([hd, more], Target(), rules())[0].candidate is more
    capped = score(Candidate("Heat.1995.1080p.BluRay.x264-GRP", seeders=10**6), Target(), rules())
    assert max(r.points for r in capped.reasons if "seeders" in r.text) == 15


def test_audio_that_plays_beats_audio_converted_on_import() -> None:
    aac = score(Candidate("Heat.1995.1080p.WEB-DL.AAC2.0.H.264-GRP"), Target(), rules())
    dts = score(Candidate("Heat.1995.1080p.WEB-DL.DTS-HD.MA.5.1.H.264-GRP"), Target(), rules())
    assert "AAC audio plays as it is" in texts(aac)
    assert "DTS audio: converted to AAC when filed" in texts(dts)
    assert aac.points > dts.points and dts.rejected == ""


def test_trusted_groups_and_languages() -> None:
    plain = score(Candidate("Heat.1995.1080p.BluRay.x264-SPARKS"), Target(), rules())
    trusted = score(
        Candidate("Heat.1995.1080p.BluRay.x264-SPARKS"),
        Target(),
        rules(trusted=frozenset({"sparks"})),
    )
    assert trusted.points - plain.points == 10 and "trusted group SPARKS" in texts(trusted)
    french = score(Candidate("Heat.1995.FRENCH.1080p.BluRay.x264-GRP"), Target(), rules())
    assert "French audio (you prefer English)" in texts(french)
    for_french = score(
        Candidate("Heat.1995.FRENCH.1080p.BluRay.x264-GRP"), Target(), rules(languages=("fr",))
    )
    assert "French audio" in texts(for_french) and for_french.points > french.points
    multi = score(
        Candidate("Heat.1995.MULTi.1080p.BluRay.x264-GRP"), Target(), rules(languages=("fr",))
    )
    assert "several audio languages" in texts(multi)


def test_presets_choose_differently() -> None:
    names = [
        Candidate("Heat.1995.2160p.UHD.BluRay.REMUX.HDR.HEVC.DTS-HD.MA.5.1-GRP", 60 * GB, 40),
        Candidate("Heat.1995.1080p.BluRay.x264-GRP", 10 * GB, 40),
        Candidate("Heat.1995.720p.WEB-DL.AAC.H.264-GRP", 1200 * 1_000_000, 40),
    ]
    target = Target(minutes=170)
    firsts = {
        p: selection.best(rank(names, target, rules(p))).candidate.name
        for p in (STREAMING, QUALITY, SMALL)
    }
    assert firsts[STREAMING] == names[1].name
    assert firsts[QUALITY] == names[0].name
    assert firsts[SMALL] == names[2].name


def test_the_owners_weights_override_the_preset() -> None:
    names = [
        Candidate("Heat.1995.2160p.WEB-DL.DDP5.1.H.265-GRP", 20 * GB),
        Candidate("Heat.1995.720p.WEB-DL.H.264-GRP", 2 * GB),
    ]
    allowed = rules(
        weights={"reject_unplayable": False, "unplayable": 0, "resolution": {"2160p": 100}}
    )
    assert selection.best(rank(names, Target(), allowed)).candidate is names[0]
    assert weights_for(STREAMING, {"nonsense": 3, "plays": "x"})["plays"] == 30


def test_blocked_releases_are_rejected() -> None:
    s = score(
        Candidate("Heat.1995.1080p.BluRay.x264-GRP", info_hash="ab" * 20),
        Target(),
        rules(blocked=frozenset({"ab" * 20})),
    )
    assert s.rejected == "blocked for this title (it failed before)"


def test_a_season_pack_is_sized_for_the_season_and_preferred() -> None:
    target = Target(kind="tv", season=1, episodes_in_season=10)
    pack = score(Candidate("Breaking.Bad.S01.1080p.BluRay.x264-ROVERS", 20 * GB), target, rules())
    episode = score(
        Candidate("Breaking.Bad.S01E01.1080p.BluRay.x264-ROVERS", 2 * GB), target, rules()
    )
    assert "the whole season in one" in texts(pack)
    assert "20.0 GB for about 450 min at 1080p: a plausible size" in texts(pack)
    assert pack.points > episode.points


def test_every_reason_adds_up_to_the_score() -> None:
    s = score(Candidate("Heat.1995.1080p.BluRay.DTS.x264-GRP"), Target(), rules())
    assert s.points == pytest.approx(sum(r.points for r in s.reasons))
    assert s.score == round(s.points)


def test_an_indexers_own_minimum_of_seeders_counts_too() -> None:
    c = Candidate("Heat.1995.1080p.BluRay.x264-GRP", seeders=4)
    c.min_seeders = 10  # what Result carries from its indexer
    assert score(c, Target(), rules(min_seeders=2)).rejected == "4 seeders, minimum 10"
