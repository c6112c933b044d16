"""Shared addresses and click-throughs in Chromium: the dashboard keeps its state in the URL.

URL round-trips: state is set through the widgets in one browser context, the address is copied
into a new context (another person's browser), and the same widget values, rows and charts come
back. Click-throughs: an Overview shift and a Model check cell lead to a list whose row opens
the clip on the Clips page.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.model.labels import EMOJI, EMOTIONS
from core.store.clips import select_clips
from core.store.database import Store
from core.store.evaluation import check_corpus
from tests.analysis.test_overview import MONDAY, write
from tests.browser.driving import (
    compute_projection,
    no_exception,
    settle,
    shoot,
    show_projection,
    start_server,
)
from tests.browser.test_model_check import CELL_CENTRE
from tests.browser.test_navigation import (
    matching,
    open_listed_clip,
    point_centres,
    select_row,
    url_matches,
)

# Every input widget: where it is, its label, its shown text and its inputs' values (a radio's
# and a toggle's checked state; a selectbox shows its choice in an input; a slider's value), in
# page order.
WIDGETS = """() => [...document.querySelectorAll([
        'stSelectbox', 'stMultiSelect', 'stSlider', 'stRadio', 'stNumberInput', 'stTextInput',
        'stCheckbox'].map(t => `[data-testid='${t}']`).join(','))].map(w => {
    const label = w.querySelector("[data-testid='stWidgetLabel']");
    const inputs = [...w.querySelectorAll('input')].map(i =>
        i.type === 'radio' || i.type === 'checkbox' ? String(i.checked) : i.value).concat(
        [...w.querySelectorAll('[role=slider]')].map(s => s.getAttribute('aria-valuenow')));
    return [w.closest("[data-testid='stSidebar']") ? 'sidebar' : 'main',
            label ? label.innerText.trim() : '', w.innerText.replace(/\\s+/g, ' ').trim(),
            inputs.join('|')];
})"""
ECHARTS = "[data-testid='stEChartsChart']"
# What each Plotly chart draws: its title and, per trace, name, type and data. Streamlit's
# Plotly theme wraps the title in one more <b> each time the chart is drawn again (visually the
# same), so that wrapping is taken off.
FIGURES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => JSON.stringify({
    title: gd._fullLayout.title.text.replace(/^(<b>)+|(<\\/b>)+$/g, ''),
    traces: gd._fullData.map(t => [t.name, t.type, t.visible, ...['x', 'y', 'z'].map(a =>
        t[a] == null ? null : Array.from(t[a], v => ArrayBuffer.isView(v) || Array.isArray(v)
            ? Array.from(v) : v))])
}))"""


def snapshot(tab) -> dict:
    """What a person sees of the page's state: widgets, data grids, metrics, captions, charts."""
    settle(tab)
    main = tab.locator("[data-testid='stMain']")
    return {
        "widgets": tab.evaluate(WIDGETS),
        # The grid draws on a canvas; its cells are also in an offscreen table for screen readers.
        "grids": [g.text_content() for g in main.locator("[data-testid='stDataFrame']").all()],
        "tables": [t.inner_text() for t in main.locator("[data-testid='stTable']").all()],
        "metrics": [m.inner_text() for m in main.locator("[data-testid='stMetric']").all()],
        "captions": [c.inner_text() for c in main.locator("[data-testid='stCaptionContainer']").all()],
        "figures": [json.loads(f) for f in tab.evaluate(FIGURES)],
        # ECharts draws on a canvas; each chart describes what it shows in its aria-label.
        "charts": [c.get_attribute("aria-label") for c in main.locator(ECHARTS).all()],
    }  # fmt: skip


def steady(tab) -> dict:
    """The snapshot once two in a row agree: the address changes while the script is still
    drawing (state.put comes first), so one settled moment can still show the old captions."""
    last = snapshot(tab)
    for _ in range(30):
        tab.wait_for_timeout(500)
        now = snapshot(tab)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the page never stopped changing: {tab.url}")


def in_new_browser(browser, url: str, ready: str):
    """The address opened in a fresh context (no cookies, no session): its page, once `ready`
    (a selector that shows the script has drawn what the comparison needs) is there."""
    colleague = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    colleague.set_default_timeout(60_000)
    colleague.goto(url)
    colleague.wait_for_selector(ready)
    settle(colleague)
    return colleague


def assert_same_state(page, browser, ready: str) -> dict:
    """Copy the address into a new browser; it must show exactly what this one shows."""
    here = steady(page)
    colleague = in_new_browser(browser, page.url, ready)
    try:
        there = steady(colleague)
        no_exception(colleague)
        assert colleague.url == page.url  # nothing dropped or rewritten on arrival
        for part in here:  # the first difference, in few words
            assert len(there[part]) == len(here[part]), (part, there[part], here[part])
            for a, b in zip(there[part], here[part], strict=True):
                assert a == b, (part, str(a)[:600], str(b)[:600])
    finally:
        colleague.context.close()
    return here


