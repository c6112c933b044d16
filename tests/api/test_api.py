"""The HTTP API against the real server (open mode: no sign-in): every route, bad input, the
old curl loop, and concurrent predicts equal to single ones."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.model.labels import EMOTIONS
from core.store.clips import select_clips
from core.store.models import list_models
from tests.api.server import running
from tests.conftest import speechlike

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory, seeded_db, tiny_model_dir):
    """(URL, database path) of a server over a copy of the seeded database; upload limit 1 MB."""
    folder = tmp_path_factory.mktemp("api")
    db = folder / "emoscope.duckdb"
    shutil.copy(seeded_db, db)
    with running(folder, db, tiny_model_dir, "--server.maxUploadSize", "1") as url:
        yield url, db


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    """Twelve distinct short WAVs (1-3 s) never stored anywhere."""
    folder = tmp_path_factory.mktemp("clips")
    for i in range(12):
        sf.write(folder / f"c{i}.wav", speechlike(1.0 + (i % 5) * 0.5, seed=500 + i), 16_000)
    return folder


def post_predict(url: str, path, **fields) -> httpx.Response:
    with open(path, "rb") as handle:
        return httpx.post(f"{url}/api/predict", files={"audio": (path.name, handle)},
                          data=fields, timeout=120)  # fmt: skip


def single(engine, path) -> np.ndarray:
    """What the CLI's scoring gives for one file: the engine, one clip at a time."""
    from core.model.audio import decode

    return engine.predict([decode(path).mono])[0].scores


def score_vector(body: dict) -> np.ndarray:
    return np.array([body["scores"][e] for e in EMOTIONS])


def test_the_old_curl_loop_runs_unchanged(api, clips_dir):
    url, _ = api
    loop = (f'for file in {clips_dir}/c0.wav {clips_dir}/c1.wav; do curl -s -F "audio=@$file" '
            f'-F "granularity=utterance" {url}/api/predict | jq ".emotion, .confidence"; done')  # fmt: skip
    lines = subprocess.run(["bash", "-c", loop], capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    assert len(lines) == 4
    for label, confidence in zip(lines[::2], lines[1::2], strict=True):
        assert json.loads(label) in EMOTIONS
        assert 0 < float(confidence) <= 1


def test_predict_answers_result_json_equal_to_the_cli(api, clips_dir, engine):
    url, _ = api
    response = post_predict(url, clips_dir / "c2.wav")
    assert response.status_code == 200
    body = response.json()
    expected = single(engine, clips_dir / "c2.wav")
    assert np.allclose(score_vector(body), expected, atol=1e-5)
    assert body["emotion"] == body["top_emotion"] == EMOTIONS[int(np.argmax(expected))]
    assert body["confidence"] == pytest.approx(float(expected.max()), abs=1e-5)
    assert body["model"] == "tiny-e2v" and body["model_revision"] == engine.revision
    assert body["untrained_test_model"] is True and body["cached"] is False
    assert response.headers["x-emoscope-access"].startswith("open")


def test_frame_granularity_and_embedding(api, clips_dir, engine):
    from core.model.audio import decode
    from core.model.engine import frame_count

    url, _ = api
    body = post_predict(url, clips_dir / "c3.wav", granularity="frame", embedding="true").json()
    wave = decode(clips_dir / "c3.wav").mono
    assert len(body["frames"]) == frame_count(len(wave))
    assert body["frames"][1]["time"] == 0.02
    assert set(body["frames"][0]["scores"]) == set(EMOTIONS)
    assert sum(body["frames"][0]["scores"].values()) == pytest.approx(1, abs=1e-3)
    vector = np.frombuffer(base64.b64decode(body["embedding"]["base64"]), dtype="<f4")
    assert body["embedding"]["dim"] == vector.size == engine.embedding_dim
    assert np.allclose(vector, engine.predict([wave])[0].embedding, atol=1e-5)


def test_a_repeat_is_cached_and_nothing_is_stored_without_a_corpus(api, clips_dir):
    url, _ = api
    before = httpx.get(f"{url}/api/clips").json()["total"]
    first = post_predict(url, clips_dir / "c4.wav").json()
    again = post_predict(url, clips_dir / "c4.wav").json()
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["scores"] == first["scores"]
    assert httpx.get(f"{url}/api/clips").json()["total"] == before


def test_audio_an_ingest_stored_is_answered_from_the_database(api, corpus_dir):
    url, _ = api  # the seeded corpus was scored by the same model: no scoring needed
    body = post_predict(url, corpus_dir / "alice" / "2024-05-01_0.wav").json()
    assert body["cached"] is True


def test_predict_with_a_corpus_stores_it(api, clips_dir):
    url, _ = api
    body = post_predict(url, clips_dir / "c5.wav", corpus="quick").json()
    assert body["corpus"] == "quick"
    page = httpx.get(f"{url}/api/clips", params={"corpus": "quick"}).json()
    assert [c["source_name"] for c in page["clips"]] == ["c5.wav"]
    assert page["clips"][0]["confidence"] == pytest.approx(body["confidence"], abs=1e-6)


def test_eight_concurrent_predicts_equal_single_ones(api, clips_dir, engine):
    url, _ = api
    paths = [clips_dir / f"c{i}.wav" for i in range(6, 12)] + [clips_dir / "c0.wav",
                                                                clips_dir / "c1.wav"]  # fmt: skip
    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda p: post_predict(url, p).json(), paths))
    for path, body in zip(paths, bodies, strict=True):
        assert np.allclose(score_vector(body), single(engine, path), atol=1e-5), path.name
        assert body["file"] == path.name


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"granularity": "word"}, 400, "granularity='word'"),
        ({"embedding": "maybe"}, 400, "embedding='maybe'"),
        ({"colour": "red"}, 400, "unknown parameter 'colour'"),
    ],
)
def test_bad_parameters_get_one_line_of_json(api, clips_dir, fields, status, says):
    url, _ = api
    response = post_predict(url, clips_dir / "c0.wav", **fields)
    assert response.status_code == status
    assert says in response.json()["error"]


