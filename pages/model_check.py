"""Model check: how often the model's top emotion agrees with the user's own labels.

Labels come from a manifest at ingest (a `label` column, or --label-column). The counts behind
the confusion matrix are aggregated in DuckDB (core.store.evaluation); the label -> class mapping
is edited here and kept in the URL (`map=label=class`, an empty class leaves a label out).
"""

import json
import re

import pandas as pd
import streamlit as st

from core.analysis.evaluation import DEFAULT_MAP, normalise, per_class, report_rows
from core.model.labels import EMOTIONS, UNTRAINED_LABEL
from core.store.evaluation import HOW_TO_LABEL
from dashboard import charts_check, i18n, reads, state, widgets
from dashboard.i18n import N_, _, ngettext
from dashboard.text import literal


def choice(where, kind: str, label: str, options: list[str], key: str, default: str, **kw):
    """A selectbox or radio keyed by its URL parameter, started from the URL once.

    Passing `index` from the URL on every run would change the widget's identity whenever the
    URL changes, and the next pick would be lost; a key seeded once keeps every pick.
    """
    if st.session_state.get(key) not in options:
        st.session_state[key] = state.get_str(key, default, options)
    picked = getattr(where, kind)(label, options, key=key, **kw)
    return picked


model_key, __ = widgets.results_page(
    "🎯 " + _("Model check"), N_("results to check"), filters=False
)
lang = i18n.language()
LEFT_OUT = _(
    "(left out)"
)  # a cell value of the editor only: the URL writes a left-out label as "label="
st.caption(_("Does the model agree with your own labels? Score a sample your team labelled, then "
             "compare: one confusion matrix, per-class precision, recall and F1, and accuracy "
             "and macro-F1 with 95% bootstrap intervals."))  # fmt: skip
corpora = reads.labelled_corpora()
labelled = corpora[corpora.labelled > 0]
if labelled.empty:
    st.info(_("No corpus has labels yet. To check the model, {how}.").format(how=HOW_TO_LABEL))
    st.code("python -m core ingest ravdess-16k --corpus ravdess \\\n"
            "    --manifest ravdess-16k/manifest.csv --label-column emotion", language="bash")  # fmt: skip
    st.stop()

names = list(labelled.corpus)
counts = labelled.set_index("corpus")
corpus = choice(st, "selectbox", _("Corpus"), names, "corpus", names[0], format_func=i18n.fixed(lambda c:
                _("{corpus} (labelled: {labelled} of {clips})").format(
                    corpus=c, labelled=i18n.number(counts.labelled[c]), clips=i18n.number(counts.clips[c]))))  # fmt: skip
tracks = reads.labelled_tracks(corpus)
track = None
if len(tracks) > 1:  # split calls: the label may be about one side of the call
    choices = ["all tracks", *tracks]
    picked = choice(st, "selectbox", _("Track"), choices, "track", "all tracks",
                    format_func=i18n.fixed(lambda t: _("all tracks") if t == "all tracks" else t))  # fmt: skip
    track = None if picked == "all tracks" else picked
state.put(corpus=corpus, track=track)

# -- the mapping: defaults, the URL's overrides, then the editor's edits ------------------------
stored = reads.label_counts(corpus).dropna(subset=["label"])
by_label = stored.assign(label=stored.label.map(normalise)).groupby("label").clips.sum()
overrides: dict[str, str | None] = {}
for item in state.get_list("map"):
    label, __, target = item.rpartition("=")
    if normalise(label) in by_label.index and (target in EMOTIONS or target == ""):
        overrides[normalise(label)] = target or None
table = pd.DataFrame({
    "label": by_label.index, "clips": by_label.to_numpy(),
    "class": [overrides[x] if x in overrides else DEFAULT_MAP.get(x) for x in by_label.index],
})  # fmt: skip
table["class"] = table["class"].fillna(LEFT_OUT)
st.subheader(_("Your labels → the nine classes"))
st.caption(_("Common names are mapped for you (anger → angry, joy → happy, calm → neutral …). "
             "Change a class to remap a label; “{left_out}” keeps its clips out of every figure.").format(
    left_out=LEFT_OUT))  # fmt: skip
edited = st.data_editor(
    table, key="mapping", hide_index=True, disabled=["label", "clips"],
    column_config={"class": st.column_config.SelectboxColumn(
        _("class"), options=[*EMOTIONS, LEFT_OUT], required=True),
        "label": _("label"), "clips": _("clips")},
)  # fmt: skip
chosen = {
    k: None if v == LEFT_OUT else v for k, v in zip(edited.label, edited["class"], strict=True)
}
overrides = {k: v for k, v in chosen.items() if v != DEFAULT_MAP.get(k)}
state.put(map=[f"{k}={v or ''}" for k, v in sorted(overrides.items())])

