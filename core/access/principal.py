"""Who may do what: the signed-in Principal, roles, the allowlist and the one guard, `require`.

Three roles, each allowed everything the one below it may do: a viewer reads pages and exports;
an analyst also uploads, analyses and computes projections; an admin also deletes corpora and
manages roles. The guard runs inside the actions themselves (core and the dashboard's adapters),
so a hidden button is a courtesy, never the protection.

Who gets in is decided from a plain settings object (read from `[emoscope.access]` in
secrets.toml by the dashboard; nothing here knows Streamlit): an account is admitted when its
email is listed, its domain is listed, it is a configured admin or analyst, or an admin granted
it a role.
Configured admins are always admins, so no role change in the database can lock the team out.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import idna

from core.errors import AccessConfigError, NotAllowedError, PermissionDenied


class Role(IntEnum):
    """Ordered: a higher role may do everything a lower one may."""

    VIEWER = 1
    ANALYST = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """'viewer' | 'analyst' | 'admin' -> Role; AccessConfigError for anything else."""
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise AccessConfigError(
                f"unknown role {text!r}: choose viewer, analyst or admin."
            ) from None


# The least role each action needs. Every guarded action names itself here.
ACTIONS: dict[str, Role] = {
    "read": Role.VIEWER,
    "export": Role.VIEWER,
    "analyse": Role.ANALYST,
    "project": Role.ANALYST,
    "local_model": Role.ADMIN,  # what a model folder holds is an admin's to vouch for
    "delete_corpus": Role.ADMIN,
    "manage_roles": Role.ADMIN,
    "read_audit": Role.ADMIN,
}

# What a refused user reads: the action in words.
_ACTION_TEXT = {
    "read": "read this dashboard",
    "export": "export data",
    "analyse": "upload and analyse recordings",
    "project": "compute projections",
    "local_model": "analyse with a model from the server's models folder",
    "delete_corpus": "delete corpora",
    "manage_roles": "change roles",
    "read_audit": "read the audit log",
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: an email (or 'cli:<os user>', 'anonymous') and the role they hold.

    `open_mode` marks the principal of a deployment without sign-in: everyone is this admin,
    exactly as before sign-in existed, and the dashboard says so on every page.
    """

    email: str
    role: Role
    open_mode: bool = False

    def may(self, action: str) -> bool:
        """Whether this principal's role allows `action` (a key of ACTIONS)."""
        return self.role >= ACTIONS[action]


# Without [auth] the app is open as before: every visitor may do everything (the banner says so).
OPEN_MODE = Principal("anonymous", Role.ADMIN, open_mode=True)


def os_account() -> str:
    """`cli:<account>` of the OS account running this process (its passwd entry, not $USER or
    $LOGNAME, which anyone can set); `cli:uid<N>` when the uid has no passwd entry."""
    uid = os.getuid()
    try:
        return f"cli:{pwd.getpwuid(uid).pw_name}"
    except KeyError:  # no passwd entry (some containers): the uid still names the account
        return f"cli:uid{uid}"


def cli_principal() -> Principal:
    """`cli:<os account>` as admin: whoever can run the CLI can already read and write the file."""
    return Principal(os_account(), Role.ADMIN)


def require(principal: Principal, action: str) -> None:
    """Raise PermissionDenied unless `principal` may do `action`; call before any work starts."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")  # a bug, not a user error
    if not principal.may(action):
        raise PermissionDenied(
            f"{principal.email} has the {principal.role.label} role: only "
            f"{ACTIONS[action].label}s and above may {_ACTION_TEXT[action]}. "
            "Ask an admin for a higher role."
        )


@dataclass(frozen=True)
class Address:
    """An email address parsed strictly: one `@`, the domain as lower-case IDNA (A-labels)."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"


def parse_address(text: object) -> Address:
    """`local@domain` with exactly one `@`, no spaces or control characters, and a domain that
    IDNA (UTS #46) accepts; InvalidAddress otherwise.

    The local part is compared case-insensitively (as the allowlists always were); the domain
    is compared as its ASCII form, so `Bücher.test` and `xn--bcher-kva.test` are one domain.
    """
    raw = str(text).strip() if text is not None else ""
    if raw.count("@") != 1:
        raise InvalidAddress(f"{raw!r} is not one email address (it needs exactly one @).")
    local, domain = raw.split("@")
    if not local or any(c.isspace() or ord(c) < 32 or c in '<>,;"' for c in local):
        raise InvalidAddress(f"{raw!r} is not an email address.")
    return Address(local.lower(), domain_key(domain, raw))


