"""Security operations: alerts, customers' fraud reports, throttled/quarantined contacts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request

from aman.accounts import permissions as perms
from aman.accounts.scope import TenantScope, require, scoped
from aman.api.v1.deps import MAX_ID, ObjectId, Principal, runtime_of
from aman.api.v1.problems import Problem
from aman.storage.models import Contact

__all__ = ["router"]

router = APIRouter(tags=["security"])


class AlertOut(BaseModel):
    id: int
    kind: str
    severity: str
    subject: str
    details: dict[str, Any]
    first_seen: float
    last_seen: float
    count: int
    status: str
    acknowledged_by: str | None
    acknowledged_at: float | None
    resolved_by: str | None
    resolved_at: float | None


class FraudReportOut(BaseModel):
    id: int
    contact_ix: str
    text: str
    created_at: float
    status: str
    reviewed_by: str | None
    reviewed_at: float | None


class FraudStatusIn(BaseModel):
    status: Literal["open", "reviewed", "closed"]


class ControlOut(BaseModel):
    contact_ix: str
    mode: str
    until: float | None
    per_minute: int
    reason: str
    set_by: str
    set_at: float


class ControlIn(BaseModel):
    mode: Literal["throttled", "quarantined"]
    reason: str = Field(min_length=3, max_length=200)
    seconds: int | None = Field(default=None, ge=60, le=30 * 86400)


def _existing_contact(request: Request, scope: TenantScope, contact_ix: str) -> None:
    """404 unless ``contact_ix`` names a contact of the caller's tenant."""
    with runtime_of(request).engine.connect() as conn:
        found = conn.execute(
            scoped(select(Contact.id), Contact, scope).where(Contact.contact_ix == contact_ix)
        ).first()
    if found is None:
        raise Problem(404, "not found")


def _fields(model: type[BaseModel], obj: object) -> dict[str, Any]:
    return {k: getattr(obj, k) for k in model.model_fields}


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    request: Request,
    scope: Principal,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    before_id: int | None = Query(default=None, ge=1, le=MAX_ID),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[AlertOut]:
    require(scope, perms.AUDIT_READ)
    alerts = runtime_of(request).monitor.alerts.list(
        scope.tenant, status=status, before_id=before_id, limit=limit
    )
    return [AlertOut(**_fields(AlertOut, a)) for a in alerts]


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge_alert(request: Request, scope: Principal, alert_id: ObjectId) -> AlertOut:
    require(scope, perms.TENANT_MANAGE)
    a = runtime_of(request).monitor.alerts.acknowledge(scope.tenant, alert_id, scope.principal)
    return AlertOut(**_fields(AlertOut, a))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve_alert(request: Request, scope: Principal, alert_id: ObjectId) -> AlertOut:
    require(scope, perms.TENANT_MANAGE)
    a = runtime_of(request).monitor.alerts.resolve(scope.tenant, alert_id, scope.principal)
    return AlertOut(**_fields(AlertOut, a))


@router.get("/fraud-reports", response_model=list[FraudReportOut])
def list_fraud_reports(
    request: Request,
    scope: Principal,
    status: Literal["open", "reviewed", "closed"] | None = "open",
) -> list[FraudReportOut]:
    """Customers' scam reports; their text is customer content (needs messages:read)."""
    require(scope, perms.AUDIT_READ)
    require(scope, perms.MESSAGES_READ)
    reports = runtime_of(request).monitor.fraud.list(scope.tenant, status=status)
    return [FraudReportOut(**_fields(FraudReportOut, r)) for r in reports]


@router.post("/fraud-reports/{report_id}/status", status_code=204)
def set_fraud_report_status(
    request: Request, scope: Principal, report_id: ObjectId, body: FraudStatusIn
) -> None:
    require(scope, perms.TENANT_MANAGE)
    runtime_of(request).monitor.fraud.set_status(
        scope.tenant, report_id, body.status, scope.principal
    )


@router.get("/contact-controls", response_model=list[ControlOut])
def list_controls(request: Request, scope: Principal) -> list[ControlOut]:
    require(scope, perms.AUDIT_READ)
    controls = runtime_of(request).monitor.controls.list(scope.tenant)
    return [ControlOut(**_fields(ControlOut, c)) for c in controls]


@router.put("/contact-controls/{contact_ix}", response_model=ControlOut)
def set_control(request: Request, scope: Principal, contact_ix: str, body: ControlIn) -> ControlOut:
    require(scope, perms.TENANT_MANAGE)
    _existing_contact(request, scope, contact_ix)
    controls = runtime_of(request).monitor.controls
    if body.mode == "throttled":
        c = controls.throttle(
            scope.tenant,
            contact_ix,
            actor=scope.principal,
            reason=body.reason,
            seconds=body.seconds or 3600,
        )
    else:
        c = controls.quarantine(
            scope.tenant,
            contact_ix,
            actor=scope.principal,
            reason=body.reason,
            seconds=body.seconds,
        )
    return ControlOut(**_fields(ControlOut, c))


@router.delete("/contact-controls/{contact_ix}", response_model=ControlOut)
def release_control(request: Request, scope: Principal, contact_ix: str) -> ControlOut:
    require(scope, perms.TENANT_MANAGE)
    _existing_contact(request, scope, contact_ix)
    c = runtime_of(request).monitor.controls.release(
        scope.tenant, contact_ix, actor=scope.principal
    )
    return ControlOut(**_fields(ControlOut, c))
