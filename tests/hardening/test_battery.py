"""The bad-input battery: every broken or odd input we know of, run through the CLI as a user runs
it, each in one batch with a good recording.

For each case the user gets exactly one message about the odd input (or, for inputs that are
fine, none), the good recording is stored, and the database passes its integrity check. The
files are generated here (ffmpeg, soundfile, zipfile); no binaries are checked in. An upload
over the dashboard's size limit is refused by the browser: see tests/test_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.model import isolated
from core.model.audio import decode
from core.store.clips import select_clips
from core.store.corpora import list_corpora
from core.store.database import ClipFilter, Store
from core.store.export import export
from core.store.ingest_runs import list_runs, read_run_files
from core.store.integrity import integrity_report
from tests import core_cli
from tests.conftest import ffmpeg, speechlike

CORPUS = "battery"
SAID = ("failed:", "scored:", "cached:", "warning:", "error:")  # what the CLI says to the user


@dataclass(frozen=True)
class Case:
    """One odd input: how to make it, what the user is told, what ends up stored."""

    make: Callable[[Path], list[str]]  # writes the input under a folder; returns CLI arguments
    said: str | None  # regex for the one line the user reads about it; None: nothing to say
    status: str | None = (
        "failed"  # its run-log row: failed|scored|cached; refused: no run; None: any
    )
    clips: int = 1  # distinct clips in the corpus afterwards, the good recording included
    check: Callable[[Store, str], None] | None = None  # further facts about what was stored
    lines: int = 1  # lines the user reads about it (when `said`): one per input
    decoder: list[str] | None = None  # another decoder child (a stand-in that crashes)


def accepted(make, said: str | None, check=None) -> Case:
    """An input that is stored beside the good recording, with a note or (None) without one."""
    return Case(make, said, status="scored", clips=2, check=check)


def manifested(make, said: str | None, agent: str) -> Case:
    """A manifest case: good.wav goes in with the agent the manifest gives it."""
    return Case(make, said, status=None, check=stored_as("good.wav", agent=agent))


def refused(make, said: str) -> Case:
    """The whole run is refused before any work: nothing stored, nothing half-done."""
    return Case(make, said, status="refused", clips=0)


def wav(path: Path, seconds: float = 2.0, seed: int = 3, rate: int = 16_000, **kw) -> Path:
    sf.write(path, speechlike(seconds, seed, rate), rate, **kw)
    return path


def encode(path: Path, *codec: str, seconds: float = 6.0) -> Path:
    source = wav(path.with_name(f"{path.stem}-source.wav"), seconds, seed=4)
    ffmpeg("-i", str(source), *codec, str(path))
    source.unlink()
    return path


def cut(path: Path, keep: float) -> Path:
    """Keep the first `keep` of the file (a fraction) as a crashed download would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def head(path: Path, n_bytes: int) -> Path:
    path.write_bytes(path.read_bytes()[:n_bytes])
    return path


def put(path: Path, data: bytes) -> list[str]:
    path.write_bytes(data)
    return [str(path)]


def arg(path: Path) -> list[str]:
    return [str(path)]


def zipped(folder: Path, name: str, members: dict[str, bytes], stored: bool = False) -> Path:
    """A zip holding `members` plus a good recording 'inside.wav'."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("inside.wav", wav(folder / "inside-src.wav", seed=5).read_bytes())
        for member, data in members.items():
            archive.writestr(member, data)
    (folder / name).write_bytes(buffer.getvalue())
    return folder / name


def forged_size_zip(folder: Path) -> Path:
    """Seven small members whose central directory claims ~4 GiB each: a zip bomb's signature."""
    path = zipped(folder, "huge.zip", {f"part{i}.wav": b"RIFF" * 8 for i in range(6)})
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:
        data[at + 24 : at + 28] = struct.pack("<I", 0xFFFFFF00)  # uncompressed size
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def bad_crc_zip(folder: Path) -> Path:
    path = zipped(folder, "crc.zip", {"damaged.wav": wav(folder / "d.wav", seed=6).read_bytes()},
                  stored=True)  # fmt: skip
    data = bytearray(path.read_bytes())
    data[data.rfind(b"damaged.wav", 0, data.find(b"PK\x01\x02")) + 2000] ^= 0xFF  # in its audio
    path.write_bytes(bytes(data))
    return path


