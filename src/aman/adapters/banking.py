"""Core banking: the interface the bank bot needs, a demo bank on seeded data, and flow hooks.

``CoreBanking`` is what a real integration implements (accounts, transfers with a
daily limit, branches and appointment slots).  ``DemoCoreBanking`` keeps seeded
customers in memory; a phone number it has never seen gets a deterministic demo
account so the simulator demo works for any number.  Hooks (``@hook``) are what
flows call, e.g. ``handler: aman.adapters.banking:balance``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Protocol, runtime_checkable

from aman.adapters.common import JAKARTA, arg_int, arg_str, mask_name, slot_label
from aman.adapters.errors import AdapterInputError
from aman.engine.bot import AuditRecord
from aman.engine.flows.hooks import HookContext, HookResult, hook
from aman.nlu.entities import mask_account

__all__ = [
    "DAILY_LIMIT",
    "MIN_TRANSFER",
    "Account",
    "Booking",
    "Branch",
    "CoreBanking",
    "DemoCoreBanking",
    "TransferReceipt",
    "balance",
    "book",
    "branches",
    "default_bank",
    "describe_slot",
    "slots",
    "transfer_check",
    "transfer_execute",
]

DAILY_LIMIT = 25_000_000
MIN_TRANSFER = 10_000


@dataclass(frozen=True, slots=True)
class Account:
    number: str
    owner: str
    balance: int


@dataclass(frozen=True, slots=True)
class Branch:
    id: str
    name: str
    city: str


@dataclass(frozen=True, slots=True)
class TransferReceipt:
    reference: str
    amount: int
    to_number: str
    balance_after: int


@dataclass(frozen=True, slots=True)
class Booking:
    reference: str
    branch: Branch
    start: float


@runtime_checkable
class CoreBanking(Protocol):
    """What the bank bot needs from the core banking system."""

    def account(self, wa_id: str) -> Account: ...

    def authenticate(self, wa_id: str, secret: str) -> bool:
        """Check the customer's mobile-banking credential, entered on aman's verification
        page over HTTPS (never in chat)."""
        ...

    def recipient(self, number: str) -> str | None: ...

    def transferred_today(self, wa_id: str, day: date) -> int: ...

    def transfer(self, wa_id: str, to_number: str, amount: int, now: float) -> TransferReceipt: ...

    def branches(self) -> list[Branch]: ...

    def free_slots(self, branch_id: str, now: float) -> list[float]: ...

    def book(self, wa_id: str, branch_id: str, start: float, now: float) -> Booking | None: ...


_SEED_CUSTOMERS = {
    "6281234567890": Account("1234567890", "BUDI SANTOSO", 12_500_000),
    "6281298765432": Account("2345678901", "SITI RAHAYU", 48_750_000),
}
_SEED_RECIPIENTS = {
    "9876543210": "ANDI WIJAYA",
    "1122334455": "TOKO MAJU JAYA",
    "5566778899": "RINA KUSUMA",
}
_BRANCHES = (
    Branch("jkt_sudirman", "KCP Sudirman", "Jakarta"),
    Branch("jkt_kelapa_gading", "KCP Kelapa Gading", "Jakarta"),
    Branch("bdg_dago", "KCP Dago", "Bandung"),
    Branch("sby_tunjungan", "KCP Tunjungan", "Surabaya"),
)
_SLOT_HOURS = (9, 10, 11, 13, 14, 15)
# The demo bank's mobile-banking PIN, asked only on the HTTPS verification page.
DEMO_PIN = "123456"  # a published demo credential, not a secret


class DemoCoreBanking:
    """In-memory demo bank; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = dict(_SEED_CUSTOMERS)
        self._names = dict(_SEED_RECIPIENTS)
        self._sent: dict[tuple[str, date], int] = {}
        self._booked: set[tuple[str, float]] = set()
        self._counter = 0

    def _ensure(self, wa_id: str) -> Account:
        found = self._accounts.get(wa_id)
        if found is None:
            digest = hashlib.sha256(f"aman-demo:{wa_id}".encode()).hexdigest()
            number = "7" + str(int(digest[:12], 16))[-9:].rjust(9, "0")
            found = Account(number, "NASABAH DEMO", 1_000_000 + int(digest[12:18], 16) % 49_000_000)
            self._accounts[wa_id] = found
        return found

    def account(self, wa_id: str) -> Account:
        with self._lock:
            return self._ensure(wa_id)

    def authenticate(self, wa_id: str, secret: str) -> bool:
        """Demo credential: every demo customer's mobile-banking PIN is DEMO_PIN."""
        return hmac.compare_digest(secret.encode(), DEMO_PIN.encode())

    def recipient(self, number: str) -> str | None:
        with self._lock:
            if number in self._names:
                return self._names[number]
            return next((a.owner for a in self._accounts.values() if a.number == number), None)

    def transferred_today(self, wa_id: str, day: date) -> int:
        with self._lock:
            return self._sent.get((wa_id, day), 0)

    def transfer(self, wa_id: str, to_number: str, amount: int, now: float) -> TransferReceipt:
        day = datetime.fromtimestamp(now, JAKARTA).date()
        with self._lock:
            source = self._ensure(wa_id)
            if amount < MIN_TRANSFER or amount > source.balance:
                raise AdapterInputError("amount outside balance")
            if self._sent.get((wa_id, day), 0) + amount > DAILY_LIMIT:
                raise AdapterInputError("daily limit exceeded")
            self._accounts[wa_id] = replace(source, balance=source.balance - amount)
            for owner, acct in self._accounts.items():
                if acct.number == to_number and owner != wa_id:
                    self._accounts[owner] = replace(acct, balance=acct.balance + amount)
            self._sent[(wa_id, day)] = self._sent.get((wa_id, day), 0) + amount
            self._counter += 1
            ref = f"TRF{day:%y%m%d}{self._counter:05d}"
            return TransferReceipt(ref, amount, to_number, source.balance - amount)

    def branches(self) -> list[Branch]:
        return list(_BRANCHES)

    def free_slots(self, branch_id: str, now: float) -> list[float]:
        today = datetime.fromtimestamp(now, JAKARTA).date()
        out: list[float] = []
        day = today
        with self._lock:
            while len(out) < 8:
                day += timedelta(days=1)
                if day.weekday() >= 5:
                    continue
                for hour in _SLOT_HOURS:
                    start = datetime.combine(day, time(hour), JAKARTA).timestamp()
                    if (branch_id, start) not in self._booked:
                        out.append(start)
        return out[:8]

    def book(self, wa_id: str, branch_id: str, start: float, now: float) -> Booking | None:
        branch = next((b for b in _BRANCHES if b.id == branch_id), None)
        if branch is None or start <= now:
            return None
        with self._lock:
            if (branch_id, start) in self._booked:
                return None
            self._booked.add((branch_id, start))
            self._counter += 1
            return Booking(f"APT{self._counter:06d}", branch, start)


