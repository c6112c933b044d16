"""Similar recordings on the dashboard (#27): cached searches and the sections pages draw.

- Clips: a selected clip's "Similar recordings" (`similar_section`): the list (each row opens its
  clip on Clips, keeping the filters and the search in the URL: `sim`, `simk`), and "Find by
  example" (an uploaded clip, scored through the cache and never stored).
- Clusters: "More like these" (`more_like_these`), nearest to the selection's centroid, and
  "More like this cluster" (`more_like_cluster`), nearest to a whole cluster's, outside it.
- Frame curves: `compare_panel`, the two clips' cosine similarity and nine scores side by side.

Searches are cached on the database file's version like every read (dashboard.reads). A search
answered without the index (none yet, or stale) starts its update in a background thread that
touches only core; the exact scan answers meanwhile.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.access.principal import require
from core.errors import EmoScopeError
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipFilter
from core.search import index
from core.search import similar as search
from core.search import sync as index_sync
from core.store import similar as queries
from dashboard import auth, i18n, reads, resources, state
from dashboard.i18n import _, ngettext
from dashboard.text import literal

K_CHOICES = (10, 20, 50, 100)
LIST_COLUMNS = ["similarity", "source_name", "corpus", "track", "agent", "recorded_at",
                "top_label", "confidence"]  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=128)
def _to_track(_s, path: str, v: tuple, model_key: str, clip_id: str, track: str,
              where: ClipFilter, k: int) -> search.Similar:  # fmt: skip
    return search.similar_to_track(_s, model_key, clip_id, track, where, k)


@st.cache_data(show_spinner=False, max_entries=32)
def _to_keys(_s, path: str, v: tuple, model_key: str, keys: tuple, where: ClipFilter,
             k: int) -> search.Similar:  # fmt: skip
    centre = search.centroid(_s, model_key, list(keys))
    return search.similar_to_vector(_s, model_key, centre, where, k, exclude=set(keys))


@st.cache_data(show_spinner=False, max_entries=32)
def _to_cluster(_s, path: str, v: tuple, model_key: str, projection_key: str, cluster: int,
                where: ClipFilter, k: int) -> tuple[search.Similar, int]:  # fmt: skip
    return search.similar_to_cluster(_s, model_key, projection_key, cluster, where, k)


def _fresh(found: search.Similar, model_key: str) -> search.Similar:
    if found.method != "index":  # the exact scan answered: bring the index up to date
        index_sync.sync_in_background(resources.store(), model_key)
    return found


def similar_to_track(model_key: str, clip_id: str, track: str, where: ClipFilter,
                     k: int) -> search.Similar:  # fmt: skip
    s = resources.store()
    return _fresh(_to_track(s, str(s.path), resources.version(), model_key, clip_id, track, where, k),
                  model_key)  # fmt: skip


def more_like(model_key: str, keys: tuple[tuple[str, str], ...], where: ClipFilter,
              k: int) -> search.Similar:  # fmt: skip
    s = resources.store()
    return _fresh(
        _to_keys(s, str(s.path), resources.version(), model_key, keys, where, k), model_key
    )


def by_example(model_key: str, name: str, content: bytes, where: ClipFilter, k: int):
    """Search with an uploaded clip: its stored embedding when this very file was ingested,
    else scored now with the results' model, in memory (analysts and admins: it runs the model).
    Returns (Similar, facts)."""
    s = resources.store()
    loader = _loader(model_key)
    with tempfile.TemporaryDirectory(prefix="emoscope-example-") as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(content)
        vector, facts = search.example_embedding(s, model_key, path, loader)
    found = search.similar_to_vector(s, model_key, vector, where, k,
                                     exclude={(facts["clip_id"], facts["track"])})  # fmt: skip
    return _fresh(found, model_key), facts


def _loader(model_key: str):
    def load():
        require(auth.principal(), "analyse")
        info = reads.model_info(model_key)
        if bool(info.untrained):
            source = resources.model_source(resources.TEST_MODEL)
        elif info.model_id in resources.HUB_MODELS:
            source = str(info.model_id)
        else:
            source = resources.model_source(resources.LOCAL_PREFIX + Path(str(info.model_id)).name)
        return resources.engine(source)

    return load


def compare(model_key: str, a: tuple[str, str], b: tuple[str, str]) -> tuple[float, pd.DataFrame]:
    """Cosine similarity of two tracks and their nine scores side by side."""
    s = resources.store()
    dim = search.embedding_dim(s, model_key)
    va = queries.embedding_of(s, model_key, dim, *a)
    vb = queries.embedding_of(s, model_key, dim, *b)
    cosine = (
        float(index.unit_rows(va) @ index.unit_rows(vb))
        if va is not None and vb is not None
        else float("nan")
    )
    rows = {}
    for name, (clip_id, track) in (("A", a), ("B", b)):
        facts = queries.clip_facts(s, model_key, clip_id)
        facts = facts[facts.track == track]
        rows[name] = [float(facts[c].iloc[0]) if len(facts) else np.nan for c in SCORE_COLUMNS]
    table = pd.DataFrame({"emotion": list(EMOTIONS), **rows})
    table["B − A"] = table.B - table.A
    return cosine, table


# -- sections the pages draw --------------------------------------------------------------------


def _result_list(found: search.Similar, key: str, here: bool) -> None:
    """The result rows; choosing one opens that clip on Clips: on Clips itself (`here`) in place,
    every other parameter of the URL (filters, the search) kept; elsewhere by a link."""
    from dashboard import widgets

    if found.rows.empty:
        st.info(_("No other track in the current filters; widen them in the sidebar."))
        return
    event = st.dataframe(
        widgets.emotions_shown(found.rows[LIST_COLUMNS]), hide_index=True, key=key, on_select="rerun",
        selection_mode="single-row",
        column_config={"similarity": st.column_config.NumberColumn(_("similarity"), format="%.4f"),
                       "source_name": _("file"), "corpus": _("corpus"), "track": _("track"),
                       "agent": _("agent"), "top_label": _("top emotion"),
                       "confidence": st.column_config.ProgressColumn(_("confidence"), min_value=0.0, max_value=1.0),
                       "recorded_at": st.column_config.DatetimeColumn(_("recorded"), format="YYYY-MM-DD HH:mm")},
    placeholder="—")  # fmt: skip
    rows = event.selection.rows if event else []
    if rows and here:
        row = found.rows.iloc[rows[0]]
        state.put(clip=row.clip_id, track=row.track)
        st.rerun()
    elif rows:
        row = found.rows.iloc[rows[0]]
        st.page_link(st.session_state["pages"]["clips"], label=_("Open {name} in Clips").format(name=literal(row.source_name)),
                     icon="🗂️", query_params={"clip": row.clip_id, "track": row.track,
                                              "model": state.get_str("model", "")})  # fmt: skip
    else:
        st.caption(_("Select a row to open its clip."))


def _caption(found: search.Similar) -> str:
    left = []
    if found.left_out_self:
        left.append(ngettext("the clip itself ({n} row)", "the clip itself ({n} rows)",
                             found.left_out_self).format(n=found.left_out_self))  # fmt: skip
    if found.left_out_identical:
        left.append(ngettext("{n} other copy of the same audio", "{n} other copies of the same audio",
                             found.left_out_identical).format(n=found.left_out_identical))  # fmt: skip
    return (_("Cosine similarity of embeddings, within the sidebar's filters · {method}").format(
        method=found.method) + (_(" · left out: {what}").format(what=", ".join(left)) if left else ""))  # fmt: skip


def _k_choice(param: str = "simk") -> int:
    return st.selectbox(_("How many"), K_CHOICES, index=K_CHOICES.index(
        state.get_int(param, 20) if state.get_int(param, 20) in K_CHOICES else 20),
        key=state.key(param))  # fmt: skip


def _more_toggle(label: str, param: str, k_param: str) -> int | None:
    """A "more like" toggle and its "How many", both in the URL (`param`=1, `k_param`); the
    number of results asked for, or None while it is off."""
    if not st.toggle(label, value=state.get_str(param) == "1", key=state.key(param)):
        state.put(**{param: None, k_param: None})
        return None
    k = _k_choice(k_param)
    state.put(**{param: "1", k_param: None if k == 20 else k})
    return k


def similar_section(model_key: str, where: ClipFilter, clip_id: str, track: str) -> None:
    """Clips: "Similar recordings" of the selected clip, on request (the URL keeps it)."""
    st.divider()
    shown = st.toggle(
        _("Similar recordings"), value=state.get_str("sim") == "1", key=state.key("sim")
    )
    if not shown:
        state.put(sim=None, simk=None)
        return
    k = _k_choice()
    state.put(sim="1", simk=None if k == 20 else k)
    try:
        found = similar_to_track(model_key, clip_id, track, where, k)
    except EmoScopeError as exc:
        st.warning(i18n.error(resources.for_visitor(str(exc))))
        return
    st.caption(_caption(found))
    _result_list(found, f"similar-{clip_id}-{track}", here=True)
    with st.expander(_("Find by example: search with a clip that is not in any corpus")):
        upload = st.file_uploader(_("Audio file"), key="example", type=None)
        if upload is not None:
            try:
                with st.spinner(_("Scoring the example (not stored)…")):
                    found, facts = by_example(model_key, upload.name, upload.getvalue(), where, k)
            except EmoScopeError as exc:
                st.warning(i18n.error(resources.for_visitor(str(exc))))
                return
            st.caption((_("This very file is stored: its stored embedding was used. ") if facts["cached"]
                        else _("Scored now with the results' model; nothing was stored. ")) + _caption(found))  # fmt: skip
            _result_list(found, f"example-{clip_id}-{track}", here=True)


def more_like_these(model_key: str, where: ClipFilter, picked: pd.DataFrame) -> None:
    """Clusters: the tracks nearest to the selection's centroid, the selection left out."""
    k = _more_toggle(_("More like these"), "more", "simk")
    if k is None:
        return
    keys = tuple(sorted(zip(picked.clip_id, picked.track, strict=True)))
    try:
        found = more_like(model_key, keys, where, k)
    except EmoScopeError as exc:
        st.warning(i18n.error(resources.for_visitor(str(exc))))
        return
    st.caption(_("Nearest to the centroid of the {n} selected tracks (left out). ").format(n=len(keys))
               + _caption(found))  # fmt: skip
    _result_list(found, "more-like", here=False)


