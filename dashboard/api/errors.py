"""Errors as the API answers them: JSON `{"error": one line}`, never a traceback or a path."""

from __future__ import annotations

import functools
import logging
import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from core.errors import (
    AudioError,
    EmoScopeError,
    InputError,
    NotSignedInError,
    PermissionDenied,
    StoreBusyError,
)

log = logging.getLogger(__name__)
_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s'\"/:]+/)+([^\s'\":,;)]*)")


class ApiError(Exception):
    """A refusal with its HTTP status (404, 413 …) and one line for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def for_client(message: str) -> str:
    """One line with every absolute path cut to its last part: a client learns no folder."""
    first = str(message).strip().splitlines()[0] if str(message).strip() else "error"
    return _PATH.sub(lambda m: m.group(1) or "…", first)


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": for_client(message)}, status_code=status, headers=headers)


def status_of(exc: Exception) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, NotSignedInError):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, AudioError):
        return 422
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, StoreBusyError):
        return 503
    return 500


def guarded(handler):
    """Answer EmoScope's errors as JSON with their status; anything else as a 500 (logged)."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except (EmoScopeError, ApiError) as exc:
            status = status_of(exc)
            extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return error(status, str(exc), extra)
        except HTTPException as exc:  # the multipart parser's refusals (too many files …)
            return error(exc.status_code, str(exc.detail))
        except Exception:
            log.exception("API %s %s failed", request.method, request.url.path)
            return error(500, "Something went wrong inside EmoScope; see the server log.")

    return wrapper


async def json_errors(request: Request, exc: HTTPException) -> Response:
    """Starlette's 404/405 … : JSON under /api, as Starlette answers elsewhere."""
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return error(exc.status_code, str(exc.detail), exc.headers)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)
