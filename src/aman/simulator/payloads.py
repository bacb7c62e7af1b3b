"""Build Cloud API webhook payloads and ids, encode them like Meta and sign them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from aman.simulator.config import SimulatorConfig

SIGNATURE_HEADER = "X-Hub-Signature-256"
USER_AGENT = "facebookexternalua"

_PREFIX = os.urandom(4)
_COUNTER = itertools.count(1)
_COUNTRIES = {"1": "US", "44": "GB", "60": "MY", "61": "AU", "62": "ID", "65": "SG",
              "66": "TH", "81": "JP", "91": "IN"}


def new_wamid(wa_id: str) -> str:
    """A wamid shaped like Meta's; unique within the process, random across processes."""
    tail = (_PREFIX + next(_COUNTER).to_bytes(5, "big")).hex().upper().encode()
    number = wa_id.encode()
    raw = b"\x1c\x18" + bytes([len(number)]) + number + b"\x15\x02\x00\x11\x18\x12" + tail + b"\x00"
    return "wamid." + base64.b64encode(raw).decode("ascii")


def user_id_for(wa_id: str) -> str:
    """A stable business-scoped user id such as 'ID.1234...' for a phone number."""
    country = next(
        (_COUNTRIES[wa_id[:n]] for n in (3, 2, 1) if wa_id[:n] in _COUNTRIES), "ZZ"
    )
    digest = hashlib.sha256(b"aman-sim-user:" + wa_id.encode()).digest()
    return f"{country}.{int.from_bytes(digest[:8], 'big'):020d}"


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialise like Meta: compact JSON, non-ASCII as \\u and four lowercase hex digits."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def sign(app_secret: bytes, body: bytes) -> str:
    """Value of the X-Hub-Signature-256 header for `body`."""
    return "sha256=" + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def envelope(config: SimulatorConfig, value: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a change value in the whatsapp_business_account notification envelope."""
    full: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": config.display_phone_number,
            "phone_number_id": config.phone_number_id,
        },
    }
    full.update(value)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": config.waba_id, "changes": [{"value": full, "field": "messages"}]}],
    }


def inbound_payload(
    config: SimulatorConfig, wa_id: str, name: str, message: Mapping[str, Any]
) -> dict[str, Any]:
    """A webhook carrying one message from the user `wa_id`."""
    contact = {"profile": {"name": name}, "wa_id": wa_id, "user_id": user_id_for(wa_id)}
    return envelope(config, {"contacts": [contact], "messages": [dict(message)]})


def statuses_payload(
    config: SimulatorConfig, statuses: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A webhook carrying one or more message statuses."""
    return envelope(config, {"statuses": [dict(s) for s in statuses]})


def message_base(wa_id: str, wamid: str, timestamp: int, mtype: str) -> dict[str, Any]:
    """Fields every inbound message has."""
    return {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": mtype}


def text_message(base: dict[str, Any], text: str) -> dict[str, Any]:
    """An inbound text message."""
    base["text"] = {"body": text}
    return base


def reply_message(
    base: dict[str, Any], kind: str, reply_id: str, title: str, description: str | None
) -> dict[str, Any]:
    """An inbound interactive button_reply or list_reply."""
    reply: dict[str, Any] = {"id": reply_id, "title": title}
    if kind == "list" and description is not None:
        reply["description"] = description
    key = "button_reply" if kind == "button" else "list_reply"
    base["interactive"] = {"type": key, key: reply}
    return base


def quick_reply_message(base: dict[str, Any], payload: str, text: str) -> dict[str, Any]:
    """An inbound template quick-reply button press (type 'button')."""
    base["button"] = {"payload": payload, "text": text}
    return base


def image_message(
    base: dict[str, Any], media_id: str, mime_type: str, sha256: str, caption: str | None
) -> dict[str, Any]:
    """An inbound image."""
    image: dict[str, Any] = {"mime_type": mime_type, "sha256": sha256, "id": media_id}
    if caption is not None:
        image["caption"] = caption
    base["image"] = image
    return base


def location_message(
    base: dict[str, Any], latitude: float, longitude: float, name: str | None,
    address: str | None,
) -> dict[str, Any]:
    """An inbound shared location."""
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        location["name"] = name
    if address is not None:
        location["address"] = address
    base["location"] = location
    return base


def reaction_message(base: dict[str, Any], message_id: str, emoji: str) -> dict[str, Any]:
    """An inbound reaction (an empty emoji removes it, as on WhatsApp)."""
    reaction: dict[str, Any] = {"message_id": message_id}
    if emoji:
        reaction["emoji"] = emoji
    base["reaction"] = reaction
    return base


def order_message(
    base: dict[str, Any], catalog_id: str, items: Sequence[Mapping[str, Any]], text: str | None
) -> dict[str, Any]:
    """An inbound cart order."""
    order: dict[str, Any] = {"catalog_id": catalog_id, "product_items": [dict(i) for i in items]}
    if text is not None:
        order["text"] = text
    base["order"] = order
    return base
