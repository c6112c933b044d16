"""Start the dashboard and its API: `python -m dashboard.serve [streamlit options]`.

`streamlit run dashboard/asgi_app.py`: the app of dashboard/app.py behind the access guard
(dashboard/guard.py) and the HTTP API beside it (/api/*, dashboard/api), with the data libraries
imported before the server opens. Streamlit imports an app's modules in its first visitor's
session: on a fresh server that visitor waited another 0.3-0.4 s for pandas, pyarrow, DuckDB and
numpy to load (measured on the Overview at 1M clips, 2 cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).with_name("asgi_app.py")


def main(argv: list[str] | None = None) -> None:
    """Import the heavy libraries, then hand over to Streamlit's own command line."""
    import numpy  # noqa: F401 (imported for their load time, above)
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    from streamlit.web import cli

    from core.store.database import load_database_library

    load_database_library()

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
