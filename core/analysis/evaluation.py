"""The model check's arithmetic: label mapping, confusion metrics and bootstrap intervals.

Pure functions on numpy arrays; the counts they start from are aggregated in DuckDB
(core.store.evaluation). Rows of a confusion matrix are the user's label (mapped to one of the nine
classes), columns the model's top emotion, both in core.model.labels.EMOTIONS order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.model.labels import EMOTIONS, UNTRAINED_LABEL

K = len(EMOTIONS)
RESAMPLES = 1000
SEED = 0
LEVEL = 0.95

# Common names of emotions in labelled datasets (RAVDESS, CREMA-D, IEMOCAP, EmoDB, MELD …)
# and what they are among the nine classes. Keys are normalised (see `normalise`).
DEFAULT_MAP: dict[str, str] = {
    **{e: e for e in EMOTIONS},
    "anger": "angry", "ang": "angry", "mad": "angry",
    "disgust": "disgusted", "dis": "disgusted",
    "fear": "fearful", "fea": "fearful", "afraid": "fearful", "scared": "fearful",
    "joy": "happy", "happiness": "happy", "hap": "happy", "glad": "happy",
    "calm": "neutral", "neutrality": "neutral", "neu": "neutral",
    "sadness": "sad",
    "surprise": "surprised", "sur": "surprised",
    "oth": "other",
    "unk": "unknown",
}  # fmt: skip


def normalise(label: str) -> str:
    """The form a label is matched in: trimmed, lower case, inner whitespace collapsed."""
    return " ".join(str(label).split()).lower()


def parse_map(items: Iterable[str]) -> dict[str, str | None]:
    """`label=class` strings (the CLI's --map) as {normalised label: class}; `label=` with no
    class leaves that label out on purpose (None)."""
    found: dict[str, str | None] = {}
    for item in items:
        label, sep, target = item.rpartition("=")  # the last '=': a label may hold one
        if not sep or not normalise(label):
            raise InputError(f"--map {item!r}: write it as LABEL=CLASS, e.g. calm=neutral.")
        found[normalise(label)] = check_class(target) if target.strip() else None
    return found


def check_class(name: str) -> str:
    """One of the nine classes, or an InputError naming them."""
    target = normalise(name)
    if target not in EMOTIONS:
        raise InputError(f"{name!r} is not one of the nine classes: {', '.join(EMOTIONS)}.")
    return target


def mapping_for(
    labels: Iterable[str], overrides: Mapping[str, str | None] = {}
) -> dict[str, str | None]:
    """The class of each label present (normalised), user overrides first; None = unmapped.

    An override of None leaves a label out on purpose (e.g. 'contempt' when no class fits).
    """
    wanted = {normalise(k): None if v is None else check_class(v) for k, v in overrides.items()}
    return {n: wanted[n] if n in wanted else DEFAULT_MAP.get(n)
            for n in sorted({normalise(x) for x in labels})}  # fmt: skip


def fold_counts(
    labels: Iterable[str], predicted: Iterable[str], n: Iterable[int], mapping: Mapping
) -> np.ndarray:
    """The (K, K) confusion counts from (raw label, top emotion, count) rows; unmapped rows
    (mapping gives None) are left out: the caller reports them."""
    confusion = np.zeros((K, K), np.int64)
    row_of = {e: i for i, e in enumerate(EMOTIONS)}
    for label, top, count in zip(labels, predicted, n, strict=True):
        target = mapping.get(normalise(label))
        if target is not None:
            confusion[row_of[target], row_of[top]] += int(count)
    return confusion


def per_class(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """n (true), predicted, precision, recall and F1 per class; NaN where undefined (0/0).

    F1 is 2·tp / (n + predicted): 0 for a class that has clips but is never found.
    """
    tp = np.diagonal(confusion, axis1=-2, axis2=-1).astype(float)
    n = confusion.sum(axis=-1).astype(float)
    predicted = confusion.sum(axis=-2).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "n": n,
            "predicted": predicted,
            "precision": np.where(predicted > 0, tp / predicted, np.nan),
            "recall": np.where(n > 0, tp / n, np.nan),
            "f1": np.where(n + predicted > 0, 2 * tp / (n + predicted), np.nan),
        }


def accuracy(confusion: np.ndarray) -> np.ndarray | float:
    """Share of clips whose top emotion is their (mapped) label; works on stacked matrices."""
    total = confusion.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.trace(confusion, axis1=-2, axis2=-1) / total, np.nan)


def macro_f1(confusion: np.ndarray) -> np.ndarray | float:
    """Mean F1 over the classes that have labelled clips (a class nobody labelled, but the
    model predicts, would add a meaningless 0); works on stacked matrices."""
    stats = per_class(confusion)
    present = stats["n"] > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, stats["f1"], 0.0).sum(axis=-1) / present.sum(axis=-1)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        return {k: _num(v) for k, v in (("value", self.value), ("low", self.low),
                                        ("high", self.high))}  # fmt: skip

    def text(self) -> str:
        if math.isnan(self.value):
            return "—"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap(
    confusion: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[Interval, Interval]:
    """Accuracy and macro-F1 with percentile intervals from resampling the clips.

    Resampling N (label, predicted) pairs with replacement gives a confusion matrix whose cell
    counts are multinomial(N, cell shares): drawing those counts directly is the same resampling
    at O(resamples x 81) memory instead of O(resamples x N). The seed makes it repeatable.
    """
    total = int(confusion.sum())
    point_acc, point_f1 = float(accuracy(confusion)), float(macro_f1(confusion))
    if total == 0:
        return Interval(point_acc, np.nan, np.nan), Interval(point_f1, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, confusion.ravel() / total, size=resamples).reshape(-1, K, K)
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    acc_low, acc_high = np.percentile(accuracy(draws), tails)
    f1_low, f1_high = np.nanpercentile(macro_f1(draws), tails)
    return (
        Interval(point_acc, float(acc_low), float(acc_high)),
        Interval(point_f1, float(f1_low), float(f1_high)),
    )


@dataclass(frozen=True)
class ModelReport:
    """One model's results on the labelled clips of a corpus."""

    model_key: str
    model_id: str
    untrained: bool
    confusion: np.ndarray  # (K, K) counts: rows the user's class, columns the top emotion
    accuracy: Interval
    macro_f1: Interval

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    def classes(self) -> list[str]:
        """Classes worth a row or column: labelled, or predicted, at least once."""
        used = (self.confusion.sum(axis=0) + self.confusion.sum(axis=1)) > 0
        return [e for e, u in zip(EMOTIONS, used, strict=True) if u]

    def note(self) -> str | None:
        """What a reader must know before trusting these numbers."""
        if self.untrained:
            return f"{UNTRAINED_LABEL}: random weights, these numbers mean nothing."
        return None

    def as_dict(self) -> dict:
        stats = per_class(self.confusion)
        return {
            "model_key": self.model_key, "model_id": self.model_id,
            "untrained": self.untrained, "note": self.note(), "n": self.n,
            "classes": list(EMOTIONS),
            "confusion": self.confusion.tolist(),
            "accuracy": self.accuracy.as_dict(), "macro_f1": self.macro_f1.as_dict(),
            "per_class": [{"class": e, **_class_row(stats, i)} for i, e in enumerate(EMOTIONS)],
        }  # fmt: skip


def report_for(model_key: str, model_id: str, untrained: bool, confusion: np.ndarray,
               resamples: int = RESAMPLES, seed: int = SEED) -> ModelReport:  # fmt: skip
    acc, f1 = bootstrap(confusion, resamples, seed)
    return ModelReport(model_key, model_id, untrained, confusion, acc, f1)


@dataclass(frozen=True)
class CorpusCheck:
    """The model check of one corpus: the label mapping used, what it left out, and a report
    per model that scored the labelled clips."""

    corpus: str
    track: str | None
    labels: dict[str, int]  # normalised label -> labelled clips
    mapping: dict[str, str | None]  # normalised label -> class (None: unmapped, left out)
    unlabelled: int  # clips of the corpus without a label
    reports: tuple[ModelReport, ...]
    resamples: int = RESAMPLES
    seed: int = SEED
    level: float = LEVEL

    @property
    def unmapped(self) -> dict[str, int]:
        """Labels no class was given to, with their clip counts: reported, never hidden."""
        return {k: n for k, n in self.labels.items() if self.mapping.get(k) is None}

    def as_dict(self) -> dict:
        return {
            "corpus": self.corpus, "track": self.track, "labels": self.labels,
            "mapping": self.mapping, "unmapped": self.unmapped, "unlabelled": self.unlabelled,
            "bootstrap": {"resamples": self.resamples, "seed": self.seed, "level": self.level,
                          "method": "percentile, clips resampled with replacement"},
            "models": [r.as_dict() for r in self.reports],
        }  # fmt: skip


def report_rows(check: CorpusCheck) -> list[dict]:
    """One flat row per model and class (CSV export): its metrics, its row of the confusion
    matrix (`predicted_<class>` counts) and the model's overall figures."""
    rows = []
    for report in check.reports:
        stats = per_class(report.confusion)
        overall = {
            f"{name}_{part}": value
            for name, interval in (("accuracy", report.accuracy), ("macro_f1", report.macro_f1))
            for part, value in interval.as_dict().items()
        }
        for i, emotion in enumerate(EMOTIONS):
            rows.append({
                "corpus": check.corpus, "model_key": report.model_key,
                "model_id": report.model_id, "untrained": report.untrained, "class": emotion,
                **_class_row(stats, i),
                **{f"predicted_{e}": int(report.confusion[i, j]) for j, e in enumerate(EMOTIONS)},
                **overall,
            })  # fmt: skip
    return rows


def _class_row(stats: dict[str, np.ndarray], i: int) -> dict:
    """Class i's counts (ints) and rates (None where undefined)."""
    return {k: int(v[i]) if k in ("n", "predicted") else _num(v[i]) for k, v in stats.items()}


def _num(value) -> float | None:
    """A JSON-safe number: NaN (undefined) becomes None."""
    value = float(value)
    return None if math.isnan(value) else value
