"""RFC 9457 problem details for every error the API returns; domain errors mapped here."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from aman.accounts.errors import (
    AccountsError,
    CsrfError,
    EnrolmentError,
    InvalidCredentialsError,
    IpNotAllowedError,
    LoginThrottledError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ScopeError,
)
from aman.campaigns.errors import (
    CampaignInputError,
    CampaignNotFoundError,
    CampaignStateError,
    TemplateUnusableError,
)
from aman.inbox.team import NotFound, OutboundRejected, TeamInboxError
from aman.monitor.errors import (
    AlertNotFoundError,
    ControlError,
    FraudReportNotFoundError,
    InvalidAlertTransitionError,
    MonitorInputError,
    UnknownTenantError,
)

__all__ = [
    "PROBLEM_CODES",
    "PROBLEM_RESPONSE",
    "Problem",
    "ProblemDocument",
    "install_problem_handlers",
    "problem_response",
]

MEDIA = "application/problem+json"


class ProblemDocument(BaseModel):
    """RFC 9457 problem details (extension members allowed)."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


PROBLEM_RESPONSE: dict[str, Any] = {
    "model": ProblemDocument,
    "content": {MEDIA: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
}
PROBLEM_CODES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    422: "Invalid request",
    429: "Too many requests",
}


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def problem_response(
    status: int, title: str, detail: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, Problem):  # registered for Problem only
            raise exc
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 500)
        return problem_response(status, str(getattr(exc, "detail", "")) or "error")

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        safe = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in errors][:20]
        return problem_response(422, "invalid request", errors=safe)

    async def on_denied(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(403, "forbidden", "you are not allowed to do this")

    async def on_not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(404, "not found")

    async def on_rejected(request: Request, exc: Exception) -> JSONResponse:
        codes = list(getattr(exc, "codes", ()))
        return problem_response(422, "message blocked by the outbound guard", violations=codes)

    async def on_conflict(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(409, "conflict", str(exc))

    async def on_accounts(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(400, "request refused", str(exc))

    async def on_credentials(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(401, "invalid credentials")

    async def on_throttled(request: Request, exc: Exception) -> JSONResponse:
        retry = int(getattr(exc, "retry_after", 1) + 0.999)
        resp = problem_response(429, "too many requests", str(exc), retry_after=retry)
        resp.headers["Retry-After"] = str(max(1, retry))
        return resp

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(PermissionDeniedError, on_denied)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(OutboundRejected, on_rejected)
    app.add_exception_handler(TeamInboxError, on_conflict)
    app.add_exception_handler(AccountsError, on_accounts)
    app.add_exception_handler(EnrolmentError, on_accounts)
    app.add_exception_handler(InvalidCredentialsError, on_credentials)
    app.add_exception_handler(LoginThrottledError, on_throttled)
    app.add_exception_handler(RateLimitedError, on_throttled)
    app.add_exception_handler(NotFoundError, on_not_found)
    for denied in (CsrfError, IpNotAllowedError, ScopeError):
        app.add_exception_handler(denied, on_denied)
    for missing in (
        AlertNotFoundError,
        FraudReportNotFoundError,
        UnknownTenantError,
        CampaignNotFoundError,
    ):
        app.add_exception_handler(missing, on_not_found)
    app.add_exception_handler(InvalidAlertTransitionError, on_conflict)
    for conflict in (CampaignStateError, TemplateUnusableError):
        app.add_exception_handler(conflict, on_conflict)
    app.add_exception_handler(CampaignInputError, on_accounts)
    for bad in (MonitorInputError, ControlError):
        app.add_exception_handler(bad, on_accounts)
