"""Transcription: fsmn-vad cuts each track into utterances, SenseVoice-Small transcribes them.

Both models load through funasr's own `AutoModel` (the path real users take), from a hub name or
a local directory, like the emotion model (core.model.engine). Recognition does not go through
`AutoModel.generate`, which runs one utterance at a time on CPU: it calls the model's own
`inference` on length-sorted padded batches (SenseVoice's SAN-M encoder masks padding in both its
attention and its FSMN memory, so a batch gives the same tokens as one at a time; a test compares
with `generate` token for token).

Memory is bounded whatever the length: a track is processed in windows of WINDOW_S seconds (the
utterance still open at a window's end is carried into the next window), and recognition batches
hold at most `max_batch_samples` of padded audio. Each track of a split stereo call is its own
stream, so the agent's and the customer's lines stay apart.

Fbank dither is turned off (funasr's default adds random noise to every sample): the same audio
always gives the same transcript, which the cache relies on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import InputError, ModelLoadError
from core.model.asr_testmodel import BPE_FILE, VAD_SUBDIR
from core.model.engine import SAMPLE_RATE_HZ
from core.model.hub import BytesFn, hub_directory
from core.model.locate import pick_device, preserved_global_state
from core.model.testmodel import MARKER_FILE
from core.model.transcript import Recognised, TranscriptSegment, plan_batches, segment_of

log = logging.getLogger(__name__)

DEFAULT_ASR_MODEL = "SenseVoiceSmall"
LANGUAGES = ("auto", "zh", "en", "yue", "ja", "ko")
# name -> hub repository, per hub
ASR_REPOS = {"SenseVoiceSmall": {"ms": "iic/SenseVoiceSmall", "hf": "FunAudioLLM/SenseVoiceSmall"}}
VAD_NAME = "fsmn-vad"
VAD_REPOS = {"ms": "iic/speech_fsmn_vad_zh-cn-16k-common-pytorch", "hf": "funasr/fsmn-vad"}

WINDOW_S = 300.0  # VAD runs on windows of this length (plus the carried open utterance)
MAX_SEGMENT_S = 30.0  # VAD's max_single_segment_time: SenseVoice attends over a whole segment
MIN_SEGMENT_S = 0.1
CARRY_MARGIN_S = 0.3  # an utterance ending this close to a window's end may go on in the next


ProgressFn = Callable[[int, int], None]
# Scores each utterance's audio (e.g. emotion2vec on the segment): (tracks, pieces) -> per piece
ScoreFn = Callable[[list[str], list[np.ndarray]], list["np.ndarray | None"]]


@dataclass
class _Stream:
    """One track's audio not yet cut into utterances: samples from `offset` on."""

    track: str
    offset: int = 0
    parts: list[np.ndarray] = field(default_factory=list)
    size: int = 0

    def add(self, samples: np.ndarray) -> None:
        self.parts.append(np.asarray(samples, dtype=np.float32))
        self.size += len(samples)

    def take(self) -> np.ndarray:
        wave = np.concatenate(self.parts) if len(self.parts) != 1 else self.parts[0]
        self.parts, self.size = [], 0
        return wave


