"""Opening pages through Streamlit's AppTest, and reading the ECharts charts they draw."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def open_page(page: str, db: Path, monkeypatch, /, **params) -> AppTest:
    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    if page != "overview":  # the default page
        at.switch_page(f"../pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def echarts(at: AppTest) -> list[dict]:
    """The ECharts charts drawn, each as {"key", "option", "data"}: the option as sent, and each
    `dataset.source` read back from the Arrow table the browser receives, in dataset order."""
    import pyarrow as pa

    drawn = []
    for chart in at.get("echarts_chart"):
        tables = {
            d.name: pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets
        }
        option = json.loads(chart.proto.spec)
        datasets = option["dataset"] if isinstance(option["dataset"], list) else [option["dataset"]]
        data = [tables[d["source"]["name"]] for d in datasets]
        drawn.append({"key": chart.key, "option": option, "data": data})
    return drawn
