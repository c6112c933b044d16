"""The Upload page's file list: header facts per file and per zip member, read once per file."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import streamlit as st

from dashboard import jobs


class Uploaded(io.BytesIO):
    """What st.file_uploader gives the page (a BytesIO with a name and a file id)."""

    def __init__(self, name: str, data: bytes, file_id: str) -> None:
        super().__init__(data)
        self.name, self.file_id = name, file_id


def test_files_and_zip_members_are_listed_with_their_facts_once(encoded, monkeypatch):
    st.session_state.clear()
    wav = encoded["pcm16.wav"].read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("in/one.flac", encoded["clip.flac"].read_bytes())
        archive.writestr("in/bad.wav", b"RIFF" + bytes(64))
    uploads = [Uploaded("a.wav", wav, "f1"), Uploaded("b.zip", buffer.getvalue(), "f2"),
               Uploaded("c.mp3", b"not audio at all", "f3")]  # fmt: skip
    table = jobs.upload_facts(uploads)
    assert list(table.file) == ["a.wav", "in/one.flac", "in/bad.wav", "c.mp3"]
    assert table.iloc[:2][["duration (s)", "sample rate (Hz)", "channels", "codec"]].to_dict(
        "records"
    ) == [
        {"duration (s)": 3.0, "sample rate (Hz)": 44_100, "channels": 2, "codec": "pcm_s16le"},
        {"duration (s)": 3.0, "sample rate (Hz)": 44_100, "channels": 2, "codec": "flac"},
    ]
    assert list(table.problem.iloc[:2]) == ["", ""]
    assert table.problem.iloc[2].startswith("in/bad.wav: a damaged or incomplete WAV file")
    assert table.problem.iloc[3].startswith("c.mp3: not a readable audio file")
    assert pd.isna(table["duration (s)"].iloc[3])

    probed = []
    monkeypatch.setattr(jobs, "_listed", lambda upload: probed.append(upload.name) or [])
    again = jobs.upload_facts(uploads[:2])  # a rerun, c.mp3 removed from the uploader
    assert probed == [] and list(again.file) == ["a.wav", "in/one.flac", "in/bad.wav"]
    assert set(st.session_state["upload_facts"]) == {"f1", "f2"}
