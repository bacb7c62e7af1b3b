"""The conversation state a flow bot keeps between messages, as a JSON-able dict.

``ConvState.from_dict`` accepts whatever the worker stored (including nothing or
an older/foreign shape, which starts over) and ``to_dict`` produces plain JSON
types only, so a state survives a restart and resumes at exactly the same step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STATE_VERSION", "ConvState", "Frame"]

STATE_VERSION = 1
_JSON_SCALARS = (str, int, float, bool, type(None))


@dataclass(slots=True)
class Frame:
    """A place in a flow: ``waiting`` is "" (running), "ask", "verify" or "wait"."""

    flow: str
    step: str
    waiting: str = ""

    def to_list(self) -> list[str]:
        return [self.flow, self.step, self.waiting]


def _json_safe(value: Any, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, list):
        return all(_json_safe(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v, depth + 1) for k, v in value.items())
    return False


@dataclass(slots=True)
class ConvState:
    """Everything the bot remembers about one conversation."""

    frame: Frame | None = None
    stack: list[Frame] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    attempts: int = 0
    lang: str = ""
    last: float = 0.0  # last customer activity (epoch seconds)
    seen: bool = False  # the contact has written before
    handoff: bool = False
    opted_out: bool = False
    verified_until: float = 0.0
    # What the step-up verification was for: a balance check must not approve a transfer.
    verified_purpose: str | None = None
    pending_verify: dict[str, Any] | None = None
    wait_token: int = 0
    messages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # keys written by the platform

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ConvState:
        if not raw or raw.get("v") != STATE_VERSION:
            return cls(seen=bool(raw.get("messages")) if raw else False)
        st = cls()
        frame = raw.get("frame")
        if isinstance(frame, list) and len(frame) == 3 and all(isinstance(x, str) for x in frame):
            st.frame = Frame(*frame)
        stack = raw.get("stack")
        if isinstance(stack, list):
            st.stack = [
                Frame(*f)
                for f in stack
                if isinstance(f, list) and len(f) == 3 and all(isinstance(x, str) for x in f)
            ]
        fields = raw.get("fields")
        if isinstance(fields, dict):
            st.fields = {k: v for k, v in fields.items() if isinstance(k, str) and _json_safe(v)}
        tags = raw.get("tags")
        if isinstance(tags, list):
            st.tags = [t for t in tags if isinstance(t, str)]
        st.attempts = _int(raw.get("attempts"))
        st.lang = raw["lang"] if isinstance(raw.get("lang"), str) else ""
        st.last = _float(raw.get("last"))
        st.seen = bool(raw.get("seen"))
        st.handoff = bool(raw.get("handoff"))
        st.opted_out = bool(raw.get("opted_out"))
        st.verified_until = _float(raw.get("verified_until"))
        purpose = raw.get("verified_purpose")
        st.verified_purpose = purpose if isinstance(purpose, str) else None
        pending = raw.get("pending_verify")
        st.pending_verify = dict(pending) if isinstance(pending, dict) else None
        st.wait_token = _int(raw.get("wait_token"))
        st.messages = _int(raw.get("messages"))
        known = {
            "v",
            "frame",
            "stack",
            "fields",
            "tags",
            "attempts",
            "lang",
            "last",
            "seen",
            "handoff",
            "opted_out",
            "verified_until",
            "verified_purpose",
            "pending_verify",
            "wait_token",
            "messages",
        }
        st.extra = {k: v for k, v in raw.items() if k not in known and _json_safe(v)}
        return st

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            {
                "v": STATE_VERSION,
                "frame": self.frame.to_list() if self.frame is not None else None,
                "stack": [f.to_list() for f in self.stack],
                "fields": dict(self.fields),
                "tags": list(self.tags),
                "attempts": self.attempts,
                "lang": self.lang,
                "last": self.last,
                "seen": self.seen,
                "handoff": self.handoff,
                "opted_out": self.opted_out,
                "verified_until": self.verified_until,
                "verified_purpose": self.verified_purpose,
                "messages": self.messages,
                "wait_token": self.wait_token,
            }
        )
        if self.pending_verify is not None:
            out["pending_verify"] = dict(self.pending_verify)
        return out

    def reset_session(self) -> None:
        """Start over: position, fields, verification; tags and consent stay."""
        self.frame = None
        self.stack = []
        self.fields = {}
        self.attempts = 0
        self.verified_until = 0.0
        self.verified_purpose = None
        self.pending_verify = None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0
