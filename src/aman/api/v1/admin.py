"""Staff users, API tokens and the IP allowlist of the caller's tenant (admins)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request

from aman.accounts import permissions as perms
from aman.accounts.scope import require
from aman.accounts.tenants import Tenant, address_allowed, parse_allowlist
from aman.api.v1.deps import ObjectId, Principal, client_ip, runtime_of
from aman.api.v1.problems import Problem

__all__ = ["router"]

router = APIRouter(tags=["admin"])


class UserOut(BaseModel):
    id: int
    email: str
    role: str
    team: str | None
    status: str
    created_at: float
    last_login_at: float | None
    disabled_at: float | None
    has_totp: bool


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    role: Literal["admin", "agent", "analyst"]
    team: str | None = Field(default=None, min_length=1, max_length=64)


class InvitationOut(BaseModel):
    user: UserOut
    enrolment_token: str
    expires_at: float


class TokenOut(BaseModel):
    id: int
    name: str
    hint: str
    scopes: list[str]
    created_by: str
    created_at: float
    expires_at: float
    revoked_at: float | None
    last_used_at: float | None
    last_used_from: str | None


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(min_length=1, max_length=20)
    expires_in_days: int | None = Field(default=None, ge=1, le=3660)


class CreatedTokenOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="shown once; store it now")


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: float
    ip_allowlist: list[str] | None = Field(
        description="networks (CIDR) staff and tokens may come from; null: any address"
    )


class AllowlistIn(BaseModel):
    networks: list[str] = Field(
        max_length=100, description="CIDRs or addresses; an empty list lifts the restriction"
    )


def _tenant(t: Tenant) -> TenantOut:
    allow = list(t.ip_allowlist) if t.ip_allowlist else None
    return TenantOut(id=t.id, name=t.name, created_at=t.created_at, ip_allowlist=allow)


def _user(u: object) -> UserOut:
    return UserOut(**{k: getattr(u, k) for k in UserOut.model_fields})


def _token(t: object) -> TokenOut:
    data = {k: getattr(t, k) for k in TokenOut.model_fields}
    data["scopes"] = list(data["scopes"])
    return TokenOut(**data)


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, scope: Principal) -> list[UserOut]:
    return [_user(u) for u in runtime_of(request).accounts.users.list(scope)]


@router.post("/users", response_model=InvitationOut, status_code=201)
def create_user(request: Request, scope: Principal, body: UserIn) -> InvitationOut:
    inv = runtime_of(request).accounts.users.create(scope, body.email, body.role, team=body.team)
    return InvitationOut(user=_user(inv.user), enrolment_token=inv.token, expires_at=inv.expires_at)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(request: Request, scope: Principal, user_id: ObjectId) -> UserOut:
    return _user(runtime_of(request).accounts.users.get(scope, user_id))


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(request: Request, scope: Principal, user_id: ObjectId) -> UserOut:
    return _user(runtime_of(request).accounts.users.disable(scope, user_id))


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(request: Request, scope: Principal) -> list[TokenOut]:
    return [_token(t) for t in runtime_of(request).accounts.tokens.list(scope)]


@router.post("/tokens", response_model=CreatedTokenOut, status_code=201)
def create_token(request: Request, scope: Principal, body: TokenIn) -> CreatedTokenOut:
    created = runtime_of(request).accounts.tokens.create(
        scope, body.name, body.scopes, expires_in_days=body.expires_in_days
    )
    return CreatedTokenOut(token=_token(created.info), secret=created.secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(request: Request, scope: Principal, token_id: ObjectId) -> TokenOut:
    return _token(runtime_of(request).accounts.tokens.revoke(scope, token_id))


@router.get("/tenant", response_model=TenantOut)
def get_tenant(request: Request, scope: Principal) -> TenantOut:
    """The caller's tenant and its IP allowlist (admins)."""
    require(scope, perms.TENANT_MANAGE)
    return _tenant(runtime_of(request).accounts.tenants.get(scope))


@router.put("/tenant/ip-allowlist", response_model=TenantOut)
def set_ip_allowlist(request: Request, scope: Principal, body: AllowlistIn) -> TenantOut:
    """Restrict sign-ins, sessions and API tokens to these networks; audited.

    A list that would shut out the caller's own address is refused (409), so an admin
    cannot lock the tenant out by mistake; use the CLI from inside the network instead.
    """
    require(scope, perms.TENANT_MANAGE)
    nets = parse_allowlist(body.networks)
    if nets and not address_allowed(nets, client_ip(request)):
        raise Problem(
            409,
            "the allowlist would lock you out",
            "your own address is not in the new list; add it, or set the list with "
            "`aman tenant allowlist` from inside the allowed network",
        )
    tenant = runtime_of(request).accounts.tenants.set_ip_allowlist(scope, list(nets) or None)
    return _tenant(tenant)
