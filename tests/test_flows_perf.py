"""Hot-path cost of FlowBot.handle for a text message (real NLU, bank bot)."""

from __future__ import annotations

import json
import statistics
import time

from aman.adapters.banking import DemoCoreBanking
from aman.engine.bot import Incoming
from aman.engine.flows import FlowBot, builtin_bot_dir, load_bot
from aman.nlu import load_bot_nlu
from test_flows_support import T0

TEXTS = ("halo", "cek saldo dong", "mau transfer", "tips keamanan", "kartu hilang", "qwerty uiop")


def test_handle_median_latency_for_a_text_message() -> None:
    directory = builtin_bot_dir("bank")
    bot = FlowBot(
        load_bot(directory),
        nlu=load_bot_nlu(directory, disk_cache=False),
        services={"banking": DemoCoreBanking()},
    )
    state: dict[str, object] = {}
    samples: list[float] = []
    for i in range(600):
        msg = Incoming(
            wamid=f"w{i}",
            phone_number_id="p",
            wa_id="6281234567890",
            profile_name="Budi",
            type="text",
            text=TEXTS[i % len(TEXTS)],
            reply_id=None,
            timestamp=T0 + i,
        )
        started = time.perf_counter()
        result = bot.handle(msg, state)
        samples.append(time.perf_counter() - started)
        state = json.loads(json.dumps(dict(result.state)))
        if result.handoff:
            state["handoff"] = False  # keep the bot talking for the measurement
    median_ms = statistics.median(samples[100:]) * 1000
    print(f"\nFlowBot.handle median {median_ms:.3f} ms over {len(samples) - 100} text messages")
    assert median_ms < 5.0
