"""What the API shares in the server process: the dashboard's Store, the default model behind a
batching Predictor, the API's background jobs, and who is calling.

The Store and loaded models are the dashboard's own (dashboard.resources): one Store per process
(DuckDB lets only one process hold the file) and one copy of each model in memory.
"""

from __future__ import annotations

import os
import threading
import uuid

from starlette.requests import Request

from core.access.principal import OPEN_MODE, Principal, require, resolve
from core.errors import ModelLoadError, NotSignedInError
from core.ingest.predict import Predictor
from core.jobs import JOBS, Job
from core.model.engine import DEFAULT_MODEL
from core.model.locate import HUB_MODELS
from core.store.database import Store
from dashboard import auth, resources

OPEN_HEADER = "X-EmoScope-Access"
OPEN_TEXT = "open: no sign-in configured, anyone who can reach this address may use this API"
JOB_PREFIX = "api-"

_lock = threading.Lock()
_predictors: dict[str, Predictor] = {}
_job_owners: dict[str, str] = {}


def store() -> Store:
    return resources.store()


def default_model() -> str:
    """What `load_engine` loads for $EMOSCOPE_MODEL: a known model name, or a directory in
    $EMOSCOPE_MODELS_DIR named by it (default emotion2vec_plus_large)."""
    name = os.environ.get("EMOSCOPE_MODEL", "").strip() or DEFAULT_MODEL
    if name in HUB_MODELS:
        return name
    if name in resources.local_models():
        return str(resources.models_dir() / name)
    raise ModelLoadError(
        f"EMOSCOPE_MODEL={name!r} is neither one of {', '.join(HUB_MODELS)} nor a model "
        "directory in EMOSCOPE_MODELS_DIR."
    )


def predictor() -> Predictor:
    """The default model behind its batching queue, loaded on first use (then shared)."""
    source = default_model()
    with _lock:
        if source not in _predictors:
            _predictors[source] = Predictor(resources.engine(source), store())
        return _predictors[source]


def sign_in_configured() -> bool:
    return auth.sign_in_configured()


def principal(request: Request) -> Principal:
    """Who calls: OPEN_MODE without sign-in; else the owner of the bearer token, with the role
    the owner holds now (NotSignedInError: 401; NotAllowedError: 403)."""
    from core.access.roles import granted_role
    from core.access.tokens import owner_of

    if not sign_in_configured():
        return OPEN_MODE
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotSignedInError(
            "this API needs a personal token (Authorization: Bearer <token>); create one on "
            "the dashboard's API tokens page."
        )
    email = owner_of(store(), secret.strip())
    return resolve(auth.settings(), email, granted_role(store(), email))


def start_job(who: Principal, work) -> str:
    """Run `work(progress)` as a background job of `who`; its id."""
    key = f"{JOB_PREFIX}{uuid.uuid4().hex}"
    with _lock:
        _job_owners[key] = who.email
    JOBS.start(key, work)
    return key


def job(who: Principal, key: str) -> Job | None:
    """An API job its caller may see (their own; an admin sees all), else None."""
    require(who, "read")
    with _lock:
        owner = _job_owners.get(key)
    if owner is None or (owner != who.email and not who.may("manage_roles")):
        return None
    return JOBS.get(key)
