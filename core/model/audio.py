"""Decode any supported audio file to float32 at 16 kHz, with typed, user-facing errors.

One decoder for every format: PyAV (FFmpeg's libraries, bundled in its wheel) reads WAV (PCM
8/16/24/32-bit, float, µ-law/A-law), MP3, M4A/AAC, FLAC, OGG/Vorbis, OPUS and WEBM, and its
libswresample resamples to 16 kHz. Channels are kept through resampling and mixed afterwards by
a plain mean, so `mix` is an exact average and `split` gets each channel unchanged.

Samples are read out of FFmpeg's frames plane by plane (`_samples_of`), never with PyAV's
`to_ndarray`, which crashed the process on audio of 8 or more channels (#31).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.errors import (
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    SampleRateError,
    TooManyChannelsError,
    TooShortError,
)

TARGET_RATE_HZ = 16_000
# The model's receptive field is 400 samples (25 ms); below a quarter second there is too little
# speech for an emotion, so shorter clips are refused with a message rather than scored as noise.
MIN_DURATION_S = 0.25
# libswresample refuses more channels than this (SWR_CH_MAX); no recording has that many, so a
# file beyond it is refused by name rather than failing deep inside the resampler.
MAX_CHANNELS = 64
# Sample rates a recording can have. Below 4 kHz no speech band is left (telephony is 8 kHz);
# a header claiming 1 Hz made 200 samples a "200 s recording". Above 768 kHz no recorder writes.
MIN_SOURCE_RATE_HZ = 4_000
MAX_SOURCE_RATE_HZ = 768_000
SUPPORTED_EXTENSIONS = (
    ".wav", ".mp3", ".m4a", ".aac", ".mp4", ".flac", ".ogg", ".oga", ".opus", ".webm",
)  # fmt: skip
# Containers whose header states an exact duration: a large shortfall there means truncation.
# MP3 joins them when its first frame carries a Xing/Info/VBRI frame count (LAME and ffmpeg
# write one); without it, ffmpeg guesses the duration from the file size, which proves nothing.
_EXACT_DURATION_FORMATS = {"wav", "flac", "mov,mp4,m4a,3gp,3g2,mj2", "w64", "aiff"}
# Magic bytes -> format name, to tell a damaged audio file from something that is not audio.
_SIGNATURES = {b"RIFF": "WAV", b"fLaC": "FLAC", b"OggS": "OGG", b"ID3": "MP3",
               b"\x1aE\xdf\xa3": "WEBM"}  # fmt: skip
# ffmpeg's container names -> the extensions such files carry, and a name users know.
_EXTENSIONS_OF = {"wav": ("wav",), "mp3": ("mp3",), "flac": ("flac",), "aac": ("aac",),
                  "ogg": ("ogg", "oga", "opus"), "matroska,webm": ("webm", "mka"),
                  "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", "mp4", "aac")}  # fmt: skip
_FORMAT_NAMES = {"mov,mp4,m4a,3gp,3g2,mj2": "M4A/MP4", "matroska,webm": "WEBM"}
# Below this peak level (dBFS) a recording holds no audible sound: 16-bit dither is about -90.
SILENT_BELOW_DBFS = -70.0
# Full scale is 1.0. Float formats may exceed it a little (a mix left hot); a sample past +60
# dBFS is not a level any recorder writes, and past ~1e19 the model's per-clip normalisation
# overflows float32 into NaN scores (#31: a float WAV of 1e30 samples was scored as NaN).
MAX_PEAK = 1000.0

AudioSource = str | Path | bytes | BinaryIO


@dataclass(frozen=True)
class AudioInfo:
    """What the file said about itself, before resampling."""

    codec: str
    source_rate_hz: int
    channels: int
    duration_s: float  # of the decoded audio
    container: str = ""  # what the bytes are (ffmpeg's format name), whatever the file is called
    peak_dbfs: float | None = None  # loudest sample; None until the audio has been decoded


@dataclass(frozen=True)
class DecodedAudio:
    """Audio at 16 kHz, float32, shape (channels, samples); `mono` is the channel mean."""

    samples: np.ndarray
    info: AudioInfo

    @property
    def mono(self) -> np.ndarray:
        """The channel mix the model scores by default (a plain mean of the channels)."""
        if self.samples.shape[0] == 1:
            return self.samples[0]
        return self.samples.mean(axis=0, dtype=np.float32)

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / TARGET_RATE_HZ


def _open(source: AudioSource, name: str):
    import av

    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    if isinstance(handle, (str, Path)) and Path(handle).stat().st_size == 0:
        raise EmptyAudioError(f"{name}: the file is empty (0 bytes).")
    if isinstance(handle, io.BytesIO) and not handle.getbuffer().nbytes:
        raise EmptyAudioError(f"{name}: the file is empty (0 bytes).")
    try:
        # metadata_errors: real files carry tags in odd encodings; they must not stop decoding.
        return av.open(handle if not isinstance(handle, Path) else str(handle),
                       metadata_errors="ignore")  # fmt: skip
    except av.error.FFmpegError as exc:
        kind = sniff_format(_head(source, 64))
        if kind:
            raise CorruptAudioError(
                f"{name}: a damaged or incomplete {kind} file that cannot be opened "
                f"({_ffmpeg_reason(exc)}); re-export or re-download it."
            ) from exc
        raise NotAudioError(
            f"{name}: not a readable audio file ({_ffmpeg_reason(exc)}). "
            f"Supported: {', '.join(e.lstrip('.') for e in SUPPORTED_EXTENSIONS)}."
        ) from exc


def sniff_format(head: bytes) -> str | None:
    """The audio format the first bytes announce (None when they announce none we know)."""
    for magic, kind in _SIGNATURES.items():
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp":
        return "M4A/MP4"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame sync
        return "MP3"
    return None


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip().rstrip(".").lower() or "unknown decoder error"


class AudioStream:
    """A file decoded lazily: iterating yields 16 kHz float32 chunks shaped (channels, n).

    Memory stays at one decoder frame whatever the file's length. The checks that need the
    whole file (empty, truncated, too short) raise at the end of the iteration; after it,
    `info` describes the decoded audio.
    """

    def __init__(self, source: AudioSource, name: str | None = None):
        self.source = source
        self.name = name or (Path(source).name if isinstance(source, (str, Path)) else "upload")
        self.info: AudioInfo | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        import av

        name = self.name
        container = _open(self.source, name)
        with container:
            ctx = _audio_context(container, name)
            # layout=None keeps the source's channels (also unnamed layouts like '2 channels').
            resampler = av.AudioResampler(format="fltp", layout=None, rate=TARGET_RATE_HZ)
            check_finite = ctx.name.startswith(("pcm_f", "pcm_dbl"))
            n_samples, channels, peak = 0, ctx.layout.nb_channels or 1, 0.0
            try:
                for frame in container.decode(container.streams.audio[0]):
                    _check_channels(frame.layout.nb_channels, name)
                    if check_finite:  # float PCM holds any value: refused here, at the source
                        _checked_peak(_check_finite(_samples_of(frame), name), 0.0, name)
                    direct = _already_16k(frame)
                    for out in [direct] if direct is not None else resampler.resample(frame):
                        chunk = out if direct is not None else _float32(out)
                        n_samples, channels = n_samples + chunk.shape[1], chunk.shape[0]
                        peak = _checked_peak(chunk, peak, name)
                        yield chunk
                for out in resampler.resample(None):
                    chunk = _float32(out)
                    n_samples += chunk.shape[1]
                    peak = _checked_peak(chunk, peak, name)
                    yield chunk
            except av.error.FFmpegError as exc:
                raise CorruptAudioError(
                    f"{name}: the audio is damaged after {n_samples / TARGET_RATE_HZ:.2f} s and "
                    f"cannot be decoded ({_ffmpeg_reason(exc)})."
                ) from exc
            fmt = container.format.name
            declared_s = container.duration / 1e6 if container.duration else None
            if fmt == "wav":  # ffmpeg estimates WAV duration from the file size: read the header
                declared_s = _wav_declared_seconds(_head(self.source))
            exact = fmt in _EXACT_DURATION_FORMATS or (
                fmt == "mp3" and _mp3_counts_frames(_head(self.source))
            )
        duration_s = n_samples / TARGET_RATE_HZ
        if n_samples == 0:
            raise EmptyAudioError(f"{name}: the file holds no audio samples.")
        if declared_s and exact and duration_s < 0.9 * declared_s - 0.2:
            raise CorruptAudioError(
                f"{name}: the file is truncated: it stops at {duration_s:.2f} s of a declared "
                f"{declared_s:.2f} s."
            )
        if duration_s < MIN_DURATION_S:
            raise TooShortError(
                f"{name}: {duration_s:.3f} s of audio is too short to score; the minimum is "
                f"{MIN_DURATION_S} s."
            )
        self.info = AudioInfo(
            codec=ctx.name, source_rate_hz=int(ctx.sample_rate or 0), channels=channels,
            duration_s=duration_s, container=fmt,
            peak_dbfs=20 * math.log10(peak) if peak > 0 else -math.inf,
        )  # fmt: skip


# Sample formats converted to float32 by a scale alone: at 16 kHz these skip libswresample,
# which was half the cost of decoding a 16 kHz FLAC corpus (RAVDESS: 2.1 s of 2.5 s). The
# scales are swresample's own (s16 * 2**-15, s32 * 2**-31), so both paths give the same samples.
_SCALES = {"s16": 2.0**-15, "s32": 2.0**-31, "flt": 1.0, "dbl": 1.0}


def _already_16k(frame) -> np.ndarray | None:
    """A 16 kHz frame in a plain sample format as (channels, n) float32, else None."""
    scale = _SCALES.get(frame.format.name.rstrip("p"))
    if frame.sample_rate != TARGET_RATE_HZ or scale is None:
        return None
    return np.ascontiguousarray(_samples_of(frame), dtype=np.float32) * np.float32(scale)


def _float32(frame) -> np.ndarray:
    return np.ascontiguousarray(_samples_of(frame), dtype=np.float32)


_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "flt": np.float32, "dbl": np.float64}


def _samples_of(frame) -> np.ndarray:
    """A frame's samples as (channels, n) in its own sample type, read plane by plane.

    Not PyAV's `frame.to_ndarray()`: it counts a frame's planes by walking FFmpeg's
    `extended_data` until a NULL pointer, but FFmpeg puts no NULL after the last plane once
    there are 8 or more (planar audio of 8+ channels: 7.1 FLAC/Vorbis/AAC, or the resampler's
    output for them). PyAV then read past the array and gave numpy garbage addresses as extra
    planes (a 7.1 frame showed 9 planes, a 9-channel one 691), and copying them was the SIGSEGV
    of #31. Here the planes are indexed by the layout's channel count, which FFmpeg guarantees.
    """
    from av.audio.plane import AudioPlane

    dtype = _DTYPES[frame.format.name.rstrip("p")]
    channels, n = frame.layout.nb_channels, frame.samples
    if frame.format.is_planar:  # one plane per channel
        return np.stack([np.frombuffer(AudioPlane(frame, i), dtype, count=n)
                         for i in range(channels)])  # fmt: skip
    packed = np.frombuffer(AudioPlane(frame, 0), dtype, count=n * channels)  # interleaved
    return packed.reshape(n, channels).T


def decode(source: AudioSource, name: str | None = None) -> DecodedAudio:
    """Decode `source` (path, bytes or binary file) to 16 kHz float32, keeping its channels.

    Raises NotAudioError, CorruptAudioError, EmptyAudioError or TooShortError with a message
    naming the file; silence is valid audio and decodes normally.
    """
    stream = AudioStream(source, name)
    chunks = list(stream)
    return DecodedAudio(samples=np.concatenate(chunks, axis=1), info=stream.info)


def _head(source: AudioSource, n: int = 1 << 16) -> bytes:
    if isinstance(source, bytes):
        return source[:n]
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            return handle.read(n)
    position = source.tell()
    source.seek(0)
    head = source.read(n)
    source.seek(position)
    return head


def _wav_declared_seconds(head: bytes) -> float | None:
    """Duration stated by a RIFF/WAVE header's fmt and data chunks (None if not stated)."""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, rate, block_align = 12, 0, 0
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            rate = int.from_bytes(head[pos + 12 : pos + 16], "little")
            block_align = int.from_bytes(head[pos + 20 : pos + 22], "little")
        elif chunk == b"data":
            # 0 and 0xFFFFFFFF mark streamed WAVs whose writer never filled the size in.
            if not rate or not block_align or size in (0, 0xFFFFFFFF):
                return None
            return size / block_align / rate
        pos += 8 + size + (size & 1)
    return None


