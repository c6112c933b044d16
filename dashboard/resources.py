"""What every session shares: the environment's paths, the Store and loaded models.

The Store is a process-wide resource (`st.cache_resource`), and so are loaded models (a plain
cache, because an analysis loads its model in a worker thread, where st.* must not run). Pages
reach the database only through dashboard.reads, dashboard.jobs, dashboard.admin and
dashboard.downloads, which take the Store from here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.errors import InputError, ModelDownloadError, ModelLoadError
from core.model.engine import Engine, load_engine
from core.model.testmodel import make_test_model
from core.store.database import Store, resolve_db_path

TEST_MODEL = "untrained test model"


LOCAL_MODEL = "local model directory"


HUB_MODELS = ("emotion2vec_plus_large", "emotion2vec_plus_base", "emotion2vec_plus_seed")


MODEL_CHOICES = (*HUB_MODELS, LOCAL_MODEL, TEST_MODEL)


LOCAL_PREFIX = "local:"  # engine("local:<name>") loads <models folder>/<name>


@st.cache_data(ttl=60, show_spinner=False)
def hub_models_here() -> dict[str, bool]:
    """The hub models this server can run, each True when already downloaded, False when its
    first use downloads it; one it has no copy of and cannot download (offline) is left out.
    Asked again after a minute, so a server that comes online or gets a copy offers it."""
    from core.model.hub import can_reach, is_downloaded

    here = {m: is_downloaded(m) for m in HUB_MODELS}
    online = any(not v for v in here.values()) and can_reach("ms")
    return {m: v for m, v in here.items() if v or online}


def offered_models(here: dict[str, bool], may_local: bool) -> list[str]:
    """The Upload page's model choices: the hub models in `here` (hub_models_here), the models
    folder for visitors who may load from it, and the random-weights test model."""
    return [m for m in MODEL_CHOICES if (m not in HUB_MODELS or m in here)
            and (m != LOCAL_MODEL or may_local)]  # fmt: skip


def preferred_model(offered: list[str]) -> tuple[str | None, str | None]:
    """The Upload page's first choice, and the model directory to select when it is local:
    $EMOSCOPE_MODEL when it is offered (a hub name, or a directory in the models folder), else
    the first hub model offered, else the models folder when it holds one. None when nothing
    but the random-weights test model could run: the visitor then chooses knowingly."""
    setting = os.environ.get("EMOSCOPE_MODEL", "").strip()
    if setting in offered:
        return setting, None
    if LOCAL_MODEL in offered and setting and Path(setting).name in local_models():
        return LOCAL_MODEL, Path(setting).name
    hub = [m for m in offered if m in HUB_MODELS]
    if hub:
        return hub[0], None
    return (LOCAL_MODEL, None) if LOCAL_MODEL in offered and local_models() else (None, None)


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path, busy_timeout_s=15)


def store() -> Store:
    """The database named by $EMOSCOPE_DB, else data/emoscope.duckdb (the CLI's rule)."""
    return _store(str(resolve_db_path()))


def test_model_dir() -> Path:
    """The untrained test model beside the database, written on first use (seconds)."""
    directory = store().path.parent / "test-model"
    if not (directory / "model.pt").exists():
        make_test_model(directory)
    return directory


def models_dir() -> Path:
    """$EMOSCOPE_MODELS_DIR, else data/models: the only folder the web page loads models from."""
    return Path(os.environ.get("EMOSCOPE_MODELS_DIR") or "data/models").expanduser().resolve()


def local_models() -> list[str]:
    """Names of the model directories (those holding a config.yaml) in the models folder.

    Visitors pick one of these names; they never type a path, so they learn nothing about the
    server's folders and cannot make it load anything else.
    """
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "config.yaml").is_file())


def model_source(model: str) -> str:
    """What `load_engine` loads for a choice on the page: a hub name or a model directory.

    `model` is a hub name, TEST_MODEL, or LOCAL_PREFIX + a name from `local_models()`; anything
    else is refused, so a visitor can never make the server load a path of their choosing.
    """
    if model == TEST_MODEL:
        return str(test_model_dir())
    if model in HUB_MODELS:
        return model
    name = model.removeprefix(LOCAL_PREFIX)
    if model.startswith(LOCAL_PREFIX) and name in local_models():
        return str(models_dir() / name)
    raise InputError(f"{name}: not one of the models offered here; choose one from the list.")


_ENGINES: dict[str, Engine] = {}


_ENGINES_LOCK = threading.Lock()


_ENGINES_KEPT = 2  # loaded models held at once (the large one holds ~1.2 GB)


def engine(source: str, on_download: Callable[[int], None] | None = None) -> Engine:
    """A loaded model shared by every session; safe from a worker thread (no st.* inside).

    Loading imports funasr and, for a hub model's first use, downloads it (`on_download` hears
    the bytes so far); the lock makes a second upload wait for that rather than load it twice.
    """
    with _ENGINES_LOCK:
        if source not in _ENGINES:
            while len(_ENGINES) >= _ENGINES_KEPT:
                _ENGINES.pop(next(iter(_ENGINES)))
            try:
                _ENGINES[source] = load_engine(source, on_download=on_download)
            except ModelDownloadError as exc:  # the page's reader has no command line
                raise ModelLoadError(exc.for_web("EMOSCOPE_MODELS_DIR")) from exc
        return _ENGINES[source]


_TRANSCRIBERS: dict[str, object] = {}


def transcriber(s: Store, source: str):
    """SenseVoice for an analysis: the tiny test one beside the emotion test model, else
    SenseVoiceSmall from the hub; loaded once per process (worker thread: no st.*)."""
    from core.model.transcribe import DEFAULT_ASR_MODEL, load_transcriber

    asr = DEFAULT_ASR_MODEL
    if source == str(s.path.parent / "test-model"):  # test_model_dir(), without st.*
        from core.model.asr_testmodel import make_sensevoice_test_model

        directory = s.path.parent / "test-model-asr"
        if not (directory / "model.pt").exists():
            make_sensevoice_test_model(directory)
        asr = str(directory)
    with _ENGINES_LOCK:
        if asr not in _TRANSCRIBERS:
            try:
                _TRANSCRIBERS[asr] = load_transcriber(asr)
            except ModelDownloadError as exc:
                raise ModelLoadError(exc.for_web("EMOSCOPE_MODELS_DIR")) from exc
        return _TRANSCRIBERS[asr]


def version() -> tuple:
    """Changes whenever the database file changes (any process)."""
    return store().file_stamp()


def for_visitor(message: str) -> str:
    """A core message as a visitor may read it: the database by its name, never its folder."""
    path = store().path
    return message.replace(str(path), path.name)
