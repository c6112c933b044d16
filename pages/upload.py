"""Upload & analyse: score uploaded files or zips into a corpus; one clip shows its result here."""

import io
import json

import numpy as np
import pandas as pd
import streamlit as st

from core.ingest import metadata
from core.ingest.pipeline import parse_roles
from core.ingest.result_folders import document
from core.model import audio
from core.model.engine import softmax
from core.model.labels import UNTRAINED_LABEL
from core.store.aggregates import ClipQuery
from core.store.database import ClipFilter
from dashboard import auth, i18n, jobs, reads, resources, score_charts, widgets
from dashboard.i18n import N_, _, ngettext
from dashboard.text import literal

# Where a finished run's results open: page key, link text, icon.
RESULT_PAGES = [("overview", N_("Overview"), "📊"), ("clips", N_("Clips"), "🗂️"),
                ("trends", N_("Agent trends"), "📅"), ("frames", N_("Frame curves"), "📈")]  # fmt: skip


def results_list(summary, ok) -> None:
    """The run's clips, each opening on the Clips page; the rest of a big run is one link away."""
    clip_ids = tuple(dict.fromkeys(o.clip_id for o in ok))
    where = ClipFilter(corpora=(summary.corpus,), clip_ids=clip_ids)
    listed = reads.clip_page(summary.model_key, ClipQuery(where, order_by="source_name"))
    st.subheader(_("Results"))
    if len(listed) < len(clip_ids):
        st.caption(literal(_("The first {n} of {all} recordings by name; all of them are on the "
                             "Clips page under corpus “{corpus}”.").format(
            n=i18n.number(len(listed)), all=i18n.number(len(clip_ids)), corpus=summary.corpus)))  # fmt: skip
    widgets.clip_list(listed, ["source_name", "track", "top_label", "confidence", "duration_s"],
                      "results", summary.model_key)  # fmt: skip


st.title("⬆️ " + _("Upload & analyse"))
visitor = auth.refuse_unless("analyse")  # hidden from viewers; jobs.start_analysis refuses them too
# Once an analysis has succeeded the uploader shows empty and the server drops the files' bytes
# (widgets.forget_uploads): memory comes back after an upload.
uploads = st.file_uploader(_("Recordings (WAV, MP3, M4A, FLAC, OGG, OPUS, WEBM) or a zip of them"),
                           type=[e.lstrip(".") for e in audio.SUPPORTED_EXTENSIONS] + ["zip"],
                           accept_multiple_files=True,
                           key=widgets.uploader_key())  # fmt: skip
st.caption(_("Up to {mb} MB per file (server.maxUploadSize). A file marked in red was not "
             "uploaded: hover over it for the reason.").format(
    mb=st.get_option("server.maxUploadSize")))  # fmt: skip
meta_left, meta_right = st.columns(2)
manifest = meta_left.file_uploader(
    _("Optional manifest CSV (path, agent, recorded_at, speaker, tags)"), type=["csv"]
)
pattern = meta_right.text_input(
    _("…or metadata from file names"),
    placeholder="{agent}/{recorded_at}_*.wav",
    max_chars=metadata.MAX_PATTERN_CHARS,
    help=_(
        "Fields: {fields}; * matches anything within a name, a `**` folder any number of "
        "folders. At most {n} characters."
    ).format(fields="{agent}, {recorded_at}, {speaker}, {tags}", n=metadata.MAX_PATTERN_CHARS),
).strip()
left, right = st.columns(2)
corpus = left.text_input(_("Corpus"), value="uploads").strip()
# Only models this server has or can download: offline, a model it has no copy of is not
# offered (one line says so), rather than failing after a wait with a network error (#30).
here = resources.hub_models_here()
offered = resources.offered_models(here, visitor.may("local_model"))
model_names = {resources.TEST_MODEL: "⚠️ " + _("{model} (random weights)").format(model=_(resources.TEST_MODEL)),
               resources.LOCAL_MODEL: _("local model directory"),
               **{m: _("{model} (downloaded on first use)").format(model=m) for m, v in here.items() if not v}}  # fmt: skip