def manifest(folder: Path, text: str, encoding: str = "utf-8") -> list[str]:
    (folder / "manifest.csv").write_bytes(text.encode(encoding))
    return ["--manifest", str(folder / "manifest.csv")]


def with_samples(folder: Path, name: str, value: float) -> Path:
    wave = speechlike(2.0, seed=8)
    wave[1000:1010] = value
    sf.write(folder / name, wave, 16_000, subtype="FLOAT")
    return folder / name


def video_only(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=64x64:rate=10", "-c:v", "mpeg4", str(path))
    return path


def silence(folder: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "7200", "-c:a", "flac",
           str(folder / "silence-2h.flac"))  # fmt: skip
    return folder / "silence-2h.flac"


def non_utf8_name(folder: Path) -> Path:
    raw = os.fsencode(folder) + b"/caf\xe9.wav"  # 'café' in Latin-1, as old systems wrote it
    os.rename(wav(folder / "cafe.wav", seed=9), raw)
    return Path(os.fsdecode(raw))


GIB = 1024**3


_MADE: dict[str, Path] = {}  # the gigabyte zip, made once per test process


def gigabyte_member_zip(path: Path) -> Path:
    """A ~9 MB zip whose one member inflates to 1 GiB at ~121:1, under the 200:1 bomb limit.

    The member is a WAV whose data chunk holds 2 s of audio, then ~1 GiB of near-zero padding
    (6.5 KiB of noise per MiB sets the ratio): decoders read the 2 s, but unpacking, hashing
    and storing go through every byte. It is written piece by piece, so making it stays light;
    it is deflated once per process (~15 s of CPU) and copied for the next test that asks.
    """
    made = _MADE.get("zip")
    if made is not None and made.exists():
        shutil.copyfile(made, path)
        return path
    _MADE["zip"] = path
    rng = np.random.default_rng(21)
    audio = (0.1 * rng.standard_normal(32_000) * 32767).astype("<i2").tobytes()
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(audio))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16)
        + b"data"
        + struct.pack("<I", len(audio))
    )
    archive = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
    with archive, archive.open("quiet.wav", "w", force_zip64=True) as out:
        out.write(header + audio)
        left = GIB - len(header) - len(audio)
        piece = bytearray(1024**2)
        while left > 0:
            piece[:6656] = rng.bytes(6656)
            out.write(piece[: min(left, len(piece))])
            left -= len(piece)
    return path


def in_folder(folder: Path, make: Callable[[Path], object]) -> list[str]:
    """A subfolder holding only what `make` puts there (good.wav is passed on its own)."""
    sub = folder / "sub"
    sub.mkdir()
    make(sub)
    return [str(sub)]


def fifo(path: Path) -> list[str]:
    os.mkfifo(path)  # nobody ever writes to it: reading it would block the run forever
    return [str(path)]


def link(path: Path, target: str | Path) -> Path:
    path.symlink_to(target)
    return path


def stored_as(name: str, **facts) -> Callable[[Store, str], None]:
    """A check that the clip stored under `name` has these column values."""

    def check(store: Store, model_key: str) -> None:
        clips = select_clips(store, model_key, ClipFilter(corpora=(CORPUS,)))
        row = clips[clips.source_name == name]
        assert len(row) == 1, f"{name} not stored: {list(clips.source_name)}"
        for column, value in facts.items():
            assert row[column].iloc[0] == pytest.approx(value), (column, row[column].iloc[0])

    return check


def playable(name: str) -> Callable[[Store, str], None]:
    def check(store: Store, model_key: str) -> None:
        clips = select_clips(store, model_key, ClipFilter(corpora=(CORPUS,)))
        path = clips[clips.source_name == name].source_path.iloc[0]
        assert decode(Path(path)).duration_s == pytest.approx(2.0, abs=0.01)

    return check


