"""The model check (#13): labels from a manifest, the mapping to nine classes, metrics checked
against sklearn, the CLI's output, the page, and RAVDESS recomputed from the stored rows."""

from __future__ import annotations

import base64
import csv
import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from core.analysis.evaluation import (
    DEFAULT_MAP,
    accuracy,
    bootstrap,
    fold_counts,
    macro_f1,
    mapping_for,
    parse_map,
    per_class,
    report_rows,
)
from core.errors import InputError
from core.ingest.metadata import from_manifest, from_pattern
from core.model.labels import EMOJI, EMOTIONS
from core.store.evaluation import cell_clips, check_corpus, labelled_tracks, raw_labels_of
from dashboard.text import literal
from tests.apptest import open_page
from tests.cli.test_cli import run
from tests.conftest import RAVDESS

# Labels in a user's own words: cased, padded, one that maps to no class.


def random_pairs(n: int, seed: int, missing: tuple[str, ...] = ("other", "unknown")):
    """Labels and predictions over the nine classes, some classes never labelled."""
    rng = np.random.default_rng(seed)
    classes = [e for e in EMOTIONS if e not in missing]
    truth = rng.choice(classes, n)
    # Mostly right, else anything (including classes nobody labelled).
    pred = np.where(rng.random(n) < 0.55, truth, rng.choice(EMOTIONS, n))
    return truth, pred


def confusion_of(truth, pred) -> np.ndarray:
    frame = pd.DataFrame({"label": truth, "predicted": pred}).value_counts().reset_index()
    return fold_counts(frame.label, frame.predicted, frame["count"], {e: e for e in EMOTIONS})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_sklearn(seed):
    truth, pred = random_pairs(400, seed)
    confusion = confusion_of(truth, pred)
    np.testing.assert_array_equal(confusion, confusion_matrix(truth, pred, labels=list(EMOTIONS)))
    stats = per_class(confusion)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=list(EMOTIONS), zero_division=np.nan
    )
    np.testing.assert_array_equal(stats["n"], support)
    np.testing.assert_allclose(stats["precision"], precision, equal_nan=True)
    np.testing.assert_allclose(stats["recall"], recall, equal_nan=True)
    # sklearn leaves F1 undefined when precision is; ours is 2tp/(n+predicted), 0 for a class
    # with clips that is never predicted. Where sklearn defines it, both agree.
    defined = ~np.isnan(f1)
    np.testing.assert_allclose(stats["f1"][defined], f1[defined])
    assert accuracy(confusion) == pytest.approx(accuracy_score(truth, pred))
    present = [e for e in EMOTIONS if (truth == e).any()]
    expected = f1_score(truth, pred, labels=present, average="macro", zero_division=0)
    assert macro_f1(confusion) == pytest.approx(expected)


def test_a_class_never_predicted_has_f1_zero_and_counts_in_macro_f1():
    truth = np.array(["angry"] * 5 + ["sad"] * 5)
    pred = np.array(["angry"] * 5 + ["angry"] * 5)
    stats = per_class(confusion_of(truth, pred))
    sad = EMOTIONS.index("sad")
    assert np.isnan(stats["precision"][sad]) and stats["recall"][sad] == 0
    assert stats["f1"][sad] == 0
    assert macro_f1(confusion_of(truth, pred)) == pytest.approx((2 * 5 / 15 + 0) / 2)


def test_bootstrap_is_repeatable_and_matches_resampling_the_clips():
    truth, pred = random_pairs(300, 5)
    confusion = confusion_of(truth, pred)
    acc, f1 = bootstrap(confusion, resamples=4000, seed=7)
    assert (acc, f1) == bootstrap(confusion, resamples=4000, seed=7)  # same seed, same numbers
    assert acc != bootstrap(confusion, resamples=4000, seed=8)[0]
    assert acc.low < acc.value < acc.high and f1.low < f1.value < f1.high
    # Independently: resample the 300 (label, predicted) pairs themselves with sklearn.
    rng = np.random.default_rng(123)
    accs, f1s = [], []
    for _ in range(4000):
        pick = rng.integers(0, len(truth), len(truth))
        t, p = truth[pick], pred[pick]
        accs.append(accuracy_score(t, p))
        f1s.append(f1_score(t, p, labels=sorted(set(t)), average="macro", zero_division=0))
    # Two Monte Carlo estimates of the same percentiles agree to well under a point.
    assert acc.low == pytest.approx(np.percentile(accs, 2.5), abs=0.006)
    assert acc.high == pytest.approx(np.percentile(accs, 97.5), abs=0.006)
    assert f1.low == pytest.approx(np.percentile(f1s, 2.5), abs=0.006)
    assert f1.high == pytest.approx(np.percentile(f1s, 97.5), abs=0.006)


