"""What a bot asks for beyond replies: handoff, opt-out, durable timers, audit, verify links."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from aman.accounts.scope import TenantScope
from aman.demo import DemoStack
from aman.engine.bot import AuditRecord, BotResult, Incoming, Timer, text_reply
from helpers import rows, scalar, until

pytestmark = pytest.mark.anyio
USER = "6281234511111"


class EffectsBot:
    """A scripted bot exercising each BotResult field."""

    name = "effects"

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        st = dict(state)
        if msg.event == "timer":
            return BotResult((text_reply(f"pengingat {msg.data['name']} {msg.data['x']}"),), st)
        if msg.event == "agent_closed":
            return BotResult((text_reply("bot kembali"),), st)
        if msg.event == "verified":
            return BotResult((text_reply("terverifikasi"),), st)
        text = (msg.text or "").lower()
        if text == "agent":
            return BotResult(
                (text_reply("menghubungkan ke CS"),),
                st,
                handoff="open",
                handoff_reason="customer asked",
            )
        if text == "remind":
            return BotResult(
                (text_reply("ok"),), st, timers=(Timer("appt", time.time() + 0.3, {"x": 7}),)
            )
        if text == "transfer":
            return BotResult(
                (text_reply("transfer dicatat"),),
                st,
                audit=(AuditRecord("transfer", "account:****1234", {"amount": 100000}),),
            )
        if text == "saldo":
            st["pending_verify"] = {"purpose": "balance"}
            return BotResult((text_reply("Verifikasi di {verify_link} (5 menit)"),), st)
        return BotResult((text_reply(f"echo {msg.text}"),), st)


def stack(tmp_path: Path, db_url: str) -> DemoStack:
    return DemoStack(
        tmp_path,
        bot=EffectsBot(),
        statuses=False,
        settings_overrides={
            "database_url": db_url,
            "worker_stale_seconds": 1.0,
            "public_url": "https://bank.example.co.id",
        },
    )


def bodies(st: DemoStack) -> list[str]:
    return [m.body["text"]["body"] for m in st.simulator.sent if m.type == "text"]


async def test_handoff_silences_the_bot_until_an_agent_closes(tmp_path: Path, db_url: str) -> None:
    async with stack(tmp_path, db_url) as st:
        await st.phone.send_text(USER, "agent")
        await st.simulator.wait_for_sent(1, 10)
        admin = TenantScope.system("default", "test")
        await until(lambda: st.runtime.team.conversations(admin), what="waiting conversation")
        [conv] = st.runtime.team.conversations(admin)
        assert conv.handoff_reason == "customer asked"
        await st.phone.send_text(USER, "halo?")
        await until(lambda: len(st.simulator.state.read_receipts) == 2, what="read receipt")
        await asyncio.sleep(0.3)
        assert bodies(st) == ["menghubungkan ke CS"]  # the bot stayed quiet
        history = st.runtime.team.messages(admin, conv.id)
        assert [h["text"] for h in history] == ["agent", "halo?"]
        st.runtime.team.reply(admin, conv.id,
                              {"type": "text", "text": {"body": "Halo, saya Siti dari CS"}})
        await st.simulator.wait_for_sent(2, 10)
        st.runtime.team.close(admin, conv.id)
        await st.simulator.wait_for_sent(3, 10)
        assert bodies(st) == ["menghubungkan ke CS", "Halo, saya Siti dari CS", "bot kembali"]
        assert st.runtime.team.conversations(admin) == []
        actions = [r[0] for r in rows(st, "select action from audit_entries order by seq")]
        assert actions == ["handoff", "conversation_read", "agent_reply", "handoff_closed"]


async def test_opt_out_is_confirmed_and_honoured(tmp_path: Path, db_url: str) -> None:
    async with stack(tmp_path, db_url) as st:
        await st.phone.send_text(USER, "halo")
        await st.phone.send_text(USER, "BERHENTI")
        await st.simulator.wait_for_sent(2, 10)
        assert "berhenti berlangganan" in bodies(st)[1]
        await st.phone.send_text(USER, "halo lagi")
        await until(lambda: len(st.simulator.state.read_receipts) == 3, what="3 receipts")
        await asyncio.sleep(0.3)
        assert len(bodies(st)) == 2  # nothing sent to an opted-out customer
        await st.phone.send_text(USER, "mulai")
        await st.simulator.wait_for_sent(4, 10)
        assert "berlangganan lagi" in bodies(st)[2]
        consent = rows(st, "select granted, source from consent_events order by id")
        assert consent == [(False, "chat"), (True, "chat")]
        assert scalar(st, "select opted_out from contacts") in (False, 0)


async def test_durable_timer_fires_as_a_conversation_event(tmp_path: Path, db_url: str) -> None:
    async with stack(tmp_path, db_url) as st:
        await st.phone.send_text(USER, "remind")
        await st.simulator.wait_for_sent(2, 10)
        assert bodies(st) == ["ok", "pengingat appt 7"]
        assert scalar(st, "select state from timers") == "fired"
        # Events are not customer messages: no read receipt for them.
        assert len(st.simulator.state.read_receipts) == 1


async def test_bot_audit_records_reach_the_ledger(tmp_path: Path, db_url: str) -> None:
    async with stack(tmp_path, db_url) as st:
        await st.phone.send_text(USER, "transfer")
        await st.simulator.wait_for_sent(1, 10)
        await until(lambda: scalar(st, "select count(*) from audit_entries") == 1, what="audit")
        entry = rows(st, "select actor, action, target, details from audit_entries")[0]
        assert entry[:3] == ("bot:effects", "transfer", "account:****1234")
        assert USER not in str(entry)
        report = st.runtime.audit.verify(st.runtime.engine)
        assert report.ok and report.entries == 1


async def test_verification_link_is_single_use_token(tmp_path: Path, db_url: str) -> None:
    async with stack(tmp_path, db_url) as st:
        await st.phone.send_text(USER, "saldo")
        sent = await st.simulator.wait_for_sent(1, 10)
        body = sent[0].body["text"]["body"]
        assert "https://bank.example.co.id/verify/" in body and "{verify_link}" not in body
        token = body.split("/verify/")[1].split()[0]
        import hashlib

        stored = rows(st, "select token_hash, purpose, used_at from verify_tokens")
        assert stored == [(hashlib.sha256(token.encode()).hexdigest(), "balance", None)]
