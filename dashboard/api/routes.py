"""The /api/* endpoints. Each handler parses the request, calls core, and shapes JSON; the work
runs in a worker thread (`run_in_threadpool`) so that no request blocks the server's event loop,
which also carries every dashboard session's WebSocket."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.access import audit
from core.access.principal import Principal, require
from core.errors import InputError
from core.store.aggregates import clip_table
from core.store.clips import select_clips
from core.store.curves import read_frame_logits
from dashboard.api import params, service
from dashboard.api.errors import ApiError, for_client, guarded
from dashboard.api.openapi import document as openapi_document

MAX_FILES = 1000  # per upload request; a larger batch goes as a zip (one file)
CHUNK = 1 << 20


def upload_limit_bytes() -> int:
    """The dashboard's own limit (server.maxUploadSize, MB), for every API upload."""
    from streamlit import config

    return int(config.get_option("server.maxUploadSize")) * 1024 * 1024


async def caller(request: Request) -> Principal:
    return await run_in_threadpool(service.principal, request)


def answer(body, status: int = 200, who: Principal | None = None) -> JSONResponse:
    response = JSONResponse(body, status_code=status)
    return _mark(response, who)


def _mark(response: Response, who: Principal | None) -> Response:
    if who is not None and who.open_mode:
        response.headers[service.OPEN_HEADER] = service.OPEN_TEXT
    return response


async def read_form(request: Request, max_files: int, known: set[str]):
    """The multipart form, after the size check; unknown fields are refused by name."""
    length = request.headers.get("content-length")
    limit = upload_limit_bytes()
    if length and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"the upload is larger than this server's limit of "
                            f"{limit // 2**20} MB.")  # fmt: skip
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise InputError("send the files as multipart/form-data (curl -F).")
    form = await request.form(max_files=max_files, max_fields=len(known) + 10)
    unknown = sorted(set(form.keys()) - known)
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r}: use {', '.join(sorted(known))}.")
    for value in form.values():
        if isinstance(value, UploadFile) and (value.size or 0) > limit:
            raise ApiError(413, f"{value.filename}: larger than this server's limit of "
                                f"{limit // 2**20} MB.")  # fmt: skip
    return form


def text_field(form, name: str, default: str | None = None) -> str | None:
    value = form.get(name, default)
    if isinstance(value, UploadFile):
        raise InputError(f"{name} is a value, not a file.")
    return value


# -- POST /api/predict ----------------------------------------------------------------------


@guarded
async def predict(request: Request) -> Response:
    who = await caller(request)
    require(who, "read")
    form = await read_form(request, 1, {"audio", "granularity", "embedding", "corpus"})
    audio = form.get("audio")
    if not isinstance(audio, UploadFile):
        raise InputError("send the audio file in the multipart field 'audio' (-F audio=@file).")
    granularity = params.choice("granularity", text_field(form, "granularity", "utterance"),
                                ("utterance", "frame"))  # fmt: skip
    embedding = params.flag("embedding", text_field(form, "embedding"))
    corpus = params.corpus_name(text_field(form, "corpus")) if form.get("corpus") else None
    if corpus:
        require(who, "analyse")
    name = Path(audio.filename or "upload").name
    data = await audio.read()
    result = await run_in_threadpool(_predict, who, name, data, granularity, embedding, corpus)
    return answer(result, who=who)


def _predict(who: Principal, name: str, data: bytes, granularity: str, embedding: bool,
             corpus: str | None) -> dict:  # fmt: skip
    engine_predictor = service.predictor()
    if corpus:  # stored like any upload first; the answer then comes from the stored result
        _ingest_one(who, engine_predictor, name, data, corpus, granularity == "frame")
    result = engine_predictor.predict(name, data, granularity, embedding)
    return {**result.document, "cached": result.cached, **({"corpus": corpus} if corpus else {})}


def _ingest_one(who: Principal, predictor, name: str, data: bytes, corpus: str,
                frames: bool) -> None:  # fmt: skip
    from core.ingest.pipeline import ingest
    from core.ingest.sources import InputFile

    store = service.store()
    summary = None
    try:
        summary = ingest(store, predictor.engine, [InputFile(name=name, data=data)], corpus,
                         frames=frames, media_dir=store.path.parent / "media",
                         user_name=who.email)  # fmt: skip
    finally:
        outcome = (f"run {summary.run_id}: {summary.scored} scored, {summary.cached} cached, "
                   f"{summary.failed} failed" if summary else "did not finish")  # fmt: skip
        audit.record(store, who.email, "upload",
                     f"API predict, corpus {corpus!r}, {audit.describe_files([name])}; {outcome}")  # fmt: skip


# -- POST /api/corpora/{corpus}/recordings, GET /api/jobs/{id} ------------------------------


