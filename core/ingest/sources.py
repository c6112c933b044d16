"""Turn what a user points at (folders, zips, files, uploads) into a flat list of input files.

Zip members are streamed to a temporary folder (`collected` / `received`, context managers that
remove it when the ingest is done), each under a name of our own, so a member named `../x` or
`/etc/x` cannot write anywhere; such names are still reported rather than silently renamed.
Decompressed bytes are counted while inflating, never trusted from the header: one member may
unpack to MAX_MEMBER_BYTES, one archive to MAX_UPLOAD_BYTES, so a small zip cannot fill memory
or disk. A zip whose declared size is absurd (a zip bomb) is refused before anything is inflated.
Problems with one input (an unsafe member, an unreadable or oversized zip) are attached to that
input as its `problem`, so the rest of the batch still goes in.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.errors import InputError
from core.model.audio import SUPPORTED_EXTENSIONS

MAX_ZIP_UNCOMPRESSED_BYTES = 20 * 1024**3  # 20 GiB: more than any corpus upload we expect
MAX_ZIP_RATIO = 200  # audio barely compresses; a 1000:1 member is a bomb, not a recording
# Caps on bytes actually inflated (counted while unpacking; headers can lie):
MAX_MEMBER_BYTES = 8 * 1024**3  # one recording: 8 GiB is 12 h of 48 kHz 24-bit stereo WAV
MAX_UPLOAD_BYTES = MAX_ZIP_UNCOMPRESSED_BYTES  # all members of one archive together
_CHUNK_BYTES = 1024**2  # members are copied in 1 MiB pieces: memory stays flat


@dataclass(frozen=True)
class InputFile:
    """One file to ingest: its name inside the corpus and where its bytes are."""

    name: str  # relative name, '/'-separated: what manifests and patterns match against
    path: Path | None = None  # on disk
    data: bytes | None = None  # zip member or upload
    problem: str | None = None  # set when the file is refused before decoding
    transient: bool = False  # `path` is a temporary extraction; ingest keeps a copy

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise InputError(f"{self.name}: no data")
        return self.path.read_bytes()

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix.lower()


@contextlib.contextmanager
def collected(paths: Iterable[str | Path]) -> Iterator[list[InputFile]]:
    """`collect(paths)` with zip members unpacked to a temporary folder, removed on exit.

    Wrap collecting and ingesting in it: the ingest reads (or copies) the extracted files.
    """
    with _scratch() as folder:
        yield collect(paths, unpack_to=folder)


@contextlib.contextmanager
def received(uploads: Iterable[tuple[str, BinaryIO]]) -> Iterator[list[InputFile]]:
    """Uploaded files as inputs: each (name, stream); a zip is spooled to a temporary file and
    unpacked member by member into a temporary folder, all removed on exit."""
    with _scratch() as folder:
        inputs: list[InputFile] = []
        for name, stream in uploads:
            stream.seek(0)  # a preview may have read it already
            if not name.lower().endswith(".zip"):
                inputs.append(InputFile(name=name, data=stream.read()))
                continue
            spooled = folder / f"upload-{len(inputs)}.zip"
            with spooled.open("wb") as out:
                shutil.copyfileobj(stream, out, _CHUNK_BYTES)
            inputs += from_zip(spooled, text_name(name), unpack_to=folder)
            spooled.unlink()  # its members are out: the archive is not needed twice on disk
        yield inputs


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="emoscope-unpack-") as folder:
        yield Path(folder)


def collect(paths: Iterable[str | Path], unpack_to: Path | None = None) -> list[InputFile]:
    """Expand folders (recursively, audio extensions only), zips and single files.

    Zip members are unpacked into `unpack_to` (see `collected`); without it they are read into
    memory, under the same caps, which suits only small archives (tests).

    In a folder, an audio-named entry that is not a readable regular file (a dangling link, a
    FIFO, a device, a link loop, a folder named x.wav ...) comes back with its `problem`; a
    path named directly that is not a file or folder is refused at once. Nothing is opened
    before its type is known from stat, so a FIFO or /dev/zero can never hang the run.
    """
    inputs: list[InputFile] = []
    for raw in paths:
        path = Path(raw).expanduser()
        kind = _kind(path)
        if kind == "folder":
            inputs.extend(_walk(path))
        elif kind == _MISSING:
            raise InputError(f"{raw}: no such file or folder.")
        elif kind is not None:
            raise InputError(f"{raw}: {kind}, not an audio file or folder; nothing was read.")
        elif path.suffix.lower() == ".zip":
            inputs.extend(from_zip(path, text_name(path.name), unpack_to=unpack_to))
        else:
            inputs.append(InputFile(name=text_name(path.name), path=path))
    if not inputs:
        raise InputError(
            "no audio files found in "
            + ", ".join(str(p) for p in paths)
            + f" (looked for {', '.join(SUPPORTED_EXTENSIONS)})."
        )
    return inputs


def _kind(path: Path) -> str | None:
    """None for a readable regular file, 'folder' for a folder, else why it cannot be read.

    Only stat is used (never open): opening a FIFO blocks until a writer comes.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return "a link to a missing file" if path.is_symlink() else _MISSING
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link loop (the link points back to itself)"
        return f"cannot be examined ({exc.strerror})"
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "folder"
    if not stat.S_ISREG(mode):
        return _SPECIAL_KINDS.get(stat.S_IFMT(mode), "not a regular file")
    if not os.access(path, os.R_OK):
        return "not readable (permission denied)"
    return None