def pick(tab, label: str, option: str) -> None:
    """Choose an option of the selectbox labelled `label` in the main area, as a user does."""
    box = tab.locator("[data-testid='stMain'] [data-testid='stSelectbox']").filter(
        has=tab.get_by_text(label, exact=True)
    )
    choice = tab.get_by_role("option", name=option).first
    for attempt in range(3):
        # A rerun finishing while the list is open closes it: the click during a rerun leaves it
        # closed, or the option goes from under the mouse (CI: detached, then waited for 60 s).
        box.locator("input").click()
        try:
            choice.wait_for(timeout=10_000)
            choice.click(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            tab.keyboard.press("Escape")
            settle(tab)
    settle(tab)


def drop_last_chip(tab, where: str, label: str) -> None:
    """Remove the last chosen item of a multiselect with Backspace, as a keyboard user does."""
    field = tab.locator(f"{where} [data-testid='stMultiSelect']").filter(has_text=label)
    field.locator("input").click()
    tab.keyboard.press("Backspace")
    tab.keyboard.press("Escape")
    settle(tab)


def choose(tab, where: str, label: str, *options: str) -> None:
    """Add options to the multiselect labelled `label` (`where`: a container's selector)."""
    field = tab.locator(f"{where} [data-testid='stMultiSelect']").filter(
        has=tab.get_by_text(label, exact=True)
    )
    for option in options:
        wanted = tab.get_by_role("option", name=option).first
        for attempt in range(3):  # a rerun that lands just after the click closes the list
            field.locator("input").click()
            try:
                wanted.click(timeout=20_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        settle(tab)
    tab.keyboard.press("Escape")


def nudge_slider(tab, label: str, key: str, times: int, wanted: str) -> None:
    """Move a slider by keyboard, as a user can, until the URL holds `wanted`."""
    tab.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider").focus()
    for _ in range(times):
        tab.keyboard.press(key)
    url_matches(tab, wanted)
    settle(tab)


def widget(state: dict, label: str, where: str = "main") -> tuple[str, str]:
    """The shown text and the inputs' values of the widget labelled `label`."""
    [found] = [(t, v) for w, name, t, v in state["widgets"] if w == where and name == label]
    return found


# -- URL round-trips ----------------------------------------------------------------------------


def test_a_copied_trends_url_shows_the_same_period_focus_agents_and_drill_down(
    page, server, seeded_model, browser
):
    page.goto(f"{server}/trends?model={seeded_model}")
    settle(page)
    page.get_by_text("month", exact=True).click()
    url_matches(page, "period=month")
    settle(page)
    pick(page, "Emotion", "sad")
    url_matches(page, "focus=sad")
    page.get_by_text("Compare agents over time").click()  # the lines are drawn on request
    url_matches(page, "cmp=alice.*cmp=bob.*cmp=carol")
    settle(page)
    drop_last_chip(page, "[data-testid='stMain']", "Compare agents")  # carol leaves the lines
    url_matches(page, "cmp=alice.*cmp=bob")
    pick(page, "Agent", "bob")
    url_matches(page, "da=bob")
    pick(page, "Period starting", "2024-05-01")
    url_matches(page, "dp=2024-05-01")
    assert "cmp=carol" not in page.url
    state = assert_same_state(page, browser, "[data-testid='stDataFrame']")
    assert widget(state, "Emotion")[1].endswith(" sad")
    chips = widget(state, "Compare agents (2–5)")[0]
    assert "alice" in chips and "bob" in chips and "carol" not in chips
    assert widget(state, "Agent")[1] == "bob"
    assert widget(state, "Period starting")[1] == "2024-05-01"
    assert widget(state, "Compare agents over time")[1] == "true"
    [lines] = state["figures"]  # the two agents' share and confidence lines
    assert {trace[0] for trace in lines["traces"]} == {"alice", "bob"}
    assert state["grids"][0].startswith("agent2024-05-01")  # the grid: agents x months
    assert re.search(r"bob/2024-05-\d\d_\d\.wav", state["grids"][1])  # bob's clips of May


def test_a_copied_frames_url_shows_the_same_clip_style_emotions_and_comparison(
    page, server, seeded_model, browser
):
    page.goto(f"{server}/frames?model={seeded_model}")
    settle(page)
    pick(page, "Clip", "bob/2024-05-09_1.wav · mix (calls)")
    url_matches(page, "clip=")
    page.get_by_text("lines", exact=True).click()
    url_matches(page, "style=lines")
    settle(page)
    drop_last_chip(page, "[data-testid='stMain']", "Emotions")
    url_matches(page, "emo=")
    pick(page, "Compare with", "carol/2024-05-17_2.wav · mix (calls)")
    url_matches(page, "vs=")
    state = assert_same_state(page, browser, f"{ECHARTS} canvas")
    assert widget(state, "Clip")[1] == "bob/2024-05-09_1.wav · mix (calls)"
    assert widget(state, "Compare with")[1] == "carol/2024-05-17_2.wav · mix (calls)"
    assert widget(state, "Style")[1] == "false|true"  # lines, not stacked area
    emotions = widget(state, "Emotions")[0]
    assert "unknown" not in emotions and "surprised" in emotions  # the last one was removed
    # Two curves (the clip and its comparison), each drawing the eight emotions left, then both
    # on one axis.
    eight = "angry, disgusted, fearful, happy, neutral, other, sad, surprised over "
    first, second, both = state["charts"]
    assert first.startswith(f"bob/2024-05-09_1.wav · mix (calls): {eight}")
    assert second.startswith(f"carol/2024-05-17_2.wav · mix (calls): {eight}")
    assert both.startswith("A and B on one time axis")  # #27's comparison chart


def test_a_copied_overview_url_shows_the_same_period(page, server, seeded_model, browser):
    page.goto(f"{server}/?model={seeded_model}")
    settle(page)
    weekly = snapshot(page)
    page.get_by_text("month", exact=True).click()
    url_matches(page, "period=month")
    state = assert_same_state(page, browser, f"{ECHARTS} canvas")
    assert state["charts"] != weekly["charts"]  # the month really changed what is drawn
    assert state["charts"][1] == "Mix per month: the month of 2024-05-01"
    assert widget(state, "Period")[1] == "false|true|false"  # week, month, day (#30's order)


def test_a_copied_clips_url_keeps_the_sidebar_filters(page, server, seeded_model, browser):
    """Sidebar filters with search and sort (search, sort and order alone are in
    test_browser_navigation). Not the page number: the seeded 12 clips fill one page of 500."""
    page.goto(f"{server}/clips?model={seeded_model}")
    settle(page)
    choose(page, "[data-testid='stSidebar']", "Agent", "alice", "bob")  # carol is left out
    url_matches(page, "agent=alice.*agent=bob")
    page.get_by_role("textbox", name="Search file names").fill("2024-05-")
    page.get_by_role("textbox", name="Search file names").press("Enter")
    url_matches(page, "q=2024-05-")
    settle(page)
    pick(page, "Sort by", "duration_s")
    url_matches(page, "sort=duration_s")
    assert matching(page).startswith(
        "Clips (tracks) matching the filters: 8 "
    )  # alice's and bob's four each
    state = assert_same_state(page, browser, "[data-testid='stDataFrame']")
    assert "carol" not in state["grids"][0] and "alice/" in state["grids"][0]
    agents = widget(state, "Agent", "sidebar")[0]
    assert "alice" in agents and "bob" in agents and "carol" not in agents


def test_a_copied_clusters_url_shows_the_same_k_colour_and_umap_settings(
    page, server, seeded_model, browser
):
    compute_projection(page, server, seeded_model)
    pick(page, "Clusters (k)", "3")
    url_matches(page, "k=3")
    pick(page, "Colour by", "agent")
    url_matches(page, "color=agent")
    # Sliders by keyboard: neighbours 15 -> 12, min distance 0.10 -> 0.12.
    nudge_slider(page, "neighbours", "ArrowLeft", 3, "nn=12")
    nudge_slider(page, "min distance", "ArrowRight", 2, "md=0.12")
    show_projection(page)
    # #30: a clicked point and a listed cluster are in the URL too.
    page.mouse.click(*point_centres(page.locator(f"{ECHARTS} canvas").first)[0])
    settle(page)
    page.get_by_text("1 selected clip", exact=True).wait_for()
    url_matches(page, r"sel=[0-9a-f]{8}-12\.")
    pick(page, "List a cluster's clips", "cluster 1 ·")
    url_matches(page, "cluster=1")
    state = assert_same_state(page, browser, "[data-testid='stTable']")
    assert widget(state, "Clusters (k)")[1] == "3"
    assert widget(state, "Colour by")[1] == "agent"
    assert widget(state, "UMAP neighbours")[1] == "12"
    assert float(widget(state, "UMAP min distance")[1]) == pytest.approx(0.12)
    # The map coloured by the three agents, four clips each.
    assert state["charts"][0] == "Map of 12 clips coloured by agent: alice 4, bob 4, carol 4"
    assert page.locator("[data-testid='stTable'] tbody tr").count() == 3  # one row per cluster
    # The new browser listed the clicked clip and every track of cluster 1, as this one did.
    listed = widget(state, "List a cluster's clips")[1]  # "cluster 1 · 4 tracks"
    n = int(re.fullmatch(r"cluster 1 · (\d+) tracks?", listed)[1])
    assert f"Cluster 1: {n} track" in " ".join(state["captions"])
    assert f"(rows shown: {n})" in " ".join(state["captions"])
    assert len(state["grids"]) == 2  # the clicked point's clip, then the cluster's
    assert len(re.findall(r"(alice|bob|carol)/2024-05-\d\d_\d\.wav", state["grids"][1])) == n


# -- click-throughs that end at an opened clip --------------------------------------------------


@pytest.fixture(scope="module")
def shift_server(tmp_path_factory):
    """A database where agent ann's angry share jumps in her latest week (30 neutral tracks,
    then 25 angry) and bob stays calm: one flagged shift up, one down (neutral)."""
    folder = tmp_path_factory.mktemp("shift")
    days = [MONDAY + timedelta(days=i % 7) for i in range(30)]
    days += [MONDAY + timedelta(days=7 + i % 5) for i in range(25)]
    rows = pd.DataFrame({"clip_id": [f"ann{i:02d}" for i in range(55)], "track": "mix",
                         "agent": "ann", "recorded_at": pd.to_datetime(days),
                         "emotion": ["neutral"] * 30 + ["angry"] * 25, "confidence": 0.8,
                         "duration_s": 3.0})  # fmt: skip
    write(Store(folder / "emoscope.duckdb"), "calls", rows)
    yield from start_server(folder, folder / "emoscope.duckdb")


def test_an_overview_shift_leads_to_its_clips_and_a_row_opens_one(page, shift_server):
    page.goto(shift_server)
    settle(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("ann · 😠 angry").wait_for()
    # #30 lists the shift in Needs attention and among every significant change, and the
    # negative group's row links to four emotions: take a link to ann's angry clips alone.
    shift = main.locator("[data-testid='stHorizontalBlock']").filter(has_text="ann · 😠 angry")
    links = shift.get_by_role("link", name=re.compile(r"Clips$"))
    links.and_(page.locator("a[href*='emotion=angry&from=']")).first.click()
    url_matches(page, r"/clips\?")
    settle(page)
    assert matching(page).startswith(
        "Clips (tracks) matching the filters: 25 "
    )  # ann's latest week only
    select_row(page, main.locator("[data-testid='stDataFrame']").first, 0)
    url_matches(page, r"clip=ann\d\d")
    clip = re.search(r"clip=(ann\d\d)", page.url).group(1)
    assert 30 <= int(clip[3:]) < 55  # one of the angry week's clips
    heading = main.locator("h3").filter(has_text=f"{clip}.wav")
    heading.wait_for()
    assert heading.inner_text().replace("\u200b", "") == f"{clip}.wav"
    assert clip == "ann30"  # sorted by name, the week's first
    no_exception(page)
    shoot(page, "roundtrip-shift-clip")


def test_a_confusion_cell_lists_its_clips_and_a_row_opens_one(
    check_server, page, labelled_db, engine
):
    store, _ = labelled_db
    confusion = check_corpus(store, "calls", model_keys=[engine.model_key]).reports[0].confusion
    page.goto(f"{check_server}/check?corpus=calls&model={engine.model_key}")
    settle(page)
    row, col = map(int, np.argwhere(confusion)[-1])  # the last filled cell
    label, predicted = EMOTIONS[row], EMOTIONS[col]
    page.locator(".js-plotly-plot").last.scroll_into_view_if_needed()
    point = page.evaluate(CELL_CENTRE, [f"{EMOJI[e]} {e}" for e in (label, predicted)])
    page.mouse.click(point["x"], point["y"])
    n = int(confusion[row, col])
    expected = (
        f"{n} {'track' if n == 1 else 'tracks'} labelled {label} that the model calls {predicted}"
    )
    page.get_by_text(expected).wait_for()
    settle(page)
    cell = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']").last
    name = open_listed_clip(page, cell)
    assert re.fullmatch(r"(alice|bob|carol)/2024-05-\d\d_\d\.wav", name)
    heading = page.locator("[data-testid='stMain'] h3").filter(has_text=name)
    assert heading.first.inner_text().replace("\u200b", "") == name
    stored = select_clips(store, engine.model_key)
    opened = stored[stored.clip_id == re.search(r"clip=(\w+)", page.url).group(1)]
    assert list(opened.source_name.unique()) == [name]
    assert set(opened.top_label) == {predicted}  # the row came from the clicked cell
