"""Deleting a corpus: its clips go, results and media only when no other corpus uses them, the
integrity report stays clean, only admins may do it, and the CLI's delete-corpus and audit."""

from __future__ import annotations

import io
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.access import audit
from core.access.principal import Principal, Role
from core.errors import InputError, PermissionDenied
from core.ingest.pipeline import ingest
from core.ingest.sources import InputFile, collect
from core.store.clips import select_clips
from core.store.corpora import list_corpora
from core.store.database import ClipFilter, Store
from core.store.deletion import delete_corpus, remove_media
from core.store.integrity import integrity_report
from core.store.models import list_models
from core.store.projections import save_projection
from tests.conftest import make_corpus, speechlike
from tests.core_cli import run_cli

ADMIN = Principal("boss@team.test", Role.ADMIN)


def wav_bytes(seconds: float, seed: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, speechlike(seconds, seed), 16_000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def counts(store: Store) -> dict[str, int]:
    tables = ["clips", "predictions", "frame_curves", "segments", "projections", "ingest_runs",
              "ingest_files", "corpora", "embeddings_d64"]  # fmt: skip
    dim = int(list_models(store).embedding_dim.iloc[0])
    tables[-1] = f"embeddings_d{dim}"
    with store.reading() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def ids_of(store: Store, corpus: str) -> set[str]:
    with store.reading() as con:
        rows = con.execute(
            "SELECT clip_id FROM clips JOIN corpora USING (corpus_id) WHERE name = ?", [corpus]
        ).fetchall()
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def two_corpora_built(tmp_path_factory, engine) -> tuple[Path, Path, Path, str]:
    """Corpus 'a': a folder of 6 files, 3 uploads (one shared with 'b') and a 62 s upload
    (scored in windows: segments). Corpus 'b': the shared upload, one folder file of 'a'
    (same bytes) and 4 files of its own. Two stored projections: one over 'a', one over 'b'.

    Built once per module in `work/` (the database keeps absolute paths of its media and
    files) and kept as `snapshot/`: (work, snapshot, folder a, model key)."""
    work = tmp_path_factory.mktemp("two-corpora") / "work"
    store = Store(work / "db" / "two.duckdb")
    media = store.path.parent / "media"
    folder_a = make_corpus(work / "a", agents=("alice", "bob"), per_agent=3)
    folder_b = work / "b"
    folder_b.mkdir()
    for i in range(4):  # seeds unlike make_corpus's, so these bytes are b's alone
        (folder_b / f"zoe_{i}.wav").write_bytes(wav_bytes(1.0 + i, 200 + i))
    shared_upload = wav_bytes(1.5, 100)
    uploads_a = [InputFile("up1.wav", data=wav_bytes(1.2, 101)),
                 InputFile("up2.wav", data=wav_bytes(2.0, 102)),
                 InputFile("shared.wav", data=shared_upload),
                 InputFile("long.wav", data=wav_bytes(62.0, 103))]  # fmt: skip
    a = ingest(store, engine, collect([folder_a]) + uploads_a, "a", frames=True, media_dir=media,
               user_name="ana@team.test")  # fmt: skip
    shared_file = sorted(folder_a.rglob("*.wav"))[0]
    b_inputs = [InputFile("shared.wav", data=shared_upload), *collect([shared_file, folder_b])]
    b = ingest(store, engine, b_inputs, "b", frames=True, media_dir=media)
    assert (a.failed, b.failed) == (0, 0)
    key = a.model_key
    for name in ("a", "b"):
        clips = select_clips(store, key, ClipFilter(corpora=(name,)))
        points = pd.DataFrame({"clip_id": clips.clip_id, "track": clips.track,
                               "x": np.arange(len(clips), dtype=float), "y": 0.0, "cluster": 0})  # fmt: skip
        save_projection(store, f"proj-{name}", points)
    snapshot = work.parent / "snapshot"
    shutil.copytree(work, snapshot, symlinks=True)
    return work, snapshot, folder_a, key


@pytest.fixture
def two_corpora(two_corpora_built) -> tuple[Store, Path, Path, str]:
    """The module's two corpora as built, for each test anew (tests delete rows and media):
    (store, media folder, folder a, model key)."""
    work, snapshot, folder_a, key = two_corpora_built
    shutil.rmtree(work)
    shutil.copytree(snapshot, work, symlinks=True)
    store = Store(work / "db" / "two.duckdb")
    return store, store.path.parent / "media", folder_a, key


def test_delete_keeps_what_other_corpora_use(two_corpora):
    store, media, folder_a, key = two_corpora
    b_before = select_clips(store, key, ClipFilter(corpora=("b",)))
    a_ids, b_ids = ids_of(store, "a"), ids_of(store, "b")
    shared, only_a = a_ids & b_ids, a_ids - b_ids
    assert len(shared) == 2 and len(only_a) == 8
    media_before = {p.name for p in media.iterdir()}
    assert len(media_before) == 4  # 3 uploads of 'a' (one shared with 'b') and the long one
    before = counts(store)
    assert before["segments"] > 0

    report = delete_corpus(store, ADMIN, "a", media)

    after = counts(store)
    assert (report.corpus, report.clips, report.projections) == ("a", 10, 1)
    assert report.predictions == before["predictions"] - after["predictions"] == 8
    assert report.embeddings == 8 and report.frame_curves == 8
    assert report.segments == before["segments"] > 0 and after["segments"] == 0
    assert report.runs == 1 and report.media_files == 3
    assert after["clips"] == before["clips"] - 10 and after["corpora"] == 1
    assert after["ingest_runs"] == 1 and after["ingest_files"] == len(b_before)
    # What 'b' shows is untouched, the shared clips' results included.
    pd.testing.assert_frame_equal(select_clips(store, key, ClipFilter(corpora=("b",))), b_before)
    assert list(list_corpora(store).corpus) == ["b"]
    with store.reading() as con:
        left = {r[0] for r in con.execute("SELECT DISTINCT clip_id FROM predictions").fetchall()}
        keys = {r[0] for r in con.execute("SELECT DISTINCT projection_key FROM projections")
                .fetchall()}  # fmt: skip
    assert left == b_ids and not (left & only_a)
    assert keys == {"proj-b"}
    # Media: the shared upload stays (b plays it), the rest went; the user's folder is untouched.
    remaining = [p.name for p in media.iterdir()]
    assert len(remaining) == 1
    shared_media = {p for p in b_before.source_path if str(p).startswith(str(media))}
    assert {m.rsplit("/", 1)[1] for m in shared_media} == set(remaining)
    assert len(list(folder_a.rglob("*.wav"))) == 6
    # The integrity report is clean and the deletion is in the audit log.
    assert all(n == 0 for n in integrity_report(store).values()), integrity_report(store)
    log = audit.read(store)
    assert (log.user_name[0], log.action[0], log.detail[0]) == (ADMIN.email, "delete_corpus",
                                                                "a: 10 clips")  # fmt: skip


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_only_admins_delete(two_corpora, role):
    store, media, _, _ = two_corpora
    before = counts(store)
    with pytest.raises(PermissionDenied, match="only admins"):
        delete_corpus(store, Principal("x@team.test", role), "a", media)
    assert counts(store) == before and len(list(media.iterdir())) == 4
    assert audit.read(store).empty


def test_unknown_corpus_is_an_input_error(two_corpora):
    store, media, _, _ = two_corpora
    with pytest.raises(InputError, match="no corpus named 'nope'"):
        delete_corpus(store, ADMIN, "nope", media)


def test_ingest_records_its_user(two_corpora):
    store, *_ = two_corpora
    with store.reading() as con:
        users = con.execute("SELECT user_name FROM ingest_runs ORDER BY run_id").fetchall()
    import getpass

    assert users == [("ana@team.test",), (f"cli:{getpass.getuser()}",)]


def test_remove_media_never_leaves_the_media_folder(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    inside, outside = media / "x.wav", tmp_path / "mine.wav"
    inside.write_bytes(b"1")
    outside.write_bytes(b"2")
    sneaky = str(media / ".." / "mine.wav")
    assert remove_media([str(inside), str(outside), sneaky, str(media / "gone.wav")], media) == 1
    assert not inside.exists() and outside.exists()


def cli(*args, db):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "USER": "tester", "EMOSCOPE_DB": str(db)}
    return run_cli(*args, env=env)


def test_cli_delete_corpus_and_audit(two_corpora):
    store = two_corpora[0]
    refused = cli("delete-corpus", "a", db=store.path)
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert "a" in set(list_corpora(store).corpus)
    missing = cli("delete-corpus", "zzz", "--yes", db=store.path)
    assert missing.returncode == 2 and "no corpus named 'zzz'" in missing.stderr
    done = cli("delete-corpus", "a", "--yes", db=store.path)
    assert done.returncode == 0, done.stderr
    assert "deleted corpus 'a': 10 clips, 8 predictions" in done.stdout
    assert "3 media files" in done.stdout
    info = cli("info", db=store.path)
    assert info.returncode == 0 and "integrity: ok" in info.stdout
    log = cli("audit", "--limit", "5", db=store.path)
    assert log.returncode == 0
    line = log.stdout.splitlines()[0]
    assert "delete_corpus" in line and "a: 10 clips" in line and line.split()[2].startswith("cli:")
    none = cli("audit", "--action", "export", db=store.path)
    assert none.stdout.strip() == "no audit entries yet"
    bad = cli("audit", "--limit", "0", db=store.path)
    assert bad.returncode == 2 and "at least 1" in bad.stderr


def test_cli_ingest_and_export_are_audited_and_the_run_records_the_os_user(
    tmp_path, tiny_model_dir
):
    """The CLI acts as its OS account (#31): $USER, which anyone can set, is ignored."""
    user = f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    db = tmp_path / "cli.duckdb"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "one.wav").write_bytes(wav_bytes(1.0, 7))
    done = cli("ingest", folder, "--corpus", "c1", "--model", tiny_model_dir, db=db)
    assert done.returncode == 0, done.stderr
    log = cli("audit", "--action", "ingest", db=db).stdout.splitlines()
    assert len(log) == 1 and f"{user}  ingest  corpus 'c1', run 1: 1 scored, 0 cached" in log[0]
    with Store(db).reading() as con:
        assert con.execute("SELECT user_name FROM ingest_runs").fetchall() == [(user,)]
    out = tmp_path / "c1.csv"
    assert cli("export", "--what", "clips", "--format", "csv", "--corpus", "c1", "--out", out,
               db=db).returncode == 0  # fmt: skip
    line = cli("audit", "--action", "export", db=db).stdout.splitlines()
    assert len(line) == 1 and line[0].endswith(f"{user}  export  clips.csv, "
                                               f"{list_models(Store(db)).model_key[0]}, "
                                               "filter: corpora=('c1',)")  # fmt: skip


