"""FlowBot: the Bot that runs a YAML bot folder (aman.engine.bot.Bot protocol).

Order of handling for a customer message: opt-in while opted out, opt-out
(STOP/berhenti/unsubscribe or the NLU ``opt_out`` intent), quiet while a human
agent has the conversation, session timeout, a warning when the customer typed a
secret, global commands (menu, cancel, agent ...), the answer to an open
question, then triggers (buttons, message types, keywords, intents) and finally
the fallback flow.  Events (timer, verified, agent_closed) resume flows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from aman.engine.bot import BotResult, Incoming
from aman.engine.flows.lang import guess_language
from aman.engine.flows.loader import load_bot
from aman.engine.flows.model import END, AskStep, BotSpec, SendSpec, VerifyStep
from aman.engine.flows.runner import WAIT_TIMER, Turn
from aman.engine.flows.state import ConvState, Frame
from aman.engine.flows.triggers import Match, TriggerIndex
from aman.engine.flows.validate import validate_answer
from aman.engine.optout import is_opt_in, is_opt_out
from aman.nlu.entities import Entity, extract_entities
from aman.nlu.normalize import normalize
from aman.security.redact import SECRET_WARNING_EN, SECRET_WARNING_ID

__all__ = ["FlowBot", "IntentModel", "load_flow_bot"]

WARN_SECRETS = frozenset({"PIN", "OTP", "PASSWORD", "CVV", "CARD"})
OPT_OUT_CONFIDENCE = 0.9
REMINDER_RETRY_SECONDS = 900.0
MEDIA_ASKS = frozenset({"image", "location"})


def _no_intent() -> tuple[str, float]:
    return ("", 0.0)


class _Prediction(Protocol):
    @property
    def intent(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class IntentModel(Protocol):
    """What the bot needs from the NLU (aman.nlu.NluModel fits)."""

    def predict(self, text: str) -> _Prediction: ...


class FlowBot:
    """Runs a loaded BotSpec; safe to share across threads (no per-message state kept)."""

    def __init__(
        self,
        spec: BotSpec,
        *,
        nlu: IntentModel | None = None,
        services: Mapping[str, object] | None = None,
        clock: Callable[[], float] = time.time,
        disabled: frozenset[str] = frozenset(),
    ) -> None:
        self.spec = spec
        self.name = spec.config.name
        self.disabled = disabled
        self._nlu = nlu
        self._services = dict(services or {})
        self._clock = clock
        self._index = TriggerIndex(spec, disabled)

    def without(self, disabled: frozenset[str]) -> FlowBot:
        """This bot with the flows in ``disabled`` switched off (see engine/flows/switches.py).

        No trigger, command, schedule or reminder starts a switched-off flow; a
        message that would have started one goes on to the other triggers and the
        fallback.  Flows may still ``goto``/``call`` it, and conversations already
        inside it finish it.
        """
        if disabled == self.disabled:
            return self
        return FlowBot(
            self.spec, nlu=self._nlu, services=self._services, clock=self._clock, disabled=disabled
        )

    # -- entry point ---------------------------------------------------------------------
    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        st = ConvState.from_dict(state)
        now = float(msg.timestamp) if msg.timestamp > 0 else self._clock()
        cache: dict[str, Any] = {}
        turn = Turn(
            spec=self.spec,
            msg=msg,
            st=st,
            now=now,
            services=self._services,
            predict=lambda: self._predict(msg, cache),
            find_entities=lambda: self._entities(msg, now, cache),
        )
        if msg.event or msg.type == "event":
            self._event(turn)
        else:
            self._message(turn)
        return turn.result()

    def _predict(self, msg: Incoming, cache: dict[str, Any]) -> tuple[str, float]:
        if "intent" not in cache:
            if self._nlu is None or not msg.text:
                cache["intent"] = ("", 0.0)
            else:
                p = self._nlu.predict(msg.text[:1000])
                cache["intent"] = (p.intent, float(p.confidence))
        result: tuple[str, float] = cache["intent"]
        return result

    def _entities(self, msg: Incoming, now: float, cache: dict[str, Any]) -> Sequence[Entity]:
        if "entities" not in cache:
            moment = datetime.fromtimestamp(now, self.spec.config.tz)
            cache["entities"] = extract_entities(msg.text or "", now=moment)
        found: Sequence[Entity] = cache["entities"]
        return found

    # -- customer messages -------------------------------------------------------------
    def _message(self, turn: Turn) -> None:
        st, msg = turn.st, turn.msg
        if st.opted_out:
            if is_opt_in(msg.text):
                st.opted_out = False
                turn.opt_out = False
                st.lang = guess_language(msg.text, st.lang)
                turn.message("opt_in")
            return
        if self._wants_opt_out(turn):
            st.opted_out = True
            st.handoff = False
            st.reset_session()
            turn.opt_out = True
            turn.timer("inactivity", None)
            turn.timer(WAIT_TIMER, None)
            turn.message("opt_out")
            return
        if st.handoff:
            st.last = turn.now
            return
        if st.last and turn.now - st.last > self.spec.config.session_timeout:
            st.reset_session()
        new_contact = not st.seen
        st.seen = True
        st.messages += 1
        st.last = turn.now
        st.lang = guess_language(msg.text, st.lang) or self.spec.config.languages[0]
        self._schedule_inactivity(turn)
        waiting = st.frame.waiting if st.frame is not None else ""
        step = turn.frame_step(st.frame) if st.frame is not None else None
        if WARN_SECRETS & set(msg.secrets):
            warning = SECRET_WARNING_EN if turn.lang == "en" else SECRET_WARNING_ID
            turn.say(SendSpec(text={"*": warning}))
            if waiting == "ask" and isinstance(step, AskStep):
                turn.say(turn.prompt(step))  # the answer held a secret: ask again
                return
        ask = step if waiting == "ask" and isinstance(step, AskStep) else None
        if ask is not None and ask.kind == "choice" and self._answer(turn, ask):
            return
        command = self._index.command(msg.text)
        if command is not None:
            self._command(turn, command.name, command.flow, command.send)
            return
        if waiting == "ask" and isinstance(step, AskStep):
            if step.kind != "choice" and self._answer(turn, step):
                return
            # A media question (photo, location) hears chatter, not new requests: only
            # buttons, keywords and commands leave it.
            match = self._match(turn, strict=True, intents=step.kind not in MEDIA_ASKS)
            if match is not None:
                self._start(turn, match, new_contact)
                return
            self._retry(turn, step)
            return
        match = self._match(turn, strict=False)
        if match is not None:
            self._start(turn, match, new_contact)
            return
        if waiting == "verify" and isinstance(step, VerifyStep):
            turn.message("verify_waiting")
            return
        st.fields["fallback_count"] = int(st.fields.get("fallback_count", 0) or 0) + 1
        self._start(turn, Match(self.spec.config.fallback_flow, "fallback"), new_contact)

    def _wants_opt_out(self, turn: Turn) -> bool:
        text = turn.msg.text
        if not text or turn.msg.reply_id:
            return False
        if is_opt_out(text):
            return True
        frame = turn.st.frame
        if (frame is not None and frame.waiting == "ask") or len(text) > 80:
            return False
        intent, confidence = turn.predict()
        return intent == "opt_out" and confidence >= OPT_OUT_CONFIDENCE

    def _schedule_inactivity(self, turn: Turn) -> None:
        if self._index.inactivity is not None:
            seconds, _ = self._index.inactivity
            turn.timer("inactivity", turn.now + seconds)

    def _match(self, turn: Turn, *, strict: bool, intents: bool = True) -> Match | None:
        normalized = normalize(turn.msg.text) if turn.msg.text else ""
        predict = turn.predict if intents else _no_intent
        return self._index.match(turn.msg, normalized, predict, strict=strict)

    def _start(self, turn: Turn, match: Match, new_contact: bool) -> None:
        if match.lang:
            turn.st.lang = match.lang
        if match.kind != "fallback":
            turn.st.fields["fallback_count"] = 0
        turn.prefill_from = turn.msg if match.kind in ("intent", "keyword", "regex") else None
        if new_contact and self._index.first_message:
            welcome = self._index.first_message[0]
            if welcome != match.flow:
                first = self.spec.flows[match.flow].steps[0].id
                turn.st.frame = None
                turn.st.stack = []
                turn.call(welcome, Frame(match.flow, first))
                return
        turn.start(match.flow)

    def _command(self, turn: Turn, name: str, flow: str | None, send: SendSpec | None) -> None:
        if name == "cancel":
            turn.st.fields = {}
        if send is not None:
            turn.say(send)
        elif name == "cancel":
            turn.message("cancelled")
        if flow is not None:
            turn.start(flow)
        else:
            turn.st.frame = None
            turn.st.stack = []

    def _answer(self, turn: Turn, step: AskStep) -> bool:
        frame = turn.st.frame
        if frame is None:
            return False
        value = validate_answer(
            step, turn.msg, turn.st.fields, turn.find_entities, turn.local_now()
        )
        if value is None:
            return False
        turn.st.fields[step.field] = value
        turn.st.attempts = 0
        turn.continue_after(frame)
        return True

    def _retry(self, turn: Turn, step: AskStep) -> None:
        st = turn.st
        st.attempts += 1
        if st.attempts >= step.max_attempts:
            st.attempts = 0
            st.frame = None
            if step.on_fail is not None:
                turn.run(step.on_fail)
            else:
                turn.message("error")
                turn.finish(END)
            return
        if step.retry is not None:
            turn.say(SendSpec(text=step.retry))
        else:
            turn.message("retry")
        turn.say(turn.prompt(step))

    # -- events -----------------------------------------------------------------------------
    def _event(self, turn: Turn) -> None:
        st, msg = turn.st, turn.msg
        event = msg.event or ""
        if event == "agent_closed":
            st.handoff = False
            st.frame = None
            st.stack = []
            st.last = turn.now
            if not st.opted_out:
                turn.message("agent_closed")
            return
        if event == "verified":
            self._verified(turn)
            return
        if event != "timer" or st.opted_out:
            return
        name = str(msg.data.get("name", ""))
        if name == WAIT_TIMER:
            frame = st.frame
            if (
                frame is not None
                and frame.waiting == "wait"
                and msg.data.get("token") == st.wait_token
                and not st.handoff
            ):
                turn.continue_after(frame)
            return
        if name == "inactivity":
            self._inactivity(turn)
            return
        flow = msg.data.get("flow") if name.startswith("reminder:") else None
        if not isinstance(flow, str):
            flow = self._index.schedules.get(name)
        if flow is None or flow not in self.spec.flows or flow in self.disabled:
            return
        if st.handoff:
            turn.timer(name, turn.now + REMINDER_RETRY_SECONDS, dict(msg.data))
            return
        fields = msg.data.get("fields")
        if isinstance(fields, Mapping):
            st.fields.update({str(k): v for k, v in fields.items()})
        turn.call(flow, st.frame)

    def _inactivity(self, turn: Turn) -> None:
        st = turn.st
        if self._index.inactivity is None or st.handoff:
            return
        seconds, flow = self._index.inactivity
        if turn.now - st.last < seconds - 1:
            return
        active = st.frame is not None or st.verified_until > 0 or st.pending_verify is not None
        st.reset_session()
        if active:
            turn.start(flow)

    def _verified(self, turn: Turn) -> None:
        st = turn.st
        purpose = turn.msg.data.get("purpose")
        pending = st.pending_verify
        if pending is None or pending.get("purpose") != purpose:
            return
        frame = st.frame
        step = turn.frame_step(frame) if frame is not None else None
        st.pending_verify = None
        if frame is None or frame.waiting != "verify" or not isinstance(step, VerifyStep):
            return
        st.verified_until = turn.now + step.valid_seconds
        st.verified_purpose = step.purpose
        st.last = turn.now
        turn.continue_after(frame)


def load_flow_bot(
    directory: Path,
    *,
    nlu: IntentModel | None = None,
    services: Mapping[str, object] | None = None,
    clock: Callable[[], float] = time.time,
) -> FlowBot:
    """Load, validate and compile the bot folder; the NLU comes from its nlu.yaml."""
    spec = load_bot(Path(directory))
    if nlu is None and (spec.directory / "nlu.yaml").is_file():
        from aman.nlu import load_bot_nlu

        nlu = load_bot_nlu(spec.directory)
    return FlowBot(spec, nlu=nlu, services=services, clock=clock)
