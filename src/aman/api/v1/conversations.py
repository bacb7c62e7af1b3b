"""Team inbox endpoints: list handed-off conversations, read, reply, assign, close."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.requests import Request

from aman.api.v1.deps import MAX_ID, Principal, runtime_of
from aman.api.v1.problems import Problem
from aman.inbox.team import ConversationSummary

__all__ = ["router"]

router = APIRouter(prefix="/conversations", tags=["conversations"])


class ConversationOut(BaseModel):
    id: str
    phone_number_id: str
    mode: str
    handoff_reason: str | None
    handoff_at: float | None
    last_inbound_at: float | None
    assigned_user_id: int | None
    assigned_team: str | None


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class MessageOut(BaseModel):
    wamid: str
    ts: int
    type: str | None
    text: str | None


class ReplyIn(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    template: dict[str, Any] | None = None


class ReplyOut(BaseModel):
    ref: str


class AssignIn(BaseModel):
    user_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    team: str | None = Field(default=None, min_length=1, max_length=64)


def _out(c: ConversationSummary) -> ConversationOut:
    return ConversationOut(**{k: getattr(c, k) for k in ConversationOut.model_fields})


@router.get("", response_model=ConversationPage)
def list_conversations(
    request: Request,
    scope: Principal,
    mode: Literal["human", "bot", "all"] = "human",
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=200),
) -> ConversationPage:
    items = runtime_of(request).team.conversations(
        scope, mode=None if mode == "all" else mode, after=cursor, limit=limit
    )
    return ConversationPage(
        items=[_out(c) for c in items], next_cursor=items[-1].id if len(items) == limit else None
    )


@router.get("/{conv_id}", response_model=ConversationOut)
def get_conversation(request: Request, scope: Principal, conv_id: str) -> ConversationOut:
    return _out(runtime_of(request).team.get(scope, conv_id))


@router.get("/{conv_id}/messages", response_model=list[MessageOut])
def read_messages(
    request: Request,
    scope: Principal,
    conv_id: str,
    limit: int = Query(default=50, ge=1, le=200),
) -> list[MessageOut]:
    return [MessageOut(**m) for m in runtime_of(request).team.messages(scope, conv_id, limit)]


@router.post("/{conv_id}/reply", response_model=ReplyOut, status_code=202)
def reply(request: Request, scope: Principal, conv_id: str, body: ReplyIn) -> ReplyOut:
    if (body.text is None) == (body.template is None):
        raise Problem(422, "invalid request", "give exactly one of text or template")
    message: dict[str, Any] = (
        {"type": "text", "text": {"body": body.text}}
        if body.text is not None
        else {"type": "template", "template": body.template}
    )
    return ReplyOut(ref=runtime_of(request).team.reply(scope, conv_id, message))


@router.post("/{conv_id}/assign", status_code=204)
def assign(request: Request, scope: Principal, conv_id: str, body: AssignIn) -> None:
    runtime_of(request).team.assign(scope, conv_id, user_id=body.user_id, team=body.team)


@router.post("/{conv_id}/close", status_code=204)
def close(request: Request, scope: Principal, conv_id: str) -> None:
    runtime_of(request).team.close(scope, conv_id)
