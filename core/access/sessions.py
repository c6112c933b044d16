"""The server's list of signed-in sessions: a sign-in counts only while its entry is open.

Streamlit keeps who signed in in a signed cookie (`_streamlit_user`, 30 days) and forgets
nothing on the server, so a copied cookie outlived sign-out. Here each sign-in the server's own
callback completes is entered in a small JSON file beside the database, keyed by a digest of
the identity (provider, issuer, subject, and the ID token's `iat` and `nonce`, which are new for
every sign-in). Sign-out removes the entry; an entry also lapses `session_hours` after the
sign-in. An identity without an open entry is signed out, whatever its cookie says, and a lost
or unreadable file signs everyone out (it fails closed).

A file, not a table: it is written at sign-in and sign-out only, read with one `stat` per check
while unchanged, and a long CLI ingest holding the database never blocks a sign-in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import NotSignedInError

SIGNED_OUT = "You have been signed out (or your sign-in has expired). Sign in again."


def session_key(claims: Mapping) -> str | None:
    """The digest naming one sign-in, from st.user's claims or the decoded cookie; None when the
    claims lack what makes a sign-in unique (`iat`), i.e. they never came from an ID token."""
    if claims.get("iat") is None or not claims.get("sub"):
        return None
    parts = [claims.get(k) for k in ("provider", "iss", "sub", "iat", "nonce")]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class SessionEntry:
    """One open sign-in: whose, since when, until when (epoch seconds)."""

    email: str
    opened_at: float
    expires_at: float


class SessionBook:
    """The open sign-ins of one deployment, in `<database stem>.sessions.json` beside it.

    Safe across threads and processes: writers hold an flock on a lock file and replace the
    file atomically; readers reuse the parsed file while its stamp is unchanged.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._entries: dict[str, SessionEntry] = {}

    @classmethod
    def beside(cls, db_path: Path) -> SessionBook:
        """The book kept next to the database file `db_path`."""
        return cls(db_path.with_name(f"{db_path.stem}.sessions.json"))

    def open(self, key: str, email: str, hours: float, now: float | None = None) -> None:
        """Enter a sign-in (at the provider's callback), valid for `hours`."""
        now = time.time() if now is None else now
        with self._editing(now) as entries:
            entries[key] = SessionEntry(email, now, now + hours * 3600)

    def close(self, key: str | None) -> bool:
        """Remove a sign-in (sign-out); False when it was not open."""
        if key is None:
            return False
        with self._editing(time.time()) as entries:
            return entries.pop(key, None) is not None

    def close_all(self, email: str) -> int:
        """Remove every sign-in of `email` (an admin's lock-out); how many there were."""
        with self._editing(time.time()) as entries:
            gone = [k for k, e in entries.items() if e.email == email]
            for k in gone:
                del entries[k]
        return len(gone)

    def is_open(self, key: str | None, now: float | None = None) -> bool:
        """Whether `key` names a sign-in that is open and not expired."""
        if key is None:
            return False
        entry = self._read().get(key)
        return entry is not None and entry.expires_at > (time.time() if now is None else now)

    def require_open(self, claims: Mapping) -> str:
        """The sign-in's key if it is open; NotSignedInError (sign in again) otherwise."""
        key = session_key(claims)
        if not self.is_open(key):
            raise NotSignedInError(SIGNED_OUT)
        return key  # type: ignore[return-value]  (is_open(None) is False)

    def entries(self) -> dict[str, SessionEntry]:
        """Every entry (open or lapsed) as last written."""
        return dict(self._read())

    # -- the file ----------------------------------------------------------------------------

    def _read(self) -> dict[str, SessionEntry]:
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._entries = None, {}
                return self._entries
            stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            if stamp != self._stamp:
                self._entries = _parse(self.path.read_bytes())
                self._stamp = stamp
            return self._entries

    @contextlib.contextmanager
    def _editing(self, now: float) -> Iterator[dict[str, SessionEntry]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process's edit waits, never interleaves
            try:
                current = _parse(self.path.read_bytes()) if self.path.exists() else {}
                entries = {k: e for k, e in current.items() if e.expires_at > now}
                yield entries
                _write_atomically(self.path, entries)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _parse(raw: bytes) -> dict[str, SessionEntry]:
    try:
        data = json.loads(raw or b"{}")
        return {k: SessionEntry(str(v["email"]), float(v["opened_at"]), float(v["expires_at"]))
                for k, v in data.items()}  # fmt: skip
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}  # an unreadable list signs everyone out: fail closed


def _write_atomically(path: Path, entries: dict[str, SessionEntry]) -> None:
    body = {k: {"email": e.email, "opened_at": e.opened_at, "expires_at": e.expires_at}
            for k, e in entries.items()}  # fmt: skip
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(body, handle)
        os.chmod(temp, 0o600)  # digests only, but nobody else's business
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
