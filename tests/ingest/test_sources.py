"""core.ingest.sources: what a folder walk makes of entries that are not regular files."""

from __future__ import annotations

import os
import socket
import zipfile
from pathlib import Path

import pytest

from core.errors import InputError
from core.ingest.sources import collect


def _problems(folder: Path) -> dict[str, str | None]:
    return {f.name: f.problem for f in collect([folder])}


def test_socket_and_link_to_a_good_file(tmp_path):
    (tmp_path / "real.wav").write_bytes(b"RIFF")
    (tmp_path / "alias.wav").symlink_to(tmp_path / "real.wav")  # a link to a file is fine
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock.wav"))
        found = _problems(tmp_path)
    assert found == {
        "alias.wav": None,
        "real.wav": None,
        "sock.wav": "sock.wav: a socket; skipped, nothing was read.",
    }


def test_a_folder_link_back_up_the_tree_is_walked_once(tmp_path):
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "calls" / "up").symlink_to(tmp_path)  # would loop forever if followed blindly
    assert _problems(tmp_path) == {"calls/a.wav": None}


def test_a_folder_named_like_audio_is_reported_and_its_files_collected(tmp_path):
    (tmp_path / "day.wav").mkdir()
    (tmp_path / "day.wav" / "call.mp3").write_bytes(b"ID3")
    assert _problems(tmp_path) == {
        "day.wav": "day.wav: a folder, not an audio file; its files are collected one by one.",
        "day.wav/call.mp3": None,
    }


def test_entries_without_an_audio_extension_are_not_reported(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    os.mkfifo(tmp_path / "control")
    (tmp_path / "notes").symlink_to(tmp_path / "nowhere")
    assert _problems(tmp_path) == {"a.wav": None}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file regardless of its mode")
def test_an_unreadable_file(tmp_path):
    (tmp_path / "locked.wav").write_bytes(b"RIFF")
    (tmp_path / "locked.wav").chmod(0)
    assert _problems(tmp_path) == {
        "locked.wav": "locked.wav: not readable (permission denied); skipped, nothing was read."
    }
    with pytest.raises(InputError, match="not readable \\(permission denied\\), not an audio"):
        collect([tmp_path / "locked.wav"])


def test_named_directly_socket_is_refused(tmp_path):
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock.wav"))
        with pytest.raises(InputError, match="sock\\.wav: a socket, not an audio file or folder"):
            collect([tmp_path / "sock.wav"])


def test_a_zip_inside_a_folder_is_reported_not_skipped(tmp_path):
    zipfile.ZipFile(tmp_path / "calls.zip", "w").close()
    assert _problems(tmp_path) == {
        "calls.zip": "calls.zip: a zip inside a folder is not unpacked; name the zip itself to "
        "ingest what it holds."
    }


@pytest.mark.parametrize(("members", "found"), [({}, "nothing"), ({"README.txt": b"hi"},
                                                                   "1 other file(s)")])  # fmt: skip
def test_a_zip_without_audio_says_so(tmp_path, members, found):
    with zipfile.ZipFile(tmp_path / "docs.zip", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    (item,) = collect([tmp_path / "docs.zip"])
    assert item.problem.startswith(f"docs.zip: holds no audio files ({found}; looked for wav, ")
    assert item.problem.endswith("); nothing was ingested from it.")