_DEFAULT: DemoCoreBanking | None = None
_DEFAULT_LOCK = threading.Lock()


def default_bank() -> DemoCoreBanking:
    """The process-wide demo bank (used when a bot is given no ``banking`` service)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = DemoCoreBanking()
        return _DEFAULT


def _bank(ctx: HookContext) -> CoreBanking:
    found = ctx.services.get("banking")
    return found if isinstance(found, CoreBanking) else default_bank()


@hook(outcomes=("ok", "not_verified"))
def balance(ctx: HookContext) -> HookResult:
    """Masked account number and balance; only inside a verified session."""
    if not ctx.verified:
        return HookResult("not_verified")
    acct = _bank(ctx).account(ctx.msg.wa_id)
    return HookResult(fields={"account_masked": mask_account(acct.number), "balance": acct.balance})


def _limit_left(bank: CoreBanking, wa_id: str, now: float) -> int:
    day = datetime.fromtimestamp(now, JAKARTA).date()
    return max(0, DAILY_LIMIT - bank.transferred_today(wa_id, day))


@hook(
    outcomes=("ok", "invalid_recipient", "same_account", "too_small", "over_limit", "insufficient")
)
def transfer_check(ctx: HookContext) -> HookResult:
    """Check a planned transfer (args ``amount``, ``account``) before asking to confirm."""
    bank = _bank(ctx)
    amount = arg_int(ctx, "amount")
    number = arg_str(ctx, "account")
    own = bank.account(ctx.msg.wa_id)
    name = bank.recipient(number)
    limit_left = _limit_left(bank, ctx.msg.wa_id, ctx.now)
    fields: dict[str, object] = {"recipient_masked": mask_account(number), "limit_left": limit_left}
    if number == own.number:
        return HookResult("same_account", fields)
    if name is None:
        return HookResult("invalid_recipient", fields)
    fields["recipient_name"] = mask_name(name)
    if amount < MIN_TRANSFER:
        return HookResult("too_small", fields)
    if amount > limit_left:
        return HookResult("over_limit", fields)
    if amount > own.balance:
        return HookResult("insufficient", fields)
    return HookResult("ok", fields)


@hook(outcomes=("ok", "not_verified", "over_limit", "insufficient"))
def transfer_execute(ctx: HookContext) -> HookResult:
    """Move the money (verified session only); records an audit entry."""
    if not ctx.verified:
        return HookResult("not_verified")
    bank = _bank(ctx)
    amount = arg_int(ctx, "amount")
    number = arg_str(ctx, "account")
    if amount > _limit_left(bank, ctx.msg.wa_id, ctx.now):
        return HookResult("over_limit")
    if amount > bank.account(ctx.msg.wa_id).balance:
        return HookResult("insufficient")
    receipt = bank.transfer(ctx.msg.wa_id, number, amount, ctx.now)
    masked = mask_account(number)
    return HookResult(
        fields={"transfer_ref": receipt.reference, "balance_after": receipt.balance_after},
        audit=(
            AuditRecord("transfer", masked, {"amount": amount, "reference": receipt.reference}),
        ),
    )


@hook(outcomes=("ok",))
def branches(ctx: HookContext) -> HookResult:
    """List rows of the bank's branches (field ``branch_rows``)."""
    rows = [
        {"id": b.id, "title": b.name[:24], "description": b.city} for b in _bank(ctx).branches()
    ]
    return HookResult(fields={"branch_rows": rows})


