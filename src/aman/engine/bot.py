"""The bot interface the inbox worker calls: one inbound message in, replies and new state out.

A bot is pure with respect to storage: it gets the message and the
conversation's state and returns what to send and the next state.  The worker
stores both in the same transaction that marks the message done, which is what
makes replies exactly-once across crashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Bot", "BotResult", "Incoming", "Reply", "buttons_reply", "text_reply"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One customer message as the bot sees it (already redacted)."""

    wamid: str
    phone_number_id: str
    wa_id: str
    profile_name: str | None
    type: str
    text: str | None
    reply_id: str | None
    timestamp: int
    secrets: tuple[str, ...] = ()  # kinds of secrets redacted from the text (PIN, OTP, CARD...)
    # Synthetic events delivered through the same ordered inbox (type == "event"):
    # "timer" (a Timer fired), "verified" (step-up verification completed),
    # "agent_closed" (a human agent handed the conversation back to the bot).
    event: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    context_wamid: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)  # the Cloud API message (order items...)
    contact_ix: str | None = None  # the customer's blind index, when the inbox worker knows it


@dataclass(frozen=True, slots=True)
class Reply:
    """A Cloud API message body without ``messaging_product``/``to`` (added when sent).

    ``fallback`` is an approved-template body to send instead when the
    customer-service window has closed (Graph error 131047).
    """

    message: Mapping[str, Any]
    fallback: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Timer:
    """A durable wake-up: at ``at`` (epoch seconds) the bot gets an ``event="timer"``
    message with ``data={"name": name, **data}`` for this conversation.  Survives restarts.
    A timer with the same ``name`` replaces the pending one (cancel with ``at=None``)."""

    name: str
    at: float | None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A security-relevant action the bot took (e.g. a transfer), for the audit ledger."""

    action: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BotResult:
    """What the bot wants done, stored atomically with the message being marked done.

    ``handoff``: "open" hands the conversation to a human (the bot stays quiet until
    an agent closes it); ``reason`` is shown to agents.  ``opt_out``: True records the
    customer's opt-out (every send path honours it from then on), False an opt-in.
    """

    replies: tuple[Reply, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)
    timers: tuple[Timer, ...] = ()
    audit: tuple[AuditRecord, ...] = ()
    handoff: str | None = None
    handoff_reason: str | None = None
    opt_out: bool | None = None


class Bot(Protocol):
    """What the inbox worker needs from a bot."""

    name: str

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult: ...


def text_reply(body: str) -> Reply:
    return Reply({"type": "text", "text": {"body": body[:4096]}})


def buttons_reply(body: str, buttons: list[tuple[str, str]]) -> Reply:
    """Reply buttons (at most 3, titles at most 20 characters: Cloud API limits)."""
    if not 1 <= len(buttons) <= 3:
        raise ValueError("reply buttons: 1 to 3 buttons")
    for _id, title in buttons:
        if not 1 <= len(title) <= 20:
            raise ValueError(f"reply button title {title!r}: 1 to 20 characters")
    return Reply(
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": body[:1024]},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": bid, "title": title}}
                        for bid, title in buttons
                    ]
                },
            },
        }
    )
