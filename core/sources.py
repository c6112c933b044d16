"""Turn what a user points at (folders, zips, files, uploads) into a flat list of input files.

Zip members are read in memory and never extracted, so a member named `../x` or `/etc/x`
cannot write anywhere; such names are still reported rather than silently renamed. A zip whose
declared uncompressed size is absurd (a zip bomb) is refused before anything is inflated.
Problems with one input (an unsafe member, an unreadable or oversized zip) are attached to that
input as its `problem`, so the rest of the batch still goes in.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.audio import SUPPORTED_EXTENSIONS
from core.errors import InputError

MAX_ZIP_UNCOMPRESSED_BYTES = 20 * 1024**3  # 20 GiB: more than any corpus upload we expect
MAX_ZIP_RATIO = 200  # audio barely compresses; a 1000:1 member is a bomb, not a recording


@dataclass(frozen=True)
class InputFile:
    """One file to ingest: its name inside the corpus and where its bytes are."""

    name: str  # relative name, '/'-separated: what manifests and patterns match against
    path: Path | None = None  # on disk
    data: bytes | None = None  # zip member or upload
    problem: str | None = None  # set when the file is refused before decoding

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise InputError(f"{self.name}: no data")
        return self.path.read_bytes()

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix.lower()


def collect(paths: Iterable[str | Path]) -> list[InputFile]:
    """Expand folders (recursively, audio extensions only), zips and single files.

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
            inputs.extend(from_zip(path.read_bytes(), text_name(path.name)))
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


def from_zip(data: bytes, archive_name: str) -> list[InputFile]:
    """The audio members of a zip archive, with unsafe or nested members flagged, not read.

    An archive that cannot be read, or that would unpack to more than the limit, comes back as
    one input carrying the problem.
    """
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        return [
            InputFile(archive_name, problem=f"{archive_name}: not a readable zip archive ({exc}).")
        ]
    members = [m for m in archive.infolist() if not m.is_dir()]
    declared = sum(m.file_size for m in members)
    if declared > MAX_ZIP_UNCOMPRESSED_BYTES:
        return [InputFile(archive_name, problem=(
            f"{archive_name}: unpacks to {declared / 1024**3:.1f} GiB, over the "
            f"{MAX_ZIP_UNCOMPRESSED_BYTES / 1024**3:.0f} GiB limit (a zip bomb?); nothing in it "
            "was unpacked. Split a real corpus into smaller archives."
        ))]  # fmt: skip
    inputs = []
    for member in members:
        name = member.filename
        problem = _member_problem(member)
        if problem is None and PurePosixPath(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
            continue  # README.txt, .DS_Store, __MACOSX ... are not part of the corpus
        if problem:
            inputs.append(InputFile(name=f"{archive_name}:{name}", problem=problem))
            continue
        inputs.append(_read_member(archive, member, archive_name))
    return inputs


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, archive_name: str) -> InputFile:
    import zlib

    try:
        return InputFile(name=member.filename, data=archive.read(member))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks.
        return InputFile(
            name=f"{archive_name}:{member.filename}",
            problem=f"{member.filename}: cannot be unpacked from {archive_name} ({exc}).",
        )


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
    return None
