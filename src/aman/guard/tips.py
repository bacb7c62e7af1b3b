"""Opt-in weekly security tips: the tip catalogue (Indonesian/English) and the flow hooks.

A customer subscribes from the bank bot (the "Tips mingguan" button or TIPS ON) and
unsubscribes with TIPS OFF; STOP ends every message as always.  The bot flows
(``bots/bank/flows/tips_*.yaml``) tag the conversation and set a durable reminder
(``aman.scheduler.timers``) for the next tip; when it fires, ``next_tip`` picks the
following tip, the reply goes through the normal outbox (pacing, opt-out, and the
approved ``security_tip`` template as the fallback when the 24-hour window has
closed) and the next reminder is set.  Every subscription change and every tip sent
is an audit record.  Tips carry no links and never ask for anything, and each fits
one template parameter (one line, no tabs).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aman.engine.bot import AuditRecord
from aman.engine.flows.hooks import HookContext, HookResult, hook

__all__ = ["TIPS", "next_send_at", "next_tip", "tip_text", "tips_subscribe", "tips_unsubscribe"]

WEEK_DAYS = 7
SEND_HOUR = 10  # local time; each customer gets a fixed minute between 10:00 and 12:00
SPREAD_MINUTES = 120
DEFAULT_TZ = "Asia/Jakarta"

# (Indonesian, English); one line each.
TIPS: tuple[tuple[str, str], ...] = (
    (
        "Bank tidak pernah meminta PIN, OTP, password, atau CVV, termasuk lewat telepon, "
        "SMS, atau WhatsApp. Siapa pun yang memintanya adalah penipu.",
        "The bank never asks for your PIN, OTP, password or CVV, not by phone, SMS or "
        "WhatsApp. Anyone who asks for them is a fraudster.",
    ),
    (
        "Akun WhatsApp resmi kami bercentang hijau dan bernama resmi. Nomor lain yang mengaku "
        "bank adalah akun palsu.",
        "Our official WhatsApp account has the green tick and our official name. Any other "
        "number claiming to be the bank is fake.",
    ),
    (
        "Periksa alamat situs huruf demi huruf: penipu memakai ejaan mirip, tanda hubung "
        "tambahan, atau tautan pendek.",
        "Check a web address letter by letter: fraudsters use lookalike spellings, extra "
        "hyphens or short links.",
    ),
    (
        "Jangan memasang aplikasi (.apk) kiriman chat seperti undangan, resi paket, atau "
        "tagihan: aplikasi itu bisa mencuri SMS OTP Anda.",
        "Never install apps (.apk) sent by chat such as invitations, parcel receipts or "
        "bills: they can steal your OTP text messages.",
    ),
    (
        "Ragu dengan pesan yang mengaku dari bank? Jangan balas; hubungi nomor resmi yang "
        "tertulis di balik kartu Anda.",
        "Unsure about a message claiming to be from the bank? Do not reply; call the official "
        "number printed on the back of your card.",
    ),
    (
        "Bank tidak pernah meminta Anda memindahkan dana ke rekening lain agar aman atau "
        "membayar biaya admin ke rekening pribadi.",
        "The bank never asks you to move money to another account to keep it safe or to pay "
        "an admin fee to a personal account.",
    ),
    (
        "Penipu sering mendesak: akun akan diblokir hari ini, hadiah hangus. Berhenti "
        "sejenak dan periksa lewat saluran resmi.",
        "Fraudsters push you to hurry: account blocked today, prize expiring. Stop and "
        "check through our official channels.",
    ),
    (
        "Aktifkan notifikasi transaksi dan segera blokir kartu lewat menu kami jika ada "
        "transaksi yang tidak Anda kenal.",
        "Turn on transaction alerts and block your card from our menu as soon as you see a "
        "transaction you do not recognise.",
    ),
)


def tip_text(index: int, lang: str) -> str:
    """Tip ``index`` (modulo the catalogue) in ``lang`` (English for "en", else Indonesian)."""
    indonesian, english = TIPS[index % len(TIPS)]
    return english if lang == "en" else indonesian


def next_send_at(now: float, key: str, tz: str = DEFAULT_TZ) -> float:
    """A week after ``now``, at the customer's fixed minute between 10:00 and 12:00 local.

    ``key`` (any stable per-customer string) spreads customers over the two hours so
    the sender is never handed every subscriber at once.
    """
    zone = ZoneInfo(tz)
    minute = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % SPREAD_MINUTES
    day = datetime.fromtimestamp(now, zone).date() + timedelta(days=WEEK_DAYS)
    start = datetime(day.year, day.month, day.day, SEND_HOUR, tzinfo=zone)
    return (start + timedelta(minutes=minute)).timestamp()


def _index(ctx: HookContext) -> int:
    value = ctx.fields.get("tips_next", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _tz(ctx: HookContext) -> str:
    tz = ctx.args.get("tz", DEFAULT_TZ)
    return tz if isinstance(tz, str) and tz else DEFAULT_TZ


@hook(outcomes=("ok",))
def tips_subscribe(ctx: HookContext) -> HookResult:
    """Subscribe: the first weekly tip is due a week from now (the flow shows one at once)."""
    return HookResult(
        fields={
            "tips_next": _index(ctx),
            "tips_due": next_send_at(ctx.now, ctx.msg.wa_id, _tz(ctx)),
        },
        audit=(AuditRecord("security_tips_opt_in", "conversation", {"lang": ctx.lang}),),
    )


@hook(outcomes=("ok",))
def tips_unsubscribe(ctx: HookContext) -> HookResult:
    """Unsubscribe: the pending reminder fires once more and finds no subscription."""
    return HookResult(
        fields={"tips_due": None},
        audit=(AuditRecord("security_tips_opt_out", "conversation", {}),),
    )


@hook(outcomes=("ok",))
def next_tip(ctx: HookContext) -> HookResult:
    """This week's tip into ``tip_text``; ``tips_next`` and ``tips_due`` move on a week."""
    index = _index(ctx) % len(TIPS)
    return HookResult(
        fields={
            "tip_text": tip_text(index, ctx.lang),
            "tips_next": (index + 1) % len(TIPS),
            "tips_due": next_send_at(ctx.now, ctx.msg.wa_id, _tz(ctx)),
        },
        audit=(AuditRecord("security_tip_sent", "conversation", {"tip": index}),),
    )
