"""Templates, segments, broadcasts and analytics of the deployment's tenant."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Row, select
from starlette.requests import Request

from aman.accounts import permissions as perms
from aman.accounts.scope import TenantScope, can, require, scoped
from aman.analytics.service import analytics_report
from aman.api.v1.deps import MAX_ID, ObjectId, Principal, runtime_of
from aman.api.v1.problems import Problem
from aman.campaigns.broadcasts import RECIPIENT_STATUSES, CampaignService
from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import CampaignInputError
from aman.campaigns.models import CampaignRow, SegmentRow
from aman.campaigns.schedule import zone
from aman.campaigns.segments import SegmentService
from aman.campaigns.settings import CampaignSettings, SettingsService
from aman.campaigns.templates import Template, TemplateRegistry
from aman.guard.outbound import OutboundBlocked

__all__ = ["router"]

router = APIRouter(tags=["campaigns"])
JAKARTA = ZoneInfo("Asia/Jakarta")


def _ctx(request: Request, scope: TenantScope) -> CampaignContext:
    """The campaign context of the runtime's tenant; other tenants see nothing (404)."""
    runtime = runtime_of(request)
    if scope.tenant != runtime.vault.tenant:
        raise Problem(404, "not found")
    return CampaignContext(runtime.engine, runtime.vault, runtime.audit)


class TemplateButtonOut(BaseModel):
    type: str
    text: str | None = None
    url: str | None = None
    phone_number: str | None = None


class TemplateComponentOut(BaseModel):
    """One part of a template as registered: HEADER, BODY, FOOTER or BUTTONS."""

    type: str
    format: str | None = Field(default=None, description="HEADER only: TEXT, IMAGE, VIDEO…")
    text: str | None = None
    buttons: list[TemplateButtonOut] = Field(default_factory=list)


class SlotOut(BaseModel):
    """A variable the broadcast must fill: ``variables[key]`` lists values in slot order."""

    key: str = Field(description="header, body or button:<index>")
    component: str
    index: int
    name: str = Field(description="1, 2… (positional) or the named parameter")
    kind: str = Field(description="text, image, video, document or coupon_code")
    sub_type: str


class TemplateOut(BaseModel):
    id: int
    name: str
    language: str
    category: str
    status: str
    quality: str
    usable: bool
    reason: str | None
    components: list[TemplateComponentOut]
    slots: list[SlotOut]


class SegmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    rules: dict[str, Any]
    kind: str = Field(default="dynamic", pattern="^(dynamic|static)$")


class SegmentOut(BaseModel):
    id: int
    name: str
    kind: str
    rules: dict[str, Any]
    size: int | None
    snapshot_at: float | None


class PreviewIn(BaseModel):
    rules: dict[str, Any]


class CountOut(BaseModel):
    count: int


class BroadcastIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    segment_id: int = Field(ge=1, le=MAX_ID)
    template: str | None = Field(default=None, max_length=512)
    language: str = Field(default="id", max_length=16)
    variables: dict[str, Any] | None = None
    text: str | None = Field(default=None, max_length=4096)
    run_at: float | None = None
    cron: str | None = Field(default=None, max_length=100)


class RunOut(BaseModel):
    id: int
    state: str
    scheduled_for: float
    hold_reason: str | None
    queued: int
    excluded: int


class BroadcastOut(BaseModel):
    id: int
    name: str
    state: str
    category: str
    next_run_at: float | None
    total: int
    queued: int
    excluded: int
    statuses: dict[str, int] = Field(description="Recipients per status (all runs)")
    error_codes: dict[str, int]
    excluded_reasons: dict[str, int] = Field(description="Excluded recipients per reason")
    hold_reason: str | None = Field(
        description="Why the latest run is held (paused, quiet_hours, template_paused…)"
    )
    runs: list[RunOut]


class RecipientOut(BaseModel):
    contact_id: int
    number_masked: str | None = Field(description="None: the contact was merged or erased")
    status: str
    reason: str | None
    error_code: int | None


class RecipientPageOut(BaseModel):
    run_id: int | None
    items: list[RecipientOut]
    next_cursor: int | None = Field(description="Pass as cursor for more; None: the end")


_QUIET = r"^(off|([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9])$"


