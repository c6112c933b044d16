"""The layering rules of DEVELOPERS.md, checked on the source."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_streamlit():
    offenders = [p.name for p in (ROOT / "core").rglob("*.py") if "streamlit" in imported_modules(p)]
    assert offenders == []


def test_pages_and_dashboard_touch_no_database_or_model_library():
    files = [*(ROOT / "pages").glob("*.py"), *(ROOT / "dashboard").rglob("*.py")]
    assert files, "pages/ and dashboard/ hold the app"
    banned = {"duckdb", "torch", "funasr"}
    offenders = {
        p.name: imported_modules(p) & banned for p in files if imported_modules(p) & banned
    }
    assert offenders == {}


def test_pages_run_no_sql():
    import re

    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET)\b")
    offenders = [p.name for p in (ROOT / "pages").glob("*.py") if sql.search(p.read_text())]
    assert offenders == []
