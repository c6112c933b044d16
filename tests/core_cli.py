"""`python -m core ARGS` run inside the test process.

It gets what a child process would: the arguments, the environment and working folder asked
for, an empty stdin; and it gives back the same exit status, stdout and stderr. What it saves is
the child's start: importing funasr alone costs a child ~5 s of CPU (it imports every model it
ships), and the suite starts dozens of them.

Tests whose subject is the process itself (killed midway, two at once, its peak memory, the
entry point `python -m core`) still start a real one.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import traceback
from pathlib import Path
from subprocess import CompletedProcess

# The environment, working folder and standard streams belong to the whole process.
_ONE_AT_A_TIME = threading.Lock()


def run_cli(
    *args: object, env: dict[str, str] | None = None, cwd: Path | None = None
) -> CompletedProcess:
    """Run the CLI with `args` (each passed through str()); `env` replaces the environment
    for the run, as subprocess's `env=` does, and `cwd` is its working folder. Returns what
    subprocess.run(..., capture_output=True, text=True) would."""
    from core.cli.main import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with (
        _ONE_AT_A_TIME,
        _environment(env),
        _working_folder(cwd),
        _no_stdin(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = _exit_status(main, argv)
    return CompletedProcess(
        [sys.executable, "-m", "core", *argv], code, out.getvalue(), err.getvalue()
    )


def _exit_status(main, argv: list[str]) -> int:
    """main's return value, or the status Python would exit with."""
    try:
        return main(argv)
    except SystemExit as exc:  # argparse: --help, or a usage error (already on stderr)
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except Exception:  # --verbose lets an unexpected error through, as Python reports it
        traceback.print_exc()
        return 1


@contextlib.contextmanager
def _environment(env: dict[str, str] | None):
    saved = dict(os.environ)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _working_folder(cwd: Path | None):
    saved = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


@contextlib.contextmanager
def _no_stdin():
    saved, sys.stdin = sys.stdin, io.StringIO()  # as stdin=DEVNULL: empty, not a terminal
    try:
        yield
    finally:
        sys.stdin = saved