def _mp3_counts_frames(head: bytes) -> bool:
    """Whether an MP3's first frame is a Xing/Info/VBRI header stating the frame count."""
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:  # skip the ID3v2 tag; its size is syncsafe
        start = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
    first_frame = head[start : start + 200]
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


def notes(info: AudioInfo, file_name: str) -> list[str]:
    """Things a user should know about audio that was accepted: silence, phone band, naming."""
    found = []
    if info.peak_dbfs is not None and info.peak_dbfs < SILENT_BELOW_DBFS:
        level = (
            "no signal at all" if info.peak_dbfs == -math.inf else f"peak {info.peak_dbfs:.0f} dBFS"
        )
        found.append(f"silent recording ({level}); its scores describe silence, not speech")
    if 0 < info.source_rate_hz < TARGET_RATE_HZ:
        band = " (telephone band)" if info.source_rate_hz <= 8_000 else ""
        found.append(
            f"recorded at {info.source_rate_hz / 1000:g} kHz{band}: sounds above "
            f"{info.source_rate_hz / 2000:g} kHz are missing, so scores may be less reliable"
        )
    suffix = Path(file_name).suffix.lower().lstrip(".")
    if suffix and info.container and suffix not in _EXTENSIONS_OF.get(info.container, ()):
        kind = _FORMAT_NAMES.get(info.container, info.container.split(",")[0].upper())
        found.append(f"named .{suffix} but holds {kind} audio; decoded as {kind}")
    return found


