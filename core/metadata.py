"""Clip metadata (agent, recorded_at, speaker, tags) from a manifest CSV or a path pattern."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path, PurePosixPath

from core.errors import InputError

FIELDS = ("agent", "recorded_at", "speaker", "tags")


@dataclass(frozen=True)
class Metadata:
    """What is known about a clip besides its audio. `warning` explains a dropped value."""

    agent: str | None = None
    recorded_at: datetime | None = None
    speaker: str | None = None
    tags: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # channel roles in channel order, e.g. ("agent", "customer")
    warning: str | None = None


MetadataFn = Callable[[str], Metadata]


def no_metadata(_name: str) -> Metadata:
    return Metadata()


def parse_time(value: str) -> datetime:
    """Parse a date or timestamp (ISO 8601, '2024-05-01 13:00', '20240501T130000' ...)."""
    import pandas as pd

    stamp = pd.to_datetime(value.strip(), errors="raise", format="mixed")
    if stamp.tzinfo is not None:  # stored as UTC wall time: DuckDB TIMESTAMP has no zone
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def _metadata_from(values: dict[str, str], where: str) -> Metadata:
    warning = None
    recorded_at = None
    raw_time = (values.get("recorded_at") or "").strip()
    if raw_time:
        try:
            recorded_at = parse_time(raw_time)
        except (ValueError, TypeError, OverflowError):
            warning = f"{where}: recorded_at {raw_time!r} is not a date; left empty."
    tags = tuple(t.strip() for t in re.split(r"[|,;]", values.get("tags") or "") if t.strip())
    roles = tuple(
        r.strip().lower() for r in re.split(r"[|,;]", values.get("roles") or "") if r.strip()
    )
    return Metadata(
        roles=roles,
        agent=(values.get("agent") or "").strip() or None,
        recorded_at=recorded_at,
        speaker=(values.get("speaker") or "").strip() or None,
        tags=tags,
        warning=warning,
    )


@dataclass(frozen=True, eq=False)
class Manifest:
    """A manifest CSV read into metadata per listed path; call it with a file name to look up.

    Files match on their full relative path, or on their base name when that is unique.
    """

    name: str
    by_path: dict[str, Metadata]
    repeats: tuple[str, ...] = ()  # one message per path listed on more than one row

    @cached_property
    def _by_base(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for path in self.by_path:
            index.setdefault(PurePosixPath(path).name, []).append(path)
        return index

    def __call__(self, file_name: str) -> Metadata:
        path = self._match(file_name)
        if path is None:
            return Metadata(
                warning=f"{file_name}: not listed in {self.name}; stored without metadata."
            )
        return self.by_path[path]

    def _match(self, file_name: str) -> str | None:
        if file_name in self.by_path:
            return file_name
        candidates = self._by_base.get(PurePosixPath(file_name).name, [])
        return candidates[0] if len(candidates) == 1 else None

    def check(self, file_names: Iterable[str]) -> list[str]:
        """Warnings for a run: paths listed twice, and listed files that the run does not hold."""
        matched = {self._match(f) for f in file_names}
        missing = sorted(p for p in self.by_path if p not in matched)
        found = list(self.repeats)
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            found.append(
                f"{self.name}: {len(missing)} listed file(s) are not among the inputs: {shown}."
            )
        return found


def from_manifest(csv_source: str | Path | bytes, name: str = "manifest") -> Manifest:
    """Read a manifest CSV: a `path` column plus any of agent, recorded_at, speaker, tags, roles.

    Accepts comma or semicolon delimiters and a UTF-8 BOM. A path listed twice keeps its last
    row, and the repeat is reported by `Manifest.check`.
    """
    import csv

    if isinstance(csv_source, bytes):
        raw = csv_source
    else:
        name = Path(csv_source).name
        try:
            raw = Path(csv_source).read_bytes()
        except OSError as exc:
            raise InputError(f"{csv_source}: cannot read the manifest ({exc.strerror}).") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: the manifest is not UTF-8 text; save it as CSV UTF-8.") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "path" not in columns:
        raise InputError(
            f"{name}: the manifest needs a 'path' column (found: {', '.join(columns) or 'none'})."
        )
    by_path: dict[str, Metadata] = {}
    lines: dict[str, list[int]] = {}
    for line, row in enumerate(reader, start=2):
        values = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        path = PurePosixPath(values["path"].strip().replace("\\", "/")).as_posix()
        if not path or path == ".":
            continue
        by_path[path] = _metadata_from(values, f"{name} line {line}")  # a later row wins
        lines.setdefault(path, []).append(line)
    repeats = tuple(
        f"{name}: {path} is listed on lines {', '.join(map(str, at))}; line {at[-1]} is used."
        for path, at in lines.items()
        if len(at) > 1
    )
    return Manifest(name, by_path, repeats)


def from_pattern(pattern: str) -> MetadataFn:
    """Metadata from a path pattern such as '{agent}/{recorded_at}_*.wav'.

    `{field}` matches one path segment part (no '/'), `*` anything within a segment, `**` any
    number of folders. Unknown fields are refused so a typo does not silently match nothing.
    """
    regex = _pattern_regex(pattern)

    def lookup(file_name: str) -> Metadata:
        match = regex.fullmatch(file_name) or regex.fullmatch(PurePosixPath(file_name).name)
        if not match:
            return Metadata(warning=f"{file_name}: does not match pattern {pattern!r}.")
        return _metadata_from(match.groupdict(), file_name)

    return lookup


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, pos = [], 0
    for token in re.finditer(r"\{(\w+)\}|\*\*/?|\*", pattern):
        out.append(re.escape(pattern[pos : token.start()]))
        text = token.group(0)
        if token.group(1):
            field = token.group(1)
            if field not in FIELDS:
                raise InputError(
                    f"pattern {pattern!r}: unknown field {{{field}}}; use {', '.join(FIELDS)}."
                )
            out.append(f"(?P<{field}>[^/]+?)")
        elif text.startswith("**"):
            out.append("(?:.*/)?")
        else:
            out.append("[^/]*")
        pos = token.end()
    out.append(re.escape(pattern[pos:]))
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise InputError(f"pattern {pattern!r}: {exc} (each field may appear once).") from exc