preferred, preferred_local = resources.preferred_model(offered)
choice = left.selectbox(_("Model"), offered, index=offered.index(preferred) if preferred else None,
                        format_func=lambda m: model_names.get(m, m), placeholder=_("choose a model"))  # fmt: skip
missing = [m for m in resources.HUB_MODELS if m not in here]
if missing:
    left.caption(ngettext(
        "{models} is not available on this server: no copy here, and ModelScope cannot be "
        "reached to download it. Use a model from the list.",
        "{models} are not available on this server: no copy here, and ModelScope cannot be "
        "reached to download them. Use a model from the list.", len(missing),
    ).format(models=", ".join(missing)))  # fmt: skip
model = choice
if choice == resources.LOCAL_MODEL:  # a name from the server's models folder, never a typed path
    directories = resources.local_models()
    local = left.selectbox(_("Model directory"), directories, placeholder=_("choose a model directory"),
                           index=directories.index(preferred_local) if preferred_local else None)  # fmt: skip
    if not directories:
        left.info(_("No model directories on this server yet: an administrator puts them "
                    "(config.yaml, model.pt, tokens.txt) in the models folder, "
                    "EMOSCOPE_MODELS_DIR."))  # fmt: skip
    model = f"{resources.LOCAL_PREFIX}{local}" if local else ""
option_names = {
    "frame": _("frame"),
    "utterance": _("utterance"),
    "mix": _("mix"),
    "split": _("split"),
}
granularity = right.radio(_("Granularity"), ["frame", "utterance"], horizontal=True, format_func=option_names.get,
                          help=_("frame also stores the 20 ms emotion curve of each clip (same model pass)"))  # fmt: skip
channels = right.radio(_("Stereo"), ["mix", "split"], horizontal=True, format_func=option_names.get,
                       help=_("split scores each channel as its own track (e.g. agent / customer)"))  # fmt: skip
roles_text = right.text_input(_("Channel roles (split)"), placeholder="agent, customer",
                              disabled=channels != "split", help=_("names the channels in order"))  # fmt: skip
transcribe = right.checkbox(_("Transcribe"), value=False,
                            help=_("also write down what was said in each track (SenseVoice), "
                                   "searchable on the Clips page"))  # fmt: skip

running = st.session_state.get("analysis")  # (job key, granularity) of this session's analysis
# What the uploads hold, with each file's header facts; zips are unpacked only to analyse. A
# running analysis is reading these files, so they are not listed meanwhile.
facts = jobs.upload_facts([] if running else uploads or [])
inputs = not facts.empty
if inputs:
    facts["problem"] = facts.problem.map(lambda p: i18n.error(p) if p else p)
    st.dataframe(facts, hide_index=True, column_config={
        "file": _("file"), "duration (s)": _("duration (s)"), "sample rate (Hz)": _("sample rate (Hz)"),
        "channels": _("channels"), "codec": _("codec"), "problem": _("problem")}, placeholder="—")  # fmt: skip

if st.button(_("Analyse"), type="primary",
             disabled=not inputs or not corpus or not model or running is not None):  # fmt: skip
    meta = metadata.no_metadata
    if manifest is not None:
        meta = widgets.run_safely(
            lambda: metadata.from_manifest(manifest.getvalue(), manifest.name)
        )
    elif pattern:
        meta = widgets.run_safely(lambda: metadata.from_pattern(pattern))
    roles = widgets.run_safely(lambda: parse_roles(roles_text if channels == "split" else ""))
    if meta and roles is not None:
        request = jobs.Analysis(
            model, corpus, meta, granularity == "frame", channels, roles, transcribe
        )
        key = widgets.run_safely(
            lambda: jobs.start_analysis(visitor, request, [(u.name, u) for u in uploads])
        )
        if key:
            st.session_state["analysis"] = (key, granularity)
            widgets.remember_uploads([u.file_id for u in uploads])
            st.session_state.pop("last_run", None)
            st.rerun()


