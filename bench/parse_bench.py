"""Micro-benchmark: webhook bodies parsed per second by aman.webhook.parser on one core.

Run: .venv/bin/python bench/parse_bench.py [--seconds 2]

Prints bodies/s for a typical one-message text body through ``parse_webhook_bytes``
(the headline figure), the same with an HMAC-SHA256 signature check in front (what
the receiver does before parsing), and a status-only body.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from collections.abc import Callable

import orjson

from aman.webhook.parser import parse_webhook_bytes

_IN_WAMID = "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFDNFQjBDNEExRjJEM0U0QjVBNjk3AA=="
_OUT_WAMID = "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjQ4NkY0RjA3MDM4QjRBNzQzQwA="

_TEXT_BODY = orjson.dumps(
    {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102938475610293",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "6281180008000",
                                "phone_number_id": "109876543210987",
                            },
                            "contacts": [
                                {
                                    "profile": {"name": "Budi Santoso"},
                                    "wa_id": "6281234567890",
                                    "user_id": "ID.11838455130072953381",
                                }
                            ],
                            "messages": [
                                {
                                    "from": "6281234567890",
                                    "id": _IN_WAMID,
                                    "timestamp": "1735693200",
                                    "text": {"body": "Halo, saya mau cek saldo rekening"},
                                    "type": "text",
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
)

_STATUS_BODY = orjson.dumps(
    {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102938475610293",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "6281180008000",
                                "phone_number_id": "109876543210987",
                            },
                            "statuses": [
                                {
                                    "id": _OUT_WAMID,
                                    "status": "delivered",
                                    "timestamp": "1735693155",
                                    "recipient_id": "6281234567890",
                                    "pricing": {
                                        "billable": True,
                                        "pricing_model": "PMP",
                                        "type": "regular",
                                        "category": "utility",
                                    },
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
)

_APP_SECRET = b"bench-only-app-secret-not-real-0123456789"


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` measured over about ``seconds`` (best of 3 rounds)."""
    n = 1000
    while True:  # calibrate a batch size that takes ~50 ms
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 > 0.05:
            break
        n *= 2
    best = 0.0
    for _ in range(3):
        done = 0
        t0 = time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds / 3:
            for _ in range(n):
                fn()
            done += n
        best = max(best, done / elapsed)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="measuring time per case")
    args = ap.parse_args()

    sig = "sha256=" + hmac.new(_APP_SECRET, _TEXT_BODY, hashlib.sha256).hexdigest()

    def signed_parse() -> object:
        mac = "sha256=" + hmac.new(_APP_SECRET, _TEXT_BODY, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, sig):
            raise SystemExit("signature mismatch")
        return parse_webhook_bytes(_TEXT_BODY)

    parsed = parse_webhook_bytes(_TEXT_BODY)
    if len(parsed.messages) != 1 or parsed.messages[0].timestamp != 1735693200:
        raise SystemExit("benchmark body did not parse as expected")

    cases: list[tuple[str, Callable[[], object]]] = [
        (
            f"text message body ({len(_TEXT_BODY)} B), parse_webhook_bytes",
            lambda: parse_webhook_bytes(_TEXT_BODY),
        ),
        ("same body, HMAC-SHA256 check + parse", signed_parse),
        (
            f"status body ({len(_STATUS_BODY)} B), parse_webhook_bytes",
            lambda: parse_webhook_bytes(_STATUS_BODY),
        ),
    ]
    for label, fn in cases:
        rate = _rate(fn, args.seconds)
        print(f"{label}: {rate:,.0f} bodies/s ({1e6 / rate:.2f} us/body)")


if __name__ == "__main__":
    main()
