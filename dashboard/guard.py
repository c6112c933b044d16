"""The HTTP side of sign-in: what Streamlit's own routes serve, and to whom (ASGI middleware).

Streamlit's upload, media and download routes answer anyone who holds a URL or a session id;
the app's gate only runs inside a script run. This middleware, in front of every route
(dashboard/asgi.py), when sign-in is configured:

- opens an entry in the session list when the provider's callback sets the identity cookie,
  and closes it when `/auth/logout` is asked (core.access.sessions);
- refuses `PUT /_stcore/upload_file/…` (403, before a byte of the body is read) unless the
  request's cookie is an open sign-in whose role may upload, so an anonymous visitor on the
  sign-in screen cannot make the server hold files;
- refuses `/media/…` (audio players, downloads) unless the cookie is an open, admitted sign-in:
  a media URL is no bearer link; it dies with the sign-in (sign-out, expiry, removal).

It is plain ASGI, not BaseHTTPMiddleware: it never touches a request body, so an upload streams
through to Streamlit's handler exactly as before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http.cookies import SimpleCookie

from core.access.principal import Principal, require
from core.access.sessions import session_key
from core.errors import EmoScopeError

log = logging.getLogger(__name__)

USER_COOKIE = "_streamlit_user"
UPLOAD = "/_stcore/upload_file/"
MEDIA = "/media/"
CALLBACK = "/oauth2callback"
LOGOUT = "/auth/logout"
REFUSED_ANONYMOUS = b"Sign in first: this server takes files only from signed-in team members."
REFUSED_MEDIA = b"Sign in first: media and downloads are served to signed-in team members only."


def decode_user_cookie(cookies: Mapping[str, str]) -> dict | None:
    """The identity in Streamlit's signed `_streamlit_user` cookie (chunks joined), or None when
    it is missing, forged, signed with another secret, or older than Streamlit accepts."""
    from streamlit.auth_util import get_cookie_with_chunks
    from streamlit.web.server.server_util import get_cookie_secret
    from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value

    secret = get_cookie_secret()

    def single(name: str) -> bytes | None:
        value = cookies.get(name)
        return None if value is None else decode_signed_value(secret, name, value.encode("latin-1"))

    raw = get_cookie_with_chunks(single, USER_COOKIE)
    if raw is None:
        return None
    try:
        claims = json.loads(raw)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def principal_of(claims: dict | None) -> Principal:
    """The Principal of a request's identity now (open sign-in, verified, admitted, role);
    PermissionDenied (or a subclass) when there is none. Reads the database: call off the loop."""
    from core.access.roles import granted_role
    from dashboard import auth, resources

    if not auth.sign_in_configured():
        from core.access.principal import OPEN_MODE

        return OPEN_MODE
    access = auth.settings()
    sign_in = auth.checked_sign_in(claims or {}, access)
    return auth.principal_for(sign_in, access, lambda email: granted_role(resources.store(), email))


class AccessGuard:
    """ASGI middleware: session list upkeep, and who may upload and fetch media (module doc)."""

    def __init__(self, app: Callable[..., Awaitable[None]]):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not _sign_in_configured():
            await self.app(scope, receive, send)
            return
        path = _route(scope)
        if path == CALLBACK:
            await self.app(scope, receive, _opening_sessions(send))
            return
        if path == LOGOUT:
            await _run_off_loop(_close_session, _cookies(scope))
        elif path.startswith(UPLOAD) and scope["method"] == "PUT":
            refusal = await _run_off_loop(_refusal, _cookies(scope), "analyse", REFUSED_ANONYMOUS)
            if refusal is not None:
                await _forbid(send, refusal)
                return
        elif path.startswith(MEDIA) and scope["method"] in ("GET", "HEAD"):
            refusal = await _run_off_loop(_refusal, _cookies(scope), "read", REFUSED_MEDIA)
            if refusal is not None:
                await _forbid(send, refusal)
                return
        await self.app(scope, receive, send)


def _refusal(cookies: Mapping[str, str], action: str, anonymous: bytes) -> bytes | None:
    """None when the cookie's sign-in may do `action` now, else the body of the 403."""
    claims = decode_user_cookie(cookies)
    if claims is None:
        return anonymous
    try:
        require(principal_of(claims), action)
    except EmoScopeError as exc:  # signed out, expired, not admitted, role too low, db busy
        return str(exc).encode()
    except Exception:  # a bug or a damaged file: refuse, and keep the details in the log
        log.exception("access check failed for %s", action)
        return b"The server could not check your sign-in; try again, or tell an admin."
    return None


def _close_session(cookies: Mapping[str, str]) -> None:
    from dashboard import auth

    claims = decode_user_cookie(cookies)
    if claims is not None:
        auth.session_book().close(session_key(claims))


def _open_session(set_cookies: list[str]) -> None:
    """Enter the sign-in whose identity cookie the callback is setting in the session list."""
    from dashboard import auth

    jar: SimpleCookie = SimpleCookie()
    for header in set_cookies:
        jar.load(header)
    claims = decode_user_cookie({name: morsel.value for name, morsel in jar.items()})
    key = session_key(claims) if claims else None
    if claims is None or key is None:
        return
    hours = auth.settings().session_hours if _settings_usable() else 12.0
    auth.session_book().open(key, str(claims.get("email") or ""), hours)


def _opening_sessions(send):
    async def sending(message) -> None:
        if message["type"] == "http.response.start":
            cookies = [v.decode("latin-1") for k, v in message.get("headers", [])
                       if k.lower() == b"set-cookie" and v.startswith(USER_COOKIE.encode())]  # fmt: skip
            if cookies:
                await _run_off_loop(_open_session, cookies)
        await send(message)

    return sending


async def _forbid(send, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def _run_off_loop(function, *args):
    """Run a blocking check (the session file, a role read) in a worker thread."""
    from anyio import to_thread

    return await to_thread.run_sync(function, *args)


def _cookies(scope) -> dict[str, str]:
    from starlette.requests import HTTPConnection

    return dict(HTTPConnection(scope).cookies)


def _route(scope) -> str:
    """The request path without `server.baseUrlPath`."""
    from streamlit import config

    path = scope.get("path", "")
    base = "/" + str(config.get_option("server.baseUrlPath") or "").strip("/")
    if base != "/" and path.startswith(base):
        path = path[len(base) :] or "/"
    return path


def _sign_in_configured() -> bool:
    from dashboard import auth

    try:
        return auth.sign_in_configured()
    except Exception:  # an unreadable secrets file: treat as configured, refuse (fail closed)
        log.exception("cannot read the secrets")
        return True


def _settings_usable() -> bool:
    from dashboard import auth

    try:
        auth.settings()
    except EmoScopeError:
        return False
    return True
