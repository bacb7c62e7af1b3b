"""The NLU test box: which intent and entities a bot finds in a sentence typed by staff."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from aman.accounts import permissions as perms
from aman.accounts.scope import require
from aman.api.v1.deps import Principal, runtime_of
from aman.api.v1.flows import flow_bots
from aman.api.v1.problems import Problem
from aman.nlu import NluError, NluResult, load_bot_nlu, mask_account

__all__ = ["router"]

router = APIRouter(prefix="/nlu", tags=["flows"])

_LONG_NUMBER = re.compile(r"\d{7,}")


class PredictIn(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    bot: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="bot name; the first running flow bot when omitted",
    )


class EntityOut(BaseModel):
    kind: str
    value: str
    start: int
    end: int
    text: str


class PredictOut(BaseModel):
    bot: str
    intent: str
    confidence: float
    threshold: float
    normalized: str
    entities: list[EntityOut]


def _entity_value(value: Decimal | str, masked: str | None) -> str:
    if masked is not None:
        return masked  # account numbers are never echoed in full
    return str(value)


def _out(bot: str, threshold: float, result: NluResult) -> PredictOut:
    return PredictOut(
        bot=bot,
        intent=result.prediction.intent,
        confidence=round(float(result.prediction.confidence), 4),
        threshold=threshold,
        normalized=_LONG_NUMBER.sub(lambda m: mask_account(m.group(0)), result.normalized),
        entities=[
            EntityOut(
                kind=str(e.kind),
                value=_entity_value(e.value, e.masked),
                start=e.start,
                end=e.end,
                text=e.masked if e.masked is not None else e.text,
            )
            for e in result.entities
        ],
    )


@router.post("/predict", response_model=PredictOut)
async def predict(request: Request, scope: Principal, body: PredictIn) -> PredictOut:
    """Intent (``fallback`` below the bot's threshold), confidence and entities of ``text``."""
    require(scope, perms.ANALYTICS_READ)
    runtime = runtime_of(request)
    if scope.tenant != runtime.settings.tenant:
        raise Problem(404, "not found")
    bots = flow_bots(runtime)
    if body.bot is None:
        running = [name for name, (_bot, live) in bots.items() if live]
        name = running[0] if running else next(iter(bots), "")
    else:
        name = body.bot
    if name not in bots:
        raise Problem(404, "not found", f"no flow bot {name!r}")
    directory = bots[name][0].spec.directory

    def run() -> PredictOut:
        model = load_bot_nlu(directory)
        return _out(name, model.threshold, model.parse(body.text, now=datetime.now(UTC)))

    try:
        return await run_in_threadpool(run)
    except NluError as exc:
        raise Problem(422, "invalid request", str(exc)) from None