def test_default_mapping_of_common_names():
    mapping = mapping_for(["Anger", " JOY ", "happiness", "calm", "disgust", "fear", "surprise",
                           "sadness", "neutral", "contempt"])  # fmt: skip
    assert mapping == {
        "anger": "angry", "joy": "happy", "happiness": "happy", "calm": "neutral",
        "disgust": "disgusted", "fear": "fearful", "surprise": "surprised", "sadness": "sad",
        "neutral": "neutral", "contempt": None,
    }  # fmt: skip
    assert all(v in EMOTIONS for v in DEFAULT_MAP.values())


def test_overrides_win_and_are_checked():
    assert parse_map(["Calm=sad", "contempt = Disgusted"]) == {
        "calm": "sad", "contempt": "disgusted",
    }  # fmt: skip
    assert mapping_for(["calm", "contempt"], parse_map(["calm=sad", "contempt=disgusted"])) == {
        "calm": "sad", "contempt": "disgusted",
    }  # fmt: skip
    with pytest.raises(InputError, match="LABEL=CLASS"):
        parse_map(["calm"])
    assert parse_map(["calm=", "a=b=sad"]) == {"calm": None, "a=b": "sad"}  # left out; last '='
    assert mapping_for(["calm", "joy"], {"calm": None}) == {"calm": None, "joy": "happy"}
    with pytest.raises(InputError, match="not one of the nine classes"):
        parse_map(["calm=relaxed"])


def test_manifest_label_column(tmp_path):
    text = b"path,label,emotion\na.wav, Joy ,happy\nb.wav,,sad\n"
    default = from_manifest(text, "m.csv")
    assert default("a.wav").label == "Joy" and default("b.wav").label is None
    chosen = from_manifest(text, "m.csv", label_column="Emotion")
    assert chosen("a.wav").label == "happy" and chosen("b.wav").label == "sad"
    with pytest.raises(InputError, match="no column 'mood'"):
        from_manifest(text, "m.csv", label_column="mood")
    assert from_pattern("{label}/*.wav")("angry/x.wav").label == "angry"


# -- a real database: the test corpus labelled in the user's words, scored by two models -------


