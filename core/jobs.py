"""Background jobs: a long core computation in a worker thread, its progress polled by a page.

Streamlit forbids st.* calls from other threads, and a computation inside a page's script run
freezes that page. A job therefore runs in a daemon thread that touches only core, writing its
progress into a lock-protected `Job`; the page reads `Job.snapshot()` from an
`st.fragment(run_every=...)`. Jobs live in one process-wide registry keyed by what they compute,
so a second user asking for the same projection joins the running job instead of starting another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import EmoScopeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobState:
    """A consistent copy of a job's progress."""

    done: int
    total: int
    stage: str
    finished: bool
    error: str | None
    result: object | None
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


class Job:
    """One computation in a worker thread; `progress` is its callback, safe from any thread."""

    def __init__(self, key: str, work: Callable[[Callable[[int, int, str], None]], object]):
        self.key = key
        self._lock = threading.Lock()
        self._done, self._total, self._stage = 0, 1, "queued"
        self._finished, self._error, self._result = False, None, None
        self._started = time.monotonic()
        self._ended: float | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True,
                                        name=f"emoscope-job-{key}")  # fmt: skip

    def progress(self, done: int, total: int, stage: str) -> None:
        with self._lock:
            self._done, self._total, self._stage = done, total, stage

    def snapshot(self) -> JobState:
        with self._lock:
            end = self._ended or time.monotonic()
            return JobState(self._done, self._total, self._stage, self._finished, self._error,
                            self._result, end - self._started)  # fmt: skip

    def wait(self, timeout_s: float | None = None) -> JobState:
        """Block until the job ends (tests and the CLI); returns its final state."""
        self._thread.join(timeout_s)
        return self.snapshot()

    def _run(self, work) -> None:
        try:
            result, error = work(self.progress), None
        except EmoScopeError as exc:
            result, error = None, str(exc)
        except Exception:  # a worker must never die silently: the page shows that it failed
            log.exception("background job %s failed", self.key)
            result, error = None, "Something went wrong inside EmoScope; see the server log."
        with self._lock:
            self._finished, self._error, self._result = True, error, result
            self._ended = time.monotonic()


class JobRegistry:
    """Jobs by key, shared by every session of the process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def start(self, key: str, work) -> Job:
        """Start `work(progress)` under `key`, or return the job already running for it."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.snapshot().finished:
                return job
            job = Job(key, work)
            self._jobs[key] = job
        job._thread.start()
        return job

    def forget(self, key: str) -> None:
        with self._lock:
            self._jobs.pop(key, None)


JOBS = JobRegistry()