def test_a_damaged_file_gets_422_without_a_path(api, tmp_path):
    url, _ = api
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(200)))
    response = post_predict(url, damaged)
    assert response.status_code == 422
    error = response.json()["error"]
    assert "damaged.wav" in error and str(tmp_path) not in error and "Traceback" not in error


def test_missing_audio_or_not_multipart_is_refused(api):
    url, _ = api
    assert httpx.post(f"{url}/api/predict", data={"granularity": "frame"}).status_code == 400
    response = httpx.post(f"{url}/api/predict", json={"audio": "x"})
    assert response.status_code == 400 and "multipart" in response.json()["error"]


def test_an_upload_over_the_limit_gets_413(api, tmp_path):
    url, _ = api  # the server runs with --server.maxUploadSize 1 (MB), the dashboard's limit
    big = tmp_path / "big.wav"
    sf.write(big, np.zeros(16_000 * 40, dtype=np.float32), 16_000)  # 1.28 MB
    response = post_predict(url, big)
    assert response.status_code == 413 and "1 MB" in response.json()["error"]


def test_too_many_files_are_refused(api):
    url, _ = api
    files = [("files", (f"f{i}.wav", b"x")) for i in range(1002)]
    response = httpx.post(f"{url}/api/corpora/many/recordings", files=files, timeout=60)
    assert response.status_code in (400, 413) and "files" in response.json()["error"].lower()


def wait_for(url: str, job_url: str, client=httpx) -> dict:
    deadline = time.monotonic() + 120
    while True:
        state = client.get(f"{url}{job_url}", timeout=60).json()
        if state["finished"] or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_an_upload_runs_as_a_job_and_one_bad_file_fails_alone(api, clips_dir, tmp_path):
    url, _ = api
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.write(clips_dir / "c7.wav", "dana/2024-06-03_1.wav")
        z.write(clips_dir / "c8.wav", "dana/2024-06-04_2.wav")
    files = [("files", ("calls.zip", archive.getvalue())),
             ("files", ("broken.wav", b"RIFF....WAVEjunk" * 20)),
             ("files", ("dana/2024-06-05_3.wav", (clips_dir / "c9.wav").read_bytes()))]  # fmt: skip
    response = httpx.post(f"{url}/api/corpora/june/recordings", files=files, timeout=60,
                          data={"pattern": "{agent}/{recorded_at}_*.wav", "frames": "true"})  # fmt: skip
    assert response.status_code == 202
    state = wait_for(url, response.json()["status_url"])
    assert state["finished"] and state["error"] is None
    assert (state["scored"], state["failed"]) == (3, 1)
    failed = [f for f in state["files"] if f["status"] == "failed"]
    assert [f["name"] for f in failed] == ["broken.wav"]
    assert str(tmp_path) not in failed[0]["message"]
    page = httpx.get(f"{url}/api/clips", params={"corpus": "june", "sort": "recorded_at"}).json()
    assert [c["agent"] for c in page["clips"]] == ["dana"] * 3
    assert page["clips"][0]["recorded_at"].startswith("2024-06-03")
    one = httpx.get(f"{url}/api/clips/{page['clips'][0]['clip_id']}").json()
    assert one["corpora"] == ["june"] and one["frames"] and set(one["scores"]) == set(EMOTIONS)
    assert one["dashboard_url"].startswith("/clips?clip=")
    assert httpx.get(f"{url}/api/jobs/api-nonexistent").status_code == 404