def stored_pairs(db, corpus: str, model_key: str) -> pd.DataFrame:
    """Independently of core: each labelled clip's label and top emotion, straight from SQL."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT c.label, p.top_label FROM clips c JOIN corpora co USING (corpus_id)"
            " JOIN predictions p USING (clip_id) WHERE co.name = ? AND p.model_key = ?"
            " AND c.label IS NOT NULL",
            [corpus, model_key],
        ).df()


def expected_classes(labels: pd.Series) -> pd.Series:
    # Written out here rather than taken from core.analysis.evaluation: the test's own idea of the map.
    words = {"anger": "angry", "joy": "happy", "calm": "neutral", "sad": "sad",
             "surprise": "surprised"}  # fmt: skip
    return labels.str.strip().str.lower().map(words)


def test_labels_are_stored_and_a_cached_reingest_updates_them(labelled_db, engine, corpus_dir,
                                                              tmp_path):  # fmt: skip
    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect

    store, labels = labelled_db
    with duckdb.connect(str(store.path), read_only=True) as con:
        stored = dict(con.execute("SELECT source_name, label FROM clips JOIN corpora"
                                  " USING (corpus_id) WHERE name = 'calls'").fetchall())  # fmt: skip
    assert stored == {n: v.strip() for n, v in labels.items()}
    copy = tmp_path / "copy.duckdb"
    shutil.copy(store.path, copy)
    from core.store.database import Store

    again = Store(copy)
    (tmp_path / "m.csv").write_text("path,label\nalice/2024-05-01_0.wav,fear\n")
    summary = ingest(again, engine, collect([corpus_dir / "alice"]), "plain",
                     metadata=from_manifest(tmp_path / "m.csv"))  # fmt: skip
    assert summary.cached == 4 and summary.scored == 0  # no model work to add a label
    partly = check_corpus(again, "plain")
    assert partly.labels == {"fear": 1} and partly.unlabelled == 3  # the other 3 are counted
    assert partly.reports[0].confusion[EMOTIONS.index("fearful")].sum() == 1


def test_check_corpus_equals_an_independent_count(labelled_db):
    store, _ = labelled_db
    check = check_corpus(store, "calls")
    assert check.labels == {"anger": 2, "calm": 2, "contempt": 2, "joy": 2, "sad": 2,
                            "surprise": 2}  # fmt: skip
    assert check.unmapped == {"contempt": 2} and check.unlabelled == 0
    assert len(check.reports) == 2 and all(r.untrained for r in check.reports)
    for report in check.reports:
        pairs = stored_pairs(store.path, "calls", report.model_key)
        truth = expected_classes(pairs.label)
        kept = truth.notna()
        expected = confusion_matrix(truth[kept], pairs.top_label[kept], labels=list(EMOTIONS))
        np.testing.assert_array_equal(report.confusion, expected)
        assert report.n == 10  # 12 clips, the 2 'contempt' ones left out and reported
        assert report.accuracy.value == pytest.approx(
            accuracy_score(truth[kept], pairs.top_label[kept])
        )


def test_a_mapping_override_moves_the_unmapped_clips_in(labelled_db):
    store, _ = labelled_db
    check = check_corpus(store, "calls", {"contempt": "disgusted", "calm": "sad"})
    assert check.unmapped == {}
    for report in check.reports:
        assert report.n == 12
        assert report.confusion[EMOTIONS.index("disgusted")].sum() == 2
        assert report.confusion[EMOTIONS.index("sad")].sum() == 4  # sad + calm
        assert report.confusion[EMOTIONS.index("neutral")].sum() == 0


def test_cell_clips_are_the_clips_behind_a_cell(labelled_db):
    store, _ = labelled_db
    check = check_corpus(store, "calls")
    report = check.reports[0]
    row, col = np.unravel_index(np.argmax(report.confusion), report.confusion.shape)
    labels = raw_labels_of(store, "calls", EMOTIONS[row], check.mapping)
    clips = cell_clips(store, "calls", report.model_key, labels, EMOTIONS[col])
    assert len(clips) == report.confusion[row, col]
    pairs = stored_pairs(store.path, "calls", report.model_key)
    assert set(clips.label) <= set(pairs.label)
    assert (clips.top_label == EMOTIONS[col]).all()
    assert list(clips.confidence) == sorted(clips.confidence, reverse=True)
    assert labelled_tracks(store, "calls") == ["mix"]


def test_split_calls_are_checked_per_track_or_all(labelled_db):
    store, _ = labelled_db
    assert labelled_tracks(store, "stereo") == ["agent", "customer"]
    both = check_corpus(store, "stereo").reports[0]
    customer = check_corpus(store, "stereo", track="customer").reports[0]
    assert both.n == 4 and customer.n == 2
    angry, sad = EMOTIONS.index("angry"), EMOTIONS.index("sad")
    assert customer.confusion[angry].sum() == 1 and customer.confusion[sad].sum() == 1
    with duckdb.connect(str(store.path), read_only=True) as con:
        tops = con.execute("SELECT c.label, p.top_label FROM clips c JOIN predictions p"
                           " USING (clip_id) WHERE p.track = 'customer' AND c.label IS NOT NULL"
                           " AND c.source_name LIKE 'call%'").fetchall()  # fmt: skip
    expected = np.zeros((len(EMOTIONS), len(EMOTIONS)), int)
    for label, top in tops:
        expected[angry if label == "anger" else sad, EMOTIONS.index(top)] += 1
    np.testing.assert_array_equal(customer.confusion, expected)


def test_unknown_corpus_and_corpus_without_labels_say_what_to_do(labelled_db):
    store, _ = labelled_db
    with pytest.raises(InputError, match="no corpus named 'nope'"):
        check_corpus(store, "nope")
    with pytest.raises(InputError, match="--label-column"):
        check_corpus(store, "plain")


# -- the command line ----------------------------------------------------------------------------


def test_cli_json_values(labelled_db, tmp_path):
    store, _ = labelled_db
    out = tmp_path / "check.csv"
    result = run("evaluate", "--corpus", "calls", "--json", "--db", store.path, "--out", out,
                 "--map", "contempt=disgusted")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["unmapped"] == {} and report["mapping"]["contempt"] == "disgusted"
    assert report["bootstrap"]["resamples"] == 1000 and report["bootstrap"]["seed"] == 0
    assert len(report["models"]) == 2
    for model in report["models"]:
        pairs = stored_pairs(store.path, "calls", model["model_key"])
        words = {"contempt": "disgusted"}
        truth = pairs.label.str.strip().str.lower().map(words).fillna(expected_classes(pairs.label))
        assert (
            model["confusion"]
            == confusion_matrix(truth, pairs.top_label, labels=list(EMOTIONS)).tolist()
        )
        assert model["accuracy"]["value"] == pytest.approx(accuracy_score(truth, pairs.top_label))
        present = sorted(set(truth))
        assert model["macro_f1"]["value"] == pytest.approx(
            f1_score(truth, pairs.top_label, labels=present, average="macro", zero_division=0)
        )
        assert model["untrained"] and "mean nothing" in model["note"]
        support = {c["class"]: c["n"] for c in model["per_class"]}
        assert support == {e: int((truth == e).sum()) for e in EMOTIONS}
    table = pd.read_csv(out)
    assert len(table) == 2 * len(EMOTIONS)
    row = table[(table["class"] == "disgusted")].iloc[0]
    assert row.n == 2 and row[[f"predicted_{e}" for e in EMOTIONS]].sum() == 2


def test_cli_text_reports_unmapped_labels_and_untrained_model(labelled_db):
    store, _ = labelled_db
    result = run("evaluate", "--corpus", "calls", "--db", store.path, "--resamples", "200")
    assert result.returncode == 0, result.stderr
    assert "1 label(s) on 2 clip(s) map to no class and are left out: contempt (2)" in result.stdout
    assert "warning: 1 label(s)" in result.stderr
    assert result.stdout.count("untrained test model: random weights") == 2
    assert "200 resamples" in result.stdout and "confusion (rows: your label" in result.stdout


def test_cli_one_model_and_errors(labelled_db, engine):
    store, _ = labelled_db
    one = run("evaluate", "--corpus", "calls", "--db", store.path, "--model", engine.model_key,
              "--json")  # fmt: skip
    assert [m["model_key"] for m in json.loads(one.stdout.splitlines()[-1])["models"]] == [
        engine.model_key
    ]
    for args, message in [
        (["--corpus", "plain"], "has no labelled clips"),
        (["--corpus", "calls", "--map", "calm"], "LABEL=CLASS"),
        (["--corpus", "calls", "--track", "customer"], "no model has scored"),
        (["--corpus", "calls", "--resamples", "0"], "at least 1"),
        (["--corpus", "calls", "--out", "/nonexistent/dir/x.csv"], "cannot write"),
        (["--corpus", "calls", "--model", "nope"], "no results of model 'nope'"),
    ]:
        bad = run("evaluate", *args, "--db", store.path)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_cli_label_column_needs_a_manifest(tmp_path, corpus_dir, tiny_model_dir):
    bad = run("ingest", corpus_dir, "--corpus", "c", "--label-column", "emotion", "--model",
              tiny_model_dir, "--db", tmp_path / "x.duckdb")  # fmt: skip
    assert bad.returncode == 2 and "add --manifest" in bad.stderr


# -- RAVDESS: ingest 2 actors from the manifest, evaluate, recompute from the stored rows -------


def test_ravdess_check_recomputes_exactly(tmp_path, ravdess_pair):
    rows = [r for r in csv.DictReader((RAVDESS / "manifest.csv").open())
            if r["actor"] in ("actor_01", "actor_02")]  # fmt: skip
    db = tmp_path / "rav.duckdb"
    shutil.copy(ravdess_pair[0], db)  # ingested with the manifest's labels (tests/conftest.py)
    assert ravdess_pair[1]["scored"] == len(rows) == 120
    result = run("evaluate", "--corpus", "ravdess", "--db", db, "--json")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout.splitlines()[-1])["models"][0]
    # The held-out recomputation: SQL on the file, RAVDESS's words mapped by hand, sklearn.
    with duckdb.connect(str(db), read_only=True) as con:
        pairs = con.execute("SELECT c.source_name, c.label, p.top_label FROM clips c"
                            " JOIN predictions p USING (clip_id)").df()  # fmt: skip
    by_path = {r["path"]: r["emotion"] for r in rows}
    assert dict(zip(pairs.source_name, pairs.label, strict=True)) == {
        k.split("/", 1)[1]: v for k, v in by_path.items()
    }
    ravdess = {"neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad",
               "angry": "angry", "fearful": "fearful", "disgust": "disgusted",
               "surprised": "surprised"}  # fmt: skip
    truth = pairs.label.map(ravdess)
    assert truth.notna().all()
    assert (
        model["confusion"]
        == confusion_matrix(truth, pairs.top_label, labels=list(EMOTIONS)).tolist()
    )
    assert model["n"] == 120
    assert model["accuracy"]["value"] == accuracy_score(truth, pairs.top_label)
    assert model["macro_f1"]["value"] == pytest.approx(
        f1_score(truth, pairs.top_label, labels=sorted(set(truth)), average="macro",
                 zero_division=0), abs=1e-12)  # fmt: skip


# -- the page ------------------------------------------------------------------------------------


def check_page(db, monkeypatch, **params):
    return open_page("model_check", db, monkeypatch, **params)


def table(at, column: str) -> pd.DataFrame:
    """The page's table that has this column (plain tables carry no key in AppTest)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def figure(at, key: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key))
    return json.loads(chart.proto.spec)


