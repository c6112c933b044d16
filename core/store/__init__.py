"""The DuckDB store: the one object that owns connections, transactions and migrations, and every SQL query.

`Store` (core.store.database) opens the file and runs transactions; the other modules hold the
queries, grouped by subject, and take the store (or a connection) they run on.
"""

from core.records import ClipFilter
from core.store.database import DEFAULT_DB, Store, resolve_db_path

__all__ = ["DEFAULT_DB", "ClipFilter", "Store", "resolve_db_path"]