@hook(outcomes=("ok", "none"))
def slots(ctx: HookContext) -> HookResult:
    """Free appointment slots of branch ``branch`` as list rows (field ``slot_rows``)."""
    branch_id = arg_str(ctx, "branch")
    bank = _bank(ctx)
    found = next((b for b in bank.branches() if b.id == branch_id), None)
    if found is None:
        return HookResult("none")
    starts = bank.free_slots(branch_id, ctx.now)
    rows = [{"id": f"slot_{int(s)}", "title": slot_label(s, ctx.lang)} for s in starts[:10]]
    if not rows:
        return HookResult("none")
    return HookResult(fields={"slot_rows": rows, "branch_name": found.name})


def _slot_start(slot: str) -> float:
    if not slot.startswith("slot_") or not slot[5:].isdigit():
        raise AdapterInputError("slot id must look like slot_<epoch>")
    return float(slot[5:])


@hook(outcomes=("ok",))
def describe_slot(ctx: HookContext) -> HookResult:
    """``slot_text`` ("Kam 26 Nov 09:00 WIB") for slot id ``slot``, to confirm before booking."""
    start = _slot_start(arg_str(ctx, "slot"))
    return HookResult(fields={"slot_text": slot_label(start, ctx.lang) + " WIB"})


@hook(outcomes=("ok", "taken"))
def book(ctx: HookContext) -> HookResult:
    """Book slot ``slot`` (a ``slot_<epoch>`` id) at branch ``branch``."""
    branch_id = arg_str(ctx, "branch")
    start = _slot_start(arg_str(ctx, "slot"))
    booking = _bank(ctx).book(ctx.msg.wa_id, branch_id, start, ctx.now)
    if booking is None:
        return HookResult("taken")
    return HookResult(
        fields={
            "booking_ref": booking.reference,
            "slot_ts": booking.start,
            "branch_name": booking.branch.name,
            "slot_text": slot_label(booking.start, ctx.lang) + " WIB",
        }
    )
