"""Parse flow targets and the action steps (http, handler, handoff, reminder, verify).

``StepParserBase`` knows the flow being parsed and every flow's step ids, so it can
resolve targets (``step``, ``flow``, ``flow.step``, ``end``, ``return``) and report a
missing one at its line; schema.py builds the remaining step types on top of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aman.engine.flows.hooks import hook_outcomes, resolve_hook
from aman.engine.flows.model import (
    END,
    RETURN,
    HandlerStep,
    HandoffStep,
    HttpStep,
    ReminderStep,
    Target,
    VerifyStep,
)
from aman.engine.flows.schema_send import SEND_KEYS, SchemaContext, parse_send
from aman.engine.flows.schema_triggers import parse_duration
from aman.engine.flows.yamlsrc import YMap, line_of

__all__ = ["FlowOutline", "StepParserBase"]


@dataclass(frozen=True, slots=True)
class FlowOutline:
    """A flow's name and step ids, known before any step is parsed (for targets)."""

    name: str
    file: str
    line: int
    raw: YMap
    step_ids: tuple[str, ...]


class StepParserBase:
    """Targets and the action steps of one flow."""

    def __init__(
        self,
        ctx: SchemaContext,
        outline: FlowOutline,
        flows: Mapping[str, FlowOutline],
        intents: frozenset[str] | None,
    ) -> None:
        self.ctx = ctx
        self.outline = outline
        self.flows = flows
        self.intents = intents
        self.flow = outline.name

    def where(self, step: str) -> str:
        return f"{self.flow}.{step}"

    # -- targets -----------------------------------------------------------------
    def target(self, raw: Any, line: int, step: str) -> Target | None:
        if isinstance(raw, dict) and set(raw) <= {"flow", "step"} and "flow" in raw:
            raw = f"{raw['flow']}.{raw['step']}" if "step" in raw else raw["flow"]
        if not isinstance(raw, str) or not raw:
            self.ctx.err(line, self.where(step), "schema", f"target {raw!r} must be a name")
            return None
        if raw == "end":
            return END
        if raw == "return":
            return RETURN
        if "." in raw:
            flow, _, sid = raw.partition(".")
            outline = self.flows.get(flow)
            if outline is not None and sid in outline.step_ids:
                return Target(flow, sid)
            self.ctx.err(line, self.where(step), "missing_target", f"no step {raw!r}")
            return None
        if raw in self.outline.step_ids:
            return Target(self.flow, raw)
        if raw in self.flows:
            return Target(raw, "")
        self.ctx.err(line, self.where(step), "missing_target", f"no step or flow named {raw!r}")
        return None

    def flow_name(self, raw: Any, line: int, step: str) -> str | None:
        if isinstance(raw, str) and raw in self.flows:
            return raw
        self.ctx.err(line, self.where(step), "missing_target", f"no flow named {raw!r}")
        return None

    def http(self, raw: Any, line: int, sid: str, nxt: Target | None) -> HttpStep | None:
        w = self.where(sid)
        keys = {"url", "method", "body", "secret_env", "timeout", "map", "on_error"}
        if not isinstance(raw, dict) or "url" not in raw or set(raw) - keys:
            self.ctx.err(
                line, w, "schema", f"'http' needs 'url' and optional {sorted(keys - {'url'})}"
            )
            return None
        url = raw["url"]
        method = str(raw.get("method", "POST")).upper()
        loopback = isinstance(url, str) and re.match(
            r"^http://(127\.0\.0\.1|localhost|\[::1\])[:/]", url
        )
        if not isinstance(url, str) or not (url.startswith("https://") or loopback):
            self.ctx.err(line, w, "schema", "http url must be https:// (http only to loopback)")
            return None
        if method not in ("GET", "POST", "PUT", "PATCH"):
            self.ctx.err(line, w, "schema", "http method must be GET, POST, PUT or PATCH")
        timeout = raw.get("timeout", 3)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 10
        ):
            self.ctx.err(line, w, "schema", "http timeout must be 0 < seconds <= 10")
            timeout = 3
        mapping = raw.get("map", {})
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            self.ctx.err(line, w, "schema", "http 'map' is {field: json.path}")
            mapping = {}
        for key in mapping:
            self.ctx.field_name(key, line, w)
        secret_env = raw.get("secret_env")
        if secret_env is not None and not (
            isinstance(secret_env, str) and re.match(r"^[A-Z_][A-Z0-9_]*$", secret_env)
        ):
            self.ctx.err(line, w, "schema", "'secret_env' names an environment variable")
            secret_env = None
        on_error = self.target(raw["on_error"], line, sid) if "on_error" in raw else None
        return HttpStep(
            sid,
            line,
            url,
            method,
            raw.get("body"),
            secret_env,
            float(timeout),
            dict(mapping),
            on_error,
            nxt,
        )

    def handler(self, raw: Any, line: int, sid: str, nxt: Target | None) -> HandlerStep | None:
        w = self.where(sid)
        if isinstance(raw, str):
            raw = {"call": raw}
        if not isinstance(raw, dict) or "call" not in raw or set(raw) - {"call", "args", "on"}:
            self.ctx.err(line, w, "schema", "'handler' needs 'call' and optional 'args', 'on'")
            return None
        fn, reason = resolve_hook(str(raw["call"]))
        if fn is None:
            self.ctx.err(line, w, "unknown_handler", reason)
            return None
        declared = hook_outcomes(fn) or ("ok",)
        args = raw.get("args", {})
        if not isinstance(args, dict):
            self.ctx.err(line, w, "schema", "handler 'args' must be a mapping")
            args = {}
        outcomes: dict[str, Target] = {}
        on = raw.get("on", {})
        if not isinstance(on, dict):
            self.ctx.err(line, w, "schema", "handler 'on' is {outcome: target}")
            on = {}
        for outcome, target_raw in on.items():
            if outcome not in declared and outcome != "error":
                self.ctx.err(
                    line_of(on, line),
                    w,
                    "unknown_outcome",
                    f"{raw['call']} has no outcome {outcome!r} (it has {', '.join(declared)})",
                )
                continue
            target = self.target(target_raw, line_of(on, line), sid)
            if target is not None:
                outcomes[outcome] = target
        return HandlerStep(sid, line, str(raw["call"]), fn, dict(args), outcomes, nxt)

    def handoff(self, raw: Any, line: int, sid: str) -> HandoffStep | None:
        w = self.where(sid)
        if isinstance(raw, str):
            return HandoffStep(sid, line, raw)
        if not isinstance(raw, dict) or "reason" not in raw or set(raw) - {"reason"} - SEND_KEYS:
            self.ctx.err(line, w, "schema", "'handoff' needs 'reason' and optional message keys")
            return None
        message = {k: v for k, v in raw.items() if k in SEND_KEYS}
        send = parse_send(self.ctx, message, line, w) if message else None
        return HandoffStep(sid, line, str(raw["reason"])[:200], send)

    def reminder(self, raw: Any, line: int, sid: str, nxt: Target | None) -> ReminderStep | None:
        w = self.where(sid)
        keys = {"name", "flow", "at_field", "offset", "in", "keep"}
        if not isinstance(raw, dict) or not {"name", "flow"} <= set(raw) or set(raw) - keys:
            self.ctx.err(
                line, w, "schema", "'reminder' needs 'name', 'flow' and 'at_field' or 'in'"
            )
            return None
        if ("at_field" in raw) == ("in" in raw):
            self.ctx.err(line, w, "schema", "a reminder has exactly one of 'at_field' or 'in'")
            return None
        flow = self.flow_name(raw["flow"], line, sid)
        at_field = self.ctx.field_name(raw["at_field"], line, w) if "at_field" in raw else None
        offset = parse_duration(self.ctx, raw["offset"], line, w) if "offset" in raw else 0.0
        if "in" in raw:
            offset = parse_duration(self.ctx, raw["in"], line, w)
        keep = raw.get("keep", [])
        if not isinstance(keep, list):
            self.ctx.err(line, w, "schema", "'keep' lists the fields the reminder flow needs")
            keep = []
        for name in keep:
            self.ctx.field_name(name, line, w)
        if flow is None or offset is None:
            return None
        return ReminderStep(sid, line, str(raw["name"]), flow, at_field, offset, tuple(keep), nxt)

    def verify(self, raw: Any, line: int, sid: str, nxt: Target | None) -> VerifyStep | None:
        w = self.where(sid)
        if (
            not isinstance(raw, dict)
            or "purpose" not in raw
            or set(raw) - {"purpose", "valid_minutes"} - SEND_KEYS
        ):
            self.ctx.err(line, w, "schema", "'verify' needs 'purpose', 'text' with {verify_link}")
            return None
        send = parse_send(self.ctx, {k: v for k, v in raw.items() if k in SEND_KEYS}, line, w)
        if (
            send is not None
            and send.text is not None
            and not all("{verify_link}" in t for t in send.text.values())
        ):
            self.ctx.err(line, w, "schema", "the verify text must contain {verify_link}")
        minutes = raw.get("valid_minutes", 5)
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int | float)
            or not 0 < minutes <= 60
        ):
            self.ctx.err(line, w, "schema", "'valid_minutes' must be 1..60")
            minutes = 5
        if send is None:
            return None
        return VerifyStep(sid, line, str(raw["purpose"]), send, float(minutes) * 60, nxt)