def more_like_cluster(model_key: str, where: ClipFilter, projection_key: str, cluster: int,
                      tracks: int) -> None:  # fmt: skip
    """Clusters: the tracks outside a whole cluster (`tracks` of them) nearest to its centroid
    (URL `clmore`, `clsimk`)."""
    k = _more_toggle(_("More like this cluster"), "clmore", "clsimk")
    if k is None:
        return
    s = resources.store()
    try:
        found, used = _to_cluster(s, str(s.path), resources.version(), model_key, projection_key,
                                  cluster, where, k)  # fmt: skip
    except EmoScopeError as exc:
        st.warning(i18n.error(resources.for_visitor(str(exc))))
        return
    found = _fresh(found, model_key)
    lead = ngettext("Nearest to the centroid of cluster {cluster}; its {n} track is left out. ",
                    "Nearest to the centroid of cluster {cluster}; its {n} tracks are left out. ",
                    tracks).format(cluster=cluster, n=i18n.number(tracks))  # fmt: skip
    if used < tracks:
        lead += _("The centroid is taken from a fixed sample of {used} of them. ").format(
            used=i18n.number(used))  # fmt: skip
    st.caption(lead + _caption(found))
    _result_list(found, f"more-like-cluster-{projection_key}-{cluster}", here=False)


