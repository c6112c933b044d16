"""Decoding untrusted files in child processes, so that a decoder crash costs one file.

FFmpeg's decoders are C: a file that crashes one (a SIGSEGV, an abort) would take the whole
process with it, which for the dashboard means every user's session and a run left "running".
Here each decode runs in a long-lived child process (`python -m core.model.isolated`) that
imports only numpy, PyAV and `core.model.audio`: the file's bytes (or its path, for files
streamed from disk) go in over a socket, the decoded 16 kHz samples come back pickled. A child
that dies mid-file is reported as `DecoderCrashError` naming the file and the signal; the next
file gets a fresh child. A child is used by one thread at a time and kept for the next file;
`close_idle` ends the idle ones (an ingest calls it when it finishes).

Cost (bench/decode_isolation.py, bench/results/decode-isolation.md): starting a child takes
~0.1 s of CPU, once per decoding thread per run; each file then pays one round trip and a
copy of its bytes and samples, a fraction of a millisecond for a clip of a few seconds.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from core.errors import DecoderCrashError, EmoScopeError
from core.model.audio import TARGET_RATE_HZ, AudioInfo, AudioSource, DecodedAudio

# A streamed recording comes back in pieces of at least this many samples: one message per
# PyAV frame (~1,000 samples) would cost more in messages than the audio does.
STREAM_PIECE_SAMPLES = 4 * TARGET_RATE_HZ
# How long a dead child is given to report its exit status.
_REAP_S = 5.0


class _Child:
    """One decoder process and our end of its socket."""

    def __init__(self, command: list[str] | None = None):
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])  # the tree this `core` comes from
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        argv = command or [sys.executable, "-m", "core.model.isolated"]
        # Its own session: a Ctrl-C in the terminal reaches the parent, which ends the run and
        # then its children; a child never dies of it mid-file and gets blamed as a crash.
        self.process = subprocess.Popen(
            [*argv, str(theirs.fileno())], pass_fds=[theirs.fileno()], env={**os.environ,
            "PYTHONPATH": path}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        theirs.close()
        self.conn = Connection(ours.detach())
        self.busy = False
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Wait for the child's first word. A child that cannot start (its environment is
        broken: PyAV missing, the venv being reinstalled) is not the file's fault, so this is
        not a DecoderCrashError: the run stops with it instead of failing every file."""
        try:
            self.conn.recv()
        except (EOFError, OSError) as exc:
            self.conn.close()
            code = self.process.wait()
            raise RuntimeError(
                f"the decoder process could not start (exit status {code}); its error is above"
            ) from exc

    def request(self, op: str, source, name: str, *args) -> Iterator[tuple[str, object]]:
        """Send one request; yield its replies until the last ('done' or 'error')."""
        if not isinstance(source, (bytes, str, Path)):  # an open file: its bytes go over
            source.seek(0)
            source = source.read()
        self.busy = True  # until the last reply: a child left mid-reply is never reused
        try:
            self.conn.send((op, source, name, *args))
            while True:
                kind, value = self.conn.recv()
                self.busy = kind == "piece"
                yield kind, value
                if not self.busy:
                    return
        except (EOFError, OSError) as exc:
            raise DecoderCrashError(self.crash_message(name)) from exc

    def crash_message(self, name: str) -> str:
        """What the user reads about the file the child died on."""
        self.conn.close()
        try:
            code = self.process.wait(_REAP_S)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        how = f"exit status {code}"
        if code is not None and code < 0:
            how = (
                signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
            )
        return (
            f"{name}: the audio decoder crashed on this file ({how}); nothing was stored and "
            "the other files went on. Re-export it (for example as WAV) and ingest it again."
        )

    def kill(self) -> None:
        """End the child now (it may be in the middle of a file nobody waits for)."""
        self.conn.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Let an idle child finish: it exits when its socket closes."""
        self.conn.close()
        try:
            self.process.wait(_REAP_S)
        except subprocess.TimeoutExpired:
            self.kill()


class DecoderPool:
    """Idle decoder children, handed to one thread at a time and started when none is idle."""

    def __init__(self, command: list[str] | None = None):
        self.command = command
        self._idle: list[_Child] = []
        self._lock = threading.Lock()

    @contextmanager
    def child(self) -> Iterator[_Child]:
        """A child for one request; it goes back to the pool only if it finished cleanly."""
        with self._lock:
            child = self._idle.pop() if self._idle else None
        child = child or _Child(self.command)
        try:
            yield child
        finally:
            if child.busy or child.process.poll() is not None:
                child.kill()  # crashed, or left mid-reply (its replies would answer the next)
            else:
                with self._lock:
                    self._idle.append(child)

    def close_idle(self) -> None:
        """End the idle children (those in use finish their file and go back to the pool)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.close()

    def read(self, source: AudioSource, name: str, long_from_s: float
             ) -> tuple[AudioInfo, DecodedAudio | None]:  # fmt: skip
        """The header of `source`, and the audio decoded whole unless it is longer than
        `long_from_s` (or of unknown length): one round trip, the bytes sent once."""
        with self.child() as child:
            return _result(child.request("read", source, name, long_from_s))

    def stream(self, source: AudioSource, name: str) -> DecoderStream:
        """`core.model.audio.AudioStream`, decoded in a child."""
        return DecoderStream(self, source, name)