def heat_z(at) -> np.ndarray:
    """The confusion heatmap's cell values (plotly ships numpy arrays base64-encoded)."""
    z = figure(at, "confusion")["data"][0]["z"]
    if isinstance(z, dict):
        shape = tuple(int(n) for n in z["shape"].split(","))
        return np.frombuffer(base64.b64decode(z["bdata"]), z["dtype"]).reshape(shape)
    return np.asarray(z)


def test_page_without_labels_says_how_to_add_them(seeded_db, tmp_path, monkeypatch):
    at = check_page(seeded_db, monkeypatch)
    assert any("No corpus has labels yet" in i.value and "--label-column" in i.value
               for i in at.info)  # fmt: skip
    assert "--label-column emotion" in at.code[0].value
    empty = check_page(tmp_path / "empty.duckdb", monkeypatch)  # nothing scored at all
    assert any("Upload & analyse" in i.value for i in empty.info)


def test_page_shows_the_check_of_a_labelled_corpus(labelled_db, engine, monkeypatch):
    store, _ = labelled_db
    check = check_corpus(store, "calls")
    mine = next(r for r in check.reports if r.model_key == engine.model_key)
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key)
    assert [m.value for m in at.metric] == [f"{mine.accuracy.value:.1%}",
                                            f"{mine.macro_f1.value:.3f}"]  # fmt: skip
    assert any(f"{mine.accuracy.low:.1%} – {mine.accuracy.high:.1%}" in c.value for c in at.caption)
    warnings = " ".join(w.value for w in at.main.warning)
    assert "Left out, as they map to no class: contempt (2) (labels: 1; clips: 2)" in warnings
    assert warnings.count("**untrained test model**") == 2 and "mean nothing" in warnings
    assert any("1,000 resamples" in c.value for c in at.caption)
    # Side by side: both models, their intervals, and the charts.
    compare = table(at, "macro-F1")
    assert len(compare) == 2 and set(compare.accuracy) == {r.accuracy.text() for r in check.reports}
    assert {"compare_chart", "f1_chart", "confusion"} <= {
        c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")
    }
    classes = mine.classes()
    shown = mine.confusion[np.ix_([EMOTIONS.index(e) for e in classes],
                                  [EMOTIONS.index(e) for e in classes])]  # fmt: skip
    np.testing.assert_array_equal(heat_z(at), shown)
    per_class_table = table(at, "precision")
    assert list(per_class_table.n) == [int(mine.confusion[EMOTIONS.index(e)].sum())
                                       for e in classes]  # fmt: skip
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Report (CSV: one row per model and class)", "Report (JSON)"]


