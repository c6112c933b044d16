"""The Clusters page's lists of clips, kept in the URL (#30), and Clips narrowed to a cluster.

- The map's selection (`sel`): the points clicked or drawn round on the map. The map draws a
  deterministic sample of the stored projection (at most MAX_POINTS, in hash order), so a point
  is its position in that sample, and the URL keeps the positions as one compressed bitmap
  (state.rows_value: at most ~850 characters for 5,000 points, whatever the selection, never
  cut short), tagged with its projection and the number of points drawn: a copied link lists
  the same clips, and a selection made on another map is dropped. The map does not highlight
  a link's selection.
- A cluster (`cluster`, `cpage`): every track of one cluster of the stored projection, not only
  the points the map draws, paged in the database like the Clips table (a ClusterPick in the
  ClipFilter); a link opens Clips on the same tracks (`proj`, `cluster`), and "More like this
  cluster" (`clmore`, `clsimk`) ranks the rest of the selection by the cluster's centroid.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd
import streamlit as st

from core.model.labels import SCORE_COLUMNS
from core.records import ClipFilter, ClusterPick
from core.store.aggregates import PAGE_ROWS, ClipQuery, ClipSummary
from dashboard import i18n, reads, similar, state, widgets
from dashboard.i18n import _, ngettext

# Markers sent to the browser; profiles and cluster lists always count every point. A map that
# takes selections draws each marker on its own (ECharts' batched mode has no selection): from a
# fresh browser, 20,000 took 0.7 s from chart to drawn and 10,000 0.35 s; with a stored
# projection of 100,000 the page opened 0.25 s sooner with 5,000 (median of 6 interleaved
# pairs, #9), which still show every cluster's shape. A selection of at most 5,000 tracks is
# drawn whole.
MAX_POINTS = 5_000
NONE = -1  # no cluster listed
PICKED_COLUMNS = ["source_name", "agent", "cluster", "top_label", "confidence", *SCORE_COLUMNS]
CLUSTER_COLUMNS = ["source_name", "corpus", "track", "agent", "recorded_at", "duration_s",
                   "top_label", "confidence", *SCORE_COLUMNS]  # fmt: skip
_PROJECTION_KEY = re.compile(r"[0-9a-f]{20}")  # core.analysis.clusters.projection_key


def map_key(projection_key: str) -> str:
    """The map's widget key: per projection (a selection's row numbers mean nothing in another
    projection's points), and new after "Clear the selection" (a fresh map selects nothing)."""
    cleared = st.session_state.get(f"_cleared-{projection_key}", 0)
    return f"map-{projection_key}" + (f"-{cleared}" if cleared else "")


def map_selection(drawn: list[int], map_key: str, projection_key: str, n: int) -> list[int]:
    """The map's selected rows (positions among its `n` points), as the URL's `sel` holds them.

    A selection made on the map (`drawn`, when it changed since the last run) rewrites `sel`; a
    session opened from a link starts from the link's. A `sel` of another projection goes.
    """
    seen = f"_seen-{map_key}"
    tag = f"{projection_key[:8]}-{n}"  # the positions index this map's points, no other's
    if drawn != st.session_state.get(seen, []):
        st.session_state[seen] = drawn
        state.put(sel=state.rows_value(drawn, tag, n))
    rows = state.get_rows("sel", tag, n)
    if not rows:
        state.put(sel=None)
    return rows


def selection_list(picked: pd.DataFrame, model_key: str, where: ClipFilter,
                   projection_key: str) -> None:  # fmt: skip
    """The selected points' clips (a row opens its clip), "More like these" and a button that
    clears the selection (one opened from a link is not highlighted on the map, so the map's own
    clear cannot reach it); else a hint."""
    if picked.empty:
        state.put(more=None, simk=None)
        st.caption(
            _(
                "Click points, or pick the rectangle or lasso in the map's toolbar (top left) and "
                "drag over points, to list their clips."
            )
        )
        return
    st.subheader(
        ngettext("{n} selected clip", "{n} selected clips", len(picked)).format(n=len(picked))
    )
    widgets.clip_list(picked, PICKED_COLUMNS, "picked", model_key)
    if st.button(_("Clear the selection"), key="clear-selection"):
        cleared = f"_cleared-{projection_key}"
        st.session_state[cleared] = st.session_state.get(cleared, 0) + 1
        state.put(sel=None, more=None, simk=None)
        st.rerun()
    similar.more_like_these(model_key, where, picked)


