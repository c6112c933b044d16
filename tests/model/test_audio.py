import io
import shutil
import subprocess
import wave

import numpy as np
import pytest
import soundfile as sf

from core.errors import (
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    TooManyChannelsError,
    TooShortError,
)
from core.model.audio import MAX_CHANNELS, MIN_DURATION_S, TARGET_RATE_HZ, decode, probe
from tests.conftest import DECODER_SAMPLES, FORMATS, ffmpeg, speechlike

EXPECTED_CODEC = {
    "pcm16.wav": "pcm_s16le", "pcm24.wav": "pcm_s24le", "pcm32.wav": "pcm_s32le",
    "u8.wav": "pcm_u8", "float.wav": "pcm_f32le", "mulaw.wav": "pcm_mulaw",
    "alaw.wav": "pcm_alaw", "clip.mp3": "mp3float", "clip.m4a": "aac", "clip.flac": "flac",
    "clip.ogg": "vorbis", "clip.opus": "opus", "clip.webm": "opus",
}  # fmt: skip


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_decodes_to_16k_float32(encoded, name):
    audio = decode(encoded[name])
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape[0] == 2  # channels kept
    assert audio.info.codec == EXPECTED_CODEC[name]
    assert audio.info.channels == 2
    expected_rate = 8000 if "law" in name else 44_100
    if name.endswith((".opus", ".webm")):
        expected_rate = 48_000  # opus always decodes at 48 kHz
    assert audio.info.source_rate_hz == expected_rate
    # Lossy codecs add priming samples; all stay within 60 ms of the 3 s source.
    assert audio.duration_s == pytest.approx(3.0, abs=0.06)
    assert audio.mono.shape == (audio.samples.shape[1],)
    assert 0.02 < float(np.sqrt(np.mean(audio.mono**2))) < 0.5


def test_lossless_decode_matches_the_source_resampled(encoded, source_wav):
    flac, wav = decode(encoded["clip.flac"]), decode(encoded["pcm16.wav"])
    np.testing.assert_array_equal(flac.samples, wav.samples)


def test_mono_is_the_channel_mean(encoded):
    audio = decode(encoded["pcm16.wav"])
    np.testing.assert_allclose(audio.mono, audio.samples.mean(axis=0), atol=1e-7)


def test_bytes_and_path_give_the_same_audio(encoded):
    path = encoded["clip.mp3"]
    np.testing.assert_array_equal(decode(path).samples, decode(path.read_bytes(), "x.mp3").samples)


def test_resampling_keeps_a_tone_at_its_frequency(tmp_path):
    rate = 44_100
    t = np.arange(rate) / rate
    sf.write(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 440 * t), rate)
    mono = decode(tmp_path / "tone.wav").mono
    assert mono.size == TARGET_RATE_HZ
    peak_hz = np.argmax(np.abs(np.fft.rfft(mono))) * TARGET_RATE_HZ / mono.size
    assert peak_hz == pytest.approx(440, abs=1)


def test_silence_is_valid_audio(tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(16_000, np.float32), 16_000)
    audio = decode(tmp_path / "silence.wav")
    assert audio.duration_s == pytest.approx(1.0)
    assert not audio.mono.any()


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty.wav: the file is empty"):
        decode(tmp_path / "empty.wav")


def test_wav_with_header_and_no_samples(tmp_path):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
    with pytest.raises(EmptyAudioError, match="no audio samples"):
        decode(buffer.getvalue(), "header-only.wav")


def test_text_named_wav_is_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("hello, this is not audio\n" * 20)
    with pytest.raises(NotAudioError, match="notes.wav: not a readable audio file"):
        decode(tmp_path / "notes.wav")


def test_truncated_wav_header(encoded):
    data = encoded["pcm16.wav"].read_bytes()[:30]
    with pytest.raises((NotAudioError, CorruptAudioError), match="cut.wav"):
        decode(data, "cut.wav")