def test_page_counts_and_row_normalised_views(labelled_db, engine, monkeypatch):
    store, _ = labelled_db
    report = check_corpus(store, "calls", model_keys=[engine.model_key]).reports[0]
    index = [EMOTIONS.index(e) for e in report.classes()]
    counts = report.confusion[np.ix_(index, index)]
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key)
    show = next(r for r in at.radio if r.label == "Show")
    assert show.options == ["counts", "row-normalised"] and show.value == "counts"
    np.testing.assert_array_equal(heat_z(at), counts)
    show.set_value("row-normalised").run()
    assert at.query_params["show"] == "row-normalised"
    totals = counts.sum(axis=1, keepdims=True)
    expected = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    np.testing.assert_allclose(heat_z(at), expected)
    shared = check_page(store.path, monkeypatch, corpus="calls", show="row-normalised")
    assert next(r for r in shared.radio if r.label == "Show").value == "row-normalised"


def test_page_picks_another_corpus_track_and_model(labelled_db, engine, second_model, monkeypatch):
    store, _ = labelled_db
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key)
    corpus = next(s for s in at.selectbox if s.label == "Corpus")
    assert corpus.options == ["bobs (labelled: 4 of 4)", "calls (labelled: 12 of 12)",
                              "stereo (labelled: 2 of 2)"]  # fmt: skip
    corpus.set_value("bobs").run()
    bobs = check_corpus(store, "bobs", model_keys=[engine.model_key]).reports[0]
    assert bobs.n == 3  # bob's 4 clips, one labelled 'contempt' (left out)
    assert any(": 3 labelled tracks" in s.value for s in at.subheader)
    assert next(m.value for m in at.metric) == f"{bobs.accuracy.value:.1%}"
    stereo = check_page(store.path, monkeypatch, corpus="stereo", model=engine.model_key)
    track = next(s for s in stereo.selectbox if s.label == "Track")
    assert track.options == ["all tracks", "agent", "customer"]
    assert any("4 labelled tracks" in s.value for s in stereo.subheader)
    track.set_value("customer").run()
    assert any("2 labelled tracks" in s.value for s in stereo.subheader)
    assert stereo.query_params["track"] == "customer"
    other = check_page(store.path, monkeypatch, corpus="calls", model=second_model.model_key)
    theirs = check_corpus(store, "calls", model_keys=[second_model.model_key]).reports[0]
    assert next(m.value for m in other.metric) == f"{theirs.accuracy.value:.1%}"
    assert any(literal(second_model.model_id) in s.value for s in other.subheader)


