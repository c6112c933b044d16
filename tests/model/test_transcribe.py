"""Transcription with the tiny SenseVoice + fsmn-vad (random weights, loaded through funasr)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from core.model import transcribe as tr
from core.model import transcript as tx
from core.model.asr_testmodel import BPE_FILE, TAG_IDS, VOCAB_SIZE
from tests.conftest import speechlike, with_pauses

RATE = 16_000


def test_test_model_keeps_sensevoice_special_ids(sensevoice_dir, transcriber):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sensevoice_dir / BPE_FILE))
    assert sp.get_piece_size() == VOCAB_SIZE
    for tag, index in TAG_IDS.items():
        assert sp.id_to_piece(index) == tag
    model = transcriber.model
    assert set(model.lid_int_dict) <= set(TAG_IDS.values())
    assert set(model.emo_dict.values()) <= set(TAG_IDS.values())
    assert transcriber.untrained
    assert transcriber.display_name.endswith("(untrained test model)")
    assert "/auto/noitn" in transcriber.settings_key


def test_tags_parse_into_language_emotion_events():
    text, language, emotion, events = tx.parse_tags(
        "<|en|><|ANGRY|><|Laughter|><|woitn|>▁I▁want▁a▁refund<|Cry|>"
    )
    assert (text, language, emotion, events) == (
        "I want a refund",
        "en",
        "angry",
        ("laughter", "cry"),
    )
    assert tx.parse_tags("我们会<|zh|>处理") == ("我们会 处理", "zh", None, ())


def test_batches_are_length_sorted_and_bounded():
    batches = tx.plan_batches([50, 10, 30, 20, 40], budget=90)
    assert [i for b in batches for i in b] == [1, 3, 2, 4, 0]
    assert all(len(b) * max([50, 10, 30, 20, 40][i] for i in b) <= 90 for b in batches)


def _clips() -> list[np.ndarray]:
    rng = np.random.default_rng(26)
    return [speechlike(float(rng.uniform(0.8, 6.0)), seed=100 + i) for i in range(10)]


def test_batched_transcription_equals_funasr_generate(sensevoice_dir, transcriber):
    """Fidelity: 10 seeded clips, batched, equal funasr's own generate token for token."""
    from funasr import AutoModel

    clips = _clips()
    ours = transcriber.recognise(clips, max_batch_samples=40 * RATE)
    with contextlib.redirect_stdout(io.StringIO()):
        reference = AutoModel(model=str(sensevoice_dir), disable_update=True, device="cpu",
                              ncpu=2, log_level="ERROR", disable_pbar=True)  # fmt: skip
    tokenizer = reference.kwargs["tokenizer"]
    compared_times = 0
    for clip, mine in zip(clips, ours, strict=True):
        plain = reference.generate(input=clip, language="auto", use_itn=False)[0]
        assert tokenizer.text2tokens(mine.raw) == tokenizer.text2tokens(plain["text"])
        assert mine.raw.strip()
        try:
            timed = reference.generate(input=clip, language="auto", use_itn=False,
                                       output_timestamp=True)[0]  # fmt: skip
        except IndexError:  # funasr's own timestamp step fails on this text; ours skips it
            assert mine.timestamps == ()
            continue
        assert list(mine.words) == list(timed["words"])
        got, want = np.array(mine.timestamps), np.array(timed["timestamp"])
        assert got.shape == want.shape
        assert np.abs(got - want).max(initial=0) <= 60
        compared_times += 1
    assert compared_times >= 3


def test_vad_cuts_at_pauses_and_tracks_stay_apart(transcriber):
    agent = with_pauses([(0.5, 2.5), (6.0, 8.0)], 10.0, seed=1)
    customer = with_pauses([(3.0, 5.0)], 10.0, seed=2)
    segments = transcriber.transcribe([("agent", agent), ("customer", customer)])
    spans = {(s.track, round(s.start_s), round(s.end_s)) for s in segments}
    assert {t for t, _, _ in spans} == {"agent", "customer"}
    assert len([s for s in segments if s.track == "agent"]) == 2
    assert len([s for s in segments if s.track == "customer"]) == 1
    for s in segments:
        assert 0 <= s.start_s < s.end_s <= 10.0
        assert s.text
        for w in s.words:
            assert s.start_s <= w.start_s <= w.end_s <= s.end_s
    customer_seg = next(s for s in segments if s.track == "customer")
    assert 2.5 <= customer_seg.start_s <= 3.2 and 4.9 <= customer_seg.end_s <= 5.5


def test_stream_in_windows_matches_whole_track(transcriber, monkeypatch):
    """Windowed (bounded-memory) transcription cuts the same utterances as one VAD pass,
    including one that spans a window boundary."""
    bursts = [(1.0, 4.0), (9.0, 13.0), (18.5, 21.0)]
    left = with_pauses(bursts, 24.0, seed=3)
    right = with_pauses([(2.0, 3.0), (15.0, 17.0)], 24.0, seed=4)
    whole = transcriber.transcribe([("agent", left), ("customer", right)])
    monkeypatch.setattr(tr, "WINDOW_S", 10.0)  # a boundary inside the burst at 9-13 s
    stereo = np.stack([left, right])
    chunks = (stereo[:, i : i + 4000] for i in range(0, stereo.shape[1], 4000))
    streamed = transcriber.transcribe_stream(chunks, [("agent", 0), ("customer", 1)])
    key = lambda s: (s.track, s.start_s)  # noqa: E731
    streamed, whole = sorted(streamed, key=key), sorted(whole, key=key)
    assert [s.track for s in streamed] == [s.track for s in whole]
    times = [t for s in streamed for t in (s.start_s, s.end_s)]
    assert times == pytest.approx([t for s in whole for t in (s.start_s, s.end_s)], abs=0.05)
    assert [s.raw for s in streamed] == [s.raw for s in whole]


def test_unknown_language_and_model_are_refused(tmp_path):
    from core.errors import InputError, ModelLoadError

    with pytest.raises(InputError, match="language"):
        tr.load_transcriber(str(tmp_path), language="fr")
    with pytest.raises(ModelLoadError, match="SenseVoiceSmall"):
        tr.resolve_asr_model("whisper-large")
