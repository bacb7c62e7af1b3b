"""Customers' data rights for staff (UU PDP): export one customer as JSON, erase, requests.

Admin only (``privacy:manage``); every export, erasure and completed request
is written to the audit ledger by :class:`aman.privacy.DataRights`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from aman.accounts import permissions as perms
from aman.accounts.scope import TenantScope, require
from aman.api.v1.deps import ObjectId, Principal, runtime_of
from aman.api.v1.problems import Problem
from aman.privacy import DataRights, PrivacyError

__all__ = ["router"]

router = APIRouter(prefix="/privacy", tags=["privacy"])



class ErasureOut(BaseModel):
    keys_destroyed: int
    messages: int
    replies: int
    statuses: int
    conversations: int
    timers: int
    consents: int
    contact: int
    campaign_rows: int
    fraud_reports: int


class RequestOut(BaseModel):
    id: int
    kind: str = Field(description="export | erasure")
    source: str
    contact: str = Field(description="the contact's audit name (a blind-index prefix)")
    requested_at: float
    due_at: float = Field(description="the legal deadline: 3 x 24 hours after the request")
    overdue: bool


class DoneOut(BaseModel):
    id: int
    status: str


_EXPORT_OUT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Everything stored about the contact, decrypted (audited)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _rights(request: Request, scope: TenantScope) -> DataRights:
    """The runtime's tenant only; other tenants see nothing (404)."""
    require(scope, perms.PRIVACY_MANAGE)
    runtime = runtime_of(request)
    if scope.tenant != runtime.vault.tenant:
        raise Problem(404, "not found")
    return runtime.rights


def _contact_ix(rights: DataRights, contact_id: int) -> str:
    try:
        return rights.contact_ix_of(contact_id=contact_id)
    except PrivacyError:
        raise Problem(404, "not found") from None


@router.get("/contacts/{contact_id}/export", response_class=JSONResponse, responses=_EXPORT_OUT)
async def export_contact(request: Request, scope: Principal, contact_id: ObjectId) -> JSONResponse:
    """One customer's data as JSON (right of access and portability); audited."""
    rights = _rights(request, scope)
    ix = await run_in_threadpool(_contact_ix, rights, contact_id)
    try:
        data = await run_in_threadpool(rights.export, scope.principal, ix)
    except PrivacyError as exc:
        raise Problem(404, "not found", str(exc)) from None
    return JSONResponse(
        data,
        headers={
            "Content-Disposition": f'attachment; filename="contact-{contact_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/contacts/{contact_id}/erase", response_model=ErasureOut)
async def erase_contact(request: Request, scope: Principal, contact_id: ObjectId) -> ErasureOut:
    """Erase one customer now: destroy their key, delete or anonymise their rows; audited."""
    rights = _rights(request, scope)
    ix = await run_in_threadpool(_contact_ix, rights, contact_id)
    report = await run_in_threadpool(rights.erase, scope.principal, ix, reason="staff")
    return ErasureOut.model_validate(report, from_attributes=True)


@router.get("/requests", response_model=list[RequestOut])
async def list_requests(request: Request, scope: Principal) -> list[RequestOut]:
    """Pending data-rights requests, the one due first at the top."""
    rights = _rights(request, scope)
    rows = await run_in_threadpool(rights.pending)
    return [RequestOut(**r) for r in rows]


@router.post("/requests/{request_id}/done", response_model=DoneOut)
async def complete_request(request: Request, scope: Principal, request_id: ObjectId) -> DoneOut:
    """Mark a pending request fulfilled (e.g. the export was handed over); audited."""
    rights = _rights(request, scope)
    try:
        await run_in_threadpool(rights.complete, scope.principal, request_id)
    except PrivacyError:
        raise Problem(404, "not found") from None
    return DoneOut(id=request_id, status="done")