CASES: dict[str, Case] = {
    # Not audio, or not all there.
    "zero-byte file": Case(
        lambda d: put(d / "empty.wav", b""),
        r"^failed: empty\.wav: the file is empty \(0 bytes\)\.$",
    ),
    "text file named .wav": Case(
        lambda d: put(d / "notes.wav", b"call notes\n" * 50),
        r"^failed: notes\.wav: not a readable audio file \(.+\)\. Supported: wav, mp3, .+\.$",
    ),
    "truncated WAV header": Case(
        lambda d: arg(head(wav(d / "header.wav"), 30)),
        r"^failed: header\.wav: a damaged or incomplete WAV file that cannot be opened",
    ),
    "WAV header and no samples": Case(
        lambda d: arg(head(wav(d / "nodata.wav"), 44)),
        r"^failed: nodata\.wav: the file holds no audio samples\.$",
    ),
    "WAV truncated mid-data": Case(
        lambda d: arg(cut(wav(d / "half.wav", seconds=6.0), 0.5)),
        r"^failed: half\.wav: the file is truncated: it stops at 3\.00 s of a declared 6\.00 s\.$",
    ),
    "MP3 truncated mid-stream": Case(
        lambda d: arg(cut(encode(d / "half.mp3", "-c:a", "libmp3lame", "-b:a", "64k"), 0.5)),
        r"^failed: half\.mp3: the file is truncated: it stops at 2\.\d\d s of a declared 6\.\d\d s\.$",
    ),
    "M4A truncated mid-stream": Case(
        lambda d: arg(cut(encode(d / "half.m4a", "-c:a", "aac"), 0.5)),
        r"^failed: half\.m4a: a damaged or incomplete M4A/MP4 file that cannot be opened",
    ),
    "M4A (fast start) truncated mid-stream": Case(
        lambda d: arg(cut(encode(d / "fast.m4a", "-c:a", "aac", "-movflags", "+faststart"), 0.5)),
        r"^failed: fast\.m4a: the audio is damaged after 2\.\d\d s and cannot be decoded",
    ),
    "video without an audio stream": Case(
        lambda d: arg(video_only(d / "screen.mp4")),
        r"^failed: screen\.mp4: the file has no audio stream\.$",
    ),
    "0.01 s clip": Case(
        lambda d: arg(wav(d / "blip.wav", seconds=0.01)),
        r"^failed: blip\.wav: 0\.010 s of audio is too short to score; the minimum is 0\.25 s\.$",
    ),
    "NaN samples in a float WAV": Case(
        lambda d: arg(with_samples(d, "nan.wav", np.nan)),
        r"^failed: nan\.wav: the file holds 10 NaN or infinite samples; re-export it",
    ),
    "Inf samples in a float WAV": Case(
        lambda d: arg(with_samples(d, "inf.wav", np.inf)),
        r"^failed: inf\.wav: the file holds 10 NaN or infinite samples; re-export it",
    ),
    # Real audio in unusual shapes: stored, with a note where the user should know something.
    "MP3 named .wav": accepted(
        lambda d: arg(encode(d / "mp3.wav", "-c:a", "libmp3lame", "-f", "mp3")),
        r"^scored: mp3\.wav: named \.wav but holds MP3 audio; decoded as MP3\.$",
        check=stored_as("mp3.wav", codec="mp3float"),
    ),
    "M4A named .mp3": accepted(
        lambda d: arg(encode(d / "aac.mp3", "-c:a", "aac", "-f", "mp4")),
        r"^scored: aac\.mp3: named \.mp3 but holds M4A/MP4 audio; decoded as M4A/MP4\.$",
        check=stored_as("aac.mp3", codec="aac"),
    ),
    "2 h of silence": accepted(
        lambda d: arg(silence(d)),
        r"^scored: silence-2h\.flac: silent recording \(no signal at all\); its scores describe",
        check=stored_as("silence-2h.flac", duration_s=7200.0),
    ),
    "8 kHz µ-law telephony WAV": accepted(
        lambda d: arg(encode(d / "phone.wav", "-c:a", "pcm_mulaw", "-ar", "8000")),
        r"^scored: phone\.wav: recorded at 8 kHz \(telephone band\): sounds above 4 kHz are missing",
        check=stored_as("phone.wav", codec="pcm_mulaw", source_rate_hz=8000),
    ),
    "5.1-channel file": accepted(
        lambda d: arg(encode(d / "surround.flac", "-ac", "6", "-c:a", "flac")),
        r"^scored: surround\.flac: its 6 channels were averaged into one track",
        check=stored_as("surround.flac", channels=6),
    ),
    "96 kHz 32-bit float": accepted(
        lambda d: arg(wav(d / "studio.wav", rate=96_000, subtype="FLOAT")),
        None,
        check=stored_as("studio.wav", source_rate_hz=96_000, codec="pcm_f32le"),
    ),
    # Names.
    "non-UTF-8 file name": accepted(
        lambda d: arg(non_utf8_name(d)),
        None,
        check=playable("caf\ufffd.wav"),
    ),
    "very long file name": accepted(
        lambda d: arg(wav(d / f"{'long-' * 49}name.wav", seed=10)),
        None,
        check=stored_as(f"{'long-' * 49}name.wav"),
    ),
    "the same file twice in one upload": Case(
        lambda d: arg(Path(shutil.copy(d / "good.wav", d / "good (1).wav"))),
        r"^cached: good \(1\)\.wav: same audio as good\.wav; stored once\.$",
        status="cached",
    ),
    # Archives: the safe members go in, each unsafe one is reported.
    "zip with a ../ path (zip-slip)": Case(
        lambda d: arg(zipped(d, "slip.zip", {"../../evil.wav": b"RIFF"})),
        r"^failed: \.\./\.\./evil\.wav: path leaves the archive \('\.\.'\); skipped for safety\.$",
        clips=2,
    ),
    "zip with an absolute path": Case(
        lambda d: arg(zipped(d, "abs.zip", {"/etc/evil.wav": b"RIFF"})),
        r"^failed: /etc/evil\.wav: absolute path inside the zip; skipped for safety\.$",
        clips=2,
    ),
    "zip bomb (one member inflates 1000:1)": Case(
        lambda d: arg(zipped(d, "bomb.zip", {"bomb.wav": bytes(20 * 1024**2)})),
        r"^failed: bomb\.wav: compresses \d+:1, which no recording does \(a zip bomb\?\); skipped\.$",
        clips=2,
    ),
    "zip bomb (declares 28 GiB)": Case(
        lambda d: arg(forged_size_zip(d)),
        r"^failed: huge\.zip: unpacks to 28\.0 GiB, over the 20 GiB limit \(a zip bomb\?\); nothing",
    ),
    "nested zip": Case(
        lambda d: arg(zipped(d, "outer.zip", {"inner.zip": zipped(d, "i.zip", {}).read_bytes()})),
        r"^failed: inner\.zip: a zip inside a zip is not unpacked; upload the inner archive",
        clips=2,
    ),
    "zip member with a bad checksum": Case(
        lambda d: arg(bad_crc_zip(d)),
        r"^failed: damaged\.wav: cannot be unpacked from crc\.zip \(Bad CRC-32",
        clips=2,
    ),
    "file named .zip that is not a zip": Case(
        lambda d: put(d / "fake.zip", b"PK\x03\x04junk"),
        r"^failed: fake\.zip: not a readable zip archive \(File is not a zip file\)\.$",
    ),
    "zip member with a non-UTF-8 name": Case(
        lambda d: arg(cp1252_zip(d)),
        None,
        status="scored",
        clips=3,
        check=stored_as("Ventas_cafΘ.wav"),
    ),
    # Folder entries that are not regular files: each named, none opened.
    "dangling link in a folder": Case(
        lambda d: in_folder(d, lambda sub: (sub / "gone.wav").symlink_to(d / "missing.wav")),
        r"^failed: gone\.wav: a link to a missing file; skipped, nothing was read\.$",
    ),
    "FIFO in a folder": Case(
        lambda d: in_folder(d, lambda sub: os.mkfifo(sub / "pipe.wav")),
        r"^failed: pipe\.wav: a named pipe \(FIFO\); skipped, nothing was read\.$",
    ),
    "folder named x.wav": Case(
        lambda d: in_folder(d, lambda sub: (sub / "x.wav").mkdir()),
        r"^failed: x\.wav: a folder, not an audio file; its files are collected one by one\.$",
    ),
    "link loop in a folder": Case(
        lambda d: in_folder(d, lambda sub: (sub / "loop.wav").symlink_to(sub / "loop.wav")),
        r"^failed: loop\.wav: a link loop \(the link points back to itself\); skipped, nothing",
    ),
    "link to /dev/zero in a folder": Case(
        lambda d: in_folder(d, lambda sub: (sub / "zero.wav").symlink_to("/dev/zero")),
        r"^failed: zero\.wav: a device; skipped, nothing was read\.$",
    ),
    "FIFO named directly": refused(
        lambda d: fifo(d / "pipe.wav"),
        r"^error: .+/pipe\.wav: a named pipe \(FIFO\), not an audio file or folder; nothing was",
    ),
    "link to /dev/zero named directly": refused(
        lambda d: arg(link(d / "zero.wav", "/dev/zero")),
        r"^error: .+/zero\.wav: a device, not an audio file or folder; nothing was read\.$",
    ),
    "dangling link named directly": refused(
        lambda d: arg(link(d / "gone.wav", d / "missing.wav")),
        r"^error: .+/gone\.wav: a link to a missing file, not an audio file or folder; nothing",
    ),
    "zip member of 1 GiB at 121:1 (unpacked to disk)": accepted(
        lambda d: arg(gigabyte_member_zip(d / "quiet.zip")),
        None,
        check=stored_as("quiet.wav", duration_s=2.0),
    ),
    # Manifests.
    "manifest without a path column": refused(
        lambda d: manifest(d, "file,agent\ngood.wav,alice\n"),
        r"^error: manifest\.csv: the manifest needs a 'path' column \(found: file, agent\)\.$",
    ),
    "manifest that is not UTF-8": refused(
        lambda d: manifest(d, "path,agent\ngood.wav,José\n", encoding="latin-1"),
        r"^error: manifest\.csv: the manifest is not UTF-8 text; save it as CSV UTF-8\.$",
    ),
    "manifest listing unknown files": manifested(
        lambda d: manifest(d, "path,agent\ngood.wav,alice\nghost.wav,bob\n"),
        r"^warning: manifest\.csv: 1 listed file\(s\) are not among the inputs: ghost\.wav\.$",
        agent="alice",
    ),
    "manifest with a bad date": manifested(
        lambda d: manifest(d, "path,agent,recorded_at\ngood.wav,alice,last tuesday\n"),
        r"^scored: manifest\.csv line 2: recorded_at 'last tuesday' is not a date; left empty\.$",
        agent="alice",
    ),
    "manifest with a duplicate row": manifested(
        lambda d: manifest(d, "path,agent\ngood.wav,alice\ngood.wav,bob\n"),
        r"^warning: manifest\.csv: good\.wav is listed on lines 2, 3; line 3 is used\.$",
        agent="bob",
    ),
    "manifest with BOM and semicolons": manifested(
        lambda d: manifest(d, "\ufeffpath;agent;tags\ngood.wav;alice;vip|renewal\n"),
        None,
        agent="alice",
    ),
    "file missing from the manifest": accepted(
        lambda d: arg(wav(d / "extra.wav", seed=11)) + manifest(d, "path,agent\ngood.wav,alice\n"),
        r"^scored: extra\.wav: not listed in manifest\.csv; stored without metadata\.$",
    ),
    # Round two (#31): what crashed the process, what was logged twice, what was scored as NaN.
    "7.1 FLAC": accepted(
        lambda d: surround(d / "surround.flac", "-c:a", "flac"),
        r"^scored: surround\.flac: its 8 channels were averaged into one track",
        check=stored_as("surround.flac", channels=8),
    ),
    "7.1 OGG": accepted(
        lambda d: surround(d / "surround.ogg", "-c:a", "libvorbis"),
        r"^scored: surround\.ogg: its 8 channels were averaged into one track",
        check=stored_as("surround.ogg", channels=8, codec="vorbis"),
    ),
    "7.1 M4A": accepted(
        lambda d: surround(d / "surround.m4a", "-c:a", "aac"),
        r"^scored: surround\.m4a: its 8 channels were averaged into one track",
        check=stored_as("surround.m4a", channels=8, codec="aac"),
    ),
    "9-channel WAV": accepted(
        lambda d: arg(channel_ramp(d / "nine.wav", 9)),
        r"^scored: nine\.wav: its 9 channels were averaged into one track",
        check=stored_as("nine.wav", channels=9),
    ),
    "255-channel WAV": Case(
        lambda d: arg(channel_ramp(d / "wide.wav", 255)),
        r"^failed: wide\.wav: 255 audio channels; at most 64 can be decoded\. Mix it down first",
    ),
    "255-channel OGG": Case(
        lambda d: sox_255_channels(d / "wide.ogg"),
        r"^failed: wide\.ogg: 255 audio channels; at most 64 can be decoded\. Mix it down first",
    ),
    "a decoder crash": Case(
        lambda d: arg(wav(d / "crash.wav", seed=13)),
        r"^failed: crash\.wav: the audio decoder crashed on this file \(SIGSEGV\); nothing was "
        r"stored and the other files went on\.",
        decoder=[sys.executable, "-m", "tests.model.crashing_decoder"],
    ),
    "zip of 1,000 identical empty entries": Case(
        lambda d: empty_entries_zip(d, 1000),
        r"^failed: empty-0000\.wav: the file is empty \(0 bytes\)\.$",
        lines=1000,
    ),
    "a copy of a refused file": Case(
        lambda d: put(d / "a.wav", b"") + put(d / "b.wav", b""),
        r"^failed: a\.wav: the file is empty \(0 bytes\)\.$",
        lines=2,
    ),
    "float WAV of 1e30 samples": Case(
        lambda d: arg(with_samples(d, "huge.wav", 1e30)),
        r"^failed: huge\.wav: its samples reach 1e\+30, where full scale is 1\.0: these are not",
    ),
    "1 Hz WAV": Case(
        lambda d: one_hertz(d / "slow.wav"),
        r"^failed: slow\.wav: the file says it was sampled at 1 Hz; recordings are sampled at",
    ),
    "zip inside a folder": Case(
        lambda d: in_folder(d, lambda sub: shutil.move(zipped(d, "calls.zip", {}), sub)),
        r"^failed: calls\.zip: a zip inside a folder is not unpacked; name the zip itself",
    ),
    "empty zip": Case(
        lambda d: empty_zip(d),
        r"^failed: nothing\.zip: holds no audio files \(nothing; looked for wav, .+\); nothing "
        r"was ingested from it\.$",
    ),
    "manifest with a 5 MB field": refused(
        lambda d: manifest(d, f"path,agent\ngood.wav,{'x' * 5_000_000}\n"),
        r"^error: manifest\.csv line 2: a field is longer than 131,072 characters; a manifest",
    ),
    "manifest values that read as formulas": Case(
        lambda d: manifest(d, 'path,agent,speaker,tags\ngood.wav,"=HYPERLINK(""x"")",+1,@me\n'),
        None,
        status=None,
        check=lambda store, model_key: formulas_defused(store, model_key),
    ),
}


