"""Parse flow files into Flow objects: steps, targets and triggers, with located problems.

Every step is a mapping with ``id`` (optional), ``next`` (optional) and exactly one
step key (``send``, ``ask``, ``set``, ``tag``, ``untag``, ``condition``, ``http``,
``handler``, ``handoff``, ``wait``/``delay``, ``reminder``, ``verify``, ``audit``,
``goto``, ``call``, ``return``, ``end``); ``- end`` and ``- return`` may be bare words.
Targets are ``step`` (this flow), ``flow`` (its first step), ``flow.step``, ``end``
or ``return``.  Steps without ``id`` are named ``#1``, ``#2``... by position.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aman.engine.flows.conditions import compile_condition
from aman.engine.flows.model import (
    AskStep,
    AuditStep,
    CallStep,
    Choice,
    ConditionStep,
    EndStep,
    Flow,
    GotoStep,
    Predicate,
    ReturnStep,
    SendStep,
    SetStep,
    Step,
    TagStep,
    Target,
    WaitStep,
)
from aman.engine.flows.schema_actions import FlowOutline, StepParserBase
from aman.engine.flows.schema_send import LIMITS, SEND_KEYS, SchemaContext, parse_send
from aman.engine.flows.schema_triggers import parse_duration, parse_triggers
from aman.engine.flows.yamlsrc import YMap, line_of

__all__ = ["ASK_KINDS", "STEP_KEYS", "FlowOutline", "outline_flows", "parse_flow"]

STEP_KEYS = frozenset(
    {
        "send",
        "ask",
        "set",
        "tag",
        "untag",
        "condition",
        "http",
        "handler",
        "handoff",
        "wait",
        "delay",
        "reminder",
        "verify",
        "audit",
        "goto",
        "call",
        "return",
        "end",
    }
)
ASK_KINDS = frozenset(
    {
        "text",
        "number",
        "money",
        "date",
        "time",
        "datetime",
        "choice",
        "phone",
        "regex",
        "email",
        "account",
        "order_id",
        "image",
        "location",
    }
)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ASK_KEYS = (
    frozenset(
        {
            "type",
            "field",
            "choices",
            "choices_from",
            "min",
            "max",
            "pattern",
            "retry",
            "max_attempts",
            "on_fail",
            "prefill",
        }
    )
    | SEND_KEYS
)


def _step_id(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return str(raw["id"])
    return f"#{index + 1}"


def outline_flows(ctx: SchemaContext, doc: Any, default_name: str) -> list[FlowOutline]:
    """The flows in one file: a flow mapping, or ``flows: [...]`` of them."""
    if isinstance(doc, dict) and "flows" in doc and set(doc) == {"flows"}:
        items = doc["flows"]
        if not isinstance(items, list):
            ctx.err(line_of(doc, 1), "", "schema", "'flows' must be a list")
            return []
    else:
        items = [doc]
    out: list[FlowOutline] = []
    for item in items:
        if not isinstance(item, YMap):
            ctx.err(line_of(item, 1), "", "schema", "a flow must be a mapping with 'steps'")
            continue
        name = item.get("flow", default_name if len(items) == 1 else None)
        if not isinstance(name, str) or not _NAME.match(name):
            ctx.err(item.line, "", "schema", f"flow name {name!r} must be lower_snake_case")
            continue
        steps = item.get("steps")
        if not isinstance(steps, list) or not steps:
            ctx.err(item.line, name, "schema", "a flow needs a non-empty 'steps' list")
            continue
        ids = tuple(_step_id(s, i) for i, s in enumerate(steps))
        out.append(FlowOutline(name, ctx.file, item.line, item, ids))
    return out


class _FlowParser(StepParserBase):
    """Parses one flow: its steps (send, ask, set, tag, condition ...) in order."""

    # -- steps ---------------------------------------------------------------------
    def steps(self) -> tuple[Step, ...]:
        raw_steps = self.outline.raw["steps"]
        lines = getattr(raw_steps, "item_lines", [])
        out: list[Step] = []
        seen: set[str] = set()
        for i, raw in enumerate(raw_steps):
            line = lines[i] if i < len(lines) else self.outline.line
            sid = self.outline.step_ids[i]
            if sid in seen:
                self.ctx.err(line, self.where(sid), "schema", f"duplicate step id {sid!r}")
            seen.add(sid)
            if not sid.startswith("#") and (not _NAME.match(sid) or sid in ("end", "return")):
                self.ctx.err(line, self.where(sid), "schema", f"step id {sid!r} is not valid")
            step = self.step(raw, line, sid)
            if step is not None:
                out.append(step)
            else:
                out.append(EndStep(sid, line))  # placeholder keeps indexes aligned
        return tuple(out)

    def step(self, raw: Any, line: int, sid: str) -> Step | None:
        if raw in ("end", "return"):
            return EndStep(sid, line) if raw == "end" else ReturnStep(sid, line)
        if not isinstance(raw, dict):
            self.ctx.err(
                line, self.where(sid), "unknown_step", f"a step must be a mapping, got {raw!r}"
            )
            return None
        kinds = [k for k in raw if k in STEP_KEYS]
        extra = [k for k in raw if k not in STEP_KEYS and k not in ("id", "next")]
        if extra:
            self.ctx.err(
                line,
                self.where(sid),
                "unknown_step",
                f"unknown step type {extra[0]!r}; use one of {', '.join(sorted(STEP_KEYS))}",
            )
            return None
        if len(kinds) != 1:
            self.ctx.err(
                line, self.where(sid), "unknown_step", "a step needs exactly one step type"
            )
            return None
        kind = kinds[0]
        value = raw[kind]
        vline = raw.line_of(kind) if isinstance(raw, YMap) else line
        nxt = None
        if "next" in raw:
            nxt = self.target(
                raw["next"], raw.line_of("next") if isinstance(raw, YMap) else line, sid
            )
        w = self.where(sid)
        if kind == "send":
            spec = parse_send(self.ctx, value, vline, w)
            return SendStep(sid, line, spec, nxt) if spec is not None else None
        if kind == "ask":
            return self.ask(value, vline, sid, nxt)
        if kind == "set":
            if not isinstance(value, dict) or not value:
                self.ctx.err(vline, w, "schema", "'set' needs a mapping of field: value")
                return None
            for key in value:
                self.ctx.field_name(key, vline, w)
            return SetStep(sid, line, dict(value), (), nxt)
        if kind in ("tag", "untag"):
            tags = [value] if isinstance(value, str) else value
            if (
                not isinstance(tags, list)
                or not tags
                or not all(isinstance(t, str) and _NAME.match(t) for t in tags)
            ):
                self.ctx.err(vline, w, "schema", f"'{kind}' needs a tag name or a list of them")
                return None
            if kind == "tag":
                return TagStep(sid, line, tuple(tags), (), nxt)
            return TagStep(sid, line, (), tuple(tags), nxt)
        if kind == "condition":
            return self.condition(value, vline, sid)
        if kind == "http":
            return self.http(value, vline, sid, nxt)
        if kind == "handler":
            return self.handler(value, vline, sid, nxt)
        if kind == "handoff":
            return self.handoff(value, vline, sid)
        if kind in ("wait", "delay"):
            seconds = parse_duration(self.ctx, value, vline, w)
            return WaitStep(sid, line, seconds, nxt) if seconds is not None else None
        if kind == "reminder":
            return self.reminder(value, vline, sid, nxt)
        if kind == "verify":
            return self.verify(value, vline, sid, nxt)
        if kind == "audit":
            if (
                not isinstance(value, dict)
                or "action" not in value
                or set(value) - {"action", "target", "details"}
            ):
                self.ctx.err(
                    vline, w, "schema", "'audit' needs 'action', optional 'target', 'details'"
                )
                return None
            details = value.get("details", {})
            if not isinstance(details, dict):
                self.ctx.err(vline, w, "schema", "audit 'details' must be a mapping")
                return None
            return AuditStep(
                sid, line, str(value["action"]), str(value.get("target", "")), dict(details), nxt
            )
        if kind == "goto":
            target = self.target(value, vline, sid)
            return GotoStep(sid, line, target) if target is not None else None
        if kind == "call":
            flow = self.flow_name(value, vline, sid)
            return CallStep(sid, line, flow, nxt) if flow is not None else None
        if kind == "return":
            return ReturnStep(sid, line)
        send = None
        if value not in (None, True):
            send = parse_send(self.ctx, value, vline, w)
        return EndStep(sid, line, send)

    def ask(self, raw: Any, line: int, sid: str, nxt: Target | None) -> AskStep | None:
        w = self.where(sid)
        if not isinstance(raw, dict):
            self.ctx.err(line, w, "schema", "'ask' needs a mapping")
            return None
        line = line_of(raw, line)
        unknown = set(raw) - _ASK_KEYS
        if unknown:
            self.ctx.err(line, w, "schema", f"unknown ask keys {sorted(unknown)}")
        kind = raw.get("type", "text")
        if not isinstance(kind, str) or kind not in ASK_KINDS:
            self.ctx.err(line, w, "schema", f"ask type {kind!r}; use one of {sorted(ASK_KINDS)}")
            return None
        field_name = self.ctx.field_name(raw.get("field"), line, w)
        prompt = parse_send(self.ctx, {k: v for k, v in raw.items() if k in SEND_KEYS}, line, w)
        choices = self.choices(raw.get("choices"), line, w) if "choices" in raw else ()
        choices_from = None
        if "choices_from" in raw:
            choices_from = self.ctx.field_name(raw["choices_from"], line, w, "choices_from")
        if kind == "choice" and not choices and choices_from is None:
            self.ctx.err(line, w, "schema", "a choice question needs 'choices' or 'choices_from'")
        pattern = None
        if kind == "regex" or "pattern" in raw:
            try:
                pattern = re.compile(str(raw.get("pattern", "")))
            except re.error as exc:
                self.ctx.err(line, w, "schema", f"bad 'pattern': {exc}")
            if not raw.get("pattern"):
                self.ctx.err(line, w, "schema", "a regex question needs 'pattern'")
        bounds: list[float | None] = []
        for key in ("min", "max"):
            value = raw.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                self.ctx.err(line, w, "schema", f"'{key}' must be a number")
                value = None
            bounds.append(None if value is None else float(value))
        retry = None
        if "retry" in raw:
            retry = self.ctx.text(raw["retry"], line, w, limit=LIMITS["body"], what="retry")
        attempts = raw.get("max_attempts", 3)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
            self.ctx.err(line, w, "schema", "'max_attempts' must be 1..10")
            attempts = 3
        on_fail = self.target(raw["on_fail"], line, sid) if "on_fail" in raw else None
        prefill = raw.get("prefill", True)
        if prompt is None or field_name is None:
            return None
        return AskStep(
            sid,
            line,
            prompt,
            kind,
            field_name,
            choices,
            choices_from,
            bounds[0],
            bounds[1],
            pattern,
            retry,
            attempts,
            on_fail,
            bool(prefill),
            nxt,
        )

    def choices(self, raw: Any, line: int, where: str) -> tuple[Choice, ...]:
        if not isinstance(raw, list) or not raw:
            self.ctx.err(line, where, "schema", "'choices' must be a non-empty list")
            return ()
        limit = LIMITS["button_title"] if len(raw) <= LIMITS["buttons"] else LIMITS["row_title"]
        code = "button_title_too_long" if len(raw) <= LIMITS["buttons"] else "row_title_too_long"
        if len(raw) > LIMITS["list_rows"]:
            self.ctx.err(line, where, "list_too_long", f"{len(raw)} choices; at most 10 fit a list")
        out: list[Choice] = []
        for item in raw:
            iline = line_of(item, line)
            if (
                not isinstance(item, dict)
                or not {"id", "title"} <= set(item)
                or set(item) - {"id", "title", "synonyms"}
            ):
                self.ctx.err(
                    iline, where, "schema", "a choice needs 'id', 'title', optional 'synonyms'"
                )
                continue
            cid = self.ctx.ident(item["id"], iline, where, "choice id")
            title = self.ctx.text(
                item["title"], iline, where, limit=limit, what="choice title", code=code
            )
            syn = item.get("synonyms", [])
            if not isinstance(syn, list) or not all(isinstance(s, str) for s in syn):
                self.ctx.err(iline, where, "schema", "'synonyms' must be a list of words")
                syn = []
            if cid is not None and title is not None:
                out.append(Choice(cid, title, tuple(syn)))
        return tuple(out)

    def condition(self, raw: Any, line: int, sid: str) -> ConditionStep | None:
        w = self.where(sid)
        if not isinstance(raw, list) or not raw:
            self.ctx.err(line, w, "schema", "'condition' needs a list of {if, then} and an {else}")
            return None
        branches: list[tuple[Predicate, Target]] = []
        otherwise = None
        for i, item in enumerate(raw):
            iline = line_of(item, line)
            if isinstance(item, dict) and set(item) == {"else"} and i == len(raw) - 1:
                otherwise = self.target(item["else"], iline, sid)
                continue
            if not isinstance(item, dict) or set(item) != {"if", "then"}:
                self.ctx.err(
                    iline,
                    w,
                    "schema",
                    "each branch is {if: condition, then: target}; 'else' comes last",
                )
                continue
            pred, problems = compile_condition(
                item["if"], file=self.ctx.file, line=iline, step=w, intents=self.intents
            )
            self.ctx.problems.extend(problems)
            target = self.target(item["then"], iline, sid)
            if target is not None:
                branches.append((pred, target))
        return ConditionStep(sid, line, tuple(branches), otherwise)


def parse_flow(
    ctx: SchemaContext,
    outline: FlowOutline,
    flows: Mapping[str, FlowOutline],
    intents: frozenset[str] | None,
) -> Flow:
    """Parse one outlined flow; problems go to ``ctx``."""
    parser = _FlowParser(ctx, outline, flows, intents)
    unknown = set(outline.raw) - {"flow", "description", "triggers", "steps"}
    if unknown:
        ctx.err(outline.line, outline.name, "schema", f"unknown flow keys {sorted(unknown)}")
    steps = parser.steps()
    index = {s.id: i for i, s in enumerate(steps)}
    triggers = parse_triggers(
        ctx, outline.name, outline.raw.get("triggers", []), outline.line, intents
    )
    return Flow(outline.name, outline.file, outline.line, steps, index, triggers)
