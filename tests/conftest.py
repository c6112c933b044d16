"""Shared fixtures: the tiny emotion2vec (built here, loaded through funasr), real audio encoded by
ffmpeg in every supported format, and a database seeded by a real ingest."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_xdist_auto_num_workers(config) -> int:
    """One xdist worker more than there are cores (at most 4, as before): a browser test spends
    much of its time waiting for its server and Chromium, so on CI's 2 cores a third worker
    fills those waits (the whole suite on the shared 2-core machine, each run beside other
    work: 1,191 s with 3 workers, 1,957 s with 2)."""
    import os

    return min(4, (os.cpu_count() or 1) + 1)


def pytest_configure(config) -> None:
    _scan_installed_components_once()


def _scan_installed_components_once() -> None:
    """Every new AppTest scans the metadata of every installed distribution for Streamlit
    components (~0.4 s of CPU, a tenth of the page tests' time); a server scans once, at its
    start. Nothing is installed during a run, so one scan serves every AppTest."""
    import functools

    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    manifest_scanner.scan_component_manifests = functools.cache(scan)


RAVDESS = SHARED / "data" / "ravdess-16k"
DECODER_SAMPLES = SHARED / "data" / "decoder-samples"

# name -> ffmpeg output arguments; every format the product accepts.
FORMATS: dict[str, list[str]] = {
    "pcm16.wav": ["-c:a", "pcm_s16le"],
    "pcm24.wav": ["-c:a", "pcm_s24le"],
    "pcm32.wav": ["-c:a", "pcm_s32le"],
    "u8.wav": ["-c:a", "pcm_u8"],
    "float.wav": ["-c:a", "pcm_f32le"],
    "mulaw.wav": ["-c:a", "pcm_mulaw", "-ar", "8000"],
    "alaw.wav": ["-c:a", "pcm_alaw", "-ar", "8000"],
    "clip.mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "clip.m4a": ["-c:a", "aac", "-b:a", "64k"],
    "clip.flac": ["-c:a", "flac"],
    "clip.ogg": ["-c:a", "libvorbis"],
    "clip.opus": ["-c:a", "libopus"],
    "clip.webm": ["-c:a", "libopus"],
}


def speechlike(seconds: float, seed: int = 0, rate: int = 16_000) -> np.ndarray:
    """A voiced, syllable-modulated harmonic signal: deterministic, not white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110 + 40 * rng.random() + 15 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * (3 + rng.random()) * t)) ** 2
    return (0.2 * voice * envelope + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def hub_as(monkeypatch, cache: Path, online: bool) -> None:
    """The model hub as the Upload page sees it: an empty cache at `cache`, reachable or not
    (a server with network, or one without: tests never reach a real hub either way)."""
    from core.model import hub
    from dashboard import resources

    cache.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(cache))
    monkeypatch.setattr(hub, "can_reach", lambda *args, **kwargs: online)
    resources.hub_models_here.clear()


