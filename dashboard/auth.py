"""Who is visiting: st.user and st.secrets turned into a core.access.principal.Principal, and the gate.

With `[auth]` in secrets.toml (Streamlit's native OpenID Connect sign-in), a visitor must sign in
and be admitted by `[emoscope.access]` (allowlist by email and domain, admins, default role) or
by a role an admin granted; nothing else of the app runs before that. Without `[auth]` the app
is open as it always was: every visitor is `OPEN_MODE`, an admin called "anonymous" (so nothing
that worked before sign-in existed stops working), and a banner on every page says so.

The Principal is recomputed on every run from st.user, which Streamlit fills from its signed
cookie on the server: the browser cannot make itself someone else.
"""

from __future__ import annotations

import logging

import streamlit as st

from core.access.principal import OPEN_MODE, AccessSettings, Principal, require, resolve
from core.errors import AccessConfigError, NotAllowedError, NotSignedInError, PermissionDenied
from dashboard import data

log = logging.getLogger(__name__)

BANNER = "No sign-in configured: anyone who can reach this address sees all data."


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


def principal() -> Principal:
    """The visitor's Principal; NotSignedInError or NotAllowedError when they may not come in."""
    if not sign_in_configured():
        return OPEN_MODE
    if not st.user.is_logged_in:
        raise NotSignedInError("Sign in to open this dashboard.")
    if st.user.get("email_verified") is False:  # an unverified address proves nothing
        raise NotAllowedError(
            f"Your provider has not verified {st.user.get('email')}; verify it and sign in again."
        )
    email = st.user.get("email")
    granted = data.granted_role(str(email)) if email else None
    return resolve(settings(), email, granted)


def sign_in_screen() -> None:
    """The only thing an anonymous visitor sees: no page, no database name, no data."""
    st.title("🎙️ EmoScope")
    st.write("This dashboard is private to its team. Sign in to continue.")
    for name in providers():
        label = "Sign in" if name is None else f"Sign in with {name.capitalize()}"
        if st.button(label, type="primary", key=f"login-{name or 'default'}"):
            st.login(name)  # None: the provider set directly under [auth]


def sign_out_button(where=st.sidebar) -> None:
    """Sign out: the session forgets the user at once and the browser goes through the
    provider's logout; the rest of this run must not render anything for them."""
    if where.button("Sign out", key="logout"):
        st.logout()
        st.stop()


def gate() -> Principal:
    """Run before any page: returns the Principal, or shows the sign-in / refusal and stops."""
    if not sign_in_configured():
        st.warning(BANNER, icon="🔓")
        return OPEN_MODE
    try:
        visitor = principal()
    except NotSignedInError:
        sign_in_screen()
        st.stop()
    except (NotAllowedError, AccessConfigError) as exc:  # fail closed on bad settings too
        st.title("🎙️ EmoScope")
        st.error(str(exc))
        sign_out_button(st)
        st.stop()
    return visitor


def account_box(visitor: Principal) -> None:
    """Who is signed in, with which role, and the way out (sidebar; nothing in open mode)."""
    if visitor.open_mode:
        return
    st.sidebar.caption(f"Signed in as {visitor.email} · {visitor.role.label}")
    sign_out_button()


def refuse_unless(action: str) -> Principal:
    """The visitor, if their role allows `action`; else the refusal, and the page stops."""
    visitor = principal()
    try:
        require(visitor, action)
    except PermissionDenied as exc:
        st.warning(str(exc), icon="🔒")
        st.stop()
    return visitor
