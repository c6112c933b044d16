import json
import shutil
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.core_cli import run_cli


def run(*args, env_db=None, cwd=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    if env_db:
        env["EMOSCOPE_DB"] = str(env_db)
    return run_cli(*args, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, tiny_model_dir, corpus_dir):
    db = tmp_path_factory.mktemp("cli") / "cli.duckdb"
    (corpus_dir.parent / "broken.wav").write_bytes(b"not audio at all")
    first = run("ingest", corpus_dir, corpus_dir.parent / "broken.wav", "--corpus", "calls",
                "--model", tiny_model_dir, "--pattern", "{agent}/{recorded_at}_*.wav", "--frames",
                "--json", env_db=db)  # fmt: skip
    return db, first


def test_ingest_json_summary_and_failures(ingested):
    _, first = ingested
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["scored"] == 12 and summary["failed"] == 1 and summary["cached"] == 0
    assert summary["seconds_audio"] == pytest.approx(30.0)
    assert "broken.wav: not a readable audio file" in first.stderr
    assert "untrained test model" in first.stderr
    assert "13/13 files" in first.stderr  # progress line
    assert "Traceback" not in first.stderr


def test_reingest_is_all_cached(ingested, tiny_model_dir, corpus_dir):
    db, _ = ingested
    again = run("ingest", corpus_dir, "--corpus", "calls", "--model", tiny_model_dir, "--frames",
                "--json", "--db", db)  # fmt: skip
    assert json.loads(again.stdout.strip().splitlines()[-1])["cached"] == 12


def test_info(ingested):
    db, _ = ingested
    out = run("info", "--db", db).stdout
    assert "corpus calls: 12 clips, 0.5 min audio" in out
    assert "[untrained test model]" in out
    assert "integrity: ok" in out


def test_info_fails_on_a_damaged_database(ingested, tmp_path):
    db, _ = ingested
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    con = duckdb.connect(str(copy))
    con.execute("DELETE FROM predictions WHERE clip_id = (SELECT min(clip_id) FROM clips)")
    con.close()
    result = run("info", "--db", copy)
    assert result.returncode == 1
    assert "1 clips_without_prediction, 1 curves_without_prediction" in result.stdout


@pytest.mark.parametrize("what", ["clips", "frames", "embeddings"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_opens_in_pandas_and_duckdb(ingested, tmp_path, what, fmt):
    db, _ = ingested
    out = tmp_path / f"{what}.{fmt}"
    result = run(
        "export", "--what", what, "--format", fmt, "--corpus", "calls", "--out", out, "--db", db
    )
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    reader = "read_csv_auto" if fmt == "csv" else "read_parquet"
    rows = duckdb.sql(f"SELECT count(*) FROM {reader}(?)", params=[str(out)]).fetchall()[0][0]
    assert rows == len(frame)
    # progress on stderr (#30): rows written of the rows selected, the last line the whole file
    progress = [line for line in result.stderr.splitlines() if line.startswith(f"{what} [")]
    assert progress[0].startswith(f"{what} [{'-' * 28}] 0/{rows:,} rows")
    assert progress[-1].startswith(f"{what} [{'#' * 28}] {rows:,}/{rows:,} rows")
    assert f"{rows} rows of {what}" in result.stdout
    if what == "clips":
        assert len(frame) == 12
        assert {"agent", "recorded_at", "top_label", "confidence", "score_happy"} <= set(
            frame.columns
        )
        scores = frame.filter(like="score_").to_numpy()
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    elif what == "frames":
        assert {"time_s", "frame", "score_angry"} <= set(frame.columns)
        assert frame.time_s.diff().dropna().round(3).isin([0.02, -frame.time_s.max()]).any()
    else:
        dims = [c for c in frame.columns if c.startswith("emb_")] if fmt == "csv" else None
        assert len(frame) == 12
        assert (len(dims) if dims is not None else len(frame.embedding.iloc[0])) == 64


def test_score_writes_the_old_ui_output_folder(tmp_path, tiny_model_dir, encoded):
    result = run("score", encoded["clip.m4a"], "--model", tiny_model_dir, "--granularity", "frame",
                 "--embedding", "--out", tmp_path / "outputs")  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = next((tmp_path / "outputs").glob("outputs_*"))
    doc = json.loads((folder / "result.json").read_text())
    assert doc["untrained_test_model"] is True and "warning" in doc
    assert len(doc["scores"]) == 9 and abs(sum(doc["scores"].values()) - 1) < 1e-4
    assert doc["top_emotion"] in result.stdout
    frames = np.load(folder / "embedding.npy")
    assert frames.shape[1] == 64 and frames.shape[0] == len(doc["frame_scores"])


def test_score_takes_a_long_recording_with_a_short_one(tmp_path, tiny_model_dir, encoded):
    """The old UI cut at 30 s; `score` streams anything over a minute through windows."""
    import soundfile as sf

    from core.model.engine import frame_count
    from tests.conftest import speechlike

    sf.write(tmp_path / "call.flac", speechlike(150.0, seed=4), 16_000)
    result = run("score", tmp_path / "call.flac", encoded["clip.flac"], "--model", tiny_model_dir,
                 "--granularity", "frame", "--embedding", "--out", tmp_path / "outputs")  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = next((tmp_path / "outputs").glob("outputs_*"))
    long_doc = json.loads((folder / "call" / "result.json").read_text())
    assert long_doc["duration_s"] == 150.0
    assert len(long_doc["frame_scores"]) == frame_count(150 * 16_000)
    assert np.load(folder / "call" / "embedding.npy").shape == (64,)  # the recording's mean
    short_doc = json.loads((folder / "clip" / "result.json").read_text())
    assert np.load(folder / "clip" / "embedding.npy").shape == (len(short_doc["frame_scores"]), 64)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "/no/such/dir", "--corpus", "x"], "error: /no/such/dir: no such file or folder."),
        (["score", "/no/such.wav"], "error: no such file: /no/such.wav"),
        (["ingest", ".", "--corpus", "x", "--manifest", "a.csv", "--pattern", "*"], "not both"),
        (["export", "--what", "clips", "--format", "csv", "--out", "x.csv", "--db", "/tmp/emoscope-empty-test.duckdb"], "holds no results yet"),
        (["ingest", "/tmp", "--corpus", "x", "--pattern", "{who}/*.wav"], "unknown field {who}"),
        (["ingest", "/tmp", "--corpus", "x", "--roles", "agent,customer"], "add --channels split"),
        (["ingest", "/tmp", "--corpus", "x", "--channels", "split", "--roles", "a,a"], "distinct names"),
    ],
)  # fmt: skip
def test_bad_arguments_give_one_line_and_status_2(args, message, tmp_path):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_argparse_errors_exit_2():
    """In a child process: `python -m core` itself (the other tests call main() in this one)."""
    result = subprocess.run([sys.executable, "-m", "core", "export", "--what", "nonsense"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_export_event_keeps_the_tracks_that_laughed_or_cried(seeded_db, tmp_path, capsys):
    """#26: `export --event laughter` (repeatable) follows planted events, in every table."""
    from core.access.audit import read
    from core.cli.main import main
    from core.store import transcripts
    from core.store.clips import select_clips
    from core.store.database import Store
    from core.store.models import list_models
    from core.store.transcripts import SegmentRow

    db = tmp_path / "events.duckdb"
    shutil.copy(seeded_db, db)
    store = Store(db)
    a, b = select_clips(store, list_models(store).model_key[0]).sort_values("clip_id").clip_id[:2]

    def said(text: str, *events: str) -> list[SegmentRow]:
        scores = (0.1, 0.0, 0.0, 0.6, 0.3, 0.0, 0.0, 0.0, 0.0)  # happy over the line
        return [SegmentRow(0.1, 0.9, text, "en", None, events, ((text, 0.1, 0.9),), scores,
                           "happy", 0.6)]  # fmt: skip

    transcripts.write(store, "sv@1/auto/noitn", None, [(a, "mix", said("ha ha", "laughter")),
                                                       (b, "mix", said("sob", "cry"))])  # fmt: skip
    for events, expected in ((["laughter"], {a}), (["cry"], {b}), (["laughter", "cry"], {a, b})):
        out = tmp_path / "clips.csv"
        flags = [f for event in events for f in ("--event", event)]
        assert main(["export", "--what", "clips", "--format", "csv", *flags, "--out", str(out),
                     "--db", str(db)]) == 0  # fmt: skip
        assert set(pd.read_csv(out).clip_id) == expected
    out = tmp_path / "lines.parquet"
    assert main(["export", "--what", "transcripts", "--format", "parquet", "--event", "cry",
                 "--out", str(out), "--db", str(db)]) == 0  # fmt: skip
    assert list(pd.read_parquet(out).text) == ["sob"]
    assert "events=('cry',)" in read(store, 1).detail.iloc[0]  # the audit names the filter
    capsys.readouterr()
    result = run("export", "--what", "clips", "--format", "csv", "--event", "giggle", "--out",
                 tmp_path / "x.csv", "--db", db)  # fmt: skip
    assert result.returncode == 2 and "invalid choice: 'giggle'" in result.stderr


def test_export_progress_line_redraws_on_a_terminal_and_writes_lines_elsewhere():
    """Piped, a line every 5 s and the last count once; on a terminal, redrawn in place."""
    import io

    from core.cli.progress import RowsLine

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    piped = io.StringIO()
    line = RowsLine("frames", piped, width=4)
    for done in (0, 2048, 4096, 5000, 5000):  # the meter's reports, then export's final count
        line(done, 5000)
    first, last = piped.getvalue().splitlines()  # 2048 and 4096 came within 5 s: not written
    assert first.startswith("frames [----] 0/5,000 rows, 0 rows/s")
    assert last.startswith("frames [####] 5,000/5,000 rows")
    shown = Terminal()
    line = RowsLine("clips", shown, width=4)
    line(0, 12)
    line(12, 12)
    assert shown.getvalue().startswith("\rclips [----] 0/12 rows")
    assert "\rclips [####] 12/12 rows" in shown.getvalue() and shown.getvalue().endswith(" s\n")
