"""The monitor counts texts with links from the links its scan already found (no second search).

``Monitor._scanned`` takes the links from the verdict (``Verdict.urls``); a text longer
than a WhatsApp message is still judged on its first 4096 characters only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from aman.audit.service import AuditService
from aman.guard import extract_urls
from aman.monitor import Monitor, MonitorSettings
from aman.monitor.scanner import ScanJob
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault

T = "default"
NOW = 1_750_000_000.0


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[Monitor]:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    master = secrets.token_bytes(32)
    vault = Vault.open_or_create(engine, T, master)
    yield Monitor(engine, vault, AuditService(master), MonitorSettings())
    engine.dispose()


LONG_PAD = "kak " * 1100  # 4400 characters: longer than a WhatsApp text


@pytest.mark.parametrize(
    ("text", "has_url"),
    [
        ("halo kak, pesanan A-1 sudah dikirim belum?", False),
        ("jam 10:30 ya, harga Rp 250.000", False),
        ("cek resi di bit.ly/abc ya kak", True),
        ("Login: https://bca-co.id/reset!", True),
        ("lihat \uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d ya", False),
        ("cek bit.ly/abc \U0001f64f\u200b", True),  # not NFKC-stable: links as written
        ("bit.ly/abc " + LONG_PAD, True),
        (LONG_PAD + " bit.ly/abc", False),  # the link lies beyond the first 4096 characters
    ],
)
def test_texts_with_links_are_counted_as_written(
    monitor: Monitor, text: str, has_url: bool
) -> None:
    assert bool(extract_urls(text[:4096])) is has_url  # what the count has always meant
    ix = secrets.token_hex(16)
    for k in range(3):
        monitor.scanner.process(ScanJob(T, ix, text, (), NOW + k))
    state = monitor.traffic.contact(T, ix, NOW + 3)
    assert state.texts == 3
    assert state.url_msgs == (3 if has_url else 0)
