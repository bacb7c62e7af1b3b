"""Every real Cloud API body in the shared fixture folder, through the real endpoint.

The bodies are read where they live (never copied into the repository): each one is
posted with a valid signature and must be answered 200 after everything in it --
messages, statuses, other fields -- was stored.  The one body whose sender is Meta's
documentation placeholder (``"from": "<WHATSAPP_USER_PHONE_NUMBER>"``) is no real
sender: it must be refused with 400, storing nothing, and the server keeps serving.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aman.webhook.parser import parse_webhook_bytes
from helpers import post, rows
from test_webhook_http import stack_for

pytestmark = pytest.mark.anyio
# Beside the clone: ../shared/fixtures/cloud-api-webhooks (read in place, never copied).
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "cloud-api-webhooks"
FILES = sorted(SHARED.glob("*.json")) if SHARED.is_dir() else []


@pytest.mark.skipif(not FILES, reason="the shared Cloud API fixtures are not on this machine")
async def test_every_shared_fixture_is_stored(tmp_path: Path, db_url: str) -> None:
    async with stack_for(tmp_path, db_url) as st:
        wamids: set[str] = set()
        statuses: set[tuple[str, str]] = set()
        events: set[str] = set()
        failures = []
        for path in FILES:
            raw = path.read_bytes()
            parsed = parse_webhook_bytes(raw)
            code, text = await post(st, raw)
            if any(m.wa_id.startswith("<") for m in parsed.messages):
                assert code == 400, (path.name, code, text)
                continue
            if code != 200:
                failures.append((path.name, code, text))
                continue
            wamids |= {m.wamid for m in parsed.messages}
            statuses |= {(s.wamid, s.status) for s in parsed.statuses}
            events |= {e.event_key for e in parsed.events}
        assert not failures
        assert len(wamids) >= 10 and len(statuses) >= 5
        stored = {r[0] for r in rows(st, "select wamid from inbox")}
        assert stored == wamids
        got = {(r[0], r[1]) for r in rows(st, "select wamid, status from status_events")}
        assert got == statuses
        # Fields other than messages (templates, account, calls, echoes, preferences)
        # and value-level errors are all recorded, each distinct body once.
        assert len(events) >= 30
        got_events = {r[0] for r in rows(st, "select event_key from webhook_events")}
        assert got_events == events
