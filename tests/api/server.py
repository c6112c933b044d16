"""The real server (dashboard + API, `python -m dashboard.serve`) on a free localhost port, for the
API tests and the benchmark; stopped even when a test fails."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = "tiny-e2v"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def models_folder(folder: Path, model_dir: Path) -> Path:
    """EMOSCOPE_MODELS_DIR holding the given model directory as MODEL_NAME."""
    models = folder / "models"
    if not (models / MODEL_NAME).exists():
        shutil.copytree(model_dir, models / MODEL_NAME)
    return models


@contextmanager
def running(folder: Path, db: Path, model_dir: Path, *options: str,
            threads: int = 2) -> Iterator[str]:  # fmt: skip
    """Serve `db` with EMOSCOPE_MODEL naming `model_dir` (copied into a models folder)."""
    port = free_port()
    log_path = folder / f"server-{port}.log"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "EMOSCOPE_DB": str(db),
           "EMOSCOPE_THREADS": str(threads), "EMOSCOPE_MODEL": MODEL_NAME,
           "EMOSCOPE_MODELS_DIR": str(models_folder(folder, model_dir))}  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard.serve", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", *options],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        "server did not start:\n" + log_path.read_text()[-3000:]
                    ) from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