def channel_ramp(path: Path, channels: int, rate: int = 48_000) -> Path:
    """One second in which channel i is a tone of its own (see tests/model/test_audio.py)."""
    t = np.arange(rate) / rate
    tones = [(i + 1) / (channels + 1) * np.sin(2 * np.pi * (200 + 50 * i) * t)
             for i in range(channels)]  # fmt: skip
    sf.write(path, np.stack(tones, axis=1), rate, subtype="PCM_16")
    return path


def surround(path: Path, *codec: str) -> list[str]:
    """A 7.1 recording (8 channels): the layout that crashed the process (#31)."""
    source = channel_ramp(path.with_name(f"{path.stem}-source.wav"), 8)
    ffmpeg("-i", str(source), *codec, str(path))
    source.unlink()
    return [str(path)]


def sox_255_channels(path: Path) -> list[str]:
    if not shutil.which("sox"):
        pytest.skip("sox is not installed (ffmpeg cannot write 255 channels)")
    subprocess.run(["sox", "-n", "-r", "48000", "-c", "255", str(path), "synth", "1", "sine",
                    "300"], check=True, capture_output=True)  # fmt: skip
    return [str(path)]


def empty_entries_zip(folder: Path, copies: int) -> list[str]:
    """A zip of `copies` identical empty entries (and no good member)."""
    with zipfile.ZipFile(folder / "empties.zip", "w") as archive:
        for i in range(copies):
            archive.writestr(f"empty-{i:04d}.wav", b"")
    return [str(folder / "empties.zip")]


