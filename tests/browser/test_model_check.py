"""The Model check page in Chromium: clicking a cell of the confusion matrix lists its clips.

AppTest can only fake a chart selection; this checks that a real click on the heatmap reaches
the page (Plotly heatmaps send no click events, so the figure carries a marker per cell).
"""

from __future__ import annotations

import numpy as np

from core.model.labels import EMOJI, EMOTIONS
from core.store.evaluation import check_corpus
from tests.browser.driving import (
    no_exception,
    settle,
)

CELL_CENTRE = """([label, predicted]) => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => g._fullLayout && g._fullLayout.yaxis.title.text === 'your label');
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.d2p(predicted), y: box.top + ya._offset + ya.d2p(label)};
}"""


def test_clicking_a_cell_lists_its_clips(check_server, page, labelled_db, engine):
    store, _ = labelled_db
    report = check_corpus(store, "calls", model_keys=[engine.model_key]).reports[0]
    confusion = report.confusion.copy()
    page.goto(f"{check_server}/check?corpus=calls&model={engine.model_key}")
    settle(page)
    no_exception(page)
    # A filled cell that is not the one shown first (the most common confusion).
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    first = np.unravel_index(off.argmax(), off.shape)
    cells = [(i, j) for i, j in zip(*np.nonzero(confusion), strict=True) if (i, j) != first]
    row, col = cells[0]
    label, predicted = EMOTIONS[row], EMOTIONS[col]
    shown = [f"{EMOJI[e]} {e}" for e in (label, predicted)]  # the axes' category names
    page.locator(".js-plotly-plot").last.scroll_into_view_if_needed()
    point = page.evaluate(CELL_CENTRE, shown)
    page.mouse.click(point["x"], point["y"])
    n = int(confusion[row, col])
    expected = (
        f"{n} {'track' if n == 1 else 'tracks'} labelled {label} that the model calls {predicted}"
    )
    page.get_by_text(expected).wait_for(timeout=60_000)
    settle(page)
    no_exception(page)
    assert page.get_by_text(expected).count() == 1