class CampaignSettingsIn(BaseModel):
    tz: str = Field(min_length=1, max_length=64, description="IANA time zone, e.g. Asia/Jakarta")
    quiet_hours: str = Field(
        pattern=_QUIET, description="No marketing between these times (HH:MM-HH:MM) or off"
    )
    tier_limit: Literal[250, 2000, 10000, 100000] | None = Field(
        description="Unique business-initiated recipients per rolling 24 h; null: unlimited"
    )
    frequency_cap_hours: float = Field(
        ge=0, le=24 * 90, description="No contact gets two campaigns within this many hours"
    )


class CampaignSettingsOut(BaseModel):
    tz: str
    quiet_hours: str | None = Field(description="HH:MM-HH:MM, or null when off")
    tier_limit: int | None
    frequency_cap_hours: float


def _component(comp: dict[str, Any]) -> TemplateComponentOut:
    buttons = [b for b in comp.get("buttons") or () if isinstance(b, dict)]
    return TemplateComponentOut(
        type=str(comp.get("type", "")),
        format=comp.get("format") if isinstance(comp.get("format"), str) else None,
        text=comp.get("text") if isinstance(comp.get("text"), str) else None,
        buttons=[
            TemplateButtonOut(
                type=str(b.get("type", "")).upper(),
                **{k: str(b[k]) for k in ("text", "url", "phone_number") if b.get(k)},
            )
            for b in buttons
        ],
    )


def _template(t: Template) -> TemplateOut:
    return TemplateOut(
        id=t.id,
        name=t.name,
        language=t.language,
        category=t.category,
        status=t.status,
        quality=t.quality,
        usable=t.usable,
        reason=t.reason,
        components=[_component(c) for c in t.components],
        slots=[
            SlotOut(
                key=s.key,
                component=s.component,
                index=s.index,
                name=s.name,
                kind=s.kind,
                sub_type=s.sub_type,
            )
            for s in t.slots
        ],
    )


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(request: Request, scope: Principal) -> list[TemplateOut]:
    """Templates of the registry with their parts and variable slots (read-only)."""
    require(scope, perms.CAMPAIGNS_WRITE)
    return [_template(t) for t in TemplateRegistry(_ctx(request, scope)).list()]


def _segment(s: Any) -> SegmentOut:
    return SegmentOut(
        id=s.id, name=s.name, kind=s.kind, rules=s.rules, size=s.size, snapshot_at=s.snapshot_at
    )


class BroadcastSummary(BaseModel):
    id: int
    name: str
    state: str
    category: str
    next_run_at: float | None
    created_at: float


ListLimit = Annotated[int, Query(ge=1, le=500)]


def _newest(request: Request, scope: TenantScope, model: Any, limit: int) -> Sequence[Row[Any]]:
    """The tenant's newest ``limit`` rows of ``model`` (a campaigns table with ``id``)."""
    require(scope, perms.CAMPAIGNS_WRITE)
    ctx = _ctx(request, scope)
    stmt = scoped(select(model), model, scope).order_by(model.id.desc()).limit(limit)
    with ctx.engine.connect() as conn:
        return conn.execute(stmt).all()


@router.get("/segments", response_model=list[SegmentOut])
def list_segments(request: Request, scope: Principal, limit: ListLimit = 100) -> list[SegmentOut]:
    """Segments of the tenant, newest first."""
    return [
        SegmentOut(
            id=r.id,
            name=r.name,
            kind=r.kind,
            rules=json.loads(r.rules),
            size=r.size,
            snapshot_at=r.snapshot_at,
        )
        for r in _newest(request, scope, SegmentRow, limit)
    ]


@router.get("/broadcasts", response_model=list[BroadcastSummary])
def list_broadcasts(
    request: Request, scope: Principal, limit: ListLimit = 100
) -> list[BroadcastSummary]:
    """Broadcasts of the tenant, newest first (progress per broadcast: GET /broadcasts/{id})."""
    return [
        BroadcastSummary.model_validate(r, from_attributes=True)
        for r in _newest(request, scope, CampaignRow, limit)
    ]


@router.post("/segments", response_model=SegmentOut, status_code=201)
def create_segment(request: Request, scope: Principal, body: SegmentIn) -> SegmentOut:
    require(scope, perms.CAMPAIGNS_WRITE)
    service = SegmentService(_ctx(request, scope))
    return _segment(service.create(scope.principal, body.name, body.rules, kind=body.kind))