def empty_zip(folder: Path) -> list[str]:
    zipfile.ZipFile(folder / "nothing.zip", "w").close()
    return [str(folder / "nothing.zip")]


def one_hertz(path: Path) -> list[str]:
    sf.write(path, np.full(200, 0.1, np.float32), 1)  # 200 samples said to last 200 s
    return [str(path)]


def exported_csv_cells(store: Store, model_key: str) -> list[str]:
    """Every cell of the clips CSV export."""
    out = Path(tempfile.mkdtemp()) / "clips.csv"
    export(store, "clips", "csv", out, model_key, ClipFilter(corpora=(CORPUS,)))
    with out.open(newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def formulas_defused(store: Store, model_key: str) -> None:
    stored_as("good.wav", agent='=HYPERLINK("x")')(store, model_key)  # stored as given
    cells = exported_csv_cells(store, model_key)
    assert '\'=HYPERLINK("x")' in cells and "'+1" in cells and "'@me" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def cp1252_zip(folder: Path) -> Path:
    """A member named in Windows-1252 bytes without zip's UTF-8 flag, as old Windows zips are."""
    path = zipped(
        folder, "cp.zip", {"Ventas_cafX.wav": wav(folder / "cp.wav", seed=12).read_bytes()}
    )
    path.write_bytes(path.read_bytes().replace(b"cafX", b"caf\xe9"))  # 'é' in Windows-1252
    return path


@pytest.fixture
def run_cli(engine, monkeypatch):
    """`python -m core ...` in this process, with the session's tiny model already loaded."""
    monkeypatch.setattr("core.cli.main._load", lambda args: engine)

    def run(*argv: str) -> tuple[int, str, list[str]]:
        done = core_cli.run_cli(*argv)
        said = [line for line in done.stderr.splitlines() if line.startswith(SAID)]
        return done.returncode, done.stdout, said

    return run


def test_the_battery_has_the_cases_the_issues_ask_for():
    assert len(CASES) == 60  # 45 before #31


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, tmp_path, run_cli, engine, monkeypatch):
    case = CASES[name]
    folder = tmp_path / "in"
    folder.mkdir()
    if case.decoder:
        monkeypatch.setattr(isolated, "_POOL", isolated.DecoderPool(case.decoder))
    good = wav(folder / "good.wav", seed=1)
    db = tmp_path / "db.duckdb"
    args = case.make(folder)
    code, out, said = run_cli(
        "ingest", str(good), *args, "--corpus", CORPUS, "--db", str(db), "--json"
    )

    assert len(said) == (case.lines if case.said else 0), said
    if case.said:
        assert re.search(case.said, said[0]), said[0]
    if case.status == "refused":  # nothing was started, so nothing can be half-done
        assert code == 2 and out == ""
        assert not db.exists() or list_corpora(Store(db)).empty
        return
    assert code == 0
    summary = json.loads(out.splitlines()[-1])
    store = Store(db)
    clips = select_clips(store, engine.model_key, ClipFilter(corpora=(CORPUS,)))
    assert "good.wav" in set(clips.source_name)
    assert clips.clip_id.nunique() == case.clips
    run_log = read_run_files(store, int(list_runs(store).run_id.max()))
    assert len(run_log) == sum(summary[k] for k in ("scored", "cached", "failed"))
    if case.status:
        odd = run_log[run_log.source_name != "good.wav"]
        assert case.status in set(odd.status), odd
    if case.check:
        case.check(store, engine.model_key)
    report = integrity_report(store)
    assert report == dict.fromkeys(report, 0)