check = widgets.run_safely(
    lambda: reads.check_corpus(corpus, tuple(sorted(overrides.items())), track)
)
if check is None:
    st.stop()
if check.unmapped:
    shown = ", ".join(f"{literal(k)} ({n:,})" for k, n in check.unmapped.items())
    st.warning(_("Left out, as they map to no class: {shown} (labels: {n}; clips: {clips}). "
                 "Give them a class in the table above.").format(
        n=len(check.unmapped), clips=i18n.number(sum(check.unmapped.values())), shown=shown))  # fmt: skip
if check.unlabelled:
    st.caption(ngettext("{n} clip of this corpus has no label and is not counted.",
                        "{n} clips of this corpus have no label and are not counted.", check.unlabelled).format(
        n=i18n.number(check.unlabelled)))  # fmt: skip
for report in check.reports:
    if report.untrained:
        st.warning(_("**{untrained}** ({model}): random weights, these numbers mean nothing; they "
                     "only show how the check works.").format(
            untrained=_(UNTRAINED_LABEL), model=literal(report.model_id)))  # fmt: skip
st.caption(_("Intervals: {level} percentile bootstrap, {resamples} resamples of the clips (seed "
             "{seed}). Macro-F1 averages the classes that have labels.").format(
    level=i18n.percent(check.level, 0), resamples=i18n.number(check.resamples), seed=check.seed))  # fmt: skip

# -- several models: side by side ---------------------------------------------------------------
models = {r.model_key: r for r in check.reports}
title = {r.model_key: r.model_id + (f" ({_(UNTRAINED_LABEL)})" if r.untrained else "")
         for r in check.reports}  # fmt: skip
if len(models) > 1:
    st.subheader(_("Models side by side"))
    summary = pd.DataFrame([
        {"model": title[r.model_key], "tracks": r.n, "accuracy": r.accuracy.text(),
         "macro-F1": r.macro_f1.text()} for r in check.reports
    ])  # fmt: skip
    st.dataframe(summary, hide_index=True, key="compare", column_config={
        "model": _("model"), "tracks": _("tracks"), "accuracy": _("accuracy"), "macro-F1": "macro-F1"}, placeholder="—")  # fmt: skip
    bars = pd.DataFrame([
        {"model": title[r.model_key], "metric": name, "value": i.value, "low": i.low,
         "high": i.high}
        for r in check.reports for name, i in (("accuracy", r.accuracy), ("macro-F1", r.macro_f1))
    ])  # fmt: skip
    f1 = pd.DataFrame([
        {"model": title[r.model_key], "class": e, "f1": per_class(r.confusion)["f1"][i]}
        for r in check.reports for i, e in enumerate(EMOTIONS) if r.confusion[i].sum() > 0
    ], columns=["model", "class", "f1"])  # fmt: skip
    left, right = st.columns(2)
    left.plotly_chart(charts_check.comparison_figure(bars, lang), key="compare_chart")
    right.plotly_chart(charts_check.class_f1_figure(f1, lang), key="f1_chart")

# -- one model in detail ------------------------------------------------------------------------
if model_key in models:
    report = models[model_key]
else:
    report = check.reports[0]
    st.caption(_("The model chosen in the sidebar has not scored this corpus; showing {model}.").format(
        model=literal(report.model_id)))  # fmt: skip
st.subheader(_("{model}: {n} labelled tracks").format(model=literal(title[report.model_key]),
                                                      n=i18n.number(report.n)))  # fmt: skip
if report.n == 0:
    st.warning(_("None of the labels maps to one of the nine classes: give them a class in the "
                 "table above."))  # fmt: skip
    st.stop()
a, b = st.columns(2)
a.metric(_("Accuracy"), i18n.percent(report.accuracy.value))
a.caption(_("95% interval {low} – {high}").format(low=i18n.percent(report.accuracy.low),
                                                  high=i18n.percent(report.accuracy.high)))  # fmt: skip
b.metric("Macro-F1", f"{report.macro_f1.value:.3f}")
b.caption(_("95% interval {low} – {high}").format(low=f"{report.macro_f1.low:.3f}",
                                                  high=f"{report.macro_f1.high:.3f}"))  # fmt: skip
