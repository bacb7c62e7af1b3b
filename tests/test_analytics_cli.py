"""``aman report analytics`` end to end: JSON (with the bank bot's NLU), CSV and HTML."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from aman.cli import main
from aman.security.crypto import generate_master_key
from test_campaigns_support import campaign_ctx

JKT = ZoneInfo("Asia/Jakarta")
TEXTS = ["sldo brp", "mau transfer 100rb ke ibu", "qwertyuiop zzz"]


def test_report_analytics_command(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = generate_master_key()
    for name, value in (
        ("AMAN_DATABASE_URL", db_url),
        ("AMAN_MASTER_KEY", key),
        ("AMAN_TEST_MASTER", key),
        ("AMAN_TENANT", "default"),
    ):
        monkeypatch.setenv(name, value)
    with campaign_ctx(db_url) as ctx, ctx.engine.begin() as conn:
        for i, body in enumerate(TEXTS):
            wamid = f"wamid.cli{i}"
            ts = datetime(2026, 1, 5, 10, i, tzinfo=JKT).timestamp()
            conn.execute(
                text(
                    "insert into inbox (tenant, phone_number_id, wamid, contact_ix, msg_type, "
                    "payload_enc, msg_ts, received_at, status, attempts, not_before) values "
                    "('default', '1065', :w, :ix, 'text', :b, :ts, :ts, 'done', 1, 0)"
                ),
                {
                    "w": wamid,
                    "ix": f"ix{i}",
                    "ts": ts,
                    "b": ctx.vault.seal_json(
                        "inbox", "payload", wamid, {"type": "text", "text": body}
                    ),
                },
            )
    args = ["report", "analytics", "--from", "2026-01-05", "--to", "2026-01-05"]
    assert main([*args, "--format", "json", "--bot", "bank"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["volume"]["inbound"] == 3 and report["contacts"]["active"] == 3
    assert report["volume"]["by_day"] == [{"day": "2026-01-05", "inbound": 3, "outbound": 0}]
    dist = report["intents"]["distribution"]
    assert sum(dist.values()) == 3 and dist.get("check_balance") == 1
    assert report["intents"]["fallback_rate"] == pytest.approx(dist.get("fallback", 0) / 3)
    out = tmp_path / "r.html"
    assert main([*args, "--format", "html", "--out", str(out), "--no-intents"]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<script" not in page
    assert main([*args, "--format", "csv"]) == 0
    assert "volume,total,inbound,3" in capsys.readouterr().out
    assert main([*args[:2], "--from", "2026-01-06", "--to", "2026-01-05"]) == 2
