"""Finding and checking a model before it runs: where its files are (hub or directory), its
fingerprint, the device, and the checkpoint check; core.model.engine loads and runs it."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InputError, ModelLoadError
from core.model.hub import BytesFn, hub_directory

HUB_MODELS = ("emotion2vec_plus_large", "emotion2vec_plus_base", "emotion2vec_plus_seed")


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are: a local directory and the id it is known by."""

    model_id: str
    directory: Path


def resolve_model(model: str, hub: str = "ms", on_bytes: BytesFn | None = None) -> ModelSource:
    """Turn a hub id or a directory into a local directory, downloading on first use only
    (`on_bytes` hears how much of it is on disk, once a second, while it downloads)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return ModelSource(model_id=path.resolve().name, directory=path.resolve())
    short = model.split("/")[-1]
    if short not in HUB_MODELS:
        raise ModelLoadError(
            f"{model!r} is neither a model directory nor a known model; choose one of "
            f"{', '.join(HUB_MODELS)}, or pass a directory holding config.yaml and model.pt."
        )
    return ModelSource(model_id=short, directory=hub_directory(short, hub, on_bytes))


def fingerprint(directory: Path) -> str:
    """A short revision hash of config.yaml, tokens.txt and model.pt (size + sampled bytes).

    Sampling keeps it fast on a 1-2 GB checkpoint while any retrained or replaced file differs.
    """
    digest = hashlib.sha256()
    for name in ("config.yaml", "tokens.txt"):
        file = directory / name
        digest.update(file.read_bytes() if file.exists() else b"")
    weights = directory / "model.pt"
    size = weights.stat().st_size
    digest.update(str(size).encode())
    chunk = 1 << 20
    with weights.open("rb") as handle:
        for offset in (0, max(0, size // 2 - chunk // 2), max(0, size - chunk)):
            handle.seek(offset)
            digest.update(handle.read(chunk))
    return digest.hexdigest()[:12]


def pick_device(device: str | None = None) -> str:
    """cuda > mps > cpu unless the caller names one."""
    import torch

    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {device!r} was asked for but no CUDA GPU is visible.")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@contextlib.contextmanager
def preserved_global_state() -> Iterator[None]:
    """AutoModel seeds every global RNG and turns logging to INFO; undo both for our callers."""
    import torch

    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        root.setLevel(level)
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)


def check_checkpoint(module, weights: Path) -> None:
    """Refuse a checkpoint that lacks a weight of the architecture, or has it in another shape."""
    import torch

    try:
        state = torch.load(weights, map_location="cpu", mmap=True, weights_only=True)
    except RuntimeError:  # legacy (non-zip) files cannot be memory-mapped
        state = torch.load(weights, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    missing, wrong = [], []
    for key, tensor in module.state_dict().items():
        if key not in state:
            missing.append(key)
        elif tuple(state[key].shape) != tuple(tensor.shape):
            wrong.append(f"{key} {tuple(state[key].shape)} != {tuple(tensor.shape)}")
    if missing or wrong:
        problems = missing[:5] + wrong[:5]
        raise ModelLoadError(
            f"{weights} does not match its config.yaml: {len(missing)} weights missing and "
            f"{len(wrong)} of another shape (e.g. {'; '.join(problems)}). funasr would fill "
            "these with random values; the model directory is incomplete or mixed up."
        )
