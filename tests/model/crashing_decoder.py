"""A decoder child that dies of SIGSEGV on any file named crash*: an FFmpeg crash on demand.

The decoding fixed in #31 no longer crashes on anything we know of, so the isolation is tested
with this stand-in: `python -m tests.model.crashing_decoder FD` serves as the real child does.
"""

from __future__ import annotations

import ctypes
import signal
import sys
from multiprocessing.connection import Connection

from core.model import isolated


def crashing(handler):
    """`handler`, except that a file named crash* reads address 0, as a decoder bug would."""

    def handle(source, name, *args):
        if name.startswith("crash"):
            ctypes.string_at(0)
        yield from handler(source, name, *args)

    return handle


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    isolated._HANDLERS.update({op: crashing(h) for op, h in isolated._HANDLERS.items()})
    isolated.serve(Connection(int(sys.argv[1])))
