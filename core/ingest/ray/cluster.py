"""Ray itself: importing it (with the install hint when missing), the cluster's errors, starting
or joining a cluster, and whether every node can read the staged inputs."""

from __future__ import annotations

import logging
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import EmoScopeError, InputError
from core.ingest.sources import InputFile

FILES_PER_SHARD = 64


@dataclass(frozen=True)
class RayOptions:
    """Where the cluster is and how the work is cut."""

    address: str | None = None  # None or "": start a local Ray
    staging: Path | None = None  # default: <db>.staging next to the database
    files_per_shard: int = FILES_PER_SHARD
    scorers: int | None = (
        None  # actors; default: one per GPU, else half the CPUs in actors of ≤4 threads
    )
    hub: str = "ms"


class ClusterError(EmoScopeError):
    """The cluster failed part-way, or a worker refused the work (its message is kept)."""


def cluster_error(exc: Exception) -> ClusterError:
    """What to tell the user of a Ray failure. Ray passes a worker's exception on as text only,
    so one of ours (core.errors, e.g. a model of another revision) is found by its name."""
    ours = re.findall(r"core\.errors\.\w+: (.+)", str(exc))
    if ours:
        return ClusterError(ours[-1].strip())
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return ClusterError(
        f"the Ray cluster failed part-way ({type(exc).__name__}: {first[:200]}). Every committed "
        "shard is stored: run the same command again to complete the run."
    )


def require_ray():
    """The ray module, or an error saying how to install it."""
    try:
        import ray
        import ray.data  # the extra installs ray[data]; plain ray lacks it
    except ImportError as exc:
        raise EmoScopeError(INSTALL_HINT) from exc
    return ray


class Cluster:
    """One ingest's Ray connection, made on first use: a run whose files are all cached or
    failed never starts a local Ray (seconds, more on a busy machine)."""

    def __init__(self, address: str | None):
        self.address = address or None  # None: start a local Ray
        self._ray = None
        self._started = False

    @property
    def connected(self) -> bool:
        """Whether this process is already connected to Ray (the caller's own ray.init)."""
        return self._ray is not None or bool(
            "ray" in sys.modules and sys.modules["ray"].is_initialized()
        )

    def ray(self):
        """The ray module, connected: to `address`, else to this process's Ray, else a new
        local one. A connection made here is closed by close()."""
        if self._ray is None:
            ray = require_ray()
            # Ray's own chatter (instance started, execution plans) only under the CLI's
            # --verbose, like funasr's: stderr keeps our progress line, notes and failures.
            level = (
                logging.INFO if logging.getLogger().isEnabledFor(logging.INFO) else logging.ERROR
            )
            for name in ("ray", "ray.data"):
                logging.getLogger(name).setLevel(level)
            if not ray.is_initialized():
                try:
                    ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                             logging_level=level)  # fmt: skip
                except ConnectionError as exc:
                    raise InputError(f"no Ray cluster at {self.address!r}: {exc}") from exc
                self._started = True
            ray.data.DataContext.get_current().enable_progress_bars = False  # ProgressFn reports
            self._ray = ray
        return self._ray

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False


def check_reachable(ray, inputs: Sequence[InputFile], root: Path) -> None:
    """On a cluster of several machines, refuse paths in this machine's temporary folder."""
    if sum(1 for n in ray.nodes() if n.get("Alive")) < 2:
        return
    local = Path(tempfile.gettempdir()).resolve()
    for path in [root] + [i.path for i in inputs if i.path is not None]:
        if path.resolve().is_relative_to(local):
            raise InputError(
                f"{path} is in this machine's temporary folder {local}, which the other Ray "
                "nodes cannot read; put inputs and --staging on storage every node mounts."
            )


INSTALL_HINT = "Ray is not installed: run `pip install -e .[ray]` (see requirements-ray.txt)."
