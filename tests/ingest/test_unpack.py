"""Zip members are streamed to a temporary folder under caps counted while inflating (#14 item 2)."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from core.ingest import sources
from core.ingest.preview import preview_zip


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


AUDIO = {"calls/a.wav": b"RIFF" + bytes(range(256)) * 40, "b.mp3": b"ID3" + b"\x01" * 5000}


def test_collected_unpacks_to_files_and_removes_them(tmp_path):
    (tmp_path / "calls.zip").write_bytes(zip_bytes({**AUDIO, "notes.txt": b"x"}))
    with sources.collected([tmp_path / "calls.zip"]) as inputs:
        assert [(i.name, i.transient, i.data) for i in inputs] == [
            ("calls/a.wav", True, None),
            ("b.mp3", True, None),
        ]
        assert [i.path.read_bytes() for i in inputs] == list(AUDIO.values())
        folder = inputs[0].path.parents[1]
        assert folder.name.startswith("emoscope-unpack-")
    assert not folder.exists()  # nothing left behind once the ingest is done


def test_received_spools_a_zip_upload_and_keeps_plain_uploads(tmp_path):
    upload = io.BytesIO(zip_bytes(AUDIO))
    listed = preview_zip(upload, "up.zip")  # the page lists it before unpacking
    assert [(e.item.name, e.item.path, e.item.data) for e in listed] == [
        ("calls/a.wav", None, None),
        ("b.mp3", None, None),
    ]
    with sources.received([("up.zip", upload), ("c.wav", io.BytesIO(b"RIFFc"))]) as inputs:
        assert [i.name for i in inputs] == ["calls/a.wav", "b.mp3", "c.wav"]
        assert [i.transient for i in inputs] == [True, True, False]
        assert inputs[2].data == b"RIFFc"
        assert inputs[0].path.read_bytes() == AUDIO["calls/a.wav"]
        assert not list(inputs[0].path.parents[1].glob("*.zip"))  # the spooled copy is gone
        folder = inputs[0].path.parents[1]
    assert not folder.exists()


def test_unsafe_names_never_become_paths(tmp_path):
    data = zip_bytes({"../../evil.wav": b"RIFF", "/etc/evil.wav": b"RIFF", "ok.wav": b"RIFF1"})
    with sources.received([("x.zip", io.BytesIO(data))]) as inputs:
        assert [(i.name, i.path is None) for i in inputs] == [
            ("x.zip:../../evil.wav", True),
            ("x.zip:/etc/evil.wav", True),
            ("ok.wav", False),
        ]
        assert inputs[2].path.name == "000002.wav"  # our own name, never the member's
    assert not (tmp_path.parent / "evil.wav").exists()


def test_a_member_whose_header_understates_its_size_is_not_trusted():
    data = zip_bytes({"big.wav": b"RIFF" + bytes(range(256)) * 20, "small.wav": b"RIFF2"})
    data = _forge_sizes(data, b"big.wav", 100)  # claims 100 bytes, inflates to 5124
    with sources.received([("x.zip", io.BytesIO(data))]) as inputs:
        # zipfile stops at the claimed size and the checksum then fails: nothing more is written
        assert (
            inputs[0].problem
            == "big.wav: cannot be unpacked from x.zip (Bad CRC-32 for file 'big.wav')."
        )
        assert inputs[0].path is None and inputs[1].path.read_bytes() == b"RIFF2"
        assert sorted(p.name for p in inputs[1].path.parent.iterdir()) == ["000001.wav"]


def test_copying_stops_as_soon_as_the_cap_is_passed():
    out = io.BytesIO()
    assert sources._copy_capped(io.BytesIO(bytes(5000)), out, cap=5000) == 5000
    out = io.BytesIO()
    assert sources._copy_capped(io.BytesIO(bytes(3 * 1024**2)), out, cap=1024**2 + 1) is None
    assert len(out.getvalue()) == 1024**2  # the piece that passed the cap was never written


def test_an_archive_over_the_upload_cap_stops_at_the_member_that_passes_it(monkeypatch):
    monkeypatch.setattr(sources, "MAX_UPLOAD_BYTES", 10_000)
    members = {f"{i}.wav": bytes([i]) * 4000 for i in range(4)}
    with sources.received([("x.zip", io.BytesIO(zip_bytes(members)))]) as inputs:
        assert [i.problem for i in inputs] == [
            None,
            None,
            "2.wav: x.zip unpacks to more than 0 GiB in all; this member and any after it were "
            "skipped.",
            "3.wav: x.zip unpacks to more than 0 GiB in all; this member and any after it were "
            "skipped.",
        ]
        assert [i.path.stat().st_size for i in inputs[:2]] == [4000, 4000]


def test_a_member_declaring_more_than_the_cap_is_refused_unread(monkeypatch):
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 2 * 1024**3)
    data = _forge_sizes(zip_bytes({"huge.wav": b"RIFF" * 100}), b"huge.wav", 3 * 1024**3, 1)
    monkeypatch.setattr(sources, "MAX_ZIP_RATIO", 10**12)  # only the size rule is tested here
    with sources.received([("x.zip", io.BytesIO(data))]) as inputs:
        assert inputs[0].problem == (
            "huge.wav: unpacks to 3.0 GiB, more than the 2 GiB one recording may; skipped."
        )


@pytest.mark.parametrize("cap_name", ["MAX_MEMBER_BYTES", "MAX_UPLOAD_BYTES"])
def test_the_caps_are_stated_in_the_readme(cap_name):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"`{cap_name}`" in readme
    assert f"{getattr(sources, cap_name) // 1024**3} GiB" in readme


def _forge_sizes(data: bytes, name: bytes, size: int, compressed: int | None = None) -> bytes:
    """Rewrite a member's uncompressed size (and optionally compressed) in both zip headers."""
    out = bytearray(data)
    local = out.find(b"PK\x03\x04")
    central = out.find(b"PK\x01\x02")
    assert out[local + 30 : local + 30 + len(name)] == name
    struct.pack_into("<I", out, local + 22, size & 0xFFFFFFFF)
    struct.pack_into("<I", out, central + 24, size & 0xFFFFFFFF)
    if compressed is not None:
        struct.pack_into("<I", out, central + 20, compressed)
    return bytes(out)
