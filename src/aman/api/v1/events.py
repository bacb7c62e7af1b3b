"""Live inbox updates as server-sent events, and a conversation's outbound side and contact.

``GET /events`` streams ``snapshot``, ``handoff``, ``closed``, ``message`` and
``outbound`` events for the conversations the caller may see (ids, states and
timestamps only; never message bodies).  The database is polled once a second
per connection.  Each response lasts at most ``STREAM_SECONDS`` and then ends;
browsers reconnect by themselves and send ``Last-Event-ID``, from which the
next response resumes, so nothing is lost, the caller is re-authenticated on
every reconnect (revocation takes effect within seconds), and a server
shutdown never waits long for an open console.  The stream is not in the
OpenAPI document: OpenAPI cannot describe an event stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from aman.accounts import permissions as perms
from aman.accounts.scope import TenantScope, require, visibility
from aman.api.v1.deps import Principal, runtime_of
from aman.api.v1.problems import Problem
from aman.campaigns.phone import mask_number
from aman.console import repository as repo
from aman.console.feed import FeedEvent, LiveFeed, parse_event_id
from aman.inbox.team import ConversationSummary
from aman.runtime import Runtime

__all__ = ["POLL_SECONDS", "STREAM_SECONDS", "router", "sse_frame"]

router = APIRouter(tags=["conversations"])

POLL_SECONDS = 1.0
STREAM_SECONDS = 15.0
RETRY_MS = 1000


def sse_frame(event: FeedEvent, event_id: str) -> bytes:
    """One event in the text/event-stream wire format (JSON data on one line)."""
    data = orjson.dumps(event.data).decode()
    return f"event: {event.name}\nid: {event_id}\ndata: {data}\n\n".encode()


@router.get("/events", include_in_schema=False)
async def events(request: Request, scope: Principal) -> StreamingResponse:
    """Server-sent events for the team inbox (see the module docstring)."""
    visibility(scope)  # 403 when the caller may not list conversations at all
    runtime = runtime_of(request)
    feed = LiveFeed(runtime.engine, runtime.team, scope)
    resume = parse_event_id(request.headers.get("last-event-id"))
    first = await run_in_threadpool(feed.prime, resume)

    async def stream() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        for event in first:
            yield sse_frame(event, feed.event_id)
        deadline = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < deadline:
            await anyio.sleep(POLL_SECONDS)
            for event in await run_in_threadpool(feed.poll):
                yield sse_frame(event, feed.event_id)
            yield b": tick\n\n"
        yield sse_frame(FeedEvent("bye", {"reconnect_ms": RETRY_MS}), feed.event_id)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class OutboundOut(BaseModel):
    ref: str
    created_at: float
    sent_at: float | None
    state: str
    status: str | None
    error_code: int | None
    type: str
    text: str | None
    choices: list[str]


class ContactOut(BaseModel):
    conversation: str
    name: str | None
    number: str
    opted_out: bool
    first_seen_at: float
    last_inbound_at: float


def _resource(scope: TenantScope, conv: ConversationSummary) -> dict[str, Any]:
    return {
        "tenant": scope.tenant,
        "assigned_user": conv.assigned_user_id,
        "assigned_team": conv.assigned_team,
    }


def _describe(body: dict[str, Any]) -> tuple[str, str | None, list[str]]:
    """(type, text, choice titles) of a stored outbound Cloud API body."""
    inner = body.get("msg")
    msg: dict[str, Any] = inner if isinstance(inner, dict) else body
    kind = str(msg.get("type") or "unknown")
    if kind == "text":
        return kind, str((msg.get("text") or {}).get("body", "")), []
    if kind == "interactive":
        inter = msg.get("interactive") or {}
        text = str((inter.get("body") or {}).get("text", "")) or None
        action = inter.get("action") or {}
        titles = [str((b.get("reply") or {}).get("title", "")) for b in action.get("buttons", [])]
        for section in action.get("sections", []):
            titles.extend(str(r.get("title", "")) for r in section.get("rows", []))
        return kind, text, titles
    if kind == "template":
        tpl = msg.get("template") or {}
        return kind, f"[{tpl.get('name', 'template')}]", []
    return kind, None, []


def _outbound(runtime: Runtime, scope: TenantScope, conv_id: str, limit: int) -> list[OutboundOut]:
    conv = runtime.team.get(scope, conv_id)
    require(scope, perms.MESSAGES_READ, _resource(scope, conv))
    ix = conv_id.partition(".")[2]
    with runtime.engine.connect() as conn:
        rows = repo.outbound_rows(conn, scope, conv.phone_number_id, ix, limit)
    out = []
    for row in rows:
        m = row.mark
        body = runtime.vault.open_json("outbox", "body", m.ref, row.body_enc)
        kind, text, choices = _describe(body if isinstance(body, dict) else {})
        out.append(
            OutboundOut(
                ref=m.ref,
                created_at=m.created_at,
                sent_at=m.sent_at,
                state=m.state,
                status=m.delivery_status,
                error_code=m.error_code,
                type=kind,
                text=text,
                choices=choices,
            )
        )
    runtime.audit.record(
        runtime.engine,
        tenant=scope.tenant,
        actor=scope.principal,
        action="conversation_read",
        target=f"conversation:{ix[:12]}",
        details={"outbound": len(out)},
    )
    return out


@router.get("/conversations/{conv_id}/outbound", response_model=list[OutboundOut])
def outbound(
    request: Request,
    scope: Principal,
    conv_id: str,
    limit: int = Query(default=50, ge=1, le=200),
) -> list[OutboundOut]:
    """What the bot and agents sent in a conversation, with delivery status (oldest first)."""
    return _outbound(runtime_of(request), scope, conv_id, limit)


@router.get("/conversations/{conv_id}/contact", response_model=ContactOut)
def contact(request: Request, scope: Principal, conv_id: str) -> ContactOut:
    """The customer behind a conversation, number masked; the view is audited."""
    runtime = runtime_of(request)
    conv = runtime.team.get(scope, conv_id)
    require(scope, perms.CONTACTS_READ, _resource(scope, conv))
    ix = conv_id.partition(".")[2]
    with runtime.engine.connect() as conn:
        row = repo.contact(conn, scope, ix)
    if row is None:
        raise Problem(404, "not found")
    vault = runtime.vault
    number = vault.open("contacts", "wa_id", ix, row.wa_id_enc).decode()
    name = vault.open("contacts", "name", ix, row.name_enc).decode() if row.name_enc else None
    runtime.audit.record(
        runtime.engine,
        tenant=scope.tenant,
        actor=scope.principal,
        action="contact_viewed",
        target=f"conversation:{ix[:12]}",
        details={},
    )
    return ContactOut(
        conversation=conv_id,
        name=name,
        number=mask_number(number),
        opted_out=row.opted_out,
        first_seen_at=row.created_at,
        last_inbound_at=row.last_inbound_at,
    )
