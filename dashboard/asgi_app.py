"""The dashboard as an ASGI app (`st.App`): Streamlit's server with the access guard in front.

`python -m dashboard.serve` runs `streamlit run` on this file; Streamlit finds `app` below and
serves it with uvicorn, as it serves dashboard/app.py alone. Only here can middleware sit in
front of Streamlit's own routes (uploads, media, the sign-in callback): dashboard/guard.py.
The HTTP API's routes (/api/*, dashboard/api) are served beside them, at the same URL.
"""

from pathlib import Path

import streamlit as st
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from dashboard.api import ROUTES, json_errors
from dashboard.downloads import install_failure_messages
from dashboard.guard import AccessGuard

install_failure_messages()  # a refused or failed download says why, under its button
app = st.App(
    Path(__file__).with_name("app.py"),
    middleware=[Middleware(AccessGuard)],
    routes=ROUTES,
    exception_handlers={HTTPException: json_errors},
)