def domain_key(domain: str, shown: str | None = None) -> str:
    """A domain as compared here: lower-case ASCII after IDNA; InvalidAddress if it is none."""
    try:
        ascii_form = idna.encode(domain.strip().rstrip("."), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InvalidAddress(f"{shown or domain!r} has no valid domain.") from None
    return ascii_form.lower()


class InvalidAddress(NotAllowedError):
    """An address that is not exactly one well-formed email address."""


def normalise_email(email: str) -> str:
    """The form emails are stored and compared in: strictly parsed, domain as IDNA, lower case.

    Text that is not an address (a typo in the settings) is only trimmed and lower-cased, so it
    matches nothing real rather than failing every sign-in.
    """
    try:
        return str(parse_address(email))
    except InvalidAddress:
        return str(email).strip().lower()


@dataclass(frozen=True)
class AccessSettings:
    """Who may sign in, and with which role by default (from `[emoscope.access]`)."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    analysts: frozenset[str] = frozenset()
    default_role: Role = Role.VIEWER
    # Providers (names under [auth], "default" for a single one) whose ID tokens never carry
    # `email_verified` (e.g. Microsoft Entra): for them alone a missing claim is not a refusal.
    unverified_providers: frozenset[str] = frozenset()
    session_hours: float = 12.0

    @classmethod
    def from_mapping(cls, values: Mapping | None) -> AccessSettings:
        """Settings from a mapping with allowed_emails, allowed_domains, admins, analysts and
        default_role (every key optional)."""
        values = dict(values or {})
        if set(values) - set(SETTING_KEYS):
            raise AccessConfigError(
                f"[emoscope.access] has unknown keys {sorted(set(values) - set(SETTING_KEYS))}: "
                f"use {', '.join(SETTING_KEYS)}."
            )
        return cls(
            emails=_names(values, "allowed_emails"),
            domains=frozenset(_domain_setting(d) for d in _strings(values, "allowed_domains")),
            admins=_names(values, "admins"),
            analysts=_names(values, "analysts"),
            default_role=Role.parse(values.get("default_role", "viewer")),
            unverified_providers=frozenset(
                p.strip() for p in _strings(values, "providers_without_email_verified")
            ),
            session_hours=_hours(values.get("session_hours", 12)),
        )


SETTING_KEYS = ("allowed_emails", "allowed_domains", "admins", "analysts", "default_role",
                "providers_without_email_verified", "session_hours")  # fmt: skip


def _hours(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 24 * 30:
        raise AccessConfigError(
            f"[emoscope.access] session_hours = {value!r}: give hours between 0 and 720."
        )
    return float(value)


def _domain_setting(text: str) -> str:
    try:
        return domain_key(text.lstrip("@"))
    except InvalidAddress:
        raise AccessConfigError(
            f"[emoscope.access] allowed_domains: {text!r} is no domain."
        ) from None


def _strings(values: Mapping, key: str) -> list[str]:
    items = values.get(key, [])
    if isinstance(items, str):  # a single name written without brackets
        items = [items]
    if not isinstance(items, list | tuple):
        raise AccessConfigError(f"[emoscope.access] {key} must be a list of strings.")
    return [str(i) for i in items if str(i).strip()]


def _names(values: Mapping, key: str) -> frozenset[str]:
    return frozenset(normalise_email(i) for i in _strings(values, key))


def verified_email(claims: Mapping, settings: AccessSettings) -> str:
    """The email of a signed-in identity (st.user's claims) if its provider verified it.

    Only the boolean `email_verified: true` counts: the string "false" or "true", 1, null or
    anything else is unverified. A missing claim is unverified too, unless the identity's
    provider is one the deployment names in `providers_without_email_verified` (providers
    that never send the claim and verify addresses themselves). NotAllowedError otherwise.
    """
    email = claims.get("email")
    if not email:
        raise NotAllowedError(NO_EMAIL)
    verified = claims.get("email_verified")
    if verified is True:
        return str(email)
    provider = str(claims.get("provider") or "default")
    if "email_verified" not in claims and provider in settings.unverified_providers:
        return str(email)
    raise NotAllowedError(f"Your provider has not verified {email}; verify it and sign in again.")


NO_EMAIL = ("Your sign-in provider did not share an email address, so this dashboard cannot "
            "tell whether you belong to the team. Sign in with an account that has one.")  # fmt: skip


def resolve(settings: AccessSettings, email: str | None, granted: Role | None) -> Principal:
    """The Principal for a signed-in account; NotAllowedError when it may not come in.

    `granted` is the role an admin stored for this email (user_roles), if any. Precedence:
    configured admins, then the granted role (an admin's later decision), then the configured
    analysts, then default_role for an allowed email or domain. Domains match exactly
    (`team.example` admits `a@team.example`, not `a@evil-team.example`), compared as IDNA
    ASCII without regard to case; an address with more than one `@` is refused outright.
    """
    if not email or "@" not in str(email):
        raise NotAllowedError(NO_EMAIL)
    address = parse_address(email)  # exactly one @: never the domain after the last of several
    email = str(address)
    if email in settings.admins:
        return Principal(email, Role.ADMIN)
    if granted is not None:
        return Principal(email, granted)
    if email in settings.analysts:
        return Principal(email, Role.ANALYST)
    if email in settings.emails or address.domain in settings.domains:
        return Principal(email, settings.default_role)
    raise NotAllowedError(
        f"{email} is not on this team's allowlist. Ask an admin to add you, or sign out and "
        "use your team account."
    )
