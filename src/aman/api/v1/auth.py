"""Sign-in with password + TOTP, sign-out, who am I, sessions; enrolment for invited staff."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from starlette.requests import Request

from aman.accounts import permissions as perms
from aman.accounts.cookies import csrf_token
from aman.accounts.scope import require
from aman.api.v1.deps import MAX_ID, ObjectId, Principal, client_ip, runtime_of

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(min_length=6, max_length=32, description="TOTP code or a recovery code")


class LoginOut(BaseModel):
    tenant: str
    user_id: int
    role: str
    csrf_token: str
    expires_at: float
    recovery_codes_left: int | None = None


class MeOut(BaseModel):
    tenant: str
    principal: str
    kind: str
    roles: list[str]
    permissions: list[str]
    team: str | None


class SessionOut(BaseModel):
    id: int
    user_id: int
    created_at: float
    last_seen_at: float
    expires_at: float
    idle_expires_at: float
    client: str
    current: bool


class EnrolmentOut(BaseModel):
    email: str
    otpauth_uri: str
    qr_svg: str
    needs_password: bool
    expires_at: float


class EnrolIn(BaseModel):
    password: str = Field(default="", max_length=256)
    code: str = Field(min_length=6, max_length=8)


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


@router.post("/login", response_model=LoginOut)
def login(request: Request, response: Response, body: LoginIn) -> LoginOut:
    """Password + second factor.  Every failure answers the same 401 (no enumeration)."""
    accounts = runtime_of(request).accounts
    result = accounts.login.login(body.email, body.password, body.code, client_ip(request))
    response.headers["Set-Cookie"] = accounts.cookies.set_cookie(result.token)
    response.headers["Cache-Control"] = "no-store"
    role = sorted(result.scope.roles)[0] if result.scope.roles else ""
    return LoginOut(
        tenant=result.scope.tenant,
        user_id=result.session.user_id,
        role=role,
        csrf_token=csrf_token(result.session),
        expires_at=result.session.expires_at,
        recovery_codes_left=result.recovery_codes_left,
    )


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, scope: Principal) -> None:
    accounts = runtime_of(request).accounts
    accounts.sessions.logout(scope)
    response.headers["Set-Cookie"] = accounts.cookies.clear_cookie()


@router.get("/me", response_model=MeOut)
def me(scope: Principal) -> MeOut:
    return MeOut(
        tenant=scope.tenant,
        principal=scope.principal,
        kind=scope.kind,
        roles=sorted(scope.roles),
        permissions=sorted(scope.permissions),
        team=scope.team,
    )


@router.get("/sessions", response_model=list[SessionOut])
def sessions(
    request: Request,
    scope: Principal,
    user_id: int | None = Query(default=None, ge=1, le=MAX_ID),
) -> list[SessionOut]:
    """Your sessions; admins may list another user's (``user_id``)."""
    if user_id is not None:
        require(scope, perms.SESSIONS_MANAGE)
    infos = runtime_of(request).accounts.sessions.list(scope, user_id)
    return [SessionOut(**{k: getattr(s, k) for k in SessionOut.model_fields}) for s in infos]


@router.delete("/sessions/{session_id}", status_code=204)
def revoke_session(request: Request, scope: Principal, session_id: ObjectId) -> None:
    runtime_of(request).accounts.sessions.revoke(scope, session_id)


@router.get("/enrolment/{token}", response_model=EnrolmentOut)
def enrolment(request: Request, token: str) -> EnrolmentOut:
    """For an invited user: the TOTP secret as otpauth URI and QR code (link is the secret)."""
    e = runtime_of(request).accounts.users.enrolment(token)
    return EnrolmentOut(
        email=e.email,
        otpauth_uri=e.otpauth_uri,
        qr_svg=e.qr_svg,
        needs_password=e.needs_password,
        expires_at=e.expires_at,
    )


@router.post("/enrolment/{token}", response_model=RecoveryCodesOut)
def complete_enrolment(request: Request, token: str, body: EnrolIn) -> RecoveryCodesOut:
    codes = runtime_of(request).accounts.users.complete_enrolment(
        token, body.password, body.code, client_ip=client_ip(request)
    )
    return RecoveryCodesOut(recovery_codes=codes)
