"""The permission matrix: what each role and each API-token scope may do, in one place.

Deny by default: a permission not listed for a role or scope is refused, an
unknown permission is refused, and permissions marked *assignment-bound* are
granted to agents only for conversations assigned to them or to their team.
Analysts get aggregates only and never message bodies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "ASSIGNMENT_BOUND",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "SCOPES",
    "SCOPE_PERMISSIONS",
    "permissions_for_role",
    "permissions_for_scopes",
]

# -- permissions (what the REST API and console check) ------------------------
CONVERSATIONS_LIST = "conversations:list"  # see conversations (no bodies)
MESSAGES_READ = "messages:read"  # read message bodies of a conversation
MESSAGES_SEND = "messages:send"  # send / reply
CONVERSATIONS_CLOSE = "conversations:close"  # hand back to the bot
CONVERSATIONS_ASSIGN = "conversations:assign"
CONTACTS_READ = "contacts:read"
CONTACTS_WRITE = "contacts:write"
CAMPAIGNS_WRITE = "campaigns:write"
ANALYTICS_READ = "analytics:read"  # aggregates only
AUDIT_READ = "audit:read"
USERS_MANAGE = "users:manage"
TOKENS_MANAGE = "tokens:manage"
SESSIONS_MANAGE = "sessions:manage"  # list / revoke other users' sessions
TENANT_MANAGE = "tenant:manage"  # IP allowlist, settings
PRIVACY_MANAGE = "privacy:manage"  # customers' data rights: export one customer, erase

PERMISSIONS: frozenset[str] = frozenset(
    {
        CONVERSATIONS_LIST,
        MESSAGES_READ,
        MESSAGES_SEND,
        CONVERSATIONS_CLOSE,
        CONVERSATIONS_ASSIGN,
        CONTACTS_READ,
        CONTACTS_WRITE,
        CAMPAIGNS_WRITE,
        ANALYTICS_READ,
        AUDIT_READ,
        USERS_MANAGE,
        TOKENS_MANAGE,
        SESSIONS_MANAGE,
        TENANT_MANAGE,
        PRIVACY_MANAGE,
    }
)

# Agents hold these only for conversations assigned to them or to their team.
ASSIGNMENT_BOUND: frozenset[str] = frozenset(
    {CONVERSATIONS_LIST, MESSAGES_READ, MESSAGES_SEND, CONVERSATIONS_CLOSE, CONTACTS_READ}
)

# -- roles (staff) ------------------------------------------------------------
ROLES: tuple[str, ...] = ("admin", "agent", "analyst")

ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "admin": PERMISSIONS,
    "agent": frozenset(
        {CONVERSATIONS_LIST, MESSAGES_READ, MESSAGES_SEND, CONVERSATIONS_CLOSE, CONTACTS_READ}
    ),
    "analyst": frozenset({ANALYTICS_READ}),
}

# -- API token scopes -----------------------------------------------------------
SCOPES: tuple[str, ...] = (
    "messages:send",
    "messages:read",
    "contacts:read",
    "contacts:write",
    "campaigns:write",
    "analytics:read",
    "audit:read",
    "admin",
)

SCOPE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "messages:send": frozenset({MESSAGES_SEND}),
    "messages:read": frozenset({MESSAGES_READ, CONVERSATIONS_LIST}),
    "contacts:read": frozenset({CONTACTS_READ}),
    "contacts:write": frozenset({CONTACTS_READ, CONTACTS_WRITE}),
    "campaigns:write": frozenset({CAMPAIGNS_WRITE}),
    "analytics:read": frozenset({ANALYTICS_READ}),
    "audit:read": frozenset({AUDIT_READ}),
    "admin": PERMISSIONS,
}


def permissions_for_role(role: str) -> frozenset[str]:
    """The permissions of a staff role; an unknown role has none."""
    return ROLE_PERMISSIONS.get(role, frozenset())


def permissions_for_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The union of the permissions of token scopes; unknown scopes add nothing."""
    out: set[str] = set()
    for scope in scopes:
        out |= SCOPE_PERMISSIONS.get(scope, frozenset())
    return frozenset(out)
