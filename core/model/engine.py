"""The emotion2vec+ engine: load through funasr, score many clips in exact padded batches.

Loading goes through funasr's own `AutoModel` (the path real users take), from a hub id
(downloaded once into the hub's cache, then read locally) or a local model directory. The
checkpoint's keys are checked against the architecture its config builds, because funasr silently
fills missing weights with random ones.

Scoring does not use `AutoModel.generate`, which runs one clip at a time. It calls the model's
own `extract_features` on a padded batch, with the two fixes that make padding exact (see
../shared/notes/emotion2vec-in-funasr.md): padded frames are zeroed at the input of every
positional-convolution layer (so they act like the convolution's own zero padding), and averages
run over each clip's valid frames only. Agreement with funasr's `generate` is a test.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InputError, ModelLoadError, TooLongError
from core.model.hub import BytesFn
from core.model.labels import EMOTIONS, english_label
from core.model.locate import (
    ModelSource,
    check_checkpoint,
    fingerprint,
    pick_device,
    preserved_global_state,
    resolve_model,
)
from core.model.testmodel import MARKER_FILE

log = logging.getLogger(__name__)

DEFAULT_MODEL = "emotion2vec_plus_large"
HOP_MS = 20  # conv strides 5 * 2**6 = 320 samples at 16 kHz
SAMPLE_RATE_HZ = 16_000
# One piece of audio is attended over as a whole (O(T^2)); beyond this the attention matrix of
# the large model passes ~2 GB. Longer recordings go through core.ingest.longform (30 s windows).
MAX_CLIP_S = 120.0
PRECISIONS = ("fp32", "bf16", "fp16")

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Prediction:
    """One clip's result. `scores` are probabilities in tokens.txt order (see core.model.labels)."""

    scores: np.ndarray  # (9,) float32, sums to 1
    labels: tuple[str, ...]
    embedding: np.ndarray  # (D,) mean of the frame embeddings
    frame_logits: np.ndarray | None = None  # (T, 9): the head applied to each 20 ms frame
    frame_embeddings: np.ndarray | None = None  # (T, D)

    @property
    def frame_scores(self) -> np.ndarray | None:
        """(T, 9) per-frame probabilities: softmax of `frame_logits`."""
        return None if self.frame_logits is None else softmax(self.frame_logits)

    @property
    def top_label(self) -> str:
        return self.labels[int(np.argmax(self.scores))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.scores))


def finite_output(scores: np.ndarray, embedding: np.ndarray,
                  frame_logits: np.ndarray | None = None) -> bool:  # fmt: skip
    """Whether a model output may be stored: finite scores and embedding, and frame logits
    without NaN or +inf (-inf is how an unused label is masked, and scores 0)."""
    if not (np.isfinite(scores).all() and np.isfinite(embedding).all()):
        return False
    return frame_logits is None or not (np.isnan(frame_logits) | np.isposinf(frame_logits)).any()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, in float32."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z, dtype=np.float32)
    return e / e.sum(axis=-1, keepdims=True)


