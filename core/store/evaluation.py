"""The model check's queries: labels of a corpus, and (label, top emotion) counts per model.

Everything is aggregated in DuckDB; Python receives one row per (model, label, top emotion),
a few hundred at most, and folds the user's labels into the nine classes (core.analysis.evaluation), so
changing the mapping never re-reads the corpus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from core.analysis.evaluation import (
    RESAMPLES,
    SEED,
    CorpusCheck,
    fold_counts,
    mapping_for,
    normalise,
    report_for,
)
from core.errors import InputError
from core.model.labels import EMOTIONS
from core.store.models import list_models

HOW_TO_LABEL = (
    "add your own labels with a manifest CSV: a `label` column (any names: anger, joy, calm …),"
    " or `python -m core ingest FOLDER --corpus NAME --manifest labels.csv --label-column"
    " COLUMN`; the files already scored are not scored again"
)
CELL_ROWS = 500  # clips listed for one cell of the confusion matrix


def labelled_corpora(store) -> pd.DataFrame:
    """Every corpus with its clip count and how many of its clips carry a label."""
    return _frame(
        store,
        "SELECT co.name AS corpus, count(c.clip_id) AS clips, count(c.label) AS labelled"
        " FROM corpora co LEFT JOIN clips c USING (corpus_id) GROUP BY co.name ORDER BY co.name",
    )


def label_counts(store, corpus: str) -> pd.DataFrame:
    """The corpus's labels as stored (NULL: unlabelled) with their clip counts."""
    return _frame(
        store,
        "SELECT c.label, count(*) AS clips FROM clips c JOIN corpora co USING (corpus_id)"
        " WHERE co.name = ? GROUP BY c.label ORDER BY clips DESC, c.label",
        [corpus],
    )


def pair_counts(store, corpus: str, track: str | None = None) -> pd.DataFrame:
    """(model_key, label, predicted, n): labelled tracks of the corpus per model, label and
    top emotion. `track` keeps one track of split recordings ('customer'); None keeps all."""
    sql = (
        "SELECT p.model_key, c.label, p.top_label AS predicted, count(*) AS n"
        " FROM clips c JOIN corpora co USING (corpus_id)"
        " JOIN predictions p ON p.clip_id = c.clip_id"
        " WHERE co.name = ? AND c.label IS NOT NULL"
    )
    params: list = [corpus]
    if track is not None:
        sql += " AND p.track = ?"
        params.append(track)
    return _frame(store, sql + " GROUP BY ALL ORDER BY ALL", params)


def labelled_tracks(store, corpus: str) -> list[str]:
    """Track names among the corpus's labelled clips ('mix', or the roles of split calls)."""
    frame = _frame(
        store,
        "SELECT DISTINCT p.track FROM clips c JOIN corpora co USING (corpus_id)"
        " JOIN predictions p ON p.clip_id = c.clip_id"
        " WHERE co.name = ? AND c.label IS NOT NULL ORDER BY 1",
        [corpus],
    )
    return list(frame.track)


def cell_clips(store, corpus: str, model_key: str, labels: Sequence[str], predicted: str,
               track: str | None = None, limit: int = CELL_ROWS) -> pd.DataFrame:  # fmt: skip
    """The clips behind one cell: labelled with one of `labels` (as stored) and given
    `predicted` as top emotion by the model; the most confident first."""
    if predicted not in EMOTIONS:
        raise InputError(f"{predicted!r} is not one of the nine classes.")
    sql = (
        "SELECT c.clip_id, c.source_name, p.track, c.label, p.top_label, p.confidence,"
        " c.duration_s, c.agent FROM clips c JOIN corpora co USING (corpus_id)"
        " JOIN predictions p ON p.clip_id = c.clip_id AND p.model_key = ?"
        " WHERE co.name = ? AND c.label IN (SELECT unnest(?::VARCHAR[])) AND p.top_label = ?"
    )
    params: list = [model_key, corpus, list(labels), predicted]
    if track is not None:
        sql += " AND p.track = ?"
        params.append(track)
    sql += " ORDER BY p.confidence DESC, c.source_name, p.track LIMIT ?"
    return _frame(store, sql, [*params, int(limit)])


def check_corpus(store, corpus: str, overrides: Mapping[str, str] = {},
                 model_keys: Sequence[str] | None = None, track: str | None = None,
                 resamples: int = RESAMPLES, seed: int = SEED) -> CorpusCheck:  # fmt: skip
    """The model check of a corpus: every model that scored its labelled clips (or the ones
    named), with the labels mapped by the defaults and `overrides`.

    Raises InputError, with what to do, for an unknown corpus or one without labels.
    """
    corpora = labelled_corpora(store)
    if corpus not in set(corpora.corpus):
        known = ", ".join(corpora.corpus) or "none yet"
        raise InputError(f"no corpus named {corpus!r} (corpora: {known}).")
    labels = label_counts(store, corpus)
    labelled = labels[labels.label.notna()]
    if labelled.empty:
        raise InputError(f"corpus {corpus!r} has no labelled clips: {HOW_TO_LABEL}.")
    counts = pair_counts(store, corpus, track)
    mapping = mapping_for(labelled.label, overrides)
    by_label: dict[str, int] = {}
    for label, n in zip(labelled.label, labelled.clips, strict=True):
        key = normalise(label)
        by_label[key] = by_label.get(key, 0) + int(n)
    models = list_models(store).set_index("model_key")
    keys = list(model_keys) if model_keys else sorted(set(counts.model_key))
    if not keys:
        raise InputError(f"no model has scored the labelled clips of {corpus!r}"
                         + (f" on track {track!r}." if track else "."))  # fmt: skip
    reports = []
    for key in keys:
        rows = counts[counts.model_key == key]
        if key not in models.index or rows.empty:
            raise InputError(f"model {key!r} has not scored the labelled clips of {corpus!r}.")
        confusion = fold_counts(rows.label, rows.predicted, rows.n, mapping)
        info = models.loc[key]
        reports.append(report_for(key, str(info.model_id), bool(info.untrained), confusion,
                                  resamples, seed))  # fmt: skip
    unlabelled = int(labels[labels.label.isna()].clips.sum())
    return CorpusCheck(corpus, track, by_label, mapping, unlabelled, tuple(reports), resamples,
                       seed)  # fmt: skip


def raw_labels_of(store, corpus: str, target: str, mapping: Mapping[str, str | None]) -> list[str]:
    """The labels, as stored, that the mapping sends to class `target` (for `cell_clips`)."""
    labels = label_counts(store, corpus).label.dropna()
    return [x for x in labels if mapping.get(normalise(x)) == target]


def _frame(store, sql: str, params: Sequence = ()) -> pd.DataFrame:
    """One read query on the store's short-lived read-only connection."""
    with store.reading() as con:
        return con.execute(sql, list(params)).df()
