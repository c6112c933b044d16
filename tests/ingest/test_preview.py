"""The Upload page's list of a zip: every member's header facts without unpacking it (#30)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.ingest import preview
from core.ingest.preview import preview_zip
from tests.conftest import ffmpeg, speechlike


def zipped(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def facts(listed) -> dict[str, tuple]:
    return {
        e.item.name: None
        if e.info is None
        else (round(e.info.duration_s, 2), e.info.source_rate_hz, e.info.channels, e.info.codec)
        for e in listed
    }


@pytest.fixture(scope="module")
def long_call(tmp_path_factory) -> Path:
    """90 s of 16 kHz stereo speech: 5.8 MB as WAV, far past the first header read."""
    path = tmp_path_factory.mktemp("long") / "call.wav"
    wave = speechlike(90.0, seed=3, rate=16_000)
    sf.write(path, np.stack([wave, wave[::-1]], axis=1), 16_000, subtype="PCM_16")
    return path


def test_each_member_is_listed_with_the_facts_its_header_gives(encoded, long_call, tmp_path):
    mp3 = tmp_path / "cbr.mp3"  # constant bit rate, no Xing frame: a duration from the size
    ffmpeg("-i", str(long_call), "-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "0", str(mp3))
    members = {"calls/a.wav": encoded["pcm16.wav"].read_bytes(), "long.wav": long_call.read_bytes(),
               "cbr.mp3": mp3.read_bytes(), "b.flac": encoded["clip.flac"].read_bytes(),
               "notes.txt": b"not audio"}  # fmt: skip
    listed = preview_zip(zipped(members), "batch.zip")
    assert facts(listed) == {
        "calls/a.wav": (3.0, 44_100, 2, "pcm_s16le"),
        "long.wav": (90.0, 16_000, 2, "pcm_s16le"),
        "cbr.mp3": (pytest.approx(90.0, abs=0.1), 16_000, 2, "mp3float"),
        "b.flac": (3.0, 44_100, 2, "flac"),
    }
    assert all(e.item.problem is None and e.item.data is None for e in listed)


def test_a_long_member_costs_its_header_not_its_length(long_call, monkeypatch):
    read = []
    opened = zipfile.ZipFile.open

    def counting(self, member, *args, **kwargs):
        handle = opened(self, member, *args, **kwargs)
        real = handle.read
        handle.read = lambda n=-1: read.append(len(chunk := real(n))) or chunk
        return handle

    monkeypatch.setattr(zipfile.ZipFile, "open", counting)
    listed = preview_zip(zipped({"long.wav": long_call.read_bytes()}), "one.zip")
    assert facts(listed) == {"long.wav": (90.0, 16_000, 2, "pcm_s16le")}
    assert sum(read) == preview.HEAD_STEPS_BYTES[0] < long_call.stat().st_size / 50


def test_a_header_past_the_first_bytes_is_read_with_more_of_them(encoded, tmp_path):
    """A FLAC with ~200 kB of cover art before its audio needs the second, larger read."""
    cover, art = tmp_path / "cover.png", tmp_path / "art.flac"
    ffmpeg("-f", "lavfi", "-i", "nullsrc=s=256x256,geq=random(1)*255:128:128", "-frames:v", "1",
           str(cover))  # fmt: skip
    ffmpeg("-i", str(encoded["clip.flac"]), "-i", str(cover), "-map", "0", "-map", "1",
           "-c:a", "copy", "-c:v", "png", "-disposition:v", "attached_pic", str(art))  # fmt: skip
    assert art.stat().st_size > preview.HEAD_STEPS_BYTES[0] + encoded["clip.flac"].stat().st_size
    listed = preview_zip(zipped({"art.flac": art.read_bytes()}), "art.zip")
    assert facts(listed) == {"art.flac": (3.0, 44_100, 2, "flac")}


def test_an_index_at_the_end_of_a_long_member_leaves_its_facts_unknown_not_wrong(tmp_path):
    """An M4A written without faststart keeps its index (moov) after the audio: past what the
    preview reads, so its facts are unknown until the analysis reads it whole, and no problem
    is invented for it."""
    m4a = tmp_path / "late-index.m4a"
    noise = tmp_path / "noise.wav"
    sf.write(noise, np.random.default_rng(0).uniform(-0.5, 0.5, 16_000 * 120), 16_000)
    ffmpeg("-i", str(noise), "-c:a", "aac", "-b:a", "128k", str(m4a))
    assert m4a.stat().st_size > preview.HEAD_STEPS_BYTES[-1]
    listed = preview_zip(zipped({"late-index.m4a": m4a.read_bytes()}), "m.zip")
    assert facts(listed) == {"late-index.m4a": None}
    assert listed[0].item.problem is None


def test_a_small_member_that_is_not_audio_shows_its_problem_before_analysing():
    listed = preview_zip(zipped({"bad.wav": b"RIFF" + bytes(100), "ok.txt": b"x"}), "b.zip")
    assert [e.item.name for e in listed] == ["bad.wav"]
    assert "bad.wav: a damaged or incomplete WAV file" in listed[0].item.problem


def test_a_broken_zip_and_unsafe_names_keep_their_problems():
    (broken,) = preview_zip(io.BytesIO(b"PK\x03\x04 not really"), "broken.zip")
    assert broken.item.problem.startswith("broken.zip: not a readable zip archive")
    listed = preview_zip(zipped({"../evil.wav": b"RIFF"}), "x.zip")
    assert [(e.item.name, e.info) for e in listed] == [("x.zip:../evil.wav", None)]
    assert "evil.wav" in listed[0].item.problem


def test_past_the_budget_members_are_listed_without_facts(encoded, monkeypatch):
    monkeypatch.setattr(preview, "PREVIEW_BUDGET_BYTES", 1)  # spent by the first member
    data = encoded["pcm16.wav"].read_bytes()
    listed = preview_zip(zipped({"1.wav": data, "2.wav": data}), "two.zip")
    assert facts(listed) == {"1.wav": (3.0, 44_100, 2, "pcm_s16le"), "2.wav": None}