views = ["counts", "row-normalised"]
view_names = {"counts": _("counts"), "row-normalised": _("row-normalised")}
view = choice(
    st, "radio", _("Show"), views, "show", views[0], horizontal=True, format_func=view_names.get
)
state.put(show=None if view == views[0] else view)
classes = report.classes()
index = [EMOTIONS.index(e) for e in classes]
matrix = pd.DataFrame(report.confusion[index][:, index], index=classes, columns=classes)
clicked = st.plotly_chart(
    charts_check.confusion_figure(matrix, view == "row-normalised",
                                  _("rows: your label · columns: the model (click a cell)"), lang),
    key="confusion", on_select="rerun", selection_mode="points",
)  # fmt: skip
cell_picked = charts_check.clicked_cell(clicked["selection"]["points"] if clicked else [])
if cell_picked is None:
    st.session_state.pop("clicked_cell", None)
elif cell_picked != st.session_state.get("clicked_cell"):  # a new click picks the cell below
    st.session_state["clicked_cell"] = cell_picked
    st.session_state["truth"], st.session_state["pred"] = cell_picked
stats = per_class(report.confusion)
per_class_table = pd.DataFrame({"class": [i18n.emotion(e, emoji=True) for e in classes],
                                **{k: v[index] for k, v in stats.items()}})  # fmt: skip
st.dataframe(per_class_table, hide_index=True, key="per_class", column_config={
    "class": _("class"),
    "n": st.column_config.NumberColumn(_("n (labelled)"), format="%d"),
    "predicted": st.column_config.NumberColumn(_("predicted"), format="%d"),
    "precision": st.column_config.NumberColumn(_("precision"), format="%.3f"),
    "recall": st.column_config.NumberColumn(_("recall"), format="%.3f"),
    "f1": st.column_config.NumberColumn("F1", format="%.3f"),
}, placeholder="—")  # fmt: skip

# -- the clips behind a cell --------------------------------------------------------------------
st.subheader(_("Clips behind a cell"))
rows = [e for e in classes if report.confusion[EMOTIONS.index(e)].sum() > 0]
off = report.confusion.copy()
for i in range(len(EMOTIONS)):
    off[i, i] = 0  # the most common confusion is the most useful first look
worst = divmod(int(off.argmax()), len(EMOTIONS)) if off.any() else (EMOTIONS.index(rows[0]),) * 2
c, d = st.columns(2)
true_class = choice(c, "selectbox", _("Your label"), rows, "truth", EMOTIONS[worst[0]],
                    format_func=i18n.fixed(lambda e: i18n.emotion(e, emoji=True)))  # fmt: skip
row = report.confusion[EMOTIONS.index(true_class)]
found = [e for e, n in zip(EMOTIONS, row, strict=True) if n > 0]
default = EMOTIONS[worst[1]] if EMOTIONS[worst[1]] in found else found[0]
predicted = choice(d, "selectbox", _("Model's top emotion"), classes, "pred", default,
                   format_func=i18n.fixed(lambda e: f"{i18n.emotion(e, emoji=True)} ({row[EMOTIONS.index(e)]:,})"))  # fmt: skip
state.put(truth=true_class, pred=predicted)
raw = tuple(x for x in stored.label if check.mapping.get(normalise(x)) == true_class)
cell = reads.cell_clips(corpus, report.model_key, raw, predicted, track)
st.caption(ngettext("{n} track labelled {label} that the model calls {predicted}",
                    "{n} tracks labelled {label} that the model calls {predicted}",
                    int(row[EMOTIONS.index(predicted)])).format(
    n=i18n.number(int(row[EMOTIONS.index(predicted)])), label=i18n.emotion(true_class),
    predicted=i18n.emotion(predicted))
    + (_("; the {n} most confident").format(n=len(cell)) if len(cell) >= 500 else ""))  # fmt: skip
widgets.clip_list(cell, ["source_name", "track", "label", "top_label", "confidence", "agent"],
                  "cell_clips", report.model_key)  # fmt: skip

# -- export -------------------------------------------------------------------------------------
st.subheader(_("Export"))
stem = "emoscope-check-" + (re.sub(r"[^\w.-]+", "_", corpus).strip("._") or "corpus")
e, f = st.columns(2)
widgets.download_button(e, _("Report (CSV: one row per model and class)"),
                        pd.DataFrame(report_rows(check)).to_csv(index=False), f"{stem}.csv",
                        mime="text/csv", key="csv")  # fmt: skip
widgets.download_button(f, _("Report (JSON)"), json.dumps(check.as_dict(), indent=2),
                        f"{stem}.json", mime="application/json", key="json")  # fmt: skip