def test_truncated_wav_data_is_reported(encoded):
    data = encoded["pcm16.wav"].read_bytes()
    with pytest.raises(
        CorruptAudioError, match=r"truncated: it stops at 1\.\d+ s of a declared 3\.00 s"
    ):
        decode(data[: len(data) // 2], "half.wav")


def test_too_short(tmp_path):
    sf.write(tmp_path / "blip.wav", np.ones(160, np.float32) * 0.1, 16_000)
    with pytest.raises(
        TooShortError, match=f"0.010 s of audio is too short.*minimum is {MIN_DURATION_S}"
    ):
        decode(tmp_path / "blip.wav")


def test_nan_samples_in_float_wav(tmp_path):
    wave_ = np.full(16_000, 0.1, np.float32)
    wave_[100:110] = np.nan
    wave_[200] = np.inf
    sf.write(tmp_path / "nan.wav", wave_, 16_000, subtype="FLOAT")
    with pytest.raises(CorruptAudioError, match="11 NaN or infinite samples"):
        decode(tmp_path / "nan.wav")


def test_probe_reads_the_header(encoded):
    info = probe(encoded["clip.flac"])
    assert (info.codec, info.source_rate_hz, info.channels) == ("flac", 44_100, 2)
    assert info.duration_s == pytest.approx(3.0, abs=0.01)


@pytest.mark.skipif(not DECODER_SAMPLES.exists(), reason="../shared is absent")
@pytest.mark.parametrize(
    ("name", "codec", "channels"),
    [("bach.ogg", "flac", 1), ("creative_common.mp4", "aac", 2), ("test1-8bit.wav", "pcm_u8", 2),
     ("test-192khz-32bit.flac", "flac", 2), ("test5.webm", "opus", 2),
     ("wrong_extension.aac", "aac", 1)],
)  # fmt: skip
def test_real_world_samples(name, codec, channels):
    audio = decode(DECODER_SAMPLES / name)
    assert (audio.info.codec, audio.info.channels) == (codec, channels)
    assert audio.duration_s > 1.0


@pytest.mark.skipif(not DECODER_SAMPLES.exists(), reason="../shared is absent")
def test_real_world_empty_wav():
    with pytest.raises(EmptyAudioError):
        decode(DECODER_SAMPLES / "test1_empty.wav")


@pytest.mark.parametrize(
    ("name", "codec"),
    [("s16.wav", ["-c:a", "pcm_s16le"]), ("s24.wav", ["-c:a", "pcm_s24le"]),
     ("s32.wav", ["-c:a", "pcm_s32le"]), ("f32.wav", ["-c:a", "pcm_f32le"]),
     ("f64.wav", ["-c:a", "pcm_f64le"]), ("s16.flac", ["-c:a", "flac"]),
     ("s24.flac", ["-c:a", "flac", "-sample_fmt", "s32"])],
)  # fmt: skip
@pytest.mark.parametrize("channels", [1, 2])
def test_16k_audio_skips_the_resampler_with_the_same_samples(
    tmp_path, source_wav, monkeypatch, name, codec, channels
):
    import core.model.audio

    path = tmp_path / name
    ffmpeg("-i", str(source_wav), "-ar", "16000", "-ac", str(channels), *codec, str(path))
    direct = decode(path)
    monkeypatch.setattr(core.model.audio, "_already_16k", lambda frame: None)  # swresample's path
    resampled = decode(path)
    assert direct.samples.shape == resampled.samples.shape == (channels, direct.samples.shape[1])
    np.testing.assert_allclose(direct.samples, resampled.samples, rtol=0, atol=1e-7)
    assert direct.info == resampled.info


def channel_ramp(path, channels: int, rate: int = 48_000, subtype: str = "PCM_16"):
    """One second in which channel i is a tone of amplitude (i + 1) / (channels + 1): its level
    tells which channel it is."""
    t = np.arange(rate) / rate
    tones = [(i + 1) / (channels + 1) * np.sin(2 * np.pi * (200 + 50 * i) * t)
             for i in range(channels)]  # fmt: skip
    sf.write(path, np.stack(tones, axis=1), rate, subtype=subtype)
    return path


def channel_levels(samples: np.ndarray) -> np.ndarray:
    """Each channel's RMS in units of the first channel's amplitude (see channel_ramp)."""
    amplitude = 1 / (samples.shape[0] + 1)
    return np.sqrt(np.mean(samples**2, axis=1)) / (amplitude / np.sqrt(2))


# 8 channels and more once crashed the process (#31): PyAV's to_ndarray read past FFmpeg's
# array of plane pointers. Each layout the probe found is decoded here, its channels in order.
# AAC low-passes the LFE (the fourth channel), so only the others' levels are compared there.
@pytest.mark.parametrize(
    ("name", "channels", "codec", "lossless"),
    [("7.1.flac", 8, ["-c:a", "flac", "-sample_fmt", "s32"], True),
     ("7.1.ogg", 8, ["-c:a", "libvorbis"], False),
     ("7.1.m4a", 8, ["-c:a", "aac"], False),
     ("nine.wav", 9, ["-c:a", "pcm_s16le"], True),
     ("sixty-four.wav", MAX_CHANNELS, ["-c:a", "pcm_s16le"], True)],
)  # fmt: skip
def test_many_channel_layouts_decode_in_order(tmp_path, name, channels, codec, lossless):
    source = channel_ramp(tmp_path / "source.wav", channels)
    ffmpeg("-i", str(source), *codec, str(tmp_path / name))
    audio = decode(tmp_path / name)
    assert audio.samples.shape[0] == audio.info.channels == channels
    assert audio.duration_s == pytest.approx(1.0, abs=0.01)
    levels = channel_levels(audio.samples)
    expected = np.arange(1, channels + 1)
    kept = slice(None) if lossless or channels != 8 else [0, 1, 2, 4, 5, 6, 7]
    np.testing.assert_allclose(levels[kept], expected[kept], rtol=0.02 if lossless else 0.05)


def test_many_channels_at_16k_skip_the_resampler_in_order(tmp_path):
    audio = decode(channel_ramp(tmp_path / "nine.wav", 9, rate=16_000, subtype="FLOAT"))
    np.testing.assert_allclose(channel_levels(audio.samples), np.arange(1, 10), rtol=0.01)


def test_more_channels_than_the_resampler_takes_are_refused_in_one_line(tmp_path):
    path = channel_ramp(tmp_path / "wide.wav", 255)
    message = r"^wide\.wav: 255 audio channels; at most 64 can be decoded\. Mix it down first"
    with pytest.raises(TooManyChannelsError, match=message):
        decode(path)
    with pytest.raises(TooManyChannelsError, match=message):
        probe(path)


@pytest.mark.skipif(not shutil.which("sox"), reason="sox is not installed (ffmpeg cannot write it)")
def test_a_255_channel_ogg_is_refused_in_one_line(tmp_path):
    path = tmp_path / "wide.ogg"
    subprocess.run(["sox", "-n", "-r", "48000", "-c", "255", str(path), "synth", "1", "sine",
                    "300"], check=True, capture_output=True)  # fmt: skip
    with pytest.raises(TooManyChannelsError, match=r"^wide\.ogg: 255 audio channels"):
        decode(path)


@pytest.mark.parametrize("rate", [16_000, 44_100])  # read directly, or through the resampler
def test_float_samples_far_beyond_full_scale_are_refused(tmp_path, rate):
    sf.write(tmp_path / "huge.wav", np.full(rate, 1e30, np.float32), rate, subtype="FLOAT")
    with pytest.raises(CorruptAudioError, match=r"^huge\.wav: its samples reach 1e\+30, where "
                       r"full scale is 1\.0: these are not audio levels"):  # fmt: skip
        decode(tmp_path / "huge.wav")


def test_a_hot_float_mix_above_full_scale_is_still_audio(tmp_path):
    sf.write(tmp_path / "hot.wav", 2.0 * speechlike(1.0), 16_000, subtype="FLOAT")
    assert decode(tmp_path / "hot.wav").info.peak_dbfs == pytest.approx(2.5, abs=0.1)
