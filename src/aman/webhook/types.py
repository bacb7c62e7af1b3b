"""Typed, immutable records produced by parsing a WhatsApp Cloud API webhook body.

These are plain frozen slotted dataclasses (no validation logic lives here; the
parser in :mod:`aman.webhook.parser` builds them from already-checked dicts).
``raw`` / ``value`` / ``referral`` keep the exact dicts decoded from the body so
that storage can re-serialise them with ``orjson`` unchanged; treat them as
read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FieldEvent",
    "InboundMessage",
    "ParsedWebhook",
    "StatusUpdate",
    "WebhookError",
]


@dataclass(frozen=True, slots=True)
class WebhookError:
    """One entry of an ``errors`` array (on a message, a status, or a change value)."""

    code: int
    title: str
    message: str | None
    details: str | None
    href: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a WhatsApp user sent to one of our business phone numbers."""

    wamid: str
    phone_number_id: str
    display_phone_number: str
    wa_id: str
    user_id: str | None
    profile_name: str | None
    timestamp: int
    type: str
    text: str | None
    reply_id: str | None
    context_wamid: str | None
    referral: Mapping[str, Any] | None
    errors: tuple[WebhookError, ...]
    raw: Mapping[str, Any]
    entry_id: str = ""
    subtype: str | None = None
    """Refinement of ``type`` when the body has one: ``interactive.type``,
    ``system.type``, ``unsupported.type``, ``edit.message.type``, or ``"voice"``
    for an ``audio`` voice note."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery-status callback for a message the business sent."""

    wamid: str
    phone_number_id: str
    recipient_id: str | None
    status: str
    timestamp: int
    biz_opaque_callback_data: str | None
    conversation_id: str | None
    pricing_category: str | None
    errors: tuple[WebhookError, ...]
    raw: Mapping[str, Any]
    entry_id: str = ""
    recipient_type: str | None = None


@dataclass(frozen=True, slots=True)
class FieldEvent:
    """A change that is neither an inbound message nor a status.

    Covers every change whose ``field`` is not ``"messages"`` (template/account
    updates, user preferences, message echoes, calls, security ...) and
    ``"messages"`` changes that carry a value-level ``errors`` array.
    ``event_key`` is ``"<field>:" + sha256 hex of the key-sorted JSON of value``,
    preceded by ``"<entry time>:"`` when the entry has a ``time``: a stable key for
    deduplicating Meta's redeliveries that still tells apart the same value sent
    again later (a template approved, paused, then approved again).
    """

    field: str
    entry_id: str
    phone_number_id: str
    event_key: str
    value: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedWebhook:
    """Everything found in one webhook body, in body order."""

    messages: tuple[InboundMessage, ...]
    statuses: tuple[StatusUpdate, ...]
    events: tuple[FieldEvent, ...]
    errors: tuple[WebhookError, ...]
