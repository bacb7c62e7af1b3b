"""Who is asking, for which tenant: ``TenantScope``, the ``can`` check and ``scoped`` queries.

Every repository takes a ``TenantScope`` and filters through :func:`scoped`, so
tenant isolation is written once.  :func:`can` is the single authorisation
check (deny by default, see :mod:`aman.accounts.permissions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import Delete, Select, Table, Update

from aman.accounts import permissions as perms
from aman.accounts.errors import PermissionDeniedError, ScopeError

__all__ = ["PrincipalKind", "TenantScope", "Visibility", "can", "require", "scoped", "visibility"]

PrincipalKind = Literal["user", "token", "system"]
# Any SELECT (whatever its column types), UPDATE or DELETE.
_Stmt = TypeVar("_Stmt", bound=Select[*tuple[Any, ...]] | Update | Delete)


@dataclass(frozen=True, slots=True)
class TenantScope:
    """An authenticated principal acting inside one tenant.

    ``principal`` is the audit actor: ``user:<id>``, ``token:<id>`` or ``cli:<name>``.
    Build scopes only through the accounts services (login, token check) or
    :meth:`system` for trusted local tooling such as the CLI.
    """

    tenant: str
    principal: str
    kind: PrincipalKind
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    permissions: frozenset[str] = field(default=frozenset())
    user_id: int | None = None
    token_id: int | None = None
    session_id: int | None = None
    team: str | None = None

    def __post_init__(self) -> None:
        if not self.tenant:
            raise ScopeError("a scope needs a tenant")
        if not self.principal:
            raise ScopeError("a scope needs a principal")

    @classmethod
    def for_user(
        cls, tenant: str, user_id: int, role: str, team: str | None, session_id: int | None
    ) -> TenantScope:
        return cls(
            tenant=tenant,
            principal=f"user:{user_id}",
            kind="user",
            roles=frozenset({role}),
            permissions=perms.permissions_for_role(role),
            user_id=user_id,
            session_id=session_id,
            team=team,
        )

    @classmethod
    def for_token(cls, tenant: str, token_id: int, scopes: frozenset[str]) -> TenantScope:
        return cls(
            tenant=tenant,
            principal=f"token:{token_id}",
            kind="token",
            scopes=scopes,
            permissions=perms.permissions_for_scopes(scopes),
            token_id=token_id,
        )

    @classmethod
    def system(cls, tenant: str, actor: str = "cli") -> TenantScope:
        """Full rights in ``tenant`` for local operator tooling (audited as ``cli:<actor>``)."""
        return cls(
            tenant=tenant,
            principal=f"cli:{actor}",
            kind="system",
            roles=frozenset({"admin"}),
            permissions=perms.PERMISSIONS,
        )

    @property
    def is_admin(self) -> bool:
        return self.permissions >= perms.PERMISSIONS


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which conversations a principal may see: all, or those of one user / team."""

    all: bool
    user_id: int | None = None
    team: str | None = None


def _assignment_restricted(scope: TenantScope) -> bool:
    # Staff agents (not admins) see only what is assigned to them or their team.
    return scope.kind == "user" and "agent" in scope.roles and not scope.is_admin


def can(
    scope: TenantScope, permission: str, resource: Mapping[str, Any] | None = None
) -> bool:
    """May ``scope`` do ``permission`` (on ``resource``)? Deny by default.

    ``resource`` attributes understood: ``tenant`` (must equal the scope's),
    ``assigned_user`` (user id) and ``assigned_team`` (team name).  For an agent,
    assignment-bound permissions need a resource assigned to them or their team.
    """
    if permission not in perms.PERMISSIONS or permission not in scope.permissions:
        return False
    if resource is not None and "tenant" in resource and resource["tenant"] != scope.tenant:
        return False
    if permission in perms.ASSIGNMENT_BOUND and _assignment_restricted(scope):
        if resource is None:
            return False
        user = resource.get("assigned_user")
        team = resource.get("assigned_team")
        mine = user is not None and scope.user_id is not None and user == scope.user_id
        ours = team is not None and scope.team is not None and team == scope.team
        return mine or ours
    return True


def require(
    scope: TenantScope, permission: str, resource: Mapping[str, Any] | None = None
) -> None:
    """Raise ``PermissionDeniedError`` unless :func:`can` allows it."""
    if not can(scope, permission, resource):
        raise PermissionDeniedError(f"not allowed: {permission}")


def visibility(scope: TenantScope) -> Visibility:
    """For list queries: which conversations ``scope`` may list (none raises)."""
    if perms.CONVERSATIONS_LIST not in scope.permissions:
        raise PermissionDeniedError(f"not allowed: {perms.CONVERSATIONS_LIST}")
    if _assignment_restricted(scope):
        return Visibility(all=False, user_id=scope.user_id, team=scope.team)
    return Visibility(all=True)


def scoped(stmt: _Stmt, model: Any, scope: TenantScope) -> _Stmt:
    """Add ``model.tenant == scope.tenant`` to a SELECT/UPDATE/DELETE; fail closed."""
    if not isinstance(scope, TenantScope):
        raise ScopeError("scoped() needs a TenantScope")
    table = model if isinstance(model, Table) else getattr(model, "__table__", None)
    if not isinstance(table, Table) or "tenant" not in table.c:
        raise ScopeError(f"{getattr(model, '__name__', model)!r} has no tenant column")
    # .where() keeps the statement's own type; mypy cannot see that through the union.
    return cast(_Stmt, stmt.where(table.c.tenant == scope.tenant))