class DecoderStream:
    """A recording decoded in a child as a stream: iterating yields 16 kHz float32 chunks
    shaped (channels, n); after a full iteration `info` describes the audio."""

    def __init__(self, pool: DecoderPool, source: AudioSource, name: str):
        self.pool, self.source, self.name = pool, source, name
        self.info: AudioInfo | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        with self.pool.child() as child:
            for kind, value in child.request("stream", self.source, self.name):
                if kind == "piece":
                    yield value
                else:
                    self.info = _result(iter([(kind, value)]))


def _result(replies: Iterator[tuple[str, object]]):
    """The value of a request's last reply; an error raised as the child raised it."""
    for kind, value in replies:
        if kind == "done":
            return value
        if kind == "error":
            error, child_traceback = value
            if not isinstance(error, EmoScopeError):  # a bug, not the user's file: keep its trace
                error.add_note(f"in the decoder process:\n{child_traceback}")
            raise error
    raise DecoderCrashError("the decoder sent no result")  # unreachable with our child


_POOL = DecoderPool()
atexit.register(_POOL.close_idle)


def read(source: AudioSource, name: str, long_from_s: float
         ) -> tuple[AudioInfo, DecodedAudio | None]:  # fmt: skip
    """`DecoderPool.read` on the process-wide pool."""
    return _POOL.read(source, name, long_from_s)


def stream(source: AudioSource, name: str) -> DecoderStream:
    """`DecoderPool.stream` on the process-wide pool."""
    return _POOL.stream(source, name)


def close_idle() -> None:
    """End the process-wide pool's idle children."""
    _POOL.close_idle()


# -- the child ----------------------------------------------------------------------------------


def serve(conn: Connection) -> None:
    """The child's loop: say it is ready, then answer requests until the parent closes the
    socket."""
    conn.send(("ready", None))
    while True:
        try:
            op, source, name, *args = conn.recv()
        except EOFError:
            return
        try:
            for reply in _HANDLERS[op](source, name, *args):
                conn.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # every failure goes back to the parent
            conn.send(("error", _picklable(exc, traceback.format_exc())))


def _read(source, name: str, long_from_s: float) -> Iterator[tuple[str, object]]:
    from core.model.audio import decode, probe

    header = probe(source, name)
    audio = decode(source, name) if header.duration_s <= long_from_s else None  # NaN streams
    yield "done", (header, audio)


def _stream(source, name: str) -> Iterator[tuple[str, object]]:
    from core.model.audio import AudioStream

    audio = AudioStream(source, name)
    pending: list[np.ndarray] = []
    for chunk in audio:
        pending.append(chunk)
        if sum(c.shape[1] for c in pending) >= STREAM_PIECE_SAMPLES:
            yield "piece", np.concatenate(pending, axis=1)
            pending = []
    if pending:
        yield "piece", np.concatenate(pending, axis=1)
    yield "done", audio.info


_HANDLERS = {"read": _read, "stream": _stream}


def _picklable(exc: Exception, child_traceback: str) -> tuple[Exception, str]:
    try:
        pickle.dumps(exc)
        return exc, child_traceback
    except Exception:  # e.g. an FFmpeg error holding a C object
        return RuntimeError(f"{type(exc).__name__}: {exc}"), child_traceback


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a run stops
    import av  # noqa: F401 - loaded before the first request, not during it

    serve(Connection(int(sys.argv[1])))