class Engine:
    """A loaded emotion2vec+ model that scores lists of 16 kHz waveforms.

    Thread-safe: one predict runs at a time (the dashboard shares one Engine across sessions).
    """

    def __init__(self, auto_model, source: ModelSource, device: str, precision: str):
        self._auto = auto_model
        self.model = auto_model.model
        self.model_id = source.model_id
        self.directory = source.directory
        self.revision = fingerprint(source.directory)
        self.untrained = (source.directory / MARKER_FILE).exists()
        self.device = device
        self.precision = precision
        self.embedding_dim = int(self.model.cfg.get("embed_dim"))
        tokens = list(auto_model.kwargs["tokenizer"].token_list)
        self.labels = tuple(english_label(t) for t in tokens)
        self._unused = np.array([t.startswith("unuse") for t in tokens])
        self._lock = threading.Lock()
        if self.labels != EMOTIONS:
            raise ModelLoadError(
                f"{source.directory}/tokens.txt lists {self.labels}; EmoScope expects the nine "
                f"emotion2vec+ classes {EMOTIONS} in that order."
            )
        # Layer-norm feature extractors are per frame; a group-norm one mixes padding in.
        self.batchable = self.model.cfg.modalities.audio.extractor_mode == "layer_norm"

    @property
    def model_key(self) -> str:
        """Cache key of this model's results: id and revision."""
        return f"{self.model_id}@{self.revision}"

    @property
    def display_name(self) -> str:
        """The name shown next to every result; untrained models say so."""
        if self.untrained:
            return f"{self.model_id} (untrained test model)"
        return self.model_id

    def predict(
        self,
        waveforms: Sequence[np.ndarray],
        *,
        frames: bool = False,
        max_batch_samples: int | None = None,
        on_progress: ProgressFn | None = None,
    ) -> list[Prediction]:
        """Score 16 kHz mono float waveforms; results come back in input order.

        Clips are sorted by length and grouped so that batch size x longest clip stays under
        `max_batch_samples` (memory stays bounded whatever the corpus). With `frames=True` each
        Prediction also carries per-frame logits and embeddings (one row per 20 ms).
        """
        for i, wav in enumerate(waveforms):
            if len(wav) > MAX_CLIP_S * SAMPLE_RATE_HZ:
                raise TooLongError(
                    f"clip {i} is {len(wav) / SAMPLE_RATE_HZ:.0f} s long; one piece of audio can "
                    f"be at most {MAX_CLIP_S:.0f} s; `python -m core ingest` scores longer "
                    "recordings in windows."
                )
        budget = self.default_batch_samples if max_batch_samples is None else max_batch_samples
        results: list[Prediction | None] = [None] * len(waveforms)
        done = 0
        with self._lock:
            for batch in plan_batches([len(w) for w in waveforms], budget, self.batchable):
                outputs = self._forward([waveforms[i] for i in batch], frames)
                for index, prediction in zip(batch, outputs, strict=True):
                    results[index] = prediction
                done += len(batch)
                if on_progress:
                    on_progress(done, len(waveforms))
        return results  # type: ignore[return-value]

    @property
    def default_batch_samples(self) -> int:
        """0 on CPU (one clip per forward), 8 minutes of padded audio per batch on a GPU.

        Measured on 2 CPU cores (bench/results): padded batches ran at 0.83x (base) and 0.58x
        (large) the speed of one clip at a time: padding waste and O(T^2) attention outweigh
        the saved overhead. A GPU is mostly idle on one clip, so there batches pay.
        """
        return 0 if self.device == "cpu" else 480 * SAMPLE_RATE_HZ

    def _forward(self, waves: list[np.ndarray], frames: bool) -> list[Prediction]:
        import torch

        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        lengths = [len(w) for w in waves]
        source = torch.zeros(len(waves), max(lengths), dtype=torch.float32)
        for row, wav in enumerate(waves):
            clip = torch.from_numpy(np.asarray(wav, dtype=np.float32))
            if self.model.cfg.normalize:  # each clip over its own samples, as funasr does
                clip = torch.nn.functional.layer_norm(clip, clip.shape)
            source[row, : len(clip)] = clip
        padding = torch.arange(source.shape[1])[None, :] >= torch.tensor(lengths)[:, None]
        n_frames = [frame_count(n) for n in lengths]
        frame_pad = torch.arange(max(n_frames))[None, :] >= torch.tensor(n_frames)[:, None]
        source = source.to(self.device, dtype[self.precision])
        with torch.inference_mode(), self._zero_padded_positions(frame_pad.to(self.device)):
            features = self.model.extract_features(
                source, padding_mask=padding.to(self.device) if padding.any() else None
            )["x"]
            features = features.float()
            results = []
            for row, count in enumerate(n_frames):
                x = features[row, :count]
                mean = x.mean(dim=0)
                head = self.model.proj
                logits = self._mask_unused(head(mean.to(head.weight.dtype)).float())
                frame_logits = None
                if frames:
                    frame_logits = self._mask_unused(head(x.to(head.weight.dtype)).float())
                results.append(
                    Prediction(
                        scores=torch.softmax(logits, dim=-1).cpu().numpy(),
                        labels=self.labels,
                        embedding=mean.cpu().numpy(),
                        frame_logits=None if frame_logits is None else frame_logits.cpu().numpy(),
                        frame_embeddings=x.cpu().numpy() if frames else None,
                    )
                )
        return results

    def _mask_unused(self, logits):
        if self._unused.any():
            logits[..., self._unused] = float("-inf")
        return logits

    @contextlib.contextmanager
    def _zero_padded_positions(self, frame_pad) -> Iterator[None]:
        """Zero padded frames at the input of each positional conv, as the conv's own padding."""
        import torch

        encoder = self.model.modality_encoders["AUDIO"].relative_positional_encoder
        keep = (~frame_pad).unsqueeze(1)  # (B, 1, T) over conv input (B, C, T)

        def zero_padding(_module, inputs):
            (x,) = inputs
            return (x * keep.to(x.dtype),)

        hooks = []
        if frame_pad.any():
            hooks = [
                conv.register_forward_pre_hook(zero_padding)
                for conv in encoder.modules()
                if isinstance(conv, torch.nn.Conv1d)
            ]
        try:
            yield
        finally:
            for hook in hooks:
                hook.remove()