def ingest_peak_rss_mib(zip_path: Path, model_dir: Path, db: Path) -> tuple[dict, float]:
    """Run `python -m core ingest` in a fresh process; its JSON summary and peak RSS (MiB)."""
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "core", "ingest", str(zip_path), "--corpus", CORPUS,
            "--model", str(model_dir), "--db", str(db), "--json"]  # fmt: skip
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, cwd=root, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own peak, as the kernel counted
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode().splitlines()
    assert child.returncode == 0, lines
    return json.loads(lines[-1]), usage.ru_maxrss / 1024  # Linux reports KiB


def test_a_gigabyte_zip_member_is_unpacked_to_disk_not_memory(tmp_path, tiny_model_dir):
    big = gigabyte_member_zip(tmp_path / "quiet.zip")
    member = zipfile.ZipFile(big).infolist()[0]
    assert member.file_size == GIB and 110 < member.file_size / member.compress_size < 200
    small = tmp_path / "small.zip"
    with zipfile.ZipFile(small, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inside.wav", wav(tmp_path / "inside.wav", seed=5).read_bytes())
    base_summary, base_mib = ingest_peak_rss_mib(small, tiny_model_dir, tmp_path / "a.duckdb")
    summary, peak_mib = ingest_peak_rss_mib(big, tiny_model_dir, tmp_path / "b.duckdb")
    assert base_summary["scored"] == 1 and summary["scored"] == 1
    # Holding the member in memory would add 1024 MiB; streaming it adds next to nothing. The
    # bound is relative: the process's own size (torch, funasr) varies between machines and runs.
    assert peak_mib - base_mib < 128, (base_mib, peak_mib)
