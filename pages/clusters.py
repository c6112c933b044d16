"""Clusters: UMAP of the embeddings with KMeans; colour, select points, read each cluster's profile,
list a whole cluster's clips (the selection and the cluster are in the URL: dashboard.cluster_lists).

Opening the page computes nothing: a stored projection is read back at once, else a button starts
a background job (core.analysis.clusters in a worker thread) whose progress this page polls while every
other page stays usable.
"""

import streamlit as st

from core.analysis.clusters import ProjectionParams
from dashboard import (
    auth,
    cluster_charts,
    cluster_lists,
    i18n,
    jobs,
    reads,
    resources,
    state,
    widgets,
)
from dashboard.i18n import N_, _, ngettext
from dashboard.text import literal_table

K_CHOICES = [0, *range(2, 13)]

model_key, where = widgets.results_page("🧭 " + _("Clusters"), N_("embeddings to cluster"))
lang = i18n.language()
a, b, c, d = st.columns(4)
COLOURS = ["cluster", "top_label", "agent", "corpus"]
wanted_k = state.get_int("k", 0, low=0, high=max(K_CHOICES))
k = a.selectbox(_("Clusters (k)"), K_CHOICES, key="k", index=K_CHOICES.index(wanted_k if wanted_k in K_CHOICES else 0),
                format_func=i18n.fixed(lambda v: _("auto (silhouette)") if v == 0 else str(v)))  # fmt: skip
neighbors = b.slider(_("UMAP neighbours"), 2, 50, state.get_int("nn", 15, low=2, high=50), key="nn")
min_dist = c.slider(
    _("UMAP min distance"),
    0.0,
    0.99,
    state.get_float("md", 0.1, low=0.0, high=0.99),
    0.01,
    key="md",
)
# English shows the column names as it always has; other languages name them.
colour_names = {} if lang == "en" else {"cluster": _("cluster"), "top_label": _("top emotion"),
                                        "agent": _("agent"), "corpus": _("corpus")}  # fmt: skip
color_by = d.selectbox(_("Colour by"), COLOURS, key="colour",
                       format_func=lambda c: colour_names.get(c, c),
                       index=COLOURS.index(state.get_str("color", "cluster", COLOURS)))  # fmt: skip
state.put(k=k or None, nn=None if neighbors == 15 else neighbors,
          md=None if min_dist == 0.1 else min_dist, color=None if color_by == "cluster" else color_by)  # fmt: skip
params = ProjectionParams(k=k, n_neighbors=neighbors, min_dist=min_dist)
key, n = reads.projection_key(model_key, where, params)
if n < 5:
    st.info(
        ngettext("{n} clip selected: a projection needs at least 5. Widen the filters or add "
                 "recordings.", "{n} clips selected: a projection needs at least 5. Widen the "
                 "filters or add recordings.", n).format(n=n)
    )  # fmt: skip
    st.stop()


@st.fragment(run_every=1.0)
def job_progress(job_key: str) -> None:
    """Polls the background job; reruns the whole page once the projection is stored."""
    job = jobs.job(job_key)
    snap = job.snapshot()
    if snap.finished:
        if snap.error:
            st.error(i18n.error(resources.for_visitor(snap.error)))
            return
        st.rerun(scope="app")
    st.progress(snap.fraction, i18n.progress(snap.stage, snap.elapsed_s))


stored = reads.projection_size(key)
if stored == 0:
    job = jobs.job(key)
    snap = job.snapshot() if job else None
    if snap is None or snap.finished:  # never computed, or the last attempt failed
        if snap is not None and snap.error:
            st.error(i18n.error(resources.for_visitor(snap.error)))
        st.info(_("This selection ({n} clips) has no stored projection for these parameters yet. "
                  "Computing runs in the background; other pages stay usable.").format(
                    n=i18n.number(n)))  # fmt: skip
        visitor = auth.principal()
        if not visitor.may("project"):  # jobs.start_projection refuses viewers too
            st.caption(_("Computing a projection needs the analyst role; ask an admin."))
            st.stop()
        if not st.button(_("Compute projection"), type="primary"):
            st.stop()
        started = widgets.run_safely(
            lambda: jobs.start_projection(visitor, key, model_key, where, params)
        )
        if started is None:
            st.stop()
    job_progress(key)
    st.stop()

job = jobs.job(key)
result = job.snapshot().result if job else None
if result is not None and result.silhouette:
    st.caption(_("k = {k} suggested by silhouette (cosine, on a sample of at most 10,000 "
                 "points): ").format(k=result.k) + ", ".join(f"k={kk}: {s:.2f}" for kk, s in result.silhouette.items()))  # fmt: skip
points = reads.projection_points(key, model_key, where, cluster_lists.MAX_POINTS)
shown = (
    _("{n} of {stored} points shown").format(n=i18n.number(len(points)), stored=i18n.number(stored))
    if stored > len(points) else _("{stored} points").format(stored=i18n.number(stored))
)  # fmt: skip
st.caption(_("{shown} (a deterministic sample); clusters and profiles use every point.").format(
    shown=shown))  # fmt: skip
chart_key = cluster_lists.map_key(key)
drawn = widgets.echart_selection(
    cluster_charts.cluster_map(points, color_by, lang), chart_key, len(points)
)
rows = cluster_lists.map_selection(drawn, chart_key, key, len(points))
cluster_lists.selection_list(points.iloc[rows], model_key, where, key)
profile = reads.cluster_profile(key, model_key)
st.subheader(_("Cluster profiles"))
widgets.echart(cluster_charts.cluster_mix(profile, lang), key="mix")
# A table, not a grid: at most 12 rows, and a fresh browser need not load the grid's 0.5 MB.
table = profile[["cluster", "n", "top_emotion", "top_agents"]].rename(columns={"n": "tracks"})
table = table.assign(
    tracks=table.tracks.map(i18n.number), top_emotion=table.top_emotion.map(i18n.emotion)
)
table = table.rename(columns={"tracks": _("tracks"), "top_emotion": _("commonest emotion"),
                              "top_agents": _("top agents"), "cluster": _("cluster")})  # fmt: skip
st.table(literal_table(table.set_index(_("cluster"))))
cluster_lists.cluster_clips(model_key, where, key, profile)
