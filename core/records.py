"""Records that cross module boundaries: what ingest writes and how the pages select clips."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ClipRecord:
    """A clip as it enters a corpus: its identity, the audio facts and the metadata."""

    clip_id: str
    source_name: str
    source_path: str | None
    duration_s: float
    source_rate_hz: int
    channels: int
    codec: str
    size_bytes: int
    agent: str | None = None
    recorded_at: datetime | None = None
    speaker: str | None = None
    tags: tuple[str, ...] = ()
    label: str | None = None  # the user's own emotion label (manifest), for the model check


@dataclass(frozen=True)
class ScoredTrack:
    """One scored track of a clip: scores, embedding and optionally the frame logits."""

    clip_id: str
    track: str
    scores: np.ndarray
    embedding: np.ndarray
    frame_logits: np.ndarray | None = None


@dataclass(frozen=True)
class SegmentRecord:
    """One window's share of a long recording, with its own scores."""

    clip_id: str
    track: str
    index: int
    start_s: float
    end_s: float
    scores: np.ndarray


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one input file during an ingest run."""

    source_name: str
    status: str  # scored | cached | failed
    clip_id: str | None = None
    seconds_audio: float = 0.0
    message: str | None = None


# The transcript events a selection can ask for, as SenseVoice's tags are stored (lower case):
# a track matches when any line of its transcript carries the event.
FILTER_EVENTS: tuple[str, ...] = ("laughter", "cry")


@dataclass(frozen=True)
class ClusterPick:
    """One cluster of a stored projection as a restriction of a selection: its tracks
    (`inside`), or the selection's other tracks (Clusters' "more like this cluster")."""

    projection_key: str
    cluster: int
    inside: bool = True


@dataclass(frozen=True)
class ClipFilter:
    """A selection of clips, as chosen on the dashboard or the CLI. Empty fields mean 'any'.

    core.store.filters turns it into SQL (`where_sql`)."""

    corpora: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    top_labels: tuple[str, ...] = ()
    tracks: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    min_confidence: float = 0.0
    max_confidence: float = 1.0
    min_duration_s: float = 0.0
    max_duration_s: float | None = None
    clip_ids: tuple[str, ...] = field(default=())
    said: str = ""  # words or a phrase the track's transcript contains (any case, CJK too)
    cluster: ClusterPick | None = None  # one cluster of a stored projection (Clusters' lists)
    events: tuple[str, ...] = ()  # any line of the transcript has one (FILTER_EVENTS)


@dataclass(frozen=True)
class WordCounts:
    """Per word, the tracks of two selections (a flagged item and its baseline) whose current
    transcript says it, and each selection's totals (core.store.transcripts.word_counts; ranked
    by core.analysis.words)."""

    words: pd.DataFrame  # word, n_flagged, n_base: the tracks saying it
    tracks_flagged: int  # tracks selected
    tracks_base: int
    transcribed_flagged: int  # of those, tracks with a transcript
    transcribed_base: int
    pairs_flagged: int  # (track, word) pairs over every word, the ranking's totals
    pairs_base: int
