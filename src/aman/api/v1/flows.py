"""Conversation flows of the running bots: list them, draw one, switch one off or on, check YAML.

The bots listed are the YAML flow bots this server runs plus the packaged
examples (``bank``, ``shop``).  ``POST /flows/check`` validates a bot folder
with some files replaced by the caller's text, in a temporary copy: it never
changes the running bot and never imports code the server has not already
loaded (a handler must name a module that is in use).  ``POST
/flows/{bot}/{flow}/disable`` and ``/enable`` (admins) switch a flow of a running
bot off or on for the tenant (engine/flows/switches.py; audited).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from aman.accounts import permissions as perms
from aman.accounts.scope import TenantScope, require
from aman.api.v1.deps import Principal, runtime_of
from aman.api.v1.problems import Problem
from aman.console.diagram import flow_diagram
from aman.engine.bot import Bot
from aman.engine.builtin import load_builtin_bot
from aman.engine.flows import FlowBot, FlowLoadError, inspect_bot
from aman.engine.flows.yamlsrc import load_yaml_text
from aman.engine.router import BotRouter
from aman.runtime import Runtime

__all__ = ["flow_bots", "router"]

router = APIRouter(prefix="/flows", tags=["flows"])

EXAMPLES = ("shop", "bank")
MAX_FILE_CHARS = 256 * 1024
_FILE_NAME = re.compile(r"^(?:bot\.yaml|nlu\.yaml|flows/[A-Za-z0-9_-]{1,64}\.ya?ml)$")


def _running(root: Bot) -> list[Bot]:
    """The bots behind the runtime's bot: through wrappers (``.inner``) and routers."""
    inner: Any = getattr(root, "inner", None)
    while inner is not None and callable(getattr(inner, "handle", None)):
        root, inner = inner, getattr(inner, "inner", None)
    return list(root.bots()) if isinstance(root, BotRouter) else [root]


def flow_bots(runtime: Runtime) -> dict[str, tuple[FlowBot, bool]]:
    """name -> (bot, runs on this server) for the YAML bots the console can show."""
    found: dict[str, tuple[FlowBot, bool]] = {}
    for bot in _running(runtime.bot):
        if isinstance(bot, FlowBot):
            found.setdefault(bot.name, (bot, True))
    for name in EXAMPLES:
        example = load_builtin_bot(name)
        if isinstance(example, FlowBot):
            found.setdefault(example.name, (example, False))
    return found


def _own_tenant(runtime: Runtime, scope: TenantScope) -> None:
    if scope.tenant != runtime.settings.tenant:
        raise Problem(404, "not found")  # the bots belong to this server's tenant


class TriggerOut(BaseModel):
    kind: str
    value: str


class FlowOut(BaseModel):
    name: str
    file: str
    line: int
    steps: int
    enabled: bool
    triggers: list[TriggerOut]


class FlowSwitchOut(BaseModel):
    bot: str
    flow: str
    enabled: bool
    changed: bool


class BotOut(BaseModel):
    name: str
    running: bool
    languages: list[str]
    threshold: float | None
    flows: list[FlowOut]


class NodeOut(BaseModel):
    id: str
    step: str
    kind: str
    label: str
    line: int
    x: int
    y: int
    w: int
    h: int


class EdgeOut(BaseModel):
    model_config = {"populate_by_name": True}
    source: str = Field(alias="from")
    to: str
    label: str
    kind: str
    points: list[list[int]]
    label_at: list[int]


class DiagramOut(BaseModel):
    flow: str
    file: str
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    width: int
    height: int


class CheckIn(BaseModel):
    bot: str = Field(min_length=1, max_length=64)
    files: dict[str, str] = Field(
        default_factory=dict,
        max_length=20,
        description="bot-relative file name (bot.yaml, nlu.yaml, flows/NAME.yaml) -> new text",
    )


class ProblemOut(BaseModel):
    file: str
    line: int
    step: str
    code: str
    message: str


class CheckOut(BaseModel):
    ok: bool
    bot: str
    flows: int
    steps: int
    problems: list[ProblemOut]


def _trigger(t: Any) -> TriggerOut:
    value = t.value or ", ".join(w for words in t.words.values() for w in words)
    return TriggerOut(kind=t.kind, value=value[:200])


@router.get("", response_model=list[BotOut])
def list_flows(request: Request, scope: Principal) -> list[BotOut]:
    """Every flow bot with its flows, steps and triggers."""
    require(scope, perms.ANALYTICS_READ)
    runtime = runtime_of(request)
    _own_tenant(runtime, scope)
    out = []
    for name, (bot, running) in sorted(flow_bots(runtime).items()):
        spec = bot.spec
        off = runtime.flow_switches.disabled(scope.tenant, name) if running else frozenset()
        flows = [
            FlowOut(
                name=f.name,
                file=f.file,
                line=f.line,
                steps=len(f.steps),
                enabled=f.name not in off,
                triggers=[_trigger(t) for t in f.triggers],
            )
            for f in sorted(spec.flows.values(), key=lambda f: f.name)
        ]
        out.append(
            BotOut(
                name=name,
                running=running,
                languages=list(spec.config.languages),
                threshold=spec.config.threshold,
                flows=flows,
            )
        )
    return out