@router.get("/segments/{segment_id}", response_model=SegmentOut)
def get_segment(request: Request, scope: Principal, segment_id: ObjectId) -> SegmentOut:
    require(scope, perms.CAMPAIGNS_WRITE)
    return _segment(SegmentService(_ctx(request, scope)).get(segment_id))


@router.post("/segments/preview", response_model=CountOut)
def preview_segment(request: Request, scope: Principal, body: PreviewIn) -> CountOut:
    """How many contacts the rules select right now (aggregate only)."""
    require(scope, perms.CAMPAIGNS_WRITE)
    return CountOut(count=SegmentService(_ctx(request, scope)).preview(body.rules))


def _broadcast(service: CampaignService, campaign_id: ObjectId) -> BroadcastOut:
    st = service.status(campaign_id)
    statuses: dict[str, int] = {}
    codes: dict[str, int] = {}
    reasons: dict[str, int] = {}
    queued = excluded = 0
    for run in st.runs:
        queued += run.queued
        excluded += run.excluded
        for k, v in run.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
        for code, n in run.error_codes.items():
            codes[str(code)] = codes.get(str(code), 0) + n
        for reason, n in run.excluded_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
    return BroadcastOut(
        id=st.id,
        name=st.name,
        state=st.state,
        category=st.category,
        next_run_at=st.next_run_at,
        total=queued,
        queued=queued,
        excluded=excluded,
        statuses=statuses,
        error_codes=codes,
        excluded_reasons=reasons,
        hold_reason=st.runs[-1].hold_reason if st.runs else None,
        runs=[
            RunOut(
                id=r.id,
                state=r.state,
                scheduled_for=r.scheduled_for,
                hold_reason=r.hold_reason,
                queued=r.queued,
                excluded=r.excluded,
            )
            for r in st.runs
        ],
    )


@router.post("/broadcasts", response_model=BroadcastOut, status_code=201)
def create_broadcast(request: Request, scope: Principal, body: BroadcastIn) -> BroadcastOut:
    """Create a broadcast to a segment and schedule it (now, at ``run_at`` or by ``cron``).

    A text, template or variable value the outbound guard blocks (a link outside the
    allow-listed domains, a request for a PIN or OTP, a full account number) is refused
    with 422 and the violation codes; the refusal is audited (``campaign_blocked``).
    """
    require(scope, perms.CAMPAIGNS_WRITE)
    runtime = runtime_of(request)
    service = CampaignService(_ctx(request, scope), allowed_domains=runtime.allowed_domains())
    template = (body.template, body.language) if body.template else None
    try:
        campaign_id = service.create(
            scope.principal,
            name=body.name,
            segment_id=body.segment_id,
            phone_number_id=runtime.settings.phone_number_id,
            template=template,
            variables=body.variables,
            text=body.text,
        )
        service.start(scope.principal, campaign_id, at=body.run_at, cron=body.cron)
    except OutboundBlocked as exc:
        raise Problem(
            422,
            "message blocked by the outbound guard",
            "; ".join(v.message for v in exc.violations),
            violations=[v.code for v in exc.violations],
        ) from None
    return _broadcast(service, campaign_id)


@router.get("/broadcasts/{campaign_id}", response_model=BroadcastOut)
def get_broadcast(request: Request, scope: Principal, campaign_id: ObjectId) -> BroadcastOut:
    require(scope, perms.CAMPAIGNS_WRITE)
    return _broadcast(CampaignService(_ctx(request, scope)), campaign_id)