@st.fragment(run_every=1.0)
def analysis_progress(key: str, run_granularity: str) -> None:
    """Polls this session's analysis; the whole page reruns once it has finished."""
    job = jobs.job(key)
    snap = job.snapshot() if job else None
    if snap is None or snap.finished:
        st.session_state.pop("analysis", None)
        if snap is not None and snap.error:  # the files stay, to try again
            st.session_state["analysis_error"] = i18n.error(resources.for_visitor(snap.error))
        elif snap is not None:
            st.session_state["last_run"] = (snap.result, run_granularity)
            widgets.forget_uploads()
        st.rerun(scope="app")
    st.progress(snap.fraction, i18n.progress(snap.stage, snap.elapsed_s))
    st.caption(
        _("Analysing in the background: other pages stay usable, and the results show here.")
    )


if running is not None:
    analysis_progress(*running)
if "analysis_error" in st.session_state:
    st.error(st.session_state.pop("analysis_error"))

if "last_run" in st.session_state:
    summary, run_granularity = st.session_state["last_run"]
    a, b, c, d = st.columns(4)
    a.metric(_("Scored"), summary.scored)
    b.metric(_("Cached (no model work)"), summary.cached)
    c.metric(_("Failed"), summary.failed)
    d.metric(_("Audio"), f"{summary.seconds_audio:.1f} s")
    for note in summary.notes:
        st.warning(i18n.message(note))
    if summary.scored + summary.cached:
        # The other pages show the team's default model (#30), which may not be the one this run
        # used: the links carry the run's model and corpus so its results are what opens.
        opened = {"corpus": summary.corpus, "model": summary.model_key}
        pages = st.session_state["pages"]
        for column, (name, label, icon) in zip(
            st.columns(len(RESULT_PAGES)), RESULT_PAGES, strict=True
        ):
            text = _("{page} of {corpus}").format(page=_(label), corpus=literal(summary.corpus))
            column.page_link(pages[name], label=text, icon=icon, query_params=opened)
    # Keyed by run: a new run's log opens (or not) by its own failures, not the last one's state.
    with st.expander(_("Processing log"), expanded=summary.failed > 0, key=f"log-{summary.run_id}"):
        st.code("\n".join(summary.log_lines()) or _("nothing to do"), language=None)
    ok = [o for o in summary.outcomes if o.status != "failed" and o.clip_id]
    if len(summary.outcomes) > 1 and ok:
        results_list(summary, ok)
    if len(summary.outcomes) == 1 and ok:
        where = ClipFilter(corpora=(summary.corpus,), clip_ids=(ok[0].clip_id,))
        rows = reads.clips(summary.model_key, where)
        scored_by = reads.model_info(summary.model_key)
        untrained = bool(scored_by.untrained)
        embedded, matrix = reads.embeddings(summary.model_key, where)
        for row in rows.itertuples():
            st.subheader(
                literal(
                    f"{row.source_name} · {row.track}" if row.track != "mix" else row.source_name
                )
            )
            widgets.top_result(row.top_label, row.confidence, untrained)
            widgets.echart(score_charts.score_bars(pd.Series(row._asdict()), lang=i18n.language()),
                           key=f"bars-{row.track}")  # fmt: skip
            logits = reads.frame_logits(row.clip_id, summary.model_key, row.track)
            doc = document(row.source_name, audio.AudioInfo(row.codec, row.source_rate_hz, row.channels, row.duration_s),
                           reads.score_dict(row), scored_by.model_id, scored_by.revision, untrained, run_granularity,
                           None if logits is None else softmax(logits))  # fmt: skip
            buffer = io.BytesIO()
            np.save(buffer, matrix[(embedded.track == row.track).to_numpy()][0])
            x, y = st.columns(2)
            widgets.download_button(x, "result.json", json.dumps(doc, indent=2, ensure_ascii=False),
                                    "result.json", mime="application/json", key=f"json-{row.track}")  # fmt: skip
            widgets.download_button(
                y, "embedding.npy", buffer.getvalue(), "embedding.npy", key=f"npy-{row.track}"
            )
        if untrained:
            st.caption(
                _("Results above come from the {untrained}.").format(untrained=_(UNTRAINED_LABEL))
            )
