"""What an upload holds, before anything is analysed: each file's header facts or its problem.

The Upload page lists duration, sample rate, channels and codec for every file, zip members
included. A zip member is never unpacked for this: the first bytes of it are inflated (a header
rarely needs more than a few kilobytes; cover art or an MP4 index can need a megabyte) and the
container is opened on them, seeing the member's real size, so a duration estimated from size and
bit rate is right. A member whose header lies past what was read is listed with its facts unknown,
not with an invented problem: the analysis reads it whole.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from core.errors import AudioError
from core.ingest.sources import InputFile, zip_members
from core.model.audio import AudioInfo, probe

# Bytes inflated for one member's header: first a little, more only if that was not enough.
HEAD_STEPS_BYTES = (64 * 1024, 1024**2)
# Bytes inflated for one archive's preview in all: a zip of many thousand files lists them all
# quickly, and only the first ones (by order in the archive) beyond this have unknown facts.
PREVIEW_BUDGET_BYTES = 128 * 1024**2


@dataclass(frozen=True)
class Listed:
    """One file as the Upload page lists it: the input and what its header says (None when
    it has a problem, or its facts are known only once it is read whole)."""

    item: InputFile
    info: AudioInfo | None = None


def preview_zip(stream: BinaryIO, archive_name: str) -> list[Listed]:
    """The zip's audio members with their header facts; nothing is unpacked to disk."""
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as exc:
        problem = f"{archive_name}: not a readable zip archive ({exc})."
        return [Listed(InputFile(archive_name, problem=problem))]
    budget = PREVIEW_BUDGET_BYTES
    listed = []
    with archive:
        for item, member in zip_members(archive, archive_name):
            if item.problem or member is None or budget <= 0:
                listed.append(Listed(item))
                continue
            entry, spent = _member(archive, member, item, archive_name)
            budget -= spent
            listed.append(entry)
    return listed


def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, item: InputFile,
            archive_name: str) -> tuple[Listed, int]:  # fmt: skip
    """The member's facts from as few inflated bytes as do; and how many were inflated."""
    spent = 0
    for step in HEAD_STEPS_BYTES:
        try:
            with archive.open(member) as src:
                head = src.read(step)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            # RuntimeError: an encrypted member; the same words as unpacking would give later.
            problem = f"{item.name}: cannot be unpacked from {archive_name} ({exc})."
            return Listed(InputFile(f"{archive_name}:{item.name}", problem=problem)), spent
        spent += len(head)
        whole = len(head) >= member.file_size
        try:
            info = probe(_Head(head, member.file_size), item.name)
        except AudioError as exc:
            if whole:  # the member was read whole: its problem is real
                return Listed(InputFile(item.name, problem=str(exc))), spent
            continue
        if whole or info.duration_s == info.duration_s or step == HEAD_STEPS_BYTES[-1]:
            return Listed(item, info), spent  # a NaN duration may need more of the header
    return Listed(item), spent


class _Head(io.RawIOBase):
    """A member's first bytes posing as the whole member: seeking knows the member's real size
    (what a container uses to estimate a duration), reads past the head find the end."""

    def __init__(self, head: bytes, size: int) -> None:
        super().__init__()
        self._head, self._size, self._pos = head, max(size, len(head)), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = min(max(0, base + offset), self._size)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        chunk = self._head[self._pos : self._pos + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)
