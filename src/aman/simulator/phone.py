"""The simulated user's phone: sends inbound-message webhooks to the bot."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aman.simulator import payloads
from aman.simulator.config import SimulatorConfig
from aman.simulator.delivery import WebhookSender
from aman.simulator.errors import InboundRequestError
from aman.simulator.state import SimState

_WA_ID = re.compile(r"[1-9][0-9]{7,14}")
DEFAULT_NAME = "Pelanggan"


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """Webhook HTTP status after retries (0: no answer at all), message wamid, attempts."""

    status: int
    wamid: str
    attempts: int = 1


def normalise_wa_id(wa_id: str) -> str:
    """Strip a leading '+' and check the number is 8..15 digits."""
    digits = wa_id[1:] if wa_id.startswith("+") else wa_id
    if not _WA_ID.fullmatch(digits):
        raise InboundRequestError("wa_id must be a phone number of 8 to 15 digits")
    return digits


class SimulatedPhone:
    """Builds Cloud API inbound messages and delivers them; each one reopens the 24 h window."""

    def __init__(
        self,
        config: SimulatorConfig,
        sender: WebhookSender,
        state: SimState,
        now: Callable[[], float],
    ) -> None:
        self._config = config
        self._sender = sender
        self._state = state
        self._now = now

    def for_number(self, phone_number_id: str) -> SimulatedPhone:
        """The same phone writing to another business number of this simulator."""
        if phone_number_id == self._config.phone_number_id:
            return self
        display = self._config.extra_numbers.get(phone_number_id)
        if display is None:
            raise InboundRequestError("unknown business phone_number_id")
        config = dataclasses.replace(
            self._config, phone_number_id=phone_number_id, display_phone_number=display
        )
        return SimulatedPhone(config, self._sender, self._state, self._now)

    async def send_text(self, wa_id: str, text: str, *, name: str | None = None) -> PhoneResult:
        """The user types `text`."""
        if not isinstance(text, str) or not text:
            raise InboundRequestError("text must be a non-empty string")
        digits, base = self._base(wa_id, "text")
        return await self._send(digits, name, payloads.text_message(base, text))

    async def send_reply(
        self,
        wa_id: str,
        reply_id: str,
        title: str,
        kind: Literal["button", "list"] = "button",
        *,
        description: str | None = None,
        context_id: str | None = None,
        name: str | None = None,
    ) -> PhoneResult:
        """The user taps a reply button or picks a list row of an interactive message."""
        if kind not in ("button", "list"):
            raise InboundRequestError("kind must be 'button' or 'list'")
        if not reply_id or not title:
            raise InboundRequestError("reply_id and title must be non-empty")
        digits, base = self._base(wa_id, "interactive")
        message = payloads.reply_message(base, kind, reply_id, title, description)
        return await self._send(digits, name, self._with_context(message, digits, context_id))

    async def send_button(
        self,
        wa_id: str,
        payload: str,
        text: str,
        *,
        context_id: str | None = None,
        name: str | None = None,
    ) -> PhoneResult:
        """The user taps a quick-reply button of a template message."""
        if not payload or not text:
            raise InboundRequestError("payload and text must be non-empty")
        digits, base = self._base(wa_id, "button")
        message = payloads.quick_reply_message(base, payload, text)
        return await self._send(digits, name, self._with_context(message, digits, context_id))

    async def send_image(
        self,
        wa_id: str,
        media_id: str,
        *,
        mime_type: str = "image/jpeg",
        sha256: str | None = None,
        caption: str | None = None,
        name: str | None = None,
    ) -> PhoneResult:
        """The user sends a photo (only its media id travels in the webhook)."""
        if not media_id:
            raise InboundRequestError("media_id must be non-empty")
        digits, base = self._base(wa_id, "image")
        digest = sha256 or hashlib.sha256(media_id.encode()).hexdigest()
        message = payloads.image_message(base, media_id, mime_type, digest, caption)
        return await self._send(digits, name, message)

    async def send_location(
        self,
        wa_id: str,
        latitude: float,
        longitude: float,
        *,
        place: str | None = None,
        address: str | None = None,
        name: str | None = None,
    ) -> PhoneResult:
        """The user shares a location."""
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise InboundRequestError("latitude/longitude out of range")
        digits, base = self._base(wa_id, "location")
        message = payloads.location_message(base, latitude, longitude, place, address)
        return await self._send(digits, name, message)

    async def send_reaction(
        self, wa_id: str, message_id: str, emoji: str, *, name: str | None = None
    ) -> PhoneResult:
        """The user reacts to a message (empty emoji removes the reaction)."""
        if not message_id:
            raise InboundRequestError("message_id must be non-empty")
        digits, base = self._base(wa_id, "reaction")
        return await self._send(digits, name, payloads.reaction_message(base, message_id, emoji))

    async def send_order(
        self,
        wa_id: str,
        catalog_id: str,
        items: Sequence[Mapping[str, Any]],
        *,
        text: str | None = None,
        name: str | None = None,
    ) -> PhoneResult:
        """The user sends a cart; items hold product_retailer_id, quantity, item_price, currency."""
        if not catalog_id or not items:
            raise InboundRequestError("an order needs a catalog_id and at least one item")
        digits, base = self._base(wa_id, "order")
        message = payloads.order_message(base, catalog_id, items, text)
        return await self._send(digits, name, message)

    async def send_raw(
        self, message: Mapping[str, Any], *, wa_id: str | None = None, name: str | None = None
    ) -> PhoneResult:
        """Deliver a hand-made message dict; from/id/timestamp are filled in when missing."""
        sender_id = wa_id if wa_id is not None else message.get("from")
        if not isinstance(sender_id, str):
            raise InboundRequestError("send_raw needs wa_id or a 'from' field")
        mtype = message.get("type")
        if not isinstance(mtype, str) or not mtype:
            raise InboundRequestError("a raw message needs a 'type'")
        digits, base = self._base(sender_id, mtype)
        base.update(message)
        base["from"] = digits
        return await self._send(digits, name, base)

    def _base(self, wa_id: str, mtype: str) -> tuple[str, dict[str, Any]]:
        digits = normalise_wa_id(wa_id)
        base = payloads.message_base(digits, payloads.new_wamid(digits), int(self._now()), mtype)
        return digits, base

    def _with_context(
        self, message: dict[str, Any], wa_id: str, context_id: str | None
    ) -> dict[str, Any]:
        replied_to = context_id or self._state.last_outbound(wa_id)
        if replied_to is not None:
            message["context"] = {"from": self._config.display_phone_number, "id": replied_to}
        return message

    async def _send(self, wa_id: str, name: str | None, message: dict[str, Any]) -> PhoneResult:
        self._state.record_inbound(wa_id, self._now())
        body = payloads.inbound_payload(self._config, wa_id, name or DEFAULT_NAME, message)
        result = await self._sender.deliver(body)
        return PhoneResult(result.status, str(message["id"]), result.attempts)