@guarded
async def upload_recordings(request: Request) -> Response:
    from core.ingest.pipeline import CHANNEL_MODES, parse_roles

    who = await caller(request)
    require(who, "analyse")
    corpus = params.corpus_name(request.path_params["corpus"])
    known = {"files", "manifest", "pattern", "frames", "channels", "roles"}
    form = await read_form(request, MAX_FILES + 1, known)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if len(form.getlist("files")) > MAX_FILES:
        raise ApiError(413, f"too many files: at most {MAX_FILES} a request; send a zip.")
    if not files:
        raise InputError("send at least one file in the multipart field 'files' (-F files=@a.wav).")
    manifest, pattern = form.get("manifest"), text_field(form, "pattern")
    if manifest is not None and pattern:
        raise InputError("send a manifest or a pattern, not both.")
    frames = params.flag("frames", text_field(form, "frames"))
    channels = params.choice("channels", text_field(form, "channels", "mix"), CHANNEL_MODES)
    roles = parse_roles(text_field(form, "roles"))
    manifest_bytes = await manifest.read() if isinstance(manifest, UploadFile) else None
    metadata = await run_in_threadpool(params.metadata, manifest_bytes, pattern)
    folder, names = await run_in_threadpool(_spool, files)
    options = dict(frames=frames, channel_mode=channels, channel_roles=roles, metadata=metadata)
    key = service.start_job(who, lambda progress: _ingest_job(who, corpus, folder, names,
                                                              options, progress))  # fmt: skip
    return answer({"job": key, "status_url": f"/api/jobs/{key}", "files": len(names)}, 202, who)


def _spool(files: list[UploadFile]) -> tuple[Path, list[str]]:
    """Copy the uploads out of the request (it ends before the job does) into a folder."""
    folder = Path(tempfile.mkdtemp(prefix="emoscope-api-"))
    names = []
    for i, upload in enumerate(files):
        upload.file.seek(0)
        with (folder / str(i)).open("wb") as out:
            shutil.copyfileobj(upload.file, out, CHUNK)
        names.append((upload.filename or f"upload-{i}").replace("\\", "/").lstrip("/"))
    return folder, names


def _ingest_job(who: Principal, corpus: str, folder: Path, names: list[str], options: dict,
                progress):  # fmt: skip
    """The upload's background job (worker thread: core only)."""
    from core.ingest import sources
    from core.ingest.pipeline import ingest

    store, summary = service.store(), None
    try:
        progress(0, len(names), "loading the model")
        store.check_writable()
        engine = service.predictor().engine
        handles = [(folder / str(i)).open("rb") for i in range(len(names))]
        try:
            with sources.received(list(zip(names, handles, strict=True))) as inputs:
                summary = ingest(store, engine, inputs, corpus, media_dir=store.path.parent / "media",
                                 user_name=who.email, on_progress=lambda done, total, secs: progress(
                                     done, total, f"{done}/{total} files · {secs:.1f} s of audio"),
                                 **options)  # fmt: skip
        finally:
            for handle in handles:
                handle.close()
        return summary
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        outcome = (f"run {summary.run_id}: {summary.scored} scored, {summary.cached} cached, "
                   f"{summary.failed} failed" if summary else "did not finish")  # fmt: skip
        audit.record(store, who.email, "upload",
                     f"API, corpus {corpus!r}, {audit.describe_files(names)}; {outcome}")  # fmt: skip


@guarded
async def job_status(request: Request) -> Response:
    who = await caller(request)
    job = service.job(who, request.path_params["job"])
    if job is None:
        raise ApiError(404, "no such job (or not yours).")
    state = job.snapshot()
    body = {"job": job.key, "finished": state.finished, "stage": state.stage, "done": state.done,
            "total": state.total, "elapsed_s": round(state.elapsed_s, 3),
            "error": for_client(state.error) if state.error else None}  # fmt: skip
    summary = state.result
    if summary is not None:
        body.update(corpus=summary.corpus, run_id=summary.run_id, model=summary.model_key,
                    **summary.as_dict(), notes=list(summary.notes),
                    files=[{"name": o.source_name, "status": o.status, "clip_id": o.clip_id,
                            "seconds_audio": round(o.seconds_audio, 3),
                            "message": for_client(o.message) if o.message else None}
                           for o in summary.outcomes])  # fmt: skip
    return answer(body, who=who)


# -- GET /api/clips, /api/clips/{id}, /api/overview -----------------------------------------


@guarded
async def clips(request: Request) -> Response:
    who = await caller(request)
    require(who, "read")
    query = request.query_params
    fmt = params.choice("format", query.get("format", "json"), ("json", "csv", "parquet"))
    if fmt != "json":
        require(who, "export")
    model_key, clip_query = await run_in_threadpool(params.clip_query, service.store(), query)
    if fmt == "json":
        body = await run_in_threadpool(_clip_page, model_key, clip_query)
        return answer(body, who=who)
    path = await run_in_threadpool(_export, who, fmt, model_key, clip_query)
    media = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
    response = FileResponse(path, media_type=media, filename=path.name,
                            background=BackgroundTask(shutil.rmtree, path.parent, True))  # fmt: skip
    return _mark(response, who)


