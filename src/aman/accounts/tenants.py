"""Tenants: create and list them, read one's settings, manage its IP allowlist (audited)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aman.accounts import repository as repo
from aman.accounts.context import AccountsContext
from aman.accounts.errors import NotFoundError, ValidationError
from aman.accounts.permissions import TENANT_MANAGE
from aman.accounts.scope import TenantScope, require

__all__ = ["MAX_ALLOWLIST", "Tenant", "TenantService", "address_allowed", "parse_allowlist"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$|^[a-z0-9]{2}$")
MAX_ALLOWLIST = 256


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: float
    ip_allowlist: tuple[str, ...] | None
    settings: Mapping[str, Any]


def _tenant(row: Any) -> Tenant:
    allow = row.ip_allowlist
    return Tenant(
        row.id, row.name, row.created_at, tuple(allow) if allow else None, dict(row.settings or {})
    )


def parse_allowlist(cidrs: Iterable[str]) -> tuple[str, ...]:
    """Validate and canonicalise CIDRs (``10.0.0.0/8``, ``2001:db8::/32``, bare addresses)."""
    out: list[str] = []
    for raw in cidrs:
        try:
            net = ipaddress.ip_network(str(raw).strip(), strict=False)
        except ValueError:
            raise ValidationError(f"not an IP network: {str(raw)[:64]!r}") from None
        if str(net) not in out:
            out.append(str(net))
    if len(out) > MAX_ALLOWLIST:
        raise ValidationError(f"at most {MAX_ALLOWLIST} networks in an allowlist")
    return tuple(out)


def address_allowed(allowlist: Sequence[str] | None, client_ip: str) -> bool:
    """True when no allowlist is set, or ``client_ip`` is inside one of its networks."""
    if not allowlist:
        return True
    try:
        addr = ipaddress.ip_address(client_ip.strip())
    except (ValueError, AttributeError):
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for cidr in allowlist:
        try:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


class TenantService:
    def __init__(self, ctx: AccountsContext) -> None:
        self._ctx = ctx

    def create(self, tenant_id: str, name: str, *, actor: str = "cli:tenant") -> Tenant:
        """Create a tenant (platform operators only: the CLI)."""
        if not isinstance(tenant_id, str) or not _SLUG.match(tenant_id):
            raise ValidationError("tenant id: 2-64 characters a-z, 0-9 and '-', no '-' at the ends")
        name = (name or "").strip()
        if not 1 <= len(name) <= 128:
            raise ValidationError("tenant name: 1-128 characters")
        now = self._ctx.clock()
        with self._ctx.unit() as conn:
            if not repo.insert_tenant(conn, self._ctx.dialect, tenant_id, name, now):
                raise ValidationError(f"tenant {tenant_id!r} already exists")
            self._ctx.audit_append(conn, tenant=tenant_id, actor=actor, action="tenant_created",
                                   target=f"tenant:{tenant_id}", details={"name": name})
            row = repo.get_tenant(conn, tenant_id)
        return _tenant(row)

    def list_all(self) -> list[Tenant]:
        """Every tenant (platform operators only: the CLI)."""
        with self._ctx.engine.connect() as conn:
            return [_tenant(r) for r in repo.list_tenants(conn)]

    def find(self, tenant_id: str) -> Tenant | None:
        with self._ctx.engine.connect() as conn:
            row = repo.get_tenant(conn, tenant_id)
        return None if row is None else _tenant(row)

    def get(self, scope: TenantScope) -> Tenant:
        """The caller's own tenant."""
        tenant = self.find(scope.tenant)
        if tenant is None:
            raise NotFoundError("no such tenant")
        return tenant

    def set_ip_allowlist(self, scope: TenantScope, cidrs: Iterable[str] | None) -> Tenant:
        """Restrict logins, sessions and API tokens of the tenant to these networks.

        ``None`` or an empty list removes the restriction.
        """
        require(scope, TENANT_MANAGE)
        nets = parse_allowlist(cidrs) if cidrs is not None else ()
        with self._ctx.unit() as conn:
            if repo.update_tenant(conn, scope, ip_allowlist=list(nets) or None) != 1:
                raise NotFoundError("no such tenant")
            self._ctx.audit_append(conn, tenant=scope.tenant, actor=scope.principal,
                                   action="tenant_ip_allowlist_set",
                                   target=f"tenant:{scope.tenant}",
                                   details={"networks": list(nets)})
        return self.get(scope)

    def update_settings(self, scope: TenantScope, settings: Mapping[str, Any]) -> Tenant:
        """Replace the tenant's settings object (JSON; secrets do not belong here)."""
        require(scope, TENANT_MANAGE)
        if not isinstance(settings, Mapping):
            raise ValidationError("settings must be an object")
        value = dict(settings)
        with self._ctx.unit() as conn:
            if repo.update_tenant(conn, scope, settings=value) != 1:
                raise NotFoundError("no such tenant")
            self._ctx.audit_append(conn, tenant=scope.tenant, actor=scope.principal,
                                   action="tenant_settings_updated",
                                   target=f"tenant:{scope.tenant}",
                                   details={"keys": sorted(str(k) for k in value)[:50]})
        return self.get(scope)

