"""Clusters: UMAP of the embeddings with KMeans; colour, select points, read each cluster's profile."""

import streamlit as st

from core.analytics import cluster_profile
from core.labels import SCORE_COLUMNS
from dashboard import charts, data, state, widgets

model_key, where = widgets.results_page("🧭 Clusters", "embeddings to cluster")
n = len(data.clips(model_key, where))
if n < 5:
    st.info(
        f"{n} clips selected: a projection needs at least 5. Widen the filters or add recordings."
    )
    st.stop()

best = widgets.run_safely(lambda: data.suggest_k(model_key, where))
suggested = best[0] if best else 3
a, b, c, d = st.columns(4)
k = a.slider("Clusters (k)", 2, min(12, n - 1), min(int(state.get_float("k", suggested)), n - 1),
             help=f"suggested by silhouette: k = {suggested}")  # fmt: skip
neighbors = b.slider("UMAP neighbours", 2, min(50, n - 1), min(15, n - 1))
min_dist = c.slider("UMAP min distance", 0.0, 0.99, 0.1, 0.01)
color_by = d.selectbox("Colour by", ["cluster", "top_label", "agent", "corpus"])
state.put(k=k)
st.caption(f"Suggested k by silhouette (cosine): **{suggested}**" + (
    " · " + ", ".join(f"k={kk}: {s:.2f}" for kk, s in best[1].items()) if best else ""))  # fmt: skip

result = data.projection(model_key, where, k, neighbors, min_dist, compute=False)
if result is None:
    if not st.button("Compute projection", type="primary"):
        st.info(f"This selection ({n} clips) has no stored projection for these parameters yet.")
        st.stop()
    bar = st.progress(0.0, "Starting…")
    result = widgets.run_safely(lambda: data.projection(
        model_key, where, k, neighbors, min_dist, compute=True,
        on_progress=lambda done, total, stage: bar.progress(done / total, stage)))  # fmt: skip
    if result is None:
        st.stop()
points, _ = result
chosen = st.plotly_chart(charts.cluster_scatter(points, color_by), on_select="rerun", key="scatter")
ids = (
    {tuple(p["customdata"][:2]) for p in chosen.selection.points}
    if chosen.selection.points
    else set()
)
if ids:
    picked = points[[(c, t) in ids for c, t in zip(points.clip_id, points.track, strict=True)]]
    st.subheader(f"{len(picked)} selected clips")
    st.dataframe(picked[["source_name", "agent", "cluster", "top_label", "confidence", *SCORE_COLUMNS]],
                 hide_index=True)  # fmt: skip
else:
    st.caption("Lasso or box-select points to list their clips.")
profile = cluster_profile(points)
st.subheader("Cluster profiles")
st.plotly_chart(charts.cluster_mix(profile), key="mix")
st.dataframe(profile[["cluster", "n", "top_emotion", "top_agents"]], hide_index=True)