@router.get("/{bot}/{flow}", response_model=DiagramOut)
def diagram(
    request: Request,
    scope: Principal,
    bot: str,
    flow: str,
    lang: str = Query(default="id", pattern=r"^[a-z]{2}$"),
) -> DiagramOut:
    """One flow laid out as a diagram (coordinates and labels for the console to draw)."""
    require(scope, perms.ANALYTICS_READ)
    runtime = runtime_of(request)
    _own_tenant(runtime, scope)
    found = flow_bots(runtime).get(bot)
    spec_flow = found[0].spec.flows.get(flow) if found else None
    if spec_flow is None:
        raise Problem(404, "not found")
    return DiagramOut.model_validate(flow_diagram(spec_flow, lang).to_json())


def _switch(
    request: Request, scope: TenantScope, bot: str, flow: str, enabled: bool
) -> FlowSwitchOut:
    require(scope, perms.TENANT_MANAGE)
    runtime = runtime_of(request)
    _own_tenant(runtime, scope)
    found = flow_bots(runtime).get(bot)
    if found is None or not found[1] or flow not in found[0].spec.flows:
        raise Problem(404, "not found")  # only flows of bots this server runs
    if not enabled and flow == found[0].spec.config.fallback_flow:
        raise Problem(
            409,
            "conflict",
            "the fallback flow answers what nothing else does; it cannot be switched off",
        )
    changed = runtime.flow_switches.set_enabled(scope, bot, flow, enabled)
    return FlowSwitchOut(bot=bot, flow=flow, enabled=enabled, changed=changed)


@router.post("/{bot}/{flow}/disable", response_model=FlowSwitchOut)
def disable_flow(request: Request, scope: Principal, bot: str, flow: str) -> FlowSwitchOut:
    """Switch a flow off for the tenant (admins): no trigger, command or schedule starts it.

    Applies to the next message in this process and within seconds in the others;
    conversations already inside the flow finish it.  Audited.
    """
    return _switch(request, scope, bot, flow, False)


@router.post("/{bot}/{flow}/enable", response_model=FlowSwitchOut)
def enable_flow(request: Request, scope: Principal, bot: str, flow: str) -> FlowSwitchOut:
    """Switch a flow back on for the tenant (admins).  Audited."""
    return _switch(request, scope, bot, flow, True)


def _handler_modules(value: Any, seen: set[int]) -> set[str]:
    """Module names of every ``call: module:function`` in a parsed YAML document."""
    if id(value) in seen:
        return set()
    seen.add(id(value))
    out: set[str] = set()
    if isinstance(value, dict):
        for key in ("call", "handler"):  # handler: {call: "m:f"} or the short handler: "m:f"
            call = value.get(key)
            if isinstance(call, str) and ":" in call:
                out.add(call.partition(":")[0].strip())
        for item in value.values():
            out |= _handler_modules(item, seen)
    elif isinstance(value, list):
        for item in value:
            out |= _handler_modules(item, seen)
    return out


def _check(directory: Path, files: dict[str, str]) -> tuple[Any, list[Any]]:
    early: list[Any] = []
    for name, text in files.items():
        try:
            doc, _found = load_yaml_text(text, name)
        except FlowLoadError as exc:
            early.extend(exc.problems)
            continue
        for module in sorted(_handler_modules(doc, set())):
            if module not in sys.modules:
                early.append(
                    ProblemOut(
                        file=name,
                        line=0,
                        step="",
                        code="handler",
                        message=f"module {module!r} is not loaded by this "
                        "server; check it with 'aman flows check'",
                    )
                )
    if early:
        return None, early
    with tempfile.TemporaryDirectory(prefix="aman-flows-check-") as tmp:
        copy = Path(tmp) / directory.name
        shutil.copytree(directory, copy)
        for name, text in files.items():
            (copy / name).write_text(text, encoding="utf-8")
        try:
            spec, problems = inspect_bot(copy)
        except FlowLoadError as exc:
            spec, problems = None, list(exc.problems)
    return spec, problems


@router.post("/check", response_model=CheckOut)
async def check(request: Request, scope: Principal, body: CheckIn) -> CheckOut:
    """Validate a bot with some files replaced; problems name file, line and step."""
    require(scope, perms.TENANT_MANAGE)
    runtime = runtime_of(request)
    _own_tenant(runtime, scope)
    found = flow_bots(runtime).get(body.bot)
    if found is None:
        raise Problem(404, "not found", f"no flow bot {body.bot!r}")
    for name, text in body.files.items():
        if not _FILE_NAME.match(name):
            raise Problem(
                422,
                "invalid request",
                f"{name!r}: file names are bot.yaml, nlu.yaml or flows/NAME.yaml",
            )
        if len(text) > MAX_FILE_CHARS:
            raise Problem(422, "invalid request", f"{name}: more than {MAX_FILE_CHARS} characters")
    spec, problems = await run_in_threadpool(_check, found[0].spec.directory, body.files)
    listed = [
        p
        if isinstance(p, ProblemOut)
        else ProblemOut(file=p.file, line=p.line, step=p.step, code=p.code, message=p.message)
        for p in problems
    ]
    return CheckOut(
        ok=not listed and spec is not None,
        bot=body.bot,
        flows=len(spec.flows) if spec is not None else 0,
        steps=sum(len(f.steps) for f in spec.flows.values()) if spec is not None else 0,
        problems=listed,
    )
