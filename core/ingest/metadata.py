"""Clip metadata (agent, recorded_at, speaker, tags, label) from a manifest CSV or a path pattern."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path, PurePosixPath

from core.errors import InputError

FIELDS = ("agent", "recorded_at", "speaker", "tags", "label")
LABEL_COLUMN = "label"  # the manifest column read as the user's own emotion label by default


@dataclass(frozen=True)
class Metadata:
    """What is known about a clip besides its audio. `warning` explains a dropped value."""

    agent: str | None = None
    recorded_at: datetime | None = None
    speaker: str | None = None
    tags: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # channel roles in channel order, e.g. ("agent", "customer")
    label: str | None = (
        None  # the user's own emotion label, any vocabulary (core.analysis.evaluation)
    )
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
        label=(values.get(LABEL_COLUMN) or "").strip() or None,
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


def from_manifest(
    csv_source: str | Path | bytes, name: str = "manifest", label_column: str | None = None
) -> Manifest:
    """Read a manifest CSV: a `path` column plus any of agent, recorded_at, speaker, tags, roles
    and label (the user's own emotion label; `label_column` names another column for it, e.g.
    RAVDESS's `emotion`, and must then exist).

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
    try:
        return _manifest_rows(reader, name, label_column)
    except csv.Error as exc:  # a field past csv's limit, a NUL byte ...: said with its line
        line = reader.line_num + 1  # lines read before the row that failed, plus that row
        raise InputError(f"{name} line {line}: {_csv_reason(exc)}") from exc


def _csv_reason(exc: Exception) -> str:
    import csv

    if "field limit" in str(exc):
        return (f"a field is longer than {csv.field_size_limit():,} characters; a manifest "
                "holds short metadata per file (path, agent, date, tags), so check the file.")  # fmt: skip
    return f"not readable as CSV ({exc}); save it as CSV UTF-8."


def _manifest_rows(reader, name: str, label_column: str | None) -> Manifest:
    """The Manifest of a CSV reader's rows (see from_manifest)."""
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "path" not in columns:
        raise InputError(
            f"{name}: the manifest needs a 'path' column (found: {', '.join(columns) or 'none'})."
        )
    wanted = (label_column or "").strip().lower()
    if label_column is not None and wanted not in columns:
        raise InputError(
            f"{name}: no column {label_column!r} for the labels (found: {', '.join(columns)})."
        )
    by_path: dict[str, Metadata] = {}
    lines: dict[str, list[int]] = {}
    for line, row in enumerate(reader, start=2):
        values = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        if wanted:  # the chosen column is read as the label, whatever it is called
            values[LABEL_COLUMN] = values.get(wanted, "")
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


MAX_PATTERN_CHARS = 256  # a pattern is a short path template; longer ones are refused


def from_pattern(pattern: str) -> MetadataFn:
    """Metadata from a path pattern such as '{agent}/{recorded_at}_*.wav'.

    `{field}` matches one path segment part (no '/', at least one character), `*` anything
    within a segment, a `**` segment any number of folders. A file matches on its full name or
    else on its base name. Unknown fields are refused so a typo does not silently match nothing.
    Matching runs in time linear in the pattern times the name (no regex backtracking), so a
    hostile pattern such as '*a*a*a*a*a*b' cannot stall the server.
    """
    segments = _parse_pattern(pattern)

    def lookup(file_name: str) -> Metadata:
        values = _match_path(segments, file_name.split("/"))
        if values is None and "/" in file_name:
            values = _match_path(segments, [PurePosixPath(file_name).name])
        if values is None:
            return Metadata(warning=f"{file_name}: does not match pattern {pattern!r}.")
        return _metadata_from(values, file_name)

    return lookup


@dataclass(frozen=True)
class _Gap:
    """Wildcards between two literal pieces of a segment: `{field}`s and `*`s in order."""

    parts: tuple[str | None, ...]  # a field name, or None for '*'

    @property
    def min_chars(self) -> int:
        return sum(1 for p in self.parts if p is not None)  # a field takes at least one char

    @property
    def greedy(self) -> bool:
        return None in self.parts  # '*' is greedy, a field alone is lazy (as in a regex)


@dataclass(frozen=True)
class _Segment:
    """One '/'-separated piece of a pattern: literals[0] gap[0] literals[1] ... literals[-1]."""

    literals: tuple[str, ...]  # always one more than gaps; the first and last may be ''
    gaps: tuple[_Gap, ...]


_ANY_FOLDERS = None  # a '**' segment


def _parse_pattern(pattern: str) -> list[_Segment | None]:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InputError(
            f"the pattern is {len(pattern)} characters long; at most {MAX_PATTERN_CHARS} allowed."
        )
    seen: set[str] = set()
    segments: list[_Segment | None] = []
    for text in pattern.split("/"):
        segments.append(_ANY_FOLDERS if text == "**" else _parse_segment(pattern, text, seen))
    return segments


def _parse_segment(pattern: str, text: str, seen: set[str]) -> _Segment:
    literals, gaps, pos = [], [], 0
    parts: list[str | None] = []
    for token in re.finditer(r"\{(\w+)\}|\*+", text):
        literal = text[pos : token.start()]
        if literal or not parts:  # a literal closes the gap before it
            if parts:
                gaps.append(_Gap(tuple(parts)))
                parts = []
            literals.append(literal)
        field = token.group(1)
        if field is not None:
            if field not in FIELDS:
                raise InputError(
                    f"pattern {pattern!r}: unknown field {{{field}}}; use {', '.join(FIELDS)}."
                )
            if field in seen:
                raise InputError(f"pattern {pattern!r}: field {{{field}}} appears twice.")
            seen.add(field)
        parts.append(field)
        pos = token.end()
    if parts:
        gaps.append(_Gap(tuple(parts)))
        literals.append(text[pos:])
    elif not literals:
        literals.append(text)
    else:
        literals[-1] += text[pos:]
    return _Segment(tuple(literals), tuple(gaps))


def _match_path(segments: list[_Segment | None], names: list[str]) -> dict[str, str] | None:
    """Match '/'-separated names against pattern segments; '**' spans any number of folders.

    Runs of plain segments between '**'s are placed as late as the rest allows (each '**' is
    greedy, as the regex '(?:.*/)?' was), searching right to left: each start is tried at most
    once per run, so this is O(names x pattern) with no backtracking.
    """
    runs: list[list[_Segment]] = [[]]
    for seg in segments:
        if seg is _ANY_FOLDERS:
            runs.append([])
        else:
            runs[-1].append(seg)  # type: ignore[arg-type]
    if len(runs) == 1:
        return _match_run(runs[0], names, 0) if len(names) == len(runs[0]) else None
    first, last = runs[0], runs[-1]
    floor, limit = len(first), len(names) - len(last)
    head = _match_run(first, names, 0) if floor <= limit else None
    tail = _match_run(last, names, limit) if head is not None else None
    if head is None or tail is None:
        return None
    values = head
    found: list[dict[str, str]] = []
    for run in reversed(runs[1:-1]):
        start, got = limit - len(run), None
        while start >= floor and got is None:
            got = _match_run(run, names, start)
            start -= 1
        if got is None:
            return None
        found.append(got)
        limit = start + 1
    for got in reversed(found):
        values.update(got)
    values.update(tail)
    return values


def _match_run(run: list[_Segment], names: list[str], start: int) -> dict[str, str] | None:
    values: dict[str, str] = {}
    for offset, seg in enumerate(run):
        got = _match_segment(seg, names[start + offset])
        if got is None:
            return None
        values.update(got)
    return values


def _match_segment(seg: _Segment, text: str) -> dict[str, str] | None:
    """Match one segment in O(len(text) x pieces) with str.find/rfind, never backtracking.

    The first and last literals are anchored. Going right to left, each middle literal's latest
    possible start is found; then left to right each literal is put at its earliest start (after
    lazy fields) or its latest (after a greedy '*'), which always leaves the rest matchable.
    """
    lits, gaps = seg.literals, seg.gaps
    if not gaps:
        return {} if text == lits[0] else None
    first, last = lits[0], lits[-1]
    if not text.startswith(first) or len(text) < len(first) + len(last):
        return None
    end = len(text) - len(last)
    if not text.endswith(last):
        return None
    latest = [0] * len(lits)
    latest[-1] = end
    for i in range(len(lits) - 2, 0, -1):
        latest[i] = text.rfind(lits[i], len(first), latest[i + 1] - gaps[i].min_chars)
        if latest[i] < 0:
            return None
    values: dict[str, str] = {}
    cur = len(first)
    for i in range(1, len(lits)):
        gap = gaps[i - 1]
        lo = cur + gap.min_chars
        if i == len(lits) - 1:
            at = end if end >= lo else -1
        elif gap.greedy:
            at = text.rfind(lits[i], lo, latest[i] + len(lits[i]))
        else:
            at = text.find(lits[i], lo, latest[i] + len(lits[i]))
        if at < 0:
            return None
        values.update(_split_gap(gap, text[cur:at]))
        cur = at + len(lits[i])
    return values


def _split_gap(gap: _Gap, text: str) -> dict[str, str]:
    """Share a gap's text among its wildcards: fields take one char each (lazy) and the first
    '*' takes the rest; without a '*' the last field takes the rest."""
    sizes = [1 if p is not None else 0 for p in gap.parts]
    spare = len(text) - sum(sizes)
    taker = gap.parts.index(None) if gap.greedy else len(sizes) - 1
    sizes[taker] += spare
    values, pos = {}, 0
    for part, size in zip(gap.parts, sizes, strict=True):
        if part is not None:
            values[part] = text[pos : pos + size]
        pos += size
    return values