def _clip_page(model_key: str, query) -> dict:
    store = service.store()
    summary, page = clip_table(store, model_key, query)
    rows = params.records(page.drop(columns=["source_path"], errors="ignore"))
    return {"model": model_key, "total": summary.rows, "recordings": summary.recordings,
            "page": query.page + 1, "page_size": query.page_rows,
            "pages": max(1, -(-summary.rows // query.page_rows)), "clips": rows}  # fmt: skip


def _export(who: Principal, fmt: str, model_key: str, query) -> Path:
    from core.store import export

    if query.search.strip():
        raise InputError("q (search) applies to JSON pages only; CSV and Parquet export the "
                         "filtered selection.")  # fmt: skip
    store = service.store()
    audit.record(store, who.email, "export",
                 f"API clips.{fmt}, {model_key}, {audit.describe_filter(query.where)}")  # fmt: skip
    return export.export_to_temp(store, "clips", fmt, model_key, query.where).path


@guarded
async def clip(request: Request) -> Response:
    who = await caller(request)
    require(who, "read")
    body = await run_in_threadpool(_clip, request.path_params["clip"], request.query_params)
    return answer(body, who=who)


def _clip(clip_id: str, query) -> dict:
    from dataclasses import replace

    from core.model.engine import HOP_MS, softmax
    from core.model.labels import EMOTIONS

    store = service.store()
    model_key = params.model_key(store, query.get("model"))
    track = query.get("track", "mix")
    rows = select_clips(store, model_key, replace(params.ClipFilter(), clip_ids=(clip_id,)))
    rows = rows[rows.track == track]
    if rows.empty:
        raise ApiError(404, f"no clip {clip_id!r} (track {track!r}) with results of {model_key}.")
    first = params.records(rows.drop(columns=["source_path"], errors="ignore").head(1))[0]
    scores = {e: first.pop(f"score_{e}") for e in EMOTIONS}
    logits = read_frame_logits(store, clip_id, model_key, track)
    frames = None
    if logits is not None:
        frames = [{"time": round(i * HOP_MS / 1000, 3),
                   "scores": dict(zip(EMOTIONS, row.tolist(), strict=True))}
                  for i, row in enumerate(softmax(logits).astype(float).round(5))]  # fmt: skip
    link = urlencode({"clip": clip_id, "track": track, "model": model_key})
    return {**first, "corpora": sorted(set(rows.corpus)), "scores": scores, "model": model_key,
            "frame_hop_ms": HOP_MS if frames is not None else None, "frames": frames,
            "dashboard_url": f"/clips?{link}"}  # fmt: skip


@guarded
async def overview(request: Request) -> Response:
    who = await caller(request)
    require(who, "read")
    body = await run_in_threadpool(_overview, request.query_params)
    return answer(body, who=who)


def _overview(query) -> dict:
    from core.analysis.overview import drill_down, negative_change
    from core.analysis.overview import overview as compute

    store = service.store()
    period = params.choice("period", query.get("period", "week"), ("day", "week", "month"))
    model_key, clip_query = params.clip_query(store, query, allowed=params.FILTERS | {"period"})
    result = compute(store, model_key, clip_query.where, period)
    latest, previous = negative_change(result)
    shifts = []
    for row in params.records(result.shifts[result.shifts.flagged]):
        links = drill_down(result, row["agent"], row["emotion"], model_key)
        shifts.append({**row, "clips_url": f"/clips?{urlencode(links['clips'])}",
                       "trends_url": f"/trends?{urlencode(links['trends'])}"})  # fmt: skip
    mix = result.mix.assign(period_start=result.mix.period_start.dt.date)
    return {"model": model_key, "period": period,
            "volume": params.plain(result.volume.__dict__),
            "latest_period": {"start": params.plain(result.latest_start),
                              "end": params.plain(result.latest_end)},
            "negative_share": {"latest": latest, "previous": previous},
            "mix": params.records(mix), "tested_pairs": int(result.shifts.tested.sum()),
            "shifts": shifts}  # fmt: skip


# -- /api/openapi.json and anything else under /api -----------------------------------------


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def not_found(request: Request) -> Response:
    return JSONResponse({"error": f"no API route {request.method} {request.url.path}; see "
                                  "/api/openapi.json."}, status_code=404)  # fmt: skip


ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ROUTES = [
    Route("/api/predict", predict, methods=["POST"]),
    Route("/api/corpora/{corpus}/recordings", upload_recordings, methods=["POST"]),
    Route("/api/jobs/{job}", job_status, methods=["GET"]),
    Route("/api/clips", clips, methods=["GET"]),
    Route("/api/clips/{clip}", clip, methods=["GET"]),
    Route("/api/overview", overview, methods=["GET"]),
    Route("/api/openapi.json", openapi, methods=["GET"]),
    Route("/api/{rest:path}", not_found, methods=ALL),
]
