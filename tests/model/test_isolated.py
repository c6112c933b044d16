"""Decoding in child processes (core.model.isolated): same audio, and a crash costs one file."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf

from core.errors import DecoderCrashError, EmptyAudioError
from core.model.audio import AudioStream, decode, probe
from core.model.isolated import DecoderPool
from tests.conftest import speechlike

CRASHING = [sys.executable, "-m", "tests.model.crashing_decoder"]


@pytest.fixture
def pool():
    pool = DecoderPool()
    yield pool
    pool.close_idle()


@pytest.fixture
def crashing_pool():
    pool = DecoderPool(CRASHING)
    yield pool
    pool.close_idle()


def test_a_child_decodes_what_the_process_decodes(pool, encoded):
    path = encoded["clip.flac"]
    for source in (path, path.read_bytes(), path.open("rb")):
        header, audio = pool.read(source, "clip.flac", 60.0)
        assert header == probe(path)
        np.testing.assert_array_equal(audio.samples, decode(path).samples)
        assert audio.info == decode(path).info


def test_a_long_file_gives_its_header_only_and_streams_the_same_samples(pool, tmp_path):
    sf.write(tmp_path / "long.wav", speechlike(9.0), 16_000)
    header, audio = pool.read(tmp_path / "long.wav", "long.wav", 5.0)
    assert audio is None and header.duration_s == pytest.approx(9.0)
    stream, local = (
        pool.stream(tmp_path / "long.wav", "long.wav"),
        AudioStream(tmp_path / "long.wav"),
    )
    np.testing.assert_array_equal(np.concatenate(list(stream), axis=1),
                                  np.concatenate(list(local), axis=1))  # fmt: skip
    assert stream.info == local.info


def test_a_users_error_comes_back_typed_and_the_child_is_kept(pool):
    with pytest.raises(EmptyAudioError, match=r"^empty\.wav: the file is empty \(0 bytes\)\.$"):
        pool.read(b"", "empty.wav", 60.0)
    assert len(pool._idle) == 1  # a refused file is no reason to start another process


def test_a_decoder_crash_costs_one_file(crashing_pool, encoded):
    data = encoded["clip.flac"].read_bytes()
    with pytest.raises(DecoderCrashError) as caught:
        crashing_pool.read(data, "crash.flac", 60.0)
    assert str(caught.value) == (
        "crash.flac: the audio decoder crashed on this file (SIGSEGV); nothing was stored and "
        "the other files went on. Re-export it (for example as WAV) and ingest it again."
    )
    assert crashing_pool._idle == []  # the dead child is not handed out again
    _, audio = crashing_pool.read(data, "fine.flac", 60.0)  # a fresh child takes the next file
    assert audio.duration_s == pytest.approx(3.0, abs=0.01)
    with pytest.raises(DecoderCrashError, match="crash.flac: the audio decoder crashed"):
        list(crashing_pool.stream(data, "crash.flac"))


def test_a_stream_left_half_read_does_not_answer_the_next_request(pool, tmp_path):
    sf.write(tmp_path / "long.wav", speechlike(20.0), 16_000)
    for _ in pool.stream(tmp_path / "long.wav", "long.wav"):
        break  # its child still has pieces to send: it is ended, not reused
    assert pool._idle == []
    _, audio = pool.read(tmp_path / "long.wav", "long.wav", 60.0)
    assert audio.duration_s == pytest.approx(20.0)


def test_close_idle_ends_the_children(pool, encoded):
    pool.read(encoded["clip.flac"], "clip.flac", 60.0)
    child = pool._idle[0]
    pool.close_idle()
    assert child.process.poll() == 0 and pool._idle == []


def test_a_child_that_cannot_start_stops_the_run_instead_of_blaming_a_file(encoded):
    pool = DecoderPool([sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(
        RuntimeError, match=r"^the decoder process could not start \(exit status 3\)"
    ):
        pool.read(encoded["clip.flac"], "clip.flac", 60.0)
