"""Payments: the gateway interface (virtual account / QRIS reference), a demo gateway and a hook.

The demo derives a virtual-account number and a QRIS reference from the order id
with HMAC-SHA256 under a per-process random key, so numbers look real, differ per
order and cannot be guessed from the order id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aman.adapters.common import arg_int, arg_str
from aman.engine.flows.hooks import HookContext, HookResult, hook
from aman.security.patterns import luhn_valid

__all__ = [
    "PAY_WITHIN_SECONDS",
    "DemoPayments",
    "PaymentGateway",
    "PaymentInstructions",
    "create_payment",
    "default_payments",
]

PAY_WITHIN_SECONDS = 24 * 3600
_VA_PREFIX = "8808"  # demo bank code + company code prefix


@dataclass(frozen=True, slots=True)
class PaymentInstructions:
    order_id: str
    amount: int
    va_number: str
    qris_reference: str
    expires_at: float


@runtime_checkable
class PaymentGateway(Protocol):
    def create_payment(self, order_id: str, amount: int, now: float) -> PaymentInstructions: ...


class DemoPayments:
    """Deterministic per process, never contacts anyone."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._issued: dict[str, PaymentInstructions] = {}

    def create_payment(self, order_id: str, amount: int, now: float) -> PaymentInstructions:
        if amount <= 0:
            raise ValueError("amount must be positive")
        with self._lock:
            found = self._issued.get(order_id)
            if found is not None and found.amount == amount:
                return found
            mac = hmac.new(self._key, order_id.encode(), hashlib.sha256).hexdigest()
            va = _not_luhn(_VA_PREFIX + str(int(mac[:16], 16))[-12:].rjust(12, "0"))
            qris = "QRIS-" + mac[16:28].upper()
            made = PaymentInstructions(order_id, amount, va, qris, now + PAY_WITHIN_SECONDS)
            self._issued[order_id] = made
            return made


def _not_luhn(number: str) -> str:
    """Change the last digit if needed so the number never passes the card (Luhn) check."""
    if not luhn_valid(number):
        return number
    return number[:-1] + str((int(number[-1]) + 1) % 10)


_DEFAULT: DemoPayments | None = None
_DEFAULT_LOCK = threading.Lock()


def default_payments() -> DemoPayments:
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = DemoPayments()
        return _DEFAULT


@hook(outcomes=("ok",))
def create_payment(ctx: HookContext) -> HookResult:
    """Payment instructions for ``order_id``/``amount``: va_number, qris_ref, pay_before."""
    found = ctx.services.get("payments")
    gateway = found if isinstance(found, PaymentGateway) else default_payments()
    pay = gateway.create_payment(arg_str(ctx, "order_id"), arg_int(ctx, "amount"), ctx.now)
    return HookResult(
        fields={
            "va_number": pay.va_number,
            "qris_ref": pay.qris_reference,
            "pay_before": pay.expires_at,
        }
    )