@pytest.fixture
def hub_online(monkeypatch, tmp_path) -> None:
    """A server that can download hub models (none downloaded yet)."""
    hub_as(monkeypatch, tmp_path / "modelscope", online=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from core.model.testmodel import make_test_model

    return make_test_model(tmp_path_factory.mktemp("models") / "tiny-e2v", arch="tiny", seed=0)


def run_wide_folder(tmp_path_factory, name: str) -> Path:
    """A folder shared by every xdist worker of this run (the run's own base folder without
    xdist), for what the whole run may build once."""
    import os

    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def ravdess_pair(tmp_path_factory, tiny_model_dir) -> tuple[Path, dict]:
    """RAVDESS actors 1 and 2 (120 clips) ingested by the CLI with the manifest's labels and the
    tiny model, once for the whole run (the first worker to ask builds it, the others wait):
    (the database, the ingest's JSON summary). Copy the file before writing beside it."""
    import json

    from filelock import FileLock

    from tests.core_cli import run_cli

    if not RAVDESS.exists():
        pytest.skip("../shared is absent")
    folder = run_wide_folder(tmp_path_factory, "ravdess-pair")
    db, summary = folder / "rav.duckdb", folder / "summary.json"
    with FileLock(str(folder / "building.lock")):
        if not summary.exists():
            done = run_cli(
                "ingest", RAVDESS / "Actor_01", RAVDESS / "Actor_02", "--corpus", "ravdess",
                "--manifest", RAVDESS / "manifest.csv", "--label-column", "emotion", "--model",
                tiny_model_dir, "--device", "cpu", "--db", db, "--json",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            summary.write_text(done.stdout.splitlines()[-1])
    return db, json.loads(summary.read_text())


@pytest.fixture(scope="session")
def engine(tiny_model_dir):
    from core.model.engine import load_engine

    return load_engine(str(tiny_model_dir), "cpu", threads=2)


@pytest.fixture(scope="session")
def sensevoice_dir(tmp_path_factory) -> Path:
    """A tiny SenseVoice with its fsmn-vad (random weights), loadable by funasr."""
    from core.model.asr_testmodel import make_sensevoice_test_model

    return make_sensevoice_test_model(tmp_path_factory.mktemp("models") / "tiny-sv", seed=0)


@pytest.fixture(scope="session")
def transcriber(sensevoice_dir):
    from core.model.transcribe import load_transcriber

    return load_transcriber(str(sensevoice_dir), "cpu", threads=2)


def with_pauses(bursts: list[tuple[float, float]], seconds: float, seed: int = 0) -> np.ndarray:
    """Speech-like bursts at (start, end) seconds in a quiet recording of `seconds`."""
    rate = 16_000
    rng = np.random.default_rng(seed)
    wave = (1e-4 * rng.standard_normal(int(seconds * rate))).astype(np.float32)
    for i, (start, end) in enumerate(bursts):
        a, b = int(start * rate), int(end * rate)
        wave[a:b] += speechlike((b - a) / rate, seed=seed * 100 + i)[: b - a]
    return wave


@pytest.fixture(scope="session")
def transcribed_db(tmp_path_factory, tiny_model_dir, sensevoice_dir) -> Path:
    """A mono clip (alice, two lines) and a split stereo call (bob: the agent speaks, then the
    customer, then the agent), scored with frame curves and transcribed by the tiny SenseVoice
    (#26); the audio stays on disk for the players."""
    from core.cli.main import main

    folder = tmp_path_factory.mktemp("transcribed")
    calls = folder / "calls"
    (calls / "alice").mkdir(parents=True)
    (calls / "bob").mkdir()
    sf.write(calls / "alice" / "2024-05-02_1.wav",
             with_pauses([(0.3, 1.5), (4.5, 6.0)], 7.0, seed=2), 16_000)  # fmt: skip
    stereo = np.stack([with_pauses([(0.5, 2.0), (6.0, 7.5)], 9.0, seed=3),
                       with_pauses([(3.0, 5.0)], 9.0, seed=4)], axis=1)  # fmt: skip
    sf.write(calls / "bob" / "2024-05-03_2.wav", stereo, 16_000)
    db = folder / "said.duckdb"
    code = main(["ingest", str(calls), "--corpus", "calls", "--model", str(tiny_model_dir),
                 "--pattern", "{agent}/{recorded_at}_*.wav", "--channels", "split", "--roles",
                 "agent,customer", "--frames", "--transcribe", "--asr-model", str(sensevoice_dir),
                 "--db", str(db)])  # fmt: skip
    assert code == 0
    return db


@pytest.fixture(scope="session")
def source_wav(tmp_path_factory) -> Path:
    """3 s stereo 44.1 kHz WAV: the source every format below is encoded from."""
    path = tmp_path_factory.mktemp("src") / "source.wav"
    left, right = speechlike(3.0, 1, 44_100), speechlike(3.0, 2, 44_100)
    sf.write(path, np.stack([left, right], axis=1), 44_100, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def encoded(tmp_path_factory, source_wav) -> dict[str, Path]:
    """The source encoded by ffmpeg in every supported format."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: run scripts/setup.sh --dev")
    out = tmp_path_factory.mktemp("encoded")
    files = {}
    for name, codec in FORMATS.items():
        ffmpeg("-i", str(source_wav), *codec, str(out / name))
        files[name] = out / name
    return files


def make_corpus(root: Path, agents=("alice", "bob", "carol"), per_agent: int = 4) -> Path:
    """agent/YYYY-MM-DD_n.wav files of 1-4 s, spread over several weeks."""
    for a, agent in enumerate(agents):
        (root / agent).mkdir(parents=True, exist_ok=True)
        for i in range(per_agent):
            day = 1 + 7 * i + a
            seconds = 1.0 + (i + a) % 4
            wave = speechlike(seconds, seed=10 * a + i)
            sf.write(root / agent / f"2024-05-{day:02d}_{i}.wav", wave, 16_000)
    return root


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory, engine, corpus_dir) -> Path:
    """A database holding one corpus (3 agents x 4 clips, weekly dates) with frame curves."""
    from core.ingest.metadata import from_pattern
    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.store.database import Store

    path = tmp_path_factory.mktemp("db") / "seeded.duckdb"
    store = Store(path)
    ingest(store, engine, collect([corpus_dir]), "calls",
           metadata=from_pattern("{agent}/{recorded_at}_*.wav"), frames=True)  # fmt: skip
    return path


@pytest.fixture
def store(tmp_path):
    from core.store.database import Store

    return Store(tmp_path / "test.duckdb")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


VOCABULARY = ["Anger", " joy", "calm", "sad", "contempt", "Surprise"]


def write_manifest(corpus_dir, path, column="label") -> dict[str, str]:
    names = sorted(p.relative_to(corpus_dir).as_posix() for p in corpus_dir.rglob("*.wav"))
    labels = {n: VOCABULARY[i % len(VOCABULARY)] for i, n in enumerate(names)}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", column])
        writer.writerows(labels.items())
    return labels


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
    from core.model.engine import load_engine
    from core.model.testmodel import make_test_model

    directory = make_test_model(tmp_path_factory.mktemp("m2") / "tiny-b", arch="tiny", seed=1)
    return load_engine(str(directory), "cpu", threads=2)


@pytest.fixture(scope="module")
def labelled_db(tmp_path_factory, engine, second_model, corpus_dir):
    """The 12-clip test corpus with labels (one unmapped), scored by two untrained models,
    plus an unlabelled corpus."""
    from core.ingest.metadata import from_manifest
    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.store.database import Store

    folder = tmp_path_factory.mktemp("labelled")
    labels = write_manifest(corpus_dir, folder / "labels.csv", column="mood")
    store = Store(folder / "labelled.duckdb")
    meta = from_manifest(folder / "labels.csv", label_column="mood")
    for model in (engine, second_model):
        ingest(store, model, collect([corpus_dir]), "calls", metadata=meta)
    ingest(store, engine, collect([corpus_dir / "alice"]), "plain")
    ingest(store, engine, collect([corpus_dir / "bob"]), "bobs", metadata=meta)
    # Two stereo calls scored per channel: the label is about the call, the check per track.
    for name, seed in (("call1.wav", 1), ("call2.wav", 3)):
        stereo = np.stack([speechlike(2.0, seed), speechlike(2.0, seed + 1)], axis=1)
        sf.write(folder / name, stereo, 16_000)
    (folder / "calls.csv").write_text("path,label\ncall1.wav,anger\ncall2.wav,sadness\n")
    ingest(store, engine, collect([folder / "call1.wav", folder / "call2.wav"]), "stereo",
           metadata=from_manifest(folder / "calls.csv"), channel_mode="split",
           channel_roles=("agent", "customer"))  # fmt: skip
    return store, labels


@pytest.fixture(scope="module")
def synth_db(tmp_path_factory) -> Path:
    """A synthetic database of 700 clips (bench/synth_db.py), for the page and language tests."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import synth_db as synth

    db = tmp_path_factory.mktemp("synth") / "synth.duckdb"
    synth.build(db, synth.SynthSpec(clips=700, seed=5, batch=350, curve_share=0.05))
    return db


# The clustered database's hand-made projection: clusters of these sizes, the rest in the last.
CLUSTER_SIZES = (520, 300)


@pytest.fixture(scope="module")
def clustered_db(synth_db, tmp_path_factory) -> tuple[Path, str]:
    """A copy of the synthetic database (700 clips, ~900 tracks) holding the projection that the
    Clusters page's default settings name, stored as the job stores one: its tracks shuffled
    into clusters of 520 (more than a page of 500), 300 and the rest. Returns (path, key)."""
    from core.analysis.clusters import ProjectionParams, projection_key
    from core.records import ClipFilter
    from core.store.aggregates import selection_fingerprint
    from core.store.clips import select_clips
    from core.store.database import Store
    from core.store.models import list_models
    from core.store.projections import save_projection

    path = tmp_path_factory.mktemp("clustered") / "clustered.duckdb"
    shutil.copy(synth_db, path)
    store = Store(path)
    model_key = list_models(store).model_key[0]
    n, fingerprint = selection_fingerprint(store, model_key, ClipFilter())
    key = projection_key(model_key, n, fingerprint, ProjectionParams())
    tracks = select_clips(store, model_key)[["clip_id", "track"]].drop_duplicates()
    order = np.random.default_rng(7).permutation(len(tracks))
    bounds = np.cumsum(CLUSTER_SIZES)
    clusters = np.searchsorted(bounds, np.arange(len(tracks)), side="right")
    points = tracks.iloc[order].assign(
        x=np.linspace(0, 1, len(tracks)), y=np.cos(np.arange(len(tracks))), cluster=clusters
    )
    save_projection(store, key, points.reset_index(drop=True))
    return path, key
