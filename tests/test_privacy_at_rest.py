"""A stolen database file or a log excerpt reveals nothing about the customer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from aman.demo import DemoStack

pytestmark = pytest.mark.anyio

PHONE = "6281298765432"
NAME = "Siti Rahmawati"
MESSAGES = [
    "halo selamat pagi",
    "saya mau cek saldo rekening tabungan",
    "PIN saya 482915 tolong dicek",
    "kode OTP nya 731904",
    "nomor kartu saya 4111 1111 1111 1111 cvv 737",
    "terima kasih banyak bu",
]
SECRETS = ["482915", "731904", "4111111111111111", "4111 1111 1111 1111"]


def needles() -> list[bytes]:
    out = [PHONE, PHONE[2:], "+62 812-9876-5432", NAME, "Rahmawati", *SECRETS]
    out += [m for m in MESSAGES]
    return [n.encode() for n in out] + [n.encode("utf-16-le") for n in (PHONE, NAME)]


async def test_database_file_and_logs_hold_no_personal_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with DemoStack(tmp_path, bot="bank", statuses=True) as st:
        for text in MESSAGES:
            assert (await st.phone.send_text(PHONE, text, name=NAME)).status == 200
        await st.simulator.wait_for_sent(len(MESSAGES), 15)
        await st.simulator.drain_statuses(5)
        await asyncio.sleep(0.5)
        # The customer was warned about the secrets they typed, without echoing them.
        replies = " ".join(str(m.body) for m in st.simulator.sent)
        assert "PIN" in replies and not any(s in replies for s in SECRETS)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("aman.db")]
    assert files, "no database files found"
    blob = b"".join(p.read_bytes() for p in files)
    assert len(blob) > 10_000
    for needle in needles():
        assert needle not in blob, f"found {needle!r} in the database file"
    logs = "\n".join(r.getMessage() for r in caplog.records).encode()
    for needle in needles():
        assert needle not in logs, f"found {needle!r} in the logs"