@router.get("/broadcasts/{campaign_id}/recipients", response_model=RecipientPageOut)
def list_recipients(
    request: Request,
    scope: Principal,
    campaign_id: ObjectId,
    state: Literal[RECIPIENT_STATUSES] | None = Query(  # type: ignore[valid-type]
        default=None, description="Only recipients in this status"
    ),
    cursor: int = Query(default=0, ge=0, le=MAX_ID, description="next_cursor of the last page"),
    limit: int = Query(default=100, ge=1, le=500),
    run: int | None = Query(default=None, ge=1, le=MAX_ID, description="Default: latest run"),
) -> RecipientPageOut:
    """Per-recipient results of a run, by contact id; numbers masked.

    At most 5,000 recipients are examined per request, so a filtered page can be short
    (even empty) while ``next_cursor`` is set: follow it until it is null.
    """
    require(scope, perms.CAMPAIGNS_WRITE)
    page = CampaignService(_ctx(request, scope)).recipient_page(
        campaign_id, run_id=run, status=state, after=cursor, limit=limit
    )
    return RecipientPageOut(
        run_id=page.run_id,
        items=[
            RecipientOut(
                contact_id=r.contact_id,
                number_masked=r.number_masked,
                status=r.status,
                reason=r.reason,
                error_code=r.error_code,
            )
            for r in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.post("/broadcasts/{campaign_id}/pause", response_model=BroadcastOut)
def pause_broadcast(request: Request, scope: Principal, campaign_id: ObjectId) -> BroadcastOut:
    require(scope, perms.CAMPAIGNS_WRITE)
    service = CampaignService(_ctx(request, scope))
    service.pause(scope.principal, campaign_id)
    return _broadcast(service, campaign_id)


@router.post("/broadcasts/{campaign_id}/resume", response_model=BroadcastOut)
def resume_broadcast(request: Request, scope: Principal, campaign_id: ObjectId) -> BroadcastOut:
    require(scope, perms.CAMPAIGNS_WRITE)
    service = CampaignService(_ctx(request, scope))
    service.resume(scope.principal, campaign_id)
    return _broadcast(service, campaign_id)


@router.post("/broadcasts/{campaign_id}/cancel", response_model=BroadcastOut)
def cancel_broadcast(request: Request, scope: Principal, campaign_id: ObjectId) -> BroadcastOut:
    require(scope, perms.CAMPAIGNS_WRITE)
    service = CampaignService(_ctx(request, scope))
    service.cancel(scope.principal, campaign_id)
    return _broadcast(service, campaign_id)


@router.get("/campaign-settings", response_model=CampaignSettingsOut)
def get_campaign_settings(request: Request, scope: Principal) -> CampaignSettingsOut:
    """The tenant's broadcast policy (tenant:manage, or campaigns:write to plan broadcasts)."""
    if not can(scope, perms.CAMPAIGNS_WRITE):
        require(scope, perms.TENANT_MANAGE)
    return _settings(SettingsService(_ctx(request, scope)).get())


@router.put("/campaign-settings", response_model=CampaignSettingsOut)
def put_campaign_settings(
    request: Request, scope: Principal, body: CampaignSettingsIn
) -> CampaignSettingsOut:
    """Replace the broadcast policy: time zone, quiet hours, messaging tier, frequency cap.

    Audited (``campaign_settings``); an unknown time zone is refused with 422.
    """
    require(scope, perms.TENANT_MANAGE)
    try:
        zone(body.tz)
    except CampaignInputError as exc:
        raise Problem(422, "invalid request", str(exc), field="tz") from None
    new = SettingsService(_ctx(request, scope)).update(
        scope.principal,
        tz=body.tz,
        quiet_hours=body.quiet_hours,
        tier_limit=body.tier_limit,
        frequency_cap_hours=body.frequency_cap_hours,
    )
    return _settings(new)


def _settings(s: CampaignSettings) -> CampaignSettingsOut:
    d = s.to_dict()
    return CampaignSettingsOut(
        tz=s.tz,
        quiet_hours=d["quiet_hours"],
        tier_limit=s.tier_limit,
        frequency_cap_hours=s.frequency_cap_hours,
    )


@router.get("/analytics")
def analytics(
    request: Request,
    scope: Principal,
    from_: date | None = Query(default=None, alias="from"),
    to: date | None = Query(default=None),
) -> dict[str, Any]:
    """Aggregated figures for [from, to] (Asia/Jakarta days; default: the last 7 days)."""
    require(scope, perms.ANALYTICS_READ)
    runtime = runtime_of(request)
    ctx = _ctx(request, scope)
    today = datetime.now(JAKARTA).date()
    end_day = to or today
    start_day = from_ or end_day - timedelta(days=6)
    if start_day > end_day or (end_day - start_day).days > 366:
        raise Problem(422, "invalid request", "from must be before to, at most a year apart")
    start = datetime.combine(start_day, datetime.min.time(), JAKARTA).timestamp()
    end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), JAKARTA).timestamp()
    return analytics_report(runtime.engine, ctx.vault, start, end, now=time.time())