def test_page_mapping_from_the_url_and_the_editor(labelled_db, engine, monkeypatch):
    store, _ = labelled_db
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key,
                    map=["calm=sad", "anger=", "joy=nonsense"])  # fmt: skip
    editor = at.data_editor[0].value
    # The table shows the mapping in force: defaults, the URL's overrides; junk is ignored.
    assert dict(zip(editor.label, editor["class"], strict=True)) == {
        "anger": "(left out)", "calm": "sad", "contempt": "(left out)", "joy": "happy",
        "sad": "sad", "surprise": "surprised",
    }  # fmt: skip
    assert list(editor.clips) == [2] * 6
    expected = check_corpus(store, "calls", {"calm": "sad", "anger": None},
                            [engine.model_key]).reports[0]  # fmt: skip
    assert next(m.value for m in at.metric) == f"{expected.accuracy.value:.1%}"
    assert "no class: anger (2), contempt (2) (labels: 2; clips: 4)" in " ".join(
        w.value for w in at.main.warning
    )
    shown = table(at, "precision")
    support = dict(zip(shown["class"], shown.n, strict=True))
    assert support["😢 sad"] == 4 and "😐 neutral" not in support and "😠 angry" not in support
    assert sorted(at.query_params["map"]) == ["anger=", "calm=sad"]
    # An edit in the table: contempt becomes disgusted (rows are sorted by label).
    row = list(editor.label).index("contempt")
    at.session_state[at.data_editor[0].key] = {"edited_rows": {row: {"class": "disgusted"}},
                                   "added_rows": [], "deleted_rows": []}  # fmt: skip
    at.run()
    expected = check_corpus(store, "calls", {"calm": "sad", "anger": None,
                                             "contempt": "disgusted"}, [engine.model_key])  # fmt: skip
    assert next(m.value for m in at.metric) == f"{expected.reports[0].accuracy.value:.1%}"
    assert "contempt" not in " ".join(w.value for w in at.main.warning)
    shown = table(at, "precision")
    assert dict(zip(shown["class"], shown.n, strict=True))["🤢 disgusted"] == 2
    assert sorted(at.query_params["map"]) == ["anger=", "calm=sad", "contempt=disgusted"]


