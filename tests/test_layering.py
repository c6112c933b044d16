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
    offenders = [
        p.name for p in (ROOT / "core").rglob("*.py") if "streamlit" in imported_modules(p)
    ]
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


def test_pages_offer_files_only_through_the_shared_download_button():
    """dashboard.widgets.download_button keeps a click from rerunning the page (which lost
    downloads under load); a page calling Streamlit's own would bring that back."""
    offenders = [p.name for p in (ROOT / "pages").glob("*.py")
                 if ".download_button(" in p.read_text().replace("widgets.download_button(", "")]  # fmt: skip
    assert offenders == []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path, known: set[str]) -> set[str]:
    """Every module of ours that `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from core.store import rollup` imports a submodule
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def test_no_import_cycles_counting_imports_inside_functions():
    files = [p for d in ("core", "dashboard") for p in (ROOT / d).rglob("*.py")]
    modules = {module_name(p): p for p in files}
    graph = {name: internal_imports(p, set(modules)) - {name} for name, p in modules.items()}
    cycles = []

    def visit(node: str, path: list[str], done: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in done:
                visit(nxt, [*path, nxt], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], done)
    assert cycles == []


def test_sql_text_lives_only_in_the_store_package():
    """#24: every query is a function of core/store; no other module of core, dashboard or
    pages writes SQL."""
    import re

    sql = re.compile(
        r"\bSELECT\b[^\n]*\bFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b"
        r"|\bCREATE (TEMP )?TABLE\b|\bCOPY \("
    )
    files = [p for d in ("core", "dashboard", "pages") for p in (ROOT / d).rglob("*.py")]
    store = ROOT / "core" / "store"
    offenders = sorted(
        str(p.relative_to(ROOT))
        for p in files
        if store not in p.parents and sql.search(p.read_text())
    )
    assert offenders == []
