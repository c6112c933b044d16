"""What every page of the dashboard shows for one database, as plain JSON.

    python tests/compat/capture.py APP_PY DATABASE OUT.json

`schema8.expected.json` was captured this way with commit a66c17d's app on `schema8.duckdb.gz`;
test_schema8.py captures today's app on the same file and compares.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PAGES = ["overview", "upload", "clips", "frames", "clusters", "trends", "exports", "model_check",
         "admin"]  # fmt: skip
TEXT_ELEMENTS = ["title", "header", "subheader", "caption", "info", "warning", "error", "success"]


def page_view(at) -> dict:
    """The page's visible content: texts, metrics, tables and widget choices."""
    view = {kind: sorted(e.value for e in getattr(at, kind)) for kind in TEXT_ELEMENTS}
    view["metric"] = sorted([m.label, m.value] for m in at.metric)
    view["dataframe"] = [
        {"columns": [str(c) for c in d.value.columns], "rows": len(d.value),
         "first": [str(v) for v in d.value.iloc[0].tolist()] if len(d.value) else []}
        for d in at.dataframe
    ]  # fmt: skip
    view["selectbox"] = sorted([s.label, [str(o) for o in s.options]] for s in at.selectbox)
    view["multiselect"] = sorted([s.label, [str(o) for o in s.options]] for s in at.multiselect)
    return view


def capture(app: str) -> dict:
    """Open each page of `app` on the database $EMOSCOPE_DB and return what it shows, by page."""
    from streamlit.testing.v1 import AppTest

    views = {}
    for page in PAGES:
        at = AppTest.from_file(app, default_timeout=120)
        at.run()
        if page != "overview":
            at.switch_page(f"../pages/{page}.py")
            at.run()
        views[page] = {"exception": [e.value for e in at.exception], **page_view(at)}
    return views


if __name__ == "__main__":
    import os

    app, database, out = sys.argv[1:]
    os.environ["EMOSCOPE_DB"] = database
    Path(out).write_text(json.dumps(capture(app), indent=1, ensure_ascii=False))