def test_clips_filters_paging_and_formats(api, seeded_db):
    url, _ = api
    params = {"corpus": "calls", "agent": ["alice", "bob"], "sort": "duration_s", "desc": "true",
              "page_size": 3, "page": 2}  # fmt: skip
    body = httpx.get(f"{url}/api/clips", params=params).json()
    assert body["total"] == 8 and body["pages"] == 3 and body["page"] == 2
    assert len(body["clips"]) == 3 and {c["agent"] for c in body["clips"]} <= {"alice", "bob"}
    durations = [c["duration_s"] for c in body["clips"]]
    assert durations == sorted(durations, reverse=True)
    csv = httpx.get(f"{url}/api/clips", params={"corpus": "calls", "format": "csv",
                                                "from": "2024-05-01", "to": "2024-05-14"})  # fmt: skip
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(csv.text))
    assert len(table) > 0 and (pd.to_datetime(table.recorded_at) < "2024-05-15").all()
    parquet = httpx.get(f"{url}/api/clips", params={"corpus": "calls", "format": "parquet"})
    assert len(pd.read_parquet(io.BytesIO(parquet.content))) == 12


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"emotion": "grumpy"}, "emotion='grumpy'"),
        ({"cmin": "2"}, "cmin='2'"),
        ({"from": "yesterday"}, "YYYY-MM-DD"),
        ({"sort": "source_path"}, "sort='source_path'"),
        ({"format": "xlsx"}, "format='xlsx'"),
        ({"model": "nope"}, "no results of model 'nope'"),
        ({"page_size": "0"}, "page_size='0'"),
        ({"limit": "5"}, "unknown parameter 'limit'"),
    ],
)
def test_bad_clip_queries_get_400(api, query, says):
    url, _ = api
    response = httpx.get(f"{url}/api/clips", params=query)
    assert response.status_code == 400 and says in response.json()["error"]


def test_one_clip_and_an_unknown_one(api, seeded_db):
    from core.store.database import Store

    url, _ = api
    clip_id = select_clips(Store(seeded_db), list_models(Store(seeded_db)).model_key[0]).clip_id[0]
    body = httpx.get(f"{url}/api/clips/{clip_id}").json()
    assert body["clip_id"] == clip_id and body["corpora"] == ["calls"]
    assert body["frame_hop_ms"] == 20 and len(body["frames"]) > 10
    assert "source_path" not in body
    missing = httpx.get(f"{url}/api/clips/feedface")
    assert missing.status_code == 404 and "feedface" in missing.json()["error"]


def test_overview_of_a_week(api):
    url, _ = api
    body = httpx.get(f"{url}/api/overview", params={"period": "week", "corpus": "calls"}).json()
    assert body["period"] == "week" and body["volume"]["recordings"] == 12
    assert body["volume"]["agents"] == 3
    assert sum(row["n"] for row in body["mix"]) == 12
    assert body["latest_period"]["start"] <= body["latest_period"]["end"]
    assert isinstance(body["shifts"], list)
    bad = httpx.get(f"{url}/api/overview", params={"period": "fortnight"})
    assert bad.status_code == 400 and "fortnight" in bad.json()["error"]


def test_openapi_names_every_route_and_unknown_routes_get_json(api):
    url, _ = api
    paths = httpx.get(f"{url}/api/openapi.json").json()["paths"]
    assert set(paths) == {"/api/predict", "/api/corpora/{corpus}/recordings", "/api/jobs/{job}",
                          "/api/clips", "/api/clips/{clip}", "/api/overview",
                          "/api/openapi.json"}  # fmt: skip
    response = httpx.delete(f"{url}/api/clips")
    assert response.status_code == 404 and "openapi" in response.json()["error"]


def test_the_dashboard_still_opens_beside_the_api(api):
    url, _ = api
    assert httpx.get(f"{url}/_stcore/health").text == "ok"
    assert "<html" in httpx.get(f"{url}/clips").text.lower()
