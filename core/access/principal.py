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

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from core.errors import AccessConfigError, NotAllowedError, PermissionDenied
from core.store.runs import run_user


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


def cli_principal() -> Principal:
    """`cli:<os user>` as admin: whoever can run the CLI can already read and write the file."""
    return Principal(run_user(None), Role.ADMIN)


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


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively, without surrounding spaces."""
    return str(email).strip().lower()


@dataclass(frozen=True)
class AccessSettings:
    """Who may sign in, and with which role by default (from `[emoscope.access]`)."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    analysts: frozenset[str] = frozenset()
    default_role: Role = Role.VIEWER

    @classmethod
    def from_mapping(cls, values: Mapping | None) -> AccessSettings:
        """Settings from a mapping with allowed_emails, allowed_domains, admins, analysts and
        default_role (every key optional)."""
        values = dict(values or {})
        known = {"allowed_emails", "allowed_domains", "admins", "analysts", "default_role"}
        if set(values) - known:
            raise AccessConfigError(
                f"[emoscope.access] has unknown keys {sorted(set(values) - known)}: use "
                "allowed_emails, allowed_domains, admins, analysts and default_role."
            )
        return cls(
            emails=_names(values, "allowed_emails"),
            domains=frozenset(d.lstrip("@") for d in _names(values, "allowed_domains")),
            admins=_names(values, "admins"),
            analysts=_names(values, "analysts"),
            default_role=Role.parse(values.get("default_role", "viewer")),
        )


def _names(values: Mapping, key: str) -> frozenset[str]:
    items = values.get(key, [])
    if isinstance(items, str):  # a single name written without brackets
        items = [items]
    if not isinstance(items, list | tuple):
        raise AccessConfigError(f"[emoscope.access] {key} must be a list of strings.")
    return frozenset(normalise_email(i) for i in items if str(i).strip())


def resolve(settings: AccessSettings, email: str | None, granted: Role | None) -> Principal:
    """The Principal for a signed-in account; NotAllowedError when it may not come in.

    `granted` is the role an admin stored for this email (user_roles), if any. Precedence:
    configured admins, then the granted role (an admin's later decision), then the configured
    analysts, then default_role for an allowed email or domain. Domains match exactly
    (`team.example` admits `a@team.example`, not `a@evil-team.example`).
    """
    if not email or "@" not in str(email):
        raise NotAllowedError(
            "Your sign-in provider did not share an email address, so this dashboard cannot "
            "tell whether you belong to the team. Sign in with an account that has one."
        )
    email = normalise_email(email)
    if email in settings.admins:
        return Principal(email, Role.ADMIN)
    if granted is not None:
        return Principal(email, granted)
    if email in settings.analysts:
        return Principal(email, Role.ANALYST)
    domain = email.rsplit("@", 1)[1]
    if email in settings.emails or domain in settings.domains:
        return Principal(email, settings.default_role)
    raise NotAllowedError(
        f"{email} is not on this team's allowlist. Ask an admin to add you, or sign out and "
        "use your team account."
    )