def test_an_edit_stays_with_its_corpus(labelled_db, engine, monkeypatch):
    store, _ = labelled_db
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key)
    row = list(at.data_editor[0].value.label).index("calm")
    assert row == 1  # stereo's row 1 is 'sadness': an edit kept by row would land there
    at.session_state[at.data_editor[0].key] = {"edited_rows": {row: {"class": "angry"}},
                                               "added_rows": [], "deleted_rows": []}  # fmt: skip
    at.run()
    assert at.query_params["map"] == "calm=angry"
    next(s for s in at.selectbox if s.label == "Corpus").set_value("stereo").run()
    shown = at.data_editor[0].value
    assert dict(zip(shown.label, shown["class"], strict=True)) == {"anger": "angry",
                                                                   "sadness": "sad"}  # fmt: skip
    assert "left out" not in " ".join(w.value for w in at.main.warning)


def test_page_lists_the_clips_of_a_cell_and_opens_one(labelled_db, engine, monkeypatch):
    store, _ = labelled_db
    check = check_corpus(store, "calls", model_keys=[engine.model_key])
    report = check.reports[0]
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key)
    truth = next(s for s in at.selectbox if s.label == "Your label")
    assert truth.options == [f"{EMOJI[e]} {e}" for e in EMOTIONS
                             if report.confusion[EMOTIONS.index(e)].sum() > 0]  # fmt: skip
    for true_class in ["angry", "happy", "sad", "surprised", "neutral"]:
        truth = next(s for s in at.selectbox if s.label == "Your label")
        truth.set_value(true_class).run()
        row = report.confusion[EMOTIONS.index(true_class)]
        pred = next(s for s in at.selectbox if s.label == "Model's top emotion")
        assert pred.options == [f"{EMOJI[e]} {e} ({row[EMOTIONS.index(e)]})"
                                for e in report.classes()]  # fmt: skip
        for predicted in report.classes():
            pred.set_value(predicted).run()
            listed = next(d for d in at.dataframe if d.proto.id.endswith("cell_clips")).value
            assert len(listed) == row[EMOTIONS.index(predicted)]
            assert set(listed.top_label) <= {predicted}
            pred = next(s for s in at.selectbox if s.label == "Model's top emotion")
    row = report.confusion[EMOTIONS.index("neutral")]
    busiest = EMOTIONS[int(row.argmax())]  # a filled cell of the last label chosen (neutral)
    next(s for s in at.selectbox if s.label == "Model's top emotion").set_value(busiest).run()
    at.session_state["cell_clips"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    truth, predicted = at.query_params["truth"], at.query_params["pred"]
    assert (truth, predicted) == ("neutral", busiest)
    labels = raw_labels_of(store, "calls", truth, check.mapping)
    first = cell_clips(store, "calls", engine.model_key, labels, predicted).iloc[0]
    link = at.get("page_link")[-1].proto
    assert link.label == f"Open {literal(first.source_name)} in Clips"
    assert link.query_string == f"clip={first.clip_id}&track=mix&model={engine.model_key}".replace(
        "@", "%40"
    )


def test_page_a_click_on_the_matrix_picks_the_cell(labelled_db, engine, monkeypatch):
    store, _ = labelled_db
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key)
    for cell in [("sad", "happy"), ("angry", "disgusted")]:
        point = {"curve_number": 1, "point_index": 0, "customdata": [*cell, 1, 0.5]}
        at.session_state["confusion"] = {"selection": {"points": [point], "point_indices": [0],
                                                       "box": [], "lasso": []}}  # fmt: skip
        at.run()
        chosen = tuple(next(s for s in at.selectbox if s.label == label).value
                       for label in ("Your label", "Model's top emotion"))  # fmt: skip
        assert chosen == cell
    # The choice stays the user's: picking another label keeps the click from coming back.
    next(s for s in at.selectbox if s.label == "Your label").set_value("happy").run()
    assert next(s for s in at.selectbox if s.label == "Your label").value == "happy"


