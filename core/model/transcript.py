"""What SenseVoice's output becomes: its tags parsed, words and segments placed on the track's
time axis, and windows grouped into batches; core.model.transcribe runs the model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.model import engine

LANGUAGE_TAGS = {"zh", "en", "yue", "ja", "ko", "nospeech"}


EMOTION_TAGS = {"HAPPY", "SAD", "ANGRY", "NEUTRAL", "FEARFUL", "DISGUSTED", "SURPRISED",
                "EMO_UNKNOWN"}  # fmt: skip


EVENT_TAGS = {"Speech", "BGM", "Laughter", "Applause", "Cry", "Sneeze", "Breath", "Cough",
              "Event_UNK"}  # fmt: skip


_TAG = re.compile(r"<\|([^|]*)\|>")


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TranscriptSegment:
    """One utterance of one track. Times are seconds from the start of the recording."""

    track: str
    start_s: float
    end_s: float
    text: str  # plain text, tags removed
    language: str | None  # SenseVoice's language tag (zh, en, ...), None if it gave none
    emotion: str | None  # SenseVoice's emotion tag, lower case (happy, sad, ...)
    events: tuple[str, ...]  # audio events other than plain speech (laughter, cry, ...)
    words: tuple[Word, ...]
    raw: str = ""  # the decoded text as SenseVoice gave it, tags included
    scores: np.ndarray | None = None  # what a `score` hook said of the segment's audio


@dataclass(frozen=True)
class Recognised:
    """SenseVoice's output for one piece of audio, as its own `inference` returns it."""

    raw: str
    timestamps: tuple[tuple[int, int], ...] = ()  # ms from the piece's start, per word
    words: tuple[str, ...] = ()


def parse_tags(raw: str) -> tuple[str, str | None, str | None, tuple[str, ...]]:
    """Split SenseVoice's rich text into (plain text, language, emotion, events)."""
    language = emotion = None
    events: list[str] = []
    for tag in _TAG.findall(raw):
        if tag in LANGUAGE_TAGS and language is None:
            language = tag
        elif tag in EMOTION_TAGS and emotion is None:
            emotion = "unknown" if tag == "EMO_UNKNOWN" else tag.lower()
        elif tag in EVENT_TAGS and tag != "Speech" and tag.lower() not in events:
            events.append(tag.lower())
    text = " ".join(_TAG.sub(" ", raw).replace("▁", " ").split())
    return text, language, emotion, tuple(events)


def segment_of(track: str, offset_s: float, length_s: float, rec: Recognised) -> TranscriptSegment:
    """A recognised piece as a stored segment: tags parsed, word times moved to the recording."""
    text, language, emotion, events = parse_tags(rec.raw)
    words = []
    for word, (start_ms, end_ms) in zip(rec.words, rec.timestamps, strict=False):
        word = word.replace("▁", "").strip()
        if not word or _TAG.fullmatch(word):
            continue
        start = offset_s + min(start_ms / 1000, length_s)
        end = offset_s + min(end_ms / 1000, length_s)
        words.append(Word(word, round(start, 3), round(max(end, start), 3)))
    return TranscriptSegment(
        track=track, start_s=round(offset_s, 3), end_s=round(offset_s + length_s, 3), text=text,
        language=language, emotion=emotion, events=events, words=tuple(words), raw=rec.raw,
    )  # fmt: skip


def plan_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Indices sorted by length, grouped so that len(batch) * longest <= budget: the engine's
    rule, for speech pieces."""
    return engine.plan_batches(lengths, budget)
