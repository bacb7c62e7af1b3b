"""Staff users and API tokens of the caller's tenant (admins)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request

from aman.api.v1.deps import Principal, runtime_of

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
def get_user(request: Request, scope: Principal, user_id: int) -> UserOut:
    return _user(runtime_of(request).accounts.users.get(scope, user_id))


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(request: Request, scope: Principal, user_id: int) -> UserOut:
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
def revoke_token(request: Request, scope: Principal, token_id: int) -> TokenOut:
    return _token(runtime_of(request).accounts.tokens.revoke(scope, token_id))