def test_page_downloads_are_the_report(labelled_db, engine, monkeypatch):
    """The bytes the two buttons serve: the CSV rows and the JSON of core's report."""
    import io

    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    served: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        served[filename] = data
        return original(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    store, _ = labelled_db
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key,
                    map=["contempt=disgusted"])  # fmt: skip
    assert [b.label for b in at.get("download_button")] == [
        "Report (CSV: one row per model and class)", "Report (JSON)",
    ]  # fmt: skip
    check = check_corpus(store, "calls", {"contempt": "disgusted"})
    assert json.loads(served["emoscope-check-calls.json"]) == json.loads(
        json.dumps(check.as_dict())
    )
    csv_rows = pd.read_csv(io.BytesIO(served["emoscope-check-calls.csv"]))
    expected = pd.DataFrame(report_rows(check))
    pd.testing.assert_frame_equal(csv_rows, expected, check_dtype=False)


def test_when_no_label_maps_to_a_class_page_and_cli_say_so(labelled_db, engine, monkeypatch):
    store, labels = labelled_db
    words = sorted({v.strip().lower() for v in labels.values()})
    check = check_corpus(store, "calls", dict.fromkeys(words))  # every label left out
    assert all(r.n == 0 for r in check.reports) and sum(check.unmapped.values()) == 12
    assert check.reports[0].as_dict()["accuracy"] == {"value": None, "low": None, "high": None}
    at = check_page(store.path, monkeypatch, corpus="calls", model=engine.model_key,
                    map=[f"{w}=" for w in words])  # fmt: skip
    shown = " ".join(w.value for w in at.main.warning)
    assert "None of the labels maps to one of the nine classes" in shown
    assert "(labels: 6; clips: 12)" in shown
    assert not at.get("plotly_chart") or all(
        not c.proto.id.endswith("confusion") for c in at.get("plotly_chart")
    )
    cli = run("evaluate", "--corpus", "calls", "--db", store.path, "--model", engine.model_key,
              *[f"--map={w}=" for w in words])  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "accuracy —  macro-F1 —" in cli.stdout
    assert "none of its labelled tracks maps to a class: add --map LABEL=CLASS" in cli.stdout
    assert "6 label(s) on 12 clip(s) map to no class" in cli.stderr


# -- the page's figures (pure) -------------------------------------------------------------------


def test_confusion_figure_cells_shares_and_click_markers():
    from dashboard.charts_check import clicked_cell, confusion_figure, row_shares

    counts = pd.DataFrame([[3, 1], [0, 0]], index=["angry", "sad"], columns=["angry", "happy"])
    np.testing.assert_array_equal(row_shares(counts).to_numpy(), [[0.75, 0.25], [0.0, 0.0]])
    heat, markers = confusion_figure(counts, normalised=True).data
    np.testing.assert_array_equal(heat.z, [[0.75, 0.25], [0.0, 0.0]])
    assert [list(t) for t in heat.text] == [["75%", "25%"], ["0%", "0%"]]
    assert [list(c[:3]) for c in markers.customdata] == [
        ["angry", "angry", 3], ["angry", "happy", 1], ["sad", "angry", 0], ["sad", "happy", 0],
    ]  # fmt: skip
    heat, _ = confusion_figure(counts, normalised=False).data
    np.testing.assert_array_equal(heat.z, [[3, 1], [0, 0]])
    assert clicked_cell([{"curve_number": 1, "customdata": ["sad", "happy", 0, 0.0]}]) == (
        "sad", "happy",
    )  # fmt: skip
    assert clicked_cell([{"curve_number": 0, "customdata": None}]) is None
    assert clicked_cell([]) is None


def test_comparison_figures_escape_model_names():
    from dashboard.charts_check import class_f1_figure, comparison_figure

    hostile = "<a href='x'>m</a>"
    bars = pd.DataFrame({"model": [hostile, hostile], "metric": ["accuracy", "macro-F1"],
                         "value": [0.5, 0.4], "low": [0.4, 0.3], "high": [0.6, 0.5]})  # fmt: skip
    figure = comparison_figure(bars)
    assert [list(t.x) for t in figure.data] == [["&lt;a href='x'&gt;m&lt;/a&gt;"]] * 2
    assert list(figure.data[0].error_y.array) == pytest.approx([0.1])
    assert list(figure.data[0].error_y.arrayminus) == pytest.approx([0.1])
    f1 = class_f1_figure(pd.DataFrame({"model": [hostile], "class": ["sad"], "f1": [0.5]}))
    assert f1.data[0].name == "&lt;a href='x'&gt;m&lt;/a&gt;"
