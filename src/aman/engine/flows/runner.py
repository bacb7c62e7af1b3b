"""Run flow steps for one message: the Turn object holds what the bot will answer and do.

Steps run until one must wait for the customer (ask, verify, wait), hands off,
or the flow ends.  Falling off the last step returns to the calling flow.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aman.engine.bot import AuditRecord, BotResult, Incoming, Reply, Timer
from aman.engine.flows.conditions import EvalContext
from aman.engine.flows.errors import FlowRuntimeError
from aman.engine.flows.hooks import HookContext, HookResult
from aman.engine.flows.httpcall import HttpFailure, call_json, pick_path
from aman.engine.flows.model import (
    END,
    RETURN,
    AskStep,
    AuditStep,
    BotSpec,
    Button,
    CallStep,
    ConditionStep,
    EndStep,
    Flow,
    GotoStep,
    HandlerStep,
    HandoffStep,
    HttpStep,
    ListRow,
    ListSection,
    ListSpec,
    ReminderStep,
    ReturnStep,
    SendSpec,
    SendStep,
    SetStep,
    Step,
    TagStep,
    Target,
    VerifyStep,
    WaitStep,
)
from aman.engine.flows.render import Renderer
from aman.engine.flows.state import ConvState, Frame
from aman.engine.flows.validate import PREFILL_KINDS, choice_options, validate_answer
from aman.nlu.entities import Entity

__all__ = ["WAIT_TIMER", "Turn"]

log = logging.getLogger(__name__)

WAIT_TIMER = "flow_wait"
_STEP_BUDGET = 200
# Sentinels compared by identity: "stop here, keep the position" and "the step's
# `next`, else the following step".
_STOP = Target("", "", "end")
_SEQ = Target("", "", "step")
_SINGLE = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")


@dataclass(slots=True)
class Turn:
    """One message being handled: inputs, the conversation state, and what to emit."""

    spec: BotSpec
    msg: Incoming
    st: ConvState
    now: float
    services: Mapping[str, object]
    predict: Callable[[], tuple[str, float]]
    find_entities: Callable[[], Sequence[Entity]]
    replies: list[Reply] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    handoff: str | None = None
    handoff_reason: str | None = None
    opt_out: bool | None = None
    prefill_from: Incoming | None = None
    steps_run: int = 0

    # -- helpers ---------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.st.lang or self.spec.config.languages[0]

    def local_now(self) -> datetime:
        return datetime.fromtimestamp(self.now, self.spec.config.tz)

    def renderer(self) -> Renderer:
        return Renderer(self.spec.config, self.lang, self.st.fields, self.msg.profile_name)

    def say(self, spec: SendSpec) -> None:
        self.replies.append(self.renderer().reply(spec))

    def message(self, key: str) -> None:
        text = self.spec.config.messages.get(key)
        if text is not None:
            self.say(SendSpec(text=text))

    def timer(self, name: str, at: float | None, data: Mapping[str, Any] | None = None) -> None:
        self.timers = [t for t in self.timers if t.name != name]
        self.timers.append(Timer(name, at, dict(data or {})))

    def result(self) -> BotResult:
        return BotResult(
            replies=tuple(self.replies),
            state=self.st.to_dict(),
            timers=tuple(self.timers),
            audit=tuple(self.audit),
            handoff=self.handoff,
            handoff_reason=self.handoff_reason,
            opt_out=self.opt_out,
        )

    def eval_context(self) -> EvalContext:
        intent, confidence = self.predict() if self.msg.text else ("", 0.0)
        return EvalContext(
            fields=self.st.fields,
            tags=frozenset(self.st.tags),
            intent=intent or None,
            confidence=confidence,
            entity_kinds=lambda: frozenset(e.kind for e in self.find_entities()),
            message_type=self.msg.type,
            now=self.local_now(),
            business_hours=self.spec.config.business_hours,
            verified=self.st.verified_until > self.now,
        )

    def position(self, target: Target, flow: str) -> tuple[Flow, int] | None:
        name = target.flow or flow
        found = self.spec.flows.get(name)
        if found is None:
            return None
        if not target.step:
            return found, 0
        index = found.index.get(target.step)
        return None if index is None else (found, index)

    def frame_step(self, frame: Frame) -> Step | None:
        flow = self.spec.flows.get(frame.flow)
        if flow is None or frame.step not in flow.index:
            return None
        return flow.steps[flow.index[frame.step]]

    # -- running -----------------------------------------------------------------------
    def start(self, flow: str) -> None:
        """Start ``flow`` afresh (the conversation's previous position is dropped)."""
        if self.st.frame is not None and self.st.frame.waiting == "wait":
            self.timer(WAIT_TIMER, None)
        self.st.frame = None
        self.st.stack = []
        self.st.attempts = 0
        self.st.pending_verify = None
        self.run(Target(flow, ""))

    def call(self, flow: str, then: Frame | None) -> None:
        """Run ``flow`` and afterwards come back to ``then`` (a running or waiting frame)."""
        if then is not None:
            self.push(then)
        self.st.frame = None
        self.run(Target(flow, ""))

    def push(self, frame: Frame) -> None:
        self.st.stack.append(frame)
        limit = self.spec.config.max_call_depth
        if len(self.st.stack) > limit:
            del self.st.stack[: len(self.st.stack) - limit]

    def continue_after(self, frame: Frame) -> None:
        """Go on after the step ``frame`` names (an answered ask, a done wait/verify)."""
        step = self.frame_step(frame)
        self.st.frame = None
        if step is None:
            self.finish(RETURN)
            return
        self.run(self._after(step, frame.flow))

    def _after(self, step: Step, flow: str) -> Target:
        nxt = getattr(step, "next", None)
        if isinstance(nxt, Target):
            return nxt
        owner = self.spec.flows[flow]
        index = owner.index[step.id] + 1
        if index < len(owner.steps):
            return Target(flow, owner.steps[index].id)
        return RETURN

    def finish(self, target: Target) -> None:
        """Handle END (clear everything) or RETURN (pop the caller)."""
        if target.kind == "end":
            self.st.frame = None
            self.st.stack = []
            return
        while self.st.stack:
            frame = self.st.stack.pop()
            if frame.waiting == "end":
                self.st.frame = None
                self.st.stack = []
                return
            if frame.waiting:
                self.st.frame = frame
                step = self.frame_step(frame)
                if frame.waiting == "ask" and isinstance(step, AskStep):
                    self.say(self.prompt(step))
                return
            self.run(Target(frame.flow, frame.step))
            return
        self.st.frame = None

    def run(self, target: Target) -> None:
        current = target
        flow_name = target.flow
        while True:
            if current.kind != "step":
                self.finish(current)
                return
            pos = self.position(current, flow_name)
            if pos is None:
                raise FlowRuntimeError(f"no step {current.flow}.{current.step}")
            flow, index = pos
            flow_name = flow.name
            self.steps_run += 1
            if self.steps_run > _STEP_BUDGET:
                raise FlowRuntimeError(f"more than {_STEP_BUDGET} steps in one turn ({flow.name})")
            step = flow.steps[index]
            log.debug("flow %s step %s", flow.name, step.id)
            outcome = self.execute(step, flow.name)
            if outcome is _STOP:
                return
            if outcome is _SEQ:
                outcome = self._after(step, flow.name)
            elif outcome.kind == "step" and not outcome.flow:
                outcome = Target(flow.name, outcome.step)
            current = outcome

    # -- steps -----------------------------------------------------------------------------
    def execute(self, step: Step, flow: str) -> Target:
        if isinstance(step, SendStep):
            self.say(step.send)
            return _SEQ
        if isinstance(step, AskStep):
            return self.ask(step, flow)
        if isinstance(step, SetStep):
            for key, value in step.values.items():
                if value is None:
                    self.st.fields.pop(key, None)
                else:
                    self.st.fields[key] = self.value(value)
            return _SEQ
        if isinstance(step, TagStep):
            tags = [t for t in self.st.tags if t not in step.remove]
            tags.extend(t for t in step.add if t not in tags)
            self.st.tags = tags
            return _SEQ
        if isinstance(step, ConditionStep):
            ctx = self.eval_context()
            for predicate, target in step.branches:
                if predicate(ctx):
                    return target
            return step.otherwise if step.otherwise is not None else _SEQ
        if isinstance(step, HttpStep):
            return self.http(step)
        if isinstance(step, HandlerStep):
            return self.handler(step)
        if isinstance(step, HandoffStep):
            if step.send is not None:
                self.say(step.send)
            self.st.handoff = True
            self.st.frame = None
            self.st.stack = []
            self.handoff = "open"
            self.handoff_reason = self.renderer().fill(step.reason)
            self.timer("inactivity", None)
            return _STOP
        if isinstance(step, WaitStep):
            self.st.wait_token += 1
            self.timer(WAIT_TIMER, self.now + step.seconds, {"token": self.st.wait_token})
            self.st.frame = Frame(flow, step.id, "wait")
            return _STOP
        if isinstance(step, ReminderStep):
            self.reminder(step)
            return _SEQ
        if isinstance(step, VerifyStep):
            # A verified session only covers what it was verified for.
            if self.st.verified_until > self.now and self.st.verified_purpose == step.purpose:
                return _SEQ
            self.st.pending_verify = {"purpose": step.purpose}
            self.say(step.send)
            self.st.frame = Frame(flow, step.id, "verify")
            return _STOP
        if isinstance(step, AuditStep):
            render = self.renderer()
            details = {k: self.value(v) for k, v in step.details.items()}
            self.audit.append(AuditRecord(step.action, render.fill(step.target), details))
            return _SEQ
        if isinstance(step, GotoStep):
            return step.target
        if isinstance(step, CallStep):
            after = self._after(step, flow)
            if after.kind == "step":
                first = self.spec.flows[after.flow].steps[0].id
                self.push(Frame(after.flow, after.step or first))
            elif after.kind == "end":
                self.push(Frame(flow, step.id, "end"))
            return Target(step.flow, "")
        if isinstance(step, ReturnStep):
            return RETURN
        if isinstance(step, EndStep):
            if step.send is not None:
                self.say(step.send)
            return END
        raise FlowRuntimeError(f"cannot run step {type(step).__name__}")

    def value(self, raw: Any) -> Any:
        """Fill placeholders in a value; ``"{field}"`` alone keeps the field's type."""
        if isinstance(raw, str):
            m = _SINGLE.match(raw)
            if m and m.group(1) in self.st.fields:
                return self.st.fields[m.group(1)]
            return self.renderer().fill(raw)
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        if isinstance(raw, dict):
            return {str(k): self.value(v) for k, v in raw.items()}
        return raw

    def prompt(self, step: AskStep) -> SendSpec:
        spec = step.prompt
        if step.kind != "choice" or spec.buttons or spec.list is not None or spec.buttons_from:
            return spec
        options = choice_options(step, self.st.fields)
        if len(options) <= 3:
            buttons = tuple(Button(c.id, c.title) for c in options)
            return SendSpec(text=spec.text, header=spec.header, footer=spec.footer, buttons=buttons)
        rows = tuple(ListRow(c.id, c.title) for c in options[:10])
        button = {"id": "Pilih", "en": "Choose", "*": "Pilih"}
        return SendSpec(
            text=spec.text,
            header=spec.header,
            footer=spec.footer,
            list=ListSpec(button, (ListSection(None, rows),)),
        )

    def ask(self, step: AskStep, flow: str) -> Target:
        source = self.prefill_from
        if step.prefill and step.kind in PREFILL_KINDS and source is not None and source.text:
            value = validate_answer(
                step, source, self.st.fields, self.find_entities, self.local_now(), whole=False
            )
            if value is not None:
                self.st.fields[step.field] = value
                return _SEQ
        self.say(self.prompt(step))
        self.st.frame = Frame(flow, step.id, "ask")
        self.st.attempts = 0
        return _STOP

    def http(self, step: HttpStep) -> Target:
        try:
            outcome = call_json(
                step.url,
                step.method,
                self.value(step.body),
                secret_env=step.secret_env,
                timeout=step.timeout,
                now=self.now,
            )
        except HttpFailure as exc:
            log.warning("http step %s failed: %s", step.id, exc.reason)
            if step.on_error is not None:
                return step.on_error
            self.message("error")
            return END
        self.st.fields["http_status"] = outcome.status
        for name, path in step.mapping.items():
            self.st.fields[name] = pick_path(outcome.data, path)
        return _SEQ

    def handler(self, step: HandlerStep) -> Target:
        from aman.adapters.errors import AdapterError

        ctx = HookContext(
            msg=self.msg,
            fields=dict(self.st.fields),
            args={k: self.value(v) for k, v in step.args.items()},
            now=self.now,
            lang=self.lang,
            verified=self.st.verified_until > self.now,
            services=self.services,
        )
        try:
            result = step.function(ctx)
        except AdapterError as exc:
            log.warning("handler %s failed: %s", step.call, type(exc).__name__)
            result = HookResult("error")
        if not isinstance(result, HookResult):
            raise FlowRuntimeError(f"handler {step.call} did not return a HookResult")
        for key, value in result.fields.items():
            if value is None:
                self.st.fields.pop(key, None)
            else:
                self.st.fields[key] = value
        self.audit.extend(result.audit)
        target = step.outcomes.get(result.outcome)
        if target is not None:
            return target
        if result.outcome == "ok":
            return _SEQ
        self.message("error")
        return END

    def reminder(self, step: ReminderStep) -> None:
        if step.at_field is not None:
            base = self.st.fields.get(step.at_field)
            if isinstance(base, bool) or not isinstance(base, int | float):
                log.warning("reminder %s: field %s holds no time", step.name, step.at_field)
                return
            at = float(base) + step.offset_seconds
        else:
            at = self.now + step.offset_seconds
        if at <= self.now:
            return
        keep = {k: self.st.fields[k] for k in step.keep if k in self.st.fields}
        self.timer(f"reminder:{step.name}", at, {"flow": step.flow, "fields": keep})