def cluster_clips(model_key: str, where: ClipFilter, projection_key: str,
                  profile: pd.DataFrame) -> None:  # fmt: skip
    """List a cluster's clips: every track of the chosen cluster of the stored projection,
    paged in the database; a row opens its clip, a link opens them all in Clips."""
    sizes = {int(c): int(n) for c, n in zip(profile.cluster, profile.n, strict=True)}
    before = state.get_int("cluster", NONE, low=NONE)
    cluster = _cluster_choice(sizes, before)
    if cluster == NONE:
        state.put(cpage=None, clmore=None, clsimk=None)
        return
    pick = replace(where, cluster=ClusterPick(projection_key, cluster))
    summary, shown, page, pages = _cluster_page(model_key, pick, projection_key, cluster,
                                                first=cluster != before)  # fmt: skip
    st.caption(ngettext(
        "Cluster {cluster}: {rows} track of the stored projection · page {page} of {pages} "
        "(rows shown: {shown})",
        "Cluster {cluster}: {rows} tracks of the stored projection · page {page} of {pages} "
        "(rows shown: {shown})", summary.rows).format(
        cluster=cluster, rows=i18n.number(summary.rows), page=page, pages=i18n.number(pages),
        shown=len(shown)))  # fmt: skip
    widgets.clip_list(shown, CLUSTER_COLUMNS, f"cluster-{projection_key}-{cluster}-{page}",
                      model_key)  # fmt: skip
    _clips_link(model_key, projection_key, cluster, summary.rows)
    similar.more_like_cluster(model_key, where, projection_key, cluster, sizes[cluster])


def _cluster_choice(sizes: dict[int, int], wanted: int) -> int:
    """The "List a cluster's clips" picker (none, or one of the projection's clusters)."""
    options = [NONE, *sizes]
    key = state.key("cluster")
    widgets.keep_choice(key, options, initial=wanted, fallback=NONE)

    def label(cluster: int) -> str:
        if cluster == NONE:
            return _("none")
        return ngettext("cluster {cluster} · {n} track", "cluster {cluster} · {n} tracks",
                        sizes[cluster]).format(cluster=cluster, n=i18n.number(sizes[cluster]))  # fmt: skip

    chosen = st.selectbox(_("List a cluster's clips"), options, key=key,
                          format_func=i18n.fixed(label))  # fmt: skip
    state.put(cluster=None if chosen == NONE else chosen)
    return chosen


def _cluster_page(model_key: str, pick: ClipFilter, projection_key: str, cluster: int,
                  first: bool) -> tuple[ClipSummary, pd.DataFrame, int, int]:  # fmt: skip
    """The cluster's summary and the page asked for (URL `cpage`; page 1 for a cluster just
    picked), as (summary, rows, page, pages)."""
    wanted = 1 if first else state.get_int("cpage", 1, low=1, high=10**9)
    summary, shown = reads.clip_table(model_key, ClipQuery(pick, page=wanted - 1))
    pages = max(1, -(-summary.rows // PAGE_ROWS))
    # A link to a page the cluster no longer reaches shows its last page.
    page = st.number_input(_("Page"), min_value=1, max_value=pages, value=min(wanted, pages),
                           key=f"{state.key('cpage')}-{projection_key}-{cluster}")  # fmt: skip
    if page != wanted:
        shown = reads.clip_page(model_key, ClipQuery(pick, page=page - 1))
    state.put(cpage=None if page == 1 else page)
    return summary, shown, page, pages


def _clips_link(model_key: str, projection_key: str, cluster: int, rows: int) -> None:
    """A link to the Clips page showing this cluster's clips, the sidebar's filters kept."""
    params = {**state.carried(widgets.FILTER_PARAMS), "model": model_key,
              "proj": projection_key, "cluster": str(cluster)}  # fmt: skip
    label = ngettext("Open the cluster's {n} clip in Clips", "Open the cluster's {n} clips in Clips",
                     rows).format(n=i18n.number(rows))  # fmt: skip
    st.page_link(st.session_state["pages"]["clips"], label=label, icon="🗂️", query_params=params)


def narrowed(where: ClipFilter) -> ClipFilter:
    """Clips opened by a cluster's link (`proj`, `cluster`): `where` narrowed to that cluster,
    said above the table with a way back to every clip. A link to a projection no longer
    stored is said and dropped."""
    key, cluster = state.get_str("proj"), state.get_int("cluster", NONE, low=NONE)
    if key is None and "cluster" not in st.query_params:
        return where
    if not (key and _PROJECTION_KEY.fullmatch(key) and cluster >= 0 and reads.projection_size(key)):
        st.warning(_("The link's cluster is not stored any more; every clip is listed."))
        state.put(proj=None, cluster=None)
        return where
    left, right = st.columns([4, 1])
    left.info(_("Only the clips of cluster {cluster} of a projection on the Clusters page.").format(
        cluster=cluster))  # fmt: skip
    if right.button(_("Show every clip")):
        state.put(proj=None, cluster=None, page=None)
        st.rerun()
    return replace(where, cluster=ClusterPick(key, cluster))