def frame_count(n_samples: int) -> int:
    """Frames the conv front end yields for n samples: 400-sample field, 320-sample hop."""
    return max(0, (n_samples - 400) // 320 + 1)


def plan_batches(
    lengths: Sequence[int], budget_samples: int, batchable: bool = True
) -> list[list[int]]:
    """Group clip indices, sorted by length, so that len(batch) * longest <= budget_samples.

    A clip longer than the budget forms a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[index]  # sorted ascending: the newcomer is the longest
        if current and (not batchable or (len(current) + 1) * longest > budget_samples):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def load_engine(
    model: str = DEFAULT_MODEL,
    device: str | None = None,
    *,
    hub: str = "ms",
    precision: str = "fp32",
    threads: int | None = None,
    on_download: BytesFn | None = None,
) -> Engine:
    """Load emotion2vec+ by hub id or directory; raise ModelLoadError with a way out if it fails.

    A hub model's first use downloads it; `on_download` hears the bytes on disk so far."""
    if precision not in PRECISIONS:
        raise InputError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}.")
    source = resolve_model(model, hub, on_download)
    for required in ("config.yaml", "model.pt", "tokens.txt"):
        if not (source.directory / required).exists():
            raise ModelLoadError(
                f"{source.directory} has no {required}; a model directory needs config.yaml, "
                "model.pt and tokens.txt."
            )
    device = pick_device(device)
    if precision != "fp32" and not device.startswith("cuda"):
        raise InputError(f"{precision} needs a CUDA GPU; on {device} use fp32.")
    threads = threads or int(os.environ.get("EMOSCOPE_THREADS", 0)) or (os.cpu_count() or 1)
    try:
        from funasr import AutoModel
    except ImportError as exc:
        raise ModelLoadError(
            "funasr is not installed: run `pip install -r requirements.txt` (torch first)."
        ) from exc
    log.info("loading %s from %s on %s", source.model_id, source.directory, device)
    with preserved_global_state():
        try:
            auto = AutoModel(
                model=str(source.directory), disable_update=True, device=device, ncpu=threads,
                log_level="WARNING", disable_pbar=True,
            )  # fmt: skip
        except Exception as exc:  # funasr raises bare AssertionError/KeyError on bad dirs
            raise ModelLoadError(
                f"funasr could not build the model in {source.directory}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    if auto.model.proj is None:
        raise ModelLoadError(f"{source.directory} has no emotion head (proj): not emotion2vec+.")
    check_checkpoint(auto.model, source.directory / "model.pt")
    if precision != "fp32":
        import torch

        auto.model.to({"bf16": torch.bfloat16, "fp16": torch.float16}[precision])
    return Engine(auto, source, device, precision)
