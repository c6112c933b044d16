"""The HTTP API at the dashboard's URL (/api/*): thin Starlette handlers over core.

`ROUTES` go to `st.App(routes=...)` in dashboard/asgi.py; `json_errors` turns Starlette's own
HTTP errors under /api into JSON. See dashboard/api/routes.py for the endpoints and
dashboard/api/openapi.py for their description.
"""

from dashboard.api.errors import json_errors
from dashboard.api.routes import ROUTES

__all__ = ["ROUTES", "json_errors"]
