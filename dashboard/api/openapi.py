"""The OpenAPI 3.1 description served at /api/openapi.json."""

from __future__ import annotations

from core.model.labels import EMOTIONS

_ERROR = {"description": "{\"error\": one line}", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}  # fmt: skip
_REFUSALS = {"400": _ERROR, "401": _ERROR, "403": _ERROR}


def _query(name: str, description: str, kind: str = "string", many: bool = False) -> dict:
    schema = {"type": "array", "items": {"type": kind}} if many else {"type": kind}
    return {"name": name, "in": "query", "description": description, "schema": schema,
            **({"explode": True} if many else {})}  # fmt: skip


FILTER_PARAMETERS = [
    _query("model", "model key or id (default: the latest used)"),
    _query("corpus", "corpus name (repeatable)", many=True),
    _query("agent", "agent (repeatable)", many=True),
    _query("emotion", f"top emotion, one of {', '.join(EMOTIONS)} (repeatable)", many=True),
    _query("role", "track: mix, or a role of split calls (repeatable)", many=True),
    _query("cmin", "least confidence, 0-1", "number"),
    _query("cmax", "greatest confidence, 0-1", "number"),
    _query("dmin", "least duration (s)", "number"),
    _query("dmax", "greatest duration (s)", "number"),
    _query("from", "recorded on or after (YYYY-MM-DD)"),
    _query("to", "recorded on or before (YYYY-MM-DD)"),
    _query("event", "a transcript line has it: laughter or cry (repeatable: any)", many=True),
]


def document() -> dict:
    multipart = "multipart/form-data"
    return {
        "openapi": "3.1.0",
        "info": {"title": "EmoScope API", "version": "1",
                 "description": "Speech-emotion scores at the dashboard's URL. With sign-in "
                 "configured every call needs `Authorization: Bearer <token>` (a personal token "
                 "from the dashboard's API tokens page) and acts with its owner's current role; "
                 "without sign-in the API is open and says so in the X-EmoScope-Access header."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}},
                                  "required": ["error"]}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/predict": {"post": {
                "summary": "Score one audio file (the old demo's endpoint); nothing is stored "
                           "unless `corpus` is given (analysts and admins).",
                "requestBody": {"required": True, "content": {multipart: {"schema": {
                    "type": "object", "required": ["audio"], "properties": {
                        "audio": {"type": "string", "format": "binary"},
                        "granularity": {"type": "string", "enum": ["utterance", "frame"]},
                        "embedding": {"type": "boolean"},
                        "corpus": {"type": "string"}}}}}},
                "responses": {"200": {"description": "result.json's fields: emotion, "
                    "confidence, scores, model, model_revision, cached; frames [{time, scores}] "
                    "for frame granularity; embedding {dim, dtype, base64} when asked"},
                    **_REFUSALS, "413": _ERROR, "422": _ERROR}}},
            "/api/corpora/{corpus}/recordings": {"post": {
                "summary": "Score files or zips into a corpus in a background job "
                           "(analysts and admins); answers the job's id.",
                "parameters": [{"name": "corpus", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {multipart: {"schema": {
                    "type": "object", "required": ["files"], "properties": {
                        "files": {"type": "array", "items": {"type": "string",
                                                             "format": "binary"}},
                        "manifest": {"type": "string", "format": "binary"},
                        "pattern": {"type": "string"}, "frames": {"type": "boolean"},
                        "channels": {"type": "string", "enum": ["mix", "split"]},
                        "roles": {"type": "string"}}}}}},
                "responses": {"202": {"description": "{job, status_url, files}"}, **_REFUSALS,
                              "413": _ERROR}}},
            "/api/jobs/{job}": {"get": {
                "summary": "A job's progress and, once finished, per-file outcomes.",
                "parameters": [{"name": "job", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "finished, stage, done, total, error, "
                              "scored, cached, failed, files[]"}, **_REFUSALS, "404": _ERROR}}},
            "/api/clips": {"get": {
                "summary": "The Clips page's selection: JSON pages, or the whole selection as "
                           "CSV or Parquet (the exports' path; audited).",
                "parameters": [*FILTER_PARAMETERS,
                               _query("q", "file-name search (JSON only)"),
                               _query("sort", "column to sort by"),
                               _query("desc", "descending order", "boolean"),
                               _query("page", "page, from 1", "integer"),
                               _query("page_size", "rows a page (default 500)", "integer"),
                               _query("format", "json (default), csv or parquet")],
                "responses": {"200": {"description": "{total, page, pages, clips[]} or a file"},
                              **_REFUSALS}}},
            "/api/clips/{clip}": {"get": {
                "summary": "One clip: scores, metadata and its frame curve.",
                "parameters": [{"name": "clip", "in": "path", "required": True,
                                "schema": {"type": "string"}},
                               _query("model", "model key or id"),
                               _query("track", "mix (default) or a role")],
                "responses": {"200": {"description": "the clip"}, **_REFUSALS, "404": _ERROR}}},
            "/api/overview": {"get": {
                "summary": "The Overview's figures and its flagged shifts, each with its "
                           "drill-down URLs in the dashboard.",
                "parameters": [_query("period", "day, week (default) or month"),
                               *FILTER_PARAMETERS],
                "responses": {"200": {"description": "volume, mix, negative_share, shifts[]"},
                              **_REFUSALS}}},
            "/api/openapi.json": {"get": {"summary": "This document.", "security": [],
                                          "responses": {"200": {"description": "OpenAPI"}}}},
        },
    }  # fmt: skip
