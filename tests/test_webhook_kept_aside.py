"""A signed webhook whose rows the database refuses for themselves is kept aside and
acknowledged, not answered 503 on each of Meta's retries for days; ``aman webhooks
replay`` stores it once the cause is fixed.  A database that is away still gets 503.

The refusal is real: a trigger in the database rejects one message id.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from aman.cli import main
from aman.demo import DemoStack
from aman.webhook.ingest import UNSTORED
from helpers import post, rows, scalar, text_body

pytestmark = pytest.mark.anyio
POISON = "wamid.POISON"

_SQLITE_TRIGGER = f"""
CREATE TRIGGER refuse_poison BEFORE INSERT ON inbox WHEN NEW.wamid = '{POISON}'
BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END
"""
_PG_FUNCTION = f"""
CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
BEGIN
  IF NEW.wamid = '{POISON}' THEN
    RAISE EXCEPTION 'refused by a test trigger' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""
_PG_TRIGGER = (
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON inbox "
    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
)


def refuse_poison(st: DemoStack, on: bool) -> None:
    with st.runtime.engine.begin() as conn:
        if not on:
            conn.execute(text("DROP TRIGGER refuse_poison" + (" ON inbox" if pg(st) else "")))
        elif pg(st):
            conn.execute(text(_PG_FUNCTION))
            conn.execute(text(_PG_TRIGGER))
        else:
            conn.execute(text(_SQLITE_TRIGGER))


def pg(st: DemoStack) -> bool:
    return st.runtime.dialect == "postgresql"


def cli_env(st: DemoStack, monkeypatch: pytest.MonkeyPatch) -> None:
    s = st.settings
    monkeypatch.setenv("AMAN_DATABASE_URL", s.database_url)
    monkeypatch.setenv("AMAN_MASTER_KEY", s.master_key.reveal())  # type: ignore[union-attr]
    monkeypatch.setenv("AMAN_TENANT", s.tenant)
    if s.keystore_url:
        monkeypatch.setenv("AMAN_KEYSTORE_URL", s.keystore_url)
    if s.audit_witness:
        monkeypatch.setenv("AMAN_AUDIT_WITNESS", s.audit_witness)


async def test_a_refused_body_is_kept_aside_acked_and_replayed(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"database_url": db_url, "mark_read": False},
        simulator_options={"enforce_window": False},
    ) as st:
        refuse_poison(st, True)
        good = [text_body(f"wamid.GOOD{i}", f"6281234560{i:02d}", f"halo {i}") for i in range(8)]
        poison = text_body(POISON, "6281234560099", "halo racun")
        # Sent together, so the poison shares a group commit with good bodies.
        results = await asyncio.gather(*(post(st, b) for b in [*good[:4], poison, *good[4:]]))
        assert [code for code, _ in results] == [200] * 9
        stored = {w for (w,) in rows(st, "select wamid from inbox")}
        assert stored == {f"wamid.GOOD{i}" for i in range(8)}
        assert scalar(st, "select count(*) from webhook_events where field = :f", f=UNSTORED) == 1
        # Meta retries it anyway: still one row kept aside, still 200.
        assert (await post(st, poison))[0] == 200
        assert scalar(st, "select count(*) from webhook_events where field = :f", f=UNSTORED) == 1
        # The row is sealed like every payload: the message text is not in the clear.
        (payload,) = rows(st, "select payload_enc from webhook_events where field = :f", f=UNSTORED)
        assert b"halo racun" not in bytes(payload[0])

        cli_env(st, monkeypatch)
        assert main(["webhooks", "kept-aside"]) == 0
        listed = capsys.readouterr().out
        assert "IntegrityError" in listed and "1 webhook body(ies) kept aside" in listed
        assert "halo racun" not in listed and "6281234560099" not in listed
        # Replayed before the cause is fixed: refused again, kept.
        assert main(["webhooks", "replay"]) == 1
        assert "stored 0; still kept aside: 1 IntegrityError" in capsys.readouterr().out

        refuse_poison(st, False)
        assert main(["webhooks", "replay"]) == 0
        assert "stored 1; still kept aside: none" in capsys.readouterr().out
        assert scalar(st, "select count(*) from webhook_events where field = :f", f=UNSTORED) == 0
        assert scalar(st, "select count(*) from inbox where wamid = :w", w=POISON) == 1
        replayed = "select count(*) from audit_entries where action = 'webhooks_replayed'"
        assert scalar(st, replayed) == 1
        # The running worker answers it like any other message.
        sent = await st.simulator.wait_for_sent(9, 15)
        assert sorted(m.to for m in sent).count("6281234560099") == 1


async def test_a_missing_table_is_503_not_kept_aside(tmp_path: Path, db_url: str) -> None:
    async with DemoStack(
        tmp_path,
        bot="echo",
        statuses=False,
        settings_overrides={"database_url": db_url},
        simulator_options={"enforce_window": False},
    ) as st:
        # A schema problem would refuse every body alike: Meta must keep them for later.
        with st.runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
        body: dict[str, Any] = text_body("wamid.AWAY", "6281234560100", "halo")
        assert (await post(st, body))[0] == 503
        with st.runtime.engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
        assert scalar(st, "select count(*) from webhook_events") == 0
        assert (await post(st, body))[0] == 200


def test_only_errors_about_the_item_itself_make_it_unstorable() -> None:
    from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

    from aman.storage.groupcommit import StorageUnavailable, Unstorable, item_failure

    cause = Exception("driver")
    assert isinstance(item_failure(IntegrityError("INSERT", {}, cause)), Unstorable)
    assert isinstance(item_failure(DataError("INSERT", {}, cause)), Unstorable)
    for systemic in (
        OperationalError("INSERT", {}, cause),  # the database away, locked, disk full
        ProgrammingError("INSERT", {}, cause),  # a missing table or column
        RuntimeError("a bug"),
    ):
        assert isinstance(item_failure(systemic), StorageUnavailable)