def compare_panel(model_key: str, a: tuple[str, str], b: tuple[str, str], names: dict,
                  emotions, window: int, max_points: int) -> None:  # fmt: skip
    """Frame curves: two clips' cosine similarity, nine scores side by side, and their curves
    on one time axis (zoomed together)."""
    from core.analysis.curves import curve_frame, smooth_curve
    from dashboard import curve_charts, widgets

    st.subheader(_("Compare"))
    cosine, table = compare(model_key, a, b)
    table["emotion"] = table.emotion.map(i18n.emotion)
    table = table.rename(columns={"emotion": _("emotion")})
    left, right = st.columns([1, 3])
    left.metric(_("Cosine similarity"), "—" if np.isnan(cosine) else f"{cosine:.4f}")
    table = table.rename(columns={"A": names.get("A", "A"), "B": names.get("B", "B")})
    right.dataframe(table.round(4), hide_index=True, key="compare-scores", placeholder="—")
    curves = {}
    for label, (clip_id, track) in (("A", a), ("B", b)):
        logits = reads.frame_logits(clip_id, model_key, track)
        if logits is not None:
            curves[f"{label}: {names.get(label, label)}"] = curve_frame(
                smooth_curve(logits, window), max_points=max_points)  # fmt: skip
    if len(curves) == 2:
        widgets.echart(curve_charts.aligned_tracks(curves, emotions, _("A and B on one time axis"),
                       i18n.language()), key="compare-curves")  # fmt: skip