class Transcriber:
    """fsmn-vad + SenseVoice, loaded once; thread-safe (one transcription at a time)."""

    def __init__(self, asr_auto, vad_auto, model_id: str, directory: Path, vad_directory: Path,
                 device: str, language: str = "auto", use_itn: bool = False):  # fmt: skip
        self._asr = asr_auto
        self._vad = vad_auto
        self.model = asr_auto.model
        self.model_id = model_id
        self.directory = directory
        self.vad_directory = vad_directory
        self.device = device
        self.language = language
        self.use_itn = use_itn
        self.untrained = (directory / MARKER_FILE).exists()
        self.revision = _fingerprint(directory)
        self.vad_revision = _fingerprint(vad_directory)
        self._lock = threading.Lock()
        for auto in (asr_auto, vad_auto):  # the same audio always gives the same transcript
            frontend = auto.kwargs.get("frontend")
            if frontend is not None and hasattr(frontend, "dither"):
                frontend.dither = 0.0
        vad_auto.model.vad_opts.max_single_segment_time = int(MAX_SEGMENT_S * 1000)

    @property
    def settings_key(self) -> str:
        """Cache key of this model's transcripts: models, revisions and settings."""
        itn = "itn" if self.use_itn else "noitn"
        return f"{self.model_id}@{self.revision}+vad@{self.vad_revision}/{self.language}/{itn}"

    @property
    def display_name(self) -> str:
        if self.untrained:
            return f"{self.model_id} (untrained test model)"
        return self.model_id

    @property
    def default_batch_samples(self) -> int:
        """Padded audio per recognition batch: 10 s on CPU, 10 minutes on a GPU.

        On CPU, batching does not pay: SenseVoice-Small recognised 30 s of 5 s utterances at
        8.8x real time one at a time and 4.8x in one batch on 2 threads, and 2-8 s utterances
        at 7.4x with a 8 s budget against 4.7-5.0x with 32-60 s (bench/transcribe.py speed)."""
        return (10 if self.device == "cpu" else 600) * SAMPLE_RATE_HZ

    # -- the two models ---------------------------------------------------------------------

    def vad(self, wave: np.ndarray) -> list[tuple[int, int]]:
        """Utterances of one piece of audio as (start, end) sample indices, in order."""
        if len(wave) < int(0.05 * SAMPLE_RATE_HZ):
            return []
        import torch

        with torch.inference_mode():
            result = self._vad.generate(input=np.asarray(wave, dtype=np.float32))
        spans = []
        for start_ms, end_ms in result[0].get("value", []) if result else []:
            start = max(0, int(start_ms) * SAMPLE_RATE_HZ // 1000)
            end = min(len(wave), int(end_ms) * SAMPLE_RATE_HZ // 1000)
            if end - start >= MIN_SEGMENT_S * SAMPLE_RATE_HZ:
                spans.append((start, end))
        return spans

    def recognise(self, pieces: Sequence[np.ndarray], max_batch_samples: int | None = None,
                  on_progress: ProgressFn | None = None) -> list[Recognised]:  # fmt: skip
        """SenseVoice on each piece, in length-sorted padded batches; results in input order."""
        budget = self.default_batch_samples if max_batch_samples is None else max_batch_samples
        results: list[Recognised | None] = [None] * len(pieces)
        done = 0
        for batch in plan_batches([len(p) for p in pieces], budget):
            for index, rec in zip(batch, self._forward([pieces[i] for i in batch]), strict=True):
                results[index] = rec
            done += len(batch)
            if on_progress:
                on_progress(done, len(pieces))
        return results  # type: ignore[return-value]

    def _forward(self, pieces: list[np.ndarray], timestamps: bool = True) -> list[Recognised]:
        import torch

        kwargs = self._asr.kwargs
        data = [torch.from_numpy(np.asarray(p, dtype=np.float32)) for p in pieces]
        try:
            with torch.inference_mode():
                out, _ = self.model.inference(
                    data_in=data, key=[f"piece{i}" for i in range(len(data))],
                    tokenizer=kwargs["tokenizer"], frontend=kwargs["frontend"],
                    device=self.device, language=self.language, use_itn=self.use_itn,
                    output_timestamp=timestamps, fs=SAMPLE_RATE_HZ,
                )  # fmt: skip
        except IndexError:
            # funasr's timestamp step re-tokenises the decoded text and can fail on an unusual
            # output; redo the batch piece by piece, without timestamps where it fails.
            if len(pieces) > 1:
                return [self._forward([p], timestamps)[0] for p in pieces]
            if not timestamps:
                raise
            return self._forward(pieces, timestamps=False)
        return [
            Recognised(
                raw=r["text"],
                timestamps=tuple((int(a), int(b)) for a, b in r.get("timestamp", [])),
                words=tuple(r.get("words", [])),
            )
            for r in out
        ]

    # -- whole tracks -----------------------------------------------------------------------

    def transcribe(
        self,
        tracks: Sequence[tuple[str, np.ndarray]],
        max_batch_samples: int | None = None,
        score: ScoreFn | None = None,
    ) -> list[TranscriptSegment]:
        """Transcribe whole tracks held in memory (short clips): VAD each, recognise all the
        utterances together in batches. Segments come back by track, then time."""
        with self._lock:
            return self._cut_and_recognise(
                [(track, 0, wave, True) for track, wave in tracks], max_batch_samples, score
            )[0]

    def transcribe_stream(
        self,
        chunks: Iterable[np.ndarray],
        tracks: Sequence[tuple[str, int | None]],
        max_batch_samples: int | None = None,
        score: ScoreFn | None = None,
    ) -> list[TranscriptSegment]:
        """Transcribe a recording read as (channels, n) chunks, in windows: bounded memory.

        `tracks` names each track and its channel (None: the channel mix)."""
        window = int(WINDOW_S * SAMPLE_RATE_HZ)
        streams = [_Stream(track) for track, _ in tracks]
        segments: list[TranscriptSegment] = []
        with self._lock:
            for chunk in chunks:
                chunk = np.atleast_2d(chunk)
                for stream, (_, channel) in zip(streams, tracks, strict=True):
                    mono = (
                        chunk.mean(axis=0, dtype=np.float32) if channel is None else chunk[channel]
                    )
                    stream.add(mono)
                if streams and streams[0].size >= window:
                    segments += self._window(streams, False, max_batch_samples, score)
            segments += self._window(streams, True, max_batch_samples, score)
        return sorted(segments, key=lambda s: (s.start_s, s.track))

    def _window(
        self, streams: list[_Stream], final: bool, budget: int | None, score: ScoreFn | None
    ) -> list[TranscriptSegment]:
        jobs = [(s.track, s.offset, s.take(), final) for s in streams]
        segments, carries = self._cut_and_recognise(jobs, budget, score)
        for stream, (_, offset, wave, _), carry in zip(streams, jobs, carries, strict=True):
            stream.offset = offset + carry
            if carry < len(wave):
                stream.add(wave[carry:])
        return segments

    def _cut_and_recognise(
        self, jobs, budget, score: ScoreFn | None = None
    ) -> tuple[list[TranscriptSegment], list[int]]:
        """VAD each (track, offset, wave, final) job, recognise every utterance in batches.

        Returns the segments and, per job, the sample where its unfinished audio starts (the
        open utterance of a non-final window, carried into the next)."""
        pieces, where, carries = [], [], []
        margin = int(CARRY_MARGIN_S * SAMPLE_RATE_HZ)
        max_len = int(MAX_SEGMENT_S * SAMPLE_RATE_HZ)
        for track, offset, wave, final in jobs:
            spans = self.vad(wave)
            carry = len(wave)
            if not final:
                if (
                    spans
                    and spans[-1][1] >= len(wave) - margin
                    and spans[-1][1] - spans[-1][0] < max_len
                ):
                    carry = spans.pop()[0]
                else:  # keep the tail VAD needs to see where speech resumes
                    carry = max(spans[-1][1] if spans else 0, len(wave) - margin)
            for start, end in spans:
                pieces.append(wave[start:end])
                where.append(
                    (track, (offset + start) / SAMPLE_RATE_HZ, (end - start) / SAMPLE_RATE_HZ)
                )
            carries.append(carry)
        recognised = self.recognise(pieces, budget) if pieces else []
        scores = score([w[0] for w in where], pieces) if score and pieces else [None] * len(pieces)
        segments = [
            dataclasses.replace(segment_of(track, start, length, rec), scores=scored)
            for (track, start, length), rec, scored in zip(where, recognised, scores, strict=True)
        ]
        segments.sort(key=lambda s: (s.track, s.start_s))
        return segments, carries


def _fingerprint(directory: Path) -> str:
    """A short revision hash of a model directory's config, vocabulary and weights (sampled)."""
    digest = hashlib.sha256()
    for name in ("config.yaml", BPE_FILE, "am.mvn"):
        file = directory / name
        digest.update(file.read_bytes() if file.exists() else b"")
    weights = directory / "model.pt"
    if weights.exists():
        size = weights.stat().st_size
        digest.update(str(size).encode())
        with weights.open("rb") as handle:
            for offset in (0, max(0, size // 2), max(0, size - (1 << 20))):
                handle.seek(offset)
                digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:12]


def resolve_asr_model(
    model: str, hub: str = "ms", on_bytes: BytesFn | None = None
) -> tuple[str, Path, Path]:
    """(model id, SenseVoice directory, fsmn-vad directory) for a name or a local directory.

    A local directory's VAD is its own `fsmn-vad/` folder when it has one (the test models do),
    else funasr's fsmn-vad from the hub."""
    path = Path(model).expanduser()
    if path.is_dir():
        directory = path.resolve()
        model_id = directory.name
    else:
        short = model.split("/")[-1]
        if short not in ASR_REPOS:
            raise ModelLoadError(
                f"{model!r} is neither a model directory nor a known ASR model; use "
                f"{', '.join(ASR_REPOS)} or a directory holding SenseVoice's config.yaml and model.pt."
            )
        directory, model_id = (
            hub_directory(short, hub, on_bytes, repo=ASR_REPOS[short][_hub(hub)]),
            short,
        )
    vad = directory / VAD_SUBDIR
    if not (vad / "model.pt").exists():
        vad = hub_directory(VAD_NAME, hub, on_bytes, repo=VAD_REPOS[_hub(hub)])
    return model_id, directory, vad


def _hub(hub: str) -> str:
    return "hf" if hub in ("hf", "huggingface") else "ms"


def load_transcriber(
    model: str = DEFAULT_ASR_MODEL,
    device: str | None = None,
    *,
    hub: str = "ms",
    language: str = "auto",
    use_itn: bool = False,
    threads: int | None = None,
    on_download: BytesFn | None = None,
) -> Transcriber:
    """Load SenseVoice and fsmn-vad by name or directory; ModelLoadError with a way out."""
    if language not in LANGUAGES:
        raise InputError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}.")
    model_id, directory, vad_dir = resolve_asr_model(model, hub, on_download)
    for folder in (directory, vad_dir):
        for required in ("config.yaml", "model.pt"):
            if not (folder / required).exists():
                raise ModelLoadError(
                    f"{folder} has no {required}; it is not a funasr model directory."
                )
    device = pick_device(device)
    threads = threads or int(os.environ.get("EMOSCOPE_THREADS", 0)) or (os.cpu_count() or 1)
    try:
        from funasr import AutoModel
    except ImportError as exc:
        raise ModelLoadError(
            "funasr is not installed: run `pip install -r requirements.txt` (torch first)."
        ) from exc
    autos = []
    with preserved_global_state():
        for folder in (directory, vad_dir):
            try:
                with contextlib.redirect_stdout(None):
                    autos.append(AutoModel(
                        model=str(folder), disable_update=True, device=device, ncpu=threads,
                        log_level="WARNING", disable_pbar=True,
                    ))  # fmt: skip
            except ImportError as exc:  # the fbank backend or sentencepiece is missing
                raise ModelLoadError(f"{exc} (pip install -r requirements.txt)") from exc
            except Exception as exc:  # funasr raises bare AssertionError/KeyError on bad dirs
                raise ModelLoadError(
                    f"funasr could not build the model in {folder}: {type(exc).__name__}: {exc}"
                ) from exc
    asr, vad = autos
    if type(asr.model).__name__ != "SenseVoiceSmall":
        raise ModelLoadError(
            f"{directory} holds a {type(asr.model).__name__}, not SenseVoiceSmall."
        )
    return Transcriber(asr, vad, model_id, directory, vad_dir, device, language, use_itn)
