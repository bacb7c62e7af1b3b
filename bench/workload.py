"""Pre-rendered, signed webhook requests: one realistic text message each, unique wamid and text.

Bodies are built with the simulator's own payload builders (the same shape and
encoding Meta uses: ``contacts[0]`` with ``wa_id`` and ``user_id``, string
timestamps, ASCII-escaped JSON) and signed with the app secret, then rendered
into complete HTTP/1.1 request bytes before the timed phase starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aman.simulator.config import SimulatorConfig
from aman.simulator.payloads import (
    SIGNATURE_HEADER,
    USER_AGENT,
    encode,
    inbound_payload,
    message_base,
    new_wamid,
    sign,
    text_message,
)

__all__ = [
    "DISPLAY_PHONE_NUMBER",
    "MESSAGES_PER_USER",
    "PHONE_NUMBER_ID",
    "WABA_ID",
    "Workload",
    "build_workload",
    "users_for",
]

PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "6281100000001"
WABA_ID = "102290129340398"
# Real users write a few messages a minute.  Meta's pair rate allows bursts of about 45
# replies to one user, then 1 per 6 s, and aman's anomaly monitor treats more than 20
# messages a minute from one contact as a flood (and throttles the bot's replies), so
# no user sends more than this many messages in one step (each step has its own users).
MESSAGES_PER_USER = 10

_TEXTS = (
    "halo kak, pesanan {tag} sudah dikirim belum?",
    "min, brg {tag} kok blm sampai ya",
    "hi, where is my package {tag}?",
    "mau tanya ongkir ke Bandung utk {tag} berapa?",
    "terima kasih, paket {tag} sudah diterima \U0001f64f",
    "bisa retur ga kalau ukurannya kekecilan? order {tag}",
    "selamat siang, saya mau ganti alamat pengiriman {tag}",
    "ok noted, ditunggu kabarnya ya {tag}",
)
_NAMES = ("Budi Santoso", "Siti Rahayu", "Agus", "Dewi Lestari", "Rudi Hartono", "Putri",
          "Andi Wijaya", "Nur Aini")


@dataclass(frozen=True)
class Workload:
    """Requests of one step; ``texts[i]`` is what an echo reply to request ``i`` must carry."""

    tag: str
    requests: list[bytes]
    texts: list[str]
    wa_ids: list[str]
    users: int

    def index_of_text(self) -> dict[str, int]:
        return {text: i for i, text in enumerate(self.texts)}


def users_for(n: int, minimum: int = 1000) -> int:
    """How many distinct users a step of ``n`` messages spreads over (pair-rate safe)."""
    return max(minimum, -(-n // MESSAGES_PER_USER))


def build_workload(
    *,
    tag: str,
    block: int,
    n: int,
    users: int,
    app_secret: bytes,
    host: str,
    port: int,
    path: str = "/webhook",
) -> Workload:
    """``n`` signed one-message webhooks from ``users`` users, round-robin.

    ``block`` (0..999) keeps the users of different steps apart, so Meta's
    per-user pair rate never carries over between steps.
    """
    if not 0 <= block <= 999 or users > 9_999_999 or n <= 0:
        raise ValueError("block must be 0..999, users < 10**7 and n > 0")
    config = SimulatorConfig(
        access_token="unused", app_secret="unused", webhook_url=f"http://{host}:{port}{path}",
        phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_PHONE_NUMBER,
        waba_id=WABA_ID,
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nContent-Type: application/json\r\n"
    ).encode()
    sig_name = SIGNATURE_HEADER.encode()
    now = str(int(time.time()))
    requests: list[bytes] = []
    texts: list[str] = []
    wa_ids: list[str] = []
    for i in range(n):
        user = i % users
        wa_id = f"628{block:03d}{user:07d}"
        text = _TEXTS[i % len(_TEXTS)].format(tag=f"{tag}-{i:06d}")
        message = text_message(message_base(wa_id, new_wamid(wa_id), int(now), "text"), text)
        body = encode(inbound_payload(config, wa_id, _NAMES[user % len(_NAMES)], message))
        signature = sign(app_secret, body).encode()
        requests.append(
            head + sig_name + b": " + signature + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        texts.append(text)
        wa_ids.append(wa_id)
    return Workload(tag, requests, texts, wa_ids, users)
