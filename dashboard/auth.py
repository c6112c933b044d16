"""Who is visiting: st.user and st.secrets turned into a core.access.principal.Principal, and the gate.

With `[auth]` in secrets.toml (Streamlit's native OpenID Connect sign-in), a visitor must sign in
and be admitted by `[emoscope.access]` (allowlist by email and domain, admins, default role) or
by a role an admin granted; nothing else of the app runs before that. Without `[auth]` the app
is open as it always was: every visitor is `OPEN_MODE`, an admin called "anonymous" (so nothing
that worked before sign-in existed stops working), and a banner on every page says so.

The Principal is recomputed on every run from st.user, which Streamlit fills from its signed
cookie on the server: the browser cannot make itself someone else. A sign-in counts only while
the server's session list (core.access.sessions) holds it open: sign-out closes it, so a copied
cookie is refused afterwards. Actions that run later than the page (a download built on click)
carry a `SignIn` and resolve the Principal again when they run (`principal_now`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.access.principal import (
    OPEN_MODE,
    AccessSettings,
    Principal,
    require,
    resolve,
    verified_email,
)
from core.access.sessions import SessionBook, session_key
from core.errors import AccessConfigError, NotAllowedError, NotSignedInError, PermissionDenied
from core.store.database import resolve_db_path
from dashboard import i18n, reads, resources
from dashboard.i18n import N_, _

log = logging.getLogger(__name__)

BANNER = N_("No sign-in configured: anyone who can reach this address sees all data.")


def secrets() -> dict:
    """The secrets as a plain dict; {} when there is no secrets file."""
    return st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}


def auth_section() -> dict:
    auth = secrets().get("auth")
    return auth if isinstance(auth, dict) else {}


def sign_in_configured() -> bool:
    """Whether `[auth]` is set, i.e. visitors must sign in."""
    return bool(auth_section())


def providers() -> list[str | None]:
    """Providers to offer: None for a single provider set directly under [auth], else the names
    of its [auth.NAME] sections (Streamlit's own two layouts)."""
    auth = auth_section()
    if "client_id" in auth:
        return [None]
    return sorted(k for k, v in auth.items() if isinstance(v, dict) and "client_id" in v)


def settings() -> AccessSettings:
    """`[emoscope.access]`: allowed_emails, allowed_domains, admins, default_role."""
    section = secrets().get("emoscope", {})
    return AccessSettings.from_mapping(section.get("access") if isinstance(section, dict) else None)


@dataclass(frozen=True)
class SignIn:
    """Who signed in, as an action that runs after the page keeps it: the verified email and the
    session-list key of that sign-in. None of it is a right; `principal_now` decides those."""

    email: str
    key: str


_BOOKS: dict[Path, SessionBook] = {}
_BOOKS_LOCK = threading.Lock()


def session_book() -> SessionBook:
    """The session list beside this server's database (one per process, thread-safe)."""
    path = resolve_db_path()
    with _BOOKS_LOCK:
        return _BOOKS.setdefault(path, SessionBook.beside(path))


def checked_sign_in(claims: Mapping, access: AccessSettings) -> SignIn:
    """A signed-in identity's claims (st.user, or the decoded cookie) checked against the session
    list and `email_verified`; NotSignedInError or NotAllowedError when they do not hold."""
    if not claims.get("is_logged_in"):
        raise NotSignedInError("Sign in to open this dashboard.")
    key = session_book().require_open(claims)  # signed out, or expired: sign in again
    return SignIn(verified_email(claims, access), key)


def principal_for(sign_in: SignIn, access: AccessSettings, granted=None) -> Principal:
    """The Principal of a sign-in now: still open, still admitted, with the role it has now.

    `granted` looks up an admin's grant (default: the cached read, invalidated by any write).
    """
    if not session_book().is_open(sign_in.key):
        raise NotSignedInError("You have been signed out (or your sign-in has expired). "
                               "Sign in again.")  # fmt: skip
    lookup = granted or reads.granted_role
    return resolve(access, sign_in.email, lookup(sign_in.email))


def current_sign_in() -> SignIn | None:
    """This visitor's checked sign-in; None in open mode (no [auth])."""
    if not sign_in_configured():
        return None
    return checked_sign_in(st.user.to_dict(), settings())


def principal() -> Principal:
    """The visitor's Principal; NotSignedInError or NotAllowedError when they may not come in."""
    sign_in = current_sign_in()
    return OPEN_MODE if sign_in is None else principal_for(sign_in, settings())


def principal_now(sign_in: SignIn | None) -> Principal:
    """The Principal of `sign_in` at this moment, for an action that runs after its page did
    (a download built on click, in a thread without st.user): the sign-in must still be open
    and its role is read again. Raises PermissionDenied (or a subclass) otherwise."""
    from core.access.roles import granted_role

    if sign_in is None:
        return OPEN_MODE  # open mode: nothing was signed in, nothing can lapse
    # Read the grant from the file itself: a role withdrawn a moment ago must count.
    return principal_for(sign_in, settings(), lambda email: granted_role(resources.store(), email))


def sign_in_screen(reason: str | None = None) -> None:
    """The only thing an anonymous visitor sees: no page, no database name, no data."""
    st.title("🎙️ EmoScope")
    i18n.switch()  # before sign-in too: the screen in the visitor's language
    st.write(_("This dashboard is private to its team. Sign in to continue."))
    if reason:
        st.info(i18n.error(reason))
    for name in providers():
        label = (
            _("Sign in")
            if name is None
            else _("Sign in with {provider}").format(provider=name.capitalize())
        )
        if st.button(label, type="primary", key=f"login-{name or 'default'}"):
            st.login(name)  # None: the provider set directly under [auth]


def sign_out_button(where=st.sidebar) -> None:
    """Sign out: the session forgets the user at once and the browser goes through the
    provider's logout; the rest of this run must not render anything for them."""
    if where.button(_("Sign out"), key="logout"):
        # Closed on the server first: the cookie Streamlit leaves in copies no longer counts.
        session_book().close(session_key(st.user.to_dict()))
        st.logout()
        st.stop()


def gate() -> Principal:
    """Run before any page: returns the Principal, or shows the sign-in / refusal and stops."""
    if not sign_in_configured():
        st.warning(_(BANNER), icon="🔓")
        return OPEN_MODE
    try:
        visitor = principal()
    except NotSignedInError as exc:
        sign_in_screen(str(exc) if st.user.is_logged_in else None)  # say why when signed out
        st.stop()
    except (NotAllowedError, AccessConfigError) as exc:  # fail closed on bad settings too
        st.title("🎙️ EmoScope")
        st.error(i18n.error(str(exc)))
        sign_out_button(st)
        st.stop()
    return visitor


def account_box(visitor: Principal) -> None:
    """Who is signed in, with which role, and the way out (sidebar; nothing in open mode)."""
    if visitor.open_mode:
        return
    st.sidebar.caption(
        _("Signed in as {email} · {role}").format(email=visitor.email, role=visitor.role.label)
    )
    sign_out_button()


def refuse_unless(action: str) -> Principal:
    """The visitor, if their role allows `action`; else the refusal, and the page stops."""
    visitor = principal()
    try:
        require(visitor, action)
    except PermissionDenied as exc:
        st.warning(i18n.error(str(exc)), icon="🔒")
        st.stop()
    return visitor
