"""Model downloads from ModelScope or Hugging Face, with progress a caller can show.

The hubs' own downloaders report progress only as a terminal bar. A first use of the large
model downloads over a gigabyte, so a watcher thread reports the bytes that have reached the
hub's cache folder for this model, once a second, while the download runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from core.errors import InputError, ModelDownloadError

BytesFn = Callable[[int], None]  # bytes of the model on disk so far
WATCH_EVERY_S = 1.0


def hub_directory(
    name: str, hub: str, on_bytes: BytesFn | None = None, repo: str | None = None
) -> Path:
    """The local directory of hub model `name`, downloaded on first use only.

    `repo` is the hub's repository (default: emotion2vec's, iic/NAME or emotion2vec/NAME)."""
    if hub in ("ms", "modelscope"):
        from modelscope.hub.snapshot_download import snapshot_download

        repo, cache = repo or f"iic/{name}", _cache_root("MODELSCOPE_CACHE", ".cache/modelscope")
    elif hub in ("hf", "huggingface"):
        from huggingface_hub import snapshot_download

        repo = repo or f"emotion2vec/{name}"
        cache = _cache_root("HF_HUB_CACHE", ".cache/huggingface")
    else:
        raise InputError(f"unknown hub {hub!r}: use 'ms' (ModelScope) or 'hf' (Hugging Face).")
    # A cached copy is used without asking the hub: funasr would re-check it online each time.
    with contextlib.suppress(Exception):
        return Path(snapshot_download(repo, local_files_only=True))
    try:
        with watching(cache, name, on_bytes):
            return Path(snapshot_download(repo))
    except Exception as exc:  # the hubs raise many unrelated types for "no network"
        hub_name = "ModelScope" if hub in ("ms", "modelscope") else "Hugging Face"
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        raise ModelDownloadError(repo, hub_name, reason) from exc


def is_downloaded(name: str, hub: str = "ms", repo: str | None = None) -> bool:
    """Whether hub model `name` is in this machine's hub cache, read from the caches' folder
    layouts (importing a hub's client to ask it takes seconds, too long for a page)."""
    if hub in ("ms", "modelscope"):
        # modelscope's layouts, old and new: {cache}[/hub][/models]/{owner}/{name, dots as ___}
        # and {cache}/models/{owner}--{name}/snapshots/{revision}/.
        repo = repo or f"iic/{name}"
        base = Path(os.environ.get("MODELSCOPE_CACHE") or Path.home() / ".cache/modelscope")
        owner, _, model = repo.partition("/")
        roots = [base, base / "hub", base / "models", base / "hub" / "models"]
        folders = [r / owner / m for r in roots for m in (model, model.replace(".", "___"))]
        if any((f / "model.pt").is_file() for f in folders):
            return True
        return any((base / "models" / f"{owner}--{model}" / "snapshots").glob("*/model.pt"))
    repo = repo or f"emotion2vec/{name}"
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache/huggingface")
    root = Path(os.environ.get("HF_HUB_CACHE") or home / "hub")
    snapshots = root / f"models--{repo.replace('/', '--')}" / "snapshots"
    return any(snapshots.glob("*/model.pt"))


HUB_HOSTS = {"ms": "www.modelscope.cn", "modelscope": "www.modelscope.cn",
             "hf": "huggingface.co", "huggingface": "huggingface.co"}  # fmt: skip


def can_reach(hub: str = "ms", timeout_s: float = 2.0) -> bool:
    """Whether this machine can open a connection to the hub (or to its HTTPS proxy, when one is
    set: then the proxy decides). Offline, a name that does not resolve answers in milliseconds."""
    import socket
    from urllib.parse import urlsplit

    if hub in ("hf", "huggingface") and os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    host, port = HUB_HOSTS[hub], 443
    if proxy:
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parts.hostname or host, parts.port or 80
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def watching(root: Path, name: str, on_bytes: BytesFn | None) -> Iterator[None]:
    """Report, every WATCH_EVERY_S while the block runs, the bytes of files under `root` whose
    path names `name` (the hubs' temporary and final layouts both do)."""
    if on_bytes is None:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(WATCH_EVERY_S):
            on_bytes(bytes_named(root, name))

    watcher = threading.Thread(target=watch, name=f"emoscope-download-{name}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
    on_bytes(bytes_named(root, name))


def bytes_named(root: Path, name: str) -> int:
    """Total size of the files under `root` with `name` in their path (0 if none yet)."""
    total = 0
    for folder, _, files in os.walk(root):
        if name not in folder:
            continue
        for file in files:
            with contextlib.suppress(OSError):  # a temporary file renamed meanwhile
                total += (Path(folder) / file).stat().st_size
    return total


def _cache_root(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or Path.home() / default).expanduser()