KILLED_AT = """
import os, signal, sys, types
import core.store.deletion as deletion
from core.access.principal import Principal, Role
from core.store.database import Store

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no cleanup of any kind

# a function of the module, or (`rollup`) a module whose rebuild runs inside the transaction
setattr(deletion, sys.argv[2], types.SimpleNamespace(rebuild=die) if sys.argv[2] == "rollup"
        else die)
store = Store(sys.argv[1])
deletion.delete_corpus(store, Principal("boss@team.test", Role.ADMIN), "a",
                       store.path.parent / "media")
"""


def killed_deletion(store: Store, at: str) -> None:
    """Delete corpus 'a' in another process killed with SIGKILL where `at` would run."""
    result = subprocess.run([sys.executable, "-c", KILLED_AT, str(store.path), at],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == -9, result.stderr


@pytest.mark.parametrize("at", ["remove_media", "_delete_run_log"])
def test_a_deletion_killed_after_its_commit_is_finished_by_the_rerun(two_corpora, at):
    """Issue #31 item 6: kill -9 between the deleting transaction and the unlinks. The files were
    journalled before the commit: `info` reports them, and the CLI rerun removes them (whether or
    not the corpus row was gone yet), keeping the file 'b' still plays."""
    store, media, _, _ = two_corpora
    killed_deletion(store, at)
    assert len(list(media.iterdir())) == 4  # the kill left every file
    info = cli("info", db=store.path)
    assert info.returncode == 1
    assert "1 unfinished_deletions, 3 orphaned_media_files" in info.stdout
    assert "`python -m core delete-corpus a --yes` finishes it" in info.stdout
    rerun = cli("delete-corpus", "a", "--yes", db=store.path)
    assert rerun.returncode == 0, rerun.stderr
    if at == "remove_media":  # the corpus row had gone: the rerun only finishes the files
        assert rerun.stdout.strip() == "finished an interrupted deletion: 3 media files removed"
    else:  # the empty corpus was still there: the rerun removes it and finishes the files
        assert "deleted corpus 'a': 0 clips" in rerun.stdout and "3 media files" in rerun.stdout
    assert len(list(media.iterdir())) == 1 and not (media.parent / "media.deleting").exists()
    assert list(list_corpora(store).corpus) == ["b"]
    info = cli("info", db=store.path)
    assert info.returncode == 0 and "integrity: ok" in info.stdout, info.stdout


def test_a_deletion_killed_before_its_commit_removes_nothing(two_corpora):
    """Killed with the journal written but before the commit: the rows are all still there, so
    finishing the journal removes no file; the next deletion then removes them as usual."""
    store, media, _, _ = two_corpora
    killed_deletion(store, "rollup")  # `rollup.rebuild` runs inside the transaction
    assert set(list_corpora(store).corpus) == {"a", "b"} and len(list(media.iterdir())) == 4
    report = delete_corpus(store, ADMIN, "a", media)
    assert report.clips == 10 and report.media_files == 3
    assert len(list(media.iterdir())) == 1


def test_info_reports_media_no_clip_uses(two_corpora):
    store, media, _, _ = two_corpora
    (media / "stray.wav").write_bytes(b"RIFF")
    info = cli("info", db=store.path)
    assert info.returncode == 1 and "1 orphaned_media_files" in info.stdout
    assert "file(s) in" in info.stdout and "stray.wav" in info.stdout
