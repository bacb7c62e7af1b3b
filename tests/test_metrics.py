"""GET /metrics counts what the pipeline did: webhooks stored, messages handled, sends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aman.demo import DemoStack
from helpers import post, text_body

pytestmark = pytest.mark.anyio
# (sample name, sorted labels) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _samples(url: str) -> Samples:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/metrics") as r:
        assert r.status == 200
        text = await r.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_count_stored_webhooks_handled_messages_and_sends(tmp_path: Path) -> None:
    async with DemoStack(tmp_path, bot="echo", statuses=False) as st:
        before = await _samples(st.url)
        for i in range(5):
            assert (await st.phone.send_text("6281234500077", f"halo {i}")).status == 200
        await st.simulator.wait_for_sent(5, 15)
        assert (await post(st, text_body("wamid.M1", body="x"), signature="sha256=00"))[0] == 401
        for _ in range(100):  # the last read receipts' results may still be on their way
            after = await _samples(st.url)
            if _delta(after, before, "aman_send_total", kind="read", outcome="sent") >= 5:
                break
            await asyncio.sleep(0.1)
    assert _delta(after, before, "aman_webhook_requests_total", outcome="stored") == 5
    assert _delta(after, before, "aman_webhook_requests_total", outcome="bad_signature") == 1
    assert _delta(after, before, "aman_inbox_processed_total", outcome="done") == 5
    assert _delta(after, before, "aman_send_total", kind="message", outcome="sent") == 5
    assert _delta(after, before, "aman_send_total", kind="read", outcome="sent") == 5