_MISSING = "no such file or folder"
_SPECIAL_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


def _walk(root: Path) -> list[InputFile]:
    """Audio-named entries under `root`, sorted; links to folders are followed once each."""
    found: list[InputFile] = []
    seen: set[tuple[int, int]] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen:  # a folder link back up the tree: walked once
            continue
        seen.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            found.append(_refused(root, folder, f"a folder that cannot be listed ({exc.strerror})"))
            continue
        for entry in entries:
            path = Path(entry.path)
            kind = _kind(path)
            audio = path.suffix.lower() in SUPPORTED_EXTENSIONS
            if kind == "folder":
                pending.append(path)
                if audio:  # its contents are collected; the name itself is not a recording
                    found.append(
                        _refused(
                            root,
                            path,
                            "a folder, not an audio file",
                            "its files are collected one by one",
                        )
                    )
            elif audio and kind is None:
                found.append(InputFile(name=_relative(root, path), path=path))
            elif audio:
                found.append(_refused(root, path, kind))
            elif path.suffix.lower() == ".zip":  # said, not skipped in silence
                found.append(_refused(root, path, "a zip inside a folder is not unpacked",
                                      "name the zip itself to ingest what it holds"))  # fmt: skip
    return sorted(found, key=lambda f: f.name)


def _relative(root: Path, path: Path) -> str:
    return text_name(path.relative_to(root).as_posix())


def _refused(
    root: Path, path: Path, kind: str, then: str = "skipped, nothing was read"
) -> InputFile:
    name = _relative(root, path)
    return InputFile(name=name, problem=f"{name}: {kind}; {then}.")


def text_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (old Windows or Mac names) become '�'.

    Python keeps such bytes as lone surrogates, which no database or browser can hold.
    """
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def from_zip(
    source: bytes | Path | BinaryIO, archive_name: str, unpack_to: Path | None = None
) -> list[InputFile]:
    """The audio members of a zip archive, with unsafe or nested members flagged, not read.

    With `unpack_to` each member is streamed to a file of its own there (a transient input);
    without it, into memory. An archive that cannot be read, or that declares more than the
    limit, comes back as one input carrying the problem.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError) as exc:
        return [
            InputFile(archive_name, problem=f"{archive_name}: not a readable zip archive ({exc}).")
        ]
    with archive:
        listed = zip_members(archive, archive_name)
        folder = Path(tempfile.mkdtemp(dir=unpack_to)) if unpack_to is not None else None
        budget = _Budget(MAX_UPLOAD_BYTES)
        inputs = []
        for index, (item, member) in enumerate(listed):
            if item.problem or member is None:
                inputs.append(item)
                continue
            dest = folder / f"{index:06d}{item.suffix}" if folder is not None else None
            inputs.append(_unpack(archive, member, archive_name, dest, budget))
    return inputs


