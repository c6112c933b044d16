"""A hub model's first download reports its progress, on the CLI's path and the web page's (#10)."""

from __future__ import annotations

import io
import sys
import time
import types

import pytest

import core.model.hub
from core.errors import ModelDownloadError
from core.model import hub

CHUNK = 1_000_000


def fake_modelscope(monkeypatch, download):
    """Stand in for modelscope's snapshot_download (no machine here reaches a hub)."""
    module = types.ModuleType("modelscope.hub.snapshot_download")
    module.snapshot_download = download
    monkeypatch.setitem(sys.modules, "modelscope.hub.snapshot_download", module)


def slow_download(cache, chunks=5, pause_s=0.12):
    def download(repo, local_files_only=False):
        if local_files_only:
            raise FileNotFoundError("not cached")
        folder = cache / "models" / repo
        folder.mkdir(parents=True)
        with (folder / "model.pt").open("wb") as out:
            for _ in range(chunks):
                out.write(b"\0" * CHUNK)
                out.flush()
                time.sleep(pause_s)
        return str(folder)

    return download


def test_a_download_reports_the_bytes_on_disk_as_they_arrive(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    monkeypatch.setattr(core.model.hub, "WATCH_EVERY_S", 0.05)
    fake_modelscope(monkeypatch, slow_download(tmp_path))
    (tmp_path / "models" / "iic" / "other_model").mkdir(parents=True)
    (tmp_path / "models" / "iic" / "other_model" / "model.pt").write_bytes(b"x" * 999)  # not ours
    heard: list[int] = []
    directory = core.model.hub.hub_directory("emotion2vec_plus_large", "ms", heard.append)
    assert directory == tmp_path / "models" / "iic" / "emotion2vec_plus_large"
    assert heard[-1] == 5 * CHUNK  # the final report: every byte, none of the other model's
    assert len(set(heard)) >= 3 and heard == sorted(heard)  # it grew while the download ran


def test_a_cached_model_is_not_downloaded_or_reported(tmp_path, monkeypatch):
    def cached(repo, local_files_only=False):
        assert local_files_only, "a cached model must not reach the hub"
        return str(tmp_path / repo)

    fake_modelscope(monkeypatch, cached)
    heard: list[int] = []
    assert core.model.hub.hub_directory("emotion2vec_plus_base", "ms", heard.append).name == (
        "emotion2vec_plus_base"
    )
    assert heard == []


def test_a_failed_download_names_the_hub_and_the_reason(tmp_path, monkeypatch):
    def offline(repo, local_files_only=False):
        raise ConnectionError("Name or service not known")

    fake_modelscope(monkeypatch, offline)
    with pytest.raises(ModelDownloadError) as failure:
        core.model.hub.hub_directory("emotion2vec_plus_seed", "ms", lambda size: None)
    message = failure.value.for_web("EMOSCOPE_MODELS_DIR")
    assert "iic/emotion2vec_plus_seed" in message and "ModelScope" in message
    assert "--" not in message  # the web page's reader has no command line


def test_the_web_analysis_shows_the_download_in_its_progress(tmp_path, monkeypatch, engine):
    from core.ingest.metadata import no_metadata
    from core.store.database import Store
    from dashboard import jobs, resources

    def loading(source, on_download=None, **_):
        for size in (40_000_000, 410_000_000):
            on_download(size)
        return engine

    monkeypatch.setattr(resources, "load_engine", loading)
    monkeypatch.setattr(resources, "_ENGINES", {})
    stages: list[str] = []
    request = jobs.Analysis("emotion2vec_plus_large", "c", no_metadata, False, "mix", ())
    summary = jobs._analyse(Store(tmp_path / "db.duckdb"), "emotion2vec_plus_large", request,
                            [("empty.wav", io.BytesIO(b""))], "ann@team.test",
                            lambda done, total, stage: stages.append(stage))  # fmt: skip
    assert stages[:4] == [
        "Checking the database…",  # before any download: a damaged file is refused first
        "Loading the model emotion2vec_plus_large…",
        "Downloading emotion2vec_plus_large (first use only): 40 MB so far…",
        "Downloading emotion2vec_plus_large (first use only): 410 MB so far…",
    ]
    assert summary.failed == 1  # the empty file: the run itself went on after the download


@pytest.mark.parametrize(
    "layout",
    ["models/iic/emotion2vec_plus_base", "iic/emotion2vec_plus_base",
     "hub/iic/emotion2vec_plus_base", "models/iic--emotion2vec_plus_base/snapshots/5e1f0c2"],
)  # fmt: skip
def test_a_downloaded_modelscope_model_is_found_in_each_cache_layout(tmp_path, monkeypatch, layout):
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    assert not hub.is_downloaded("emotion2vec_plus_base")
    (tmp_path / layout).mkdir(parents=True)
    assert not hub.is_downloaded("emotion2vec_plus_base")  # a folder without weights is not one
    (tmp_path / layout / "model.pt").write_bytes(b"weights")
    assert hub.is_downloaded("emotion2vec_plus_base")
    assert not hub.is_downloaded("emotion2vec_plus_large")


def test_a_downloaded_hugging_face_model_is_found_in_its_snapshots(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    snapshot = tmp_path / "models--emotion2vec--emotion2vec_plus_large" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    assert not hub.is_downloaded("emotion2vec_plus_large", "hf")
    (snapshot / "model.pt").write_bytes(b"weights")
    assert hub.is_downloaded("emotion2vec_plus_large", "hf")


def test_a_hub_is_reachable_through_a_listening_proxy_and_not_without_one(monkeypatch):
    import socket

    for name in ("HTTPS_PROXY", "https_proxy", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(hub.HUB_HOSTS, "ms", "emoscope-no-such-host.invalid")
    assert not hub.can_reach("ms", timeout_s=2.0)
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        assert hub.can_reach("ms", timeout_s=2.0)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub.can_reach("hf")  # Hugging Face's own offline switch is respected