def _audio_context(container, name: str):
    """The first audio stream's codec context, refused by name when it cannot be decoded."""
    if not container.streams.audio:
        raise NotAudioError(f"{name}: the file has no audio stream.")
    ctx = container.streams.audio[0].codec_context
    _check_channels(ctx.layout.nb_channels, name)
    rate = int(ctx.sample_rate or 0)  # 0: not in the header; the frames then say
    if rate and not MIN_SOURCE_RATE_HZ <= rate <= MAX_SOURCE_RATE_HZ:
        raise SampleRateError(
            f"{name}: the file says it was sampled at {rate:,} Hz; recordings are sampled at "
            f"{MIN_SOURCE_RATE_HZ // 1000}-{MAX_SOURCE_RATE_HZ // 1000} kHz, so its header is "
            "wrong or it is not a recording. Re-export it."
        )
    return ctx


def _check_channels(channels: int, name: str) -> None:
    if channels > MAX_CHANNELS:
        raise TooManyChannelsError(
            f"{name}: {channels} audio channels; at most {MAX_CHANNELS} can be decoded. Mix it "
            "down first (for example `sox IN -c 2 OUT.wav`) and ingest that."
        )


def _checked_peak(chunk: np.ndarray, peak: float, name: str) -> float:
    """The loudest sample so far, refusing levels no recording has (see MAX_PEAK)."""
    loudest = float(np.abs(chunk).max(initial=0.0))
    if not loudest <= MAX_PEAK:  # NaN, once resampled from finite samples, is refused too
        raise CorruptAudioError(
            f"{name}: its samples reach {loudest:.3g}, where full scale is 1.0: these are not "
            "audio levels and cannot be scored; re-export it from the recording software."
        )
    return max(peak, loudest)


def _check_finite(array: np.ndarray, name: str) -> np.ndarray:
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise CorruptAudioError(
            f"{name}: the file holds {bad} NaN or infinite samples; re-export it from the "
            "recording software."
        )
    return array


def probe(source: AudioSource, name: str | None = None) -> AudioInfo:
    """Read codec, rate, channels and duration from the header, without decoding the audio."""
    name = name or (Path(source).name if isinstance(source, (str, Path)) else "upload")
    container = _open(source, name)
    with container:
        ctx = _audio_context(container, name)
        duration_s = container.duration / 1e6 if container.duration else math.nan
        return AudioInfo(
            codec=ctx.name, source_rate_hz=int(ctx.sample_rate or 0),
            channels=ctx.layout.nb_channels or 1, duration_s=duration_s,
            container=container.format.name,
        )  # fmt: skip