def zip_members(
    archive: zipfile.ZipFile, archive_name: str
) -> list[tuple[InputFile, zipfile.ZipInfo | None]]:
    """The archive's audio members, nothing inflated: problems from the names and headers only.

    Each comes with its ZipInfo (None for a problem that concerns the whole archive).
    """
    members = [m for m in archive.infolist() if not m.is_dir()]
    declared = sum(m.file_size for m in members)
    if declared > MAX_ZIP_UNCOMPRESSED_BYTES:
        return [(InputFile(archive_name, problem=(
            f"{archive_name}: unpacks to {declared / 1024**3:.1f} GiB, over the "
            f"{MAX_ZIP_UNCOMPRESSED_BYTES / 1024**3:.0f} GiB limit (a zip bomb?); nothing in it "
            "was unpacked. Split a real corpus into smaller archives."
        )), None)]  # fmt: skip
    listed = []
    for member in members:
        name = member.filename
        problem = _member_problem(member)
        if problem is None and PurePosixPath(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
            continue  # README.txt, .DS_Store, __MACOSX ... are not part of the corpus
        if problem:
            listed.append((InputFile(name=f"{archive_name}:{name}", problem=problem), member))
        else:
            listed.append((InputFile(name=name), member))
    if not listed:  # an empty archive, or one of documents only: one line, not silence
        found = f"{len(members)} other file(s)" if members else "nothing"
        return [(InputFile(archive_name, problem=(
            f"{archive_name}: holds no audio files ({found}; looked for "
            f"{', '.join(e.lstrip('.') for e in SUPPORTED_EXTENSIONS)}); nothing was ingested "
            "from it."
        )), None)]  # fmt: skip
    return listed


@dataclass
class _Budget:
    """Bytes one archive may still unpack to, counted as members are inflated."""

    left: int


def _unpack(archive: zipfile.ZipFile, member: zipfile.ZipInfo, archive_name: str,
            dest: Path | None, budget: _Budget) -> InputFile:  # fmt: skip
    """Inflate one member to `dest` (or memory) in pieces, stopping at the first cap it passes."""
    import zlib

    name = member.filename
    cap = min(MAX_MEMBER_BYTES, budget.left)
    out: BinaryIO = dest.open("wb") if dest is not None else io.BytesIO()
    try:
        with archive.open(member) as src:
            written = _copy_capped(src, out, cap)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks.
        written, problem = None, f"{name}: cannot be unpacked from {archive_name} ({exc})."
    else:
        problem = None if written is not None else _cap_problem(name, archive_name, budget, cap)
    data = out.getvalue() if isinstance(out, io.BytesIO) and problem is None else None
    out.close()
    if problem is not None:
        if dest is not None:
            dest.unlink(missing_ok=True)
        return InputFile(name=f"{archive_name}:{name}", problem=problem)
    budget.left -= written
    if dest is None:
        return InputFile(name=name, data=data)
    return InputFile(name=name, path=dest, transient=True)


def _copy_capped(src: BinaryIO, out: BinaryIO, cap: int) -> int | None:
    """Copy until the end, or return None as soon as more than `cap` bytes have come out."""
    written = 0
    while chunk := src.read(_CHUNK_BYTES):
        written += len(chunk)
        if written > cap:
            return None
        out.write(chunk)
    return written


def _cap_problem(name: str, archive_name: str, budget: _Budget, cap: int) -> str:
    if cap == MAX_MEMBER_BYTES:
        return (f"{name}: unpacks to more than {MAX_MEMBER_BYTES / 1024**3:.0f} GiB, the most one "
                "recording may (a zip bomb?); skipped.")  # fmt: skip
    return (f"{name}: {archive_name} unpacks to more than {MAX_UPLOAD_BYTES / 1024**3:.0f} GiB "
            "in all; this member and any after it were skipped.")  # fmt: skip


def _member_problem(member: zipfile.ZipInfo) -> str | None:
    name = member.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"{name}: absolute path inside the zip; skipped for safety."
    if ".." in parts:
        return f"{name}: path leaves the archive ('..'); skipped for safety."
    if name.lower().endswith(".zip"):
        return f"{name}: a zip inside a zip is not unpacked; upload the inner archive itself."
    if member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO:
        return (f"{name}: compresses {member.file_size // member.compress_size}:1, which no "
                "recording does (a zip bomb?); skipped.")  # fmt: skip
    if member.file_size > MAX_MEMBER_BYTES:
        return (f"{name}: unpacks to {member.file_size / 1024**3:.1f} GiB, more than the "
                f"{MAX_MEMBER_BYTES / 1024**3:.0f} GiB one recording may; skipped.")  # fmt: skip
    return None
