"""outbox.fallback: a reply failed with 131047 after Meta accepted it is re-queued as its
template, once its send's outcome is written, and never when it has no template."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, insert, select

from aman.outbox.fallback import requeue_window_closed
from aman.storage.models import Outbox, Worker
from aman.storage.vault import Vault

TEXT = {"type": "text", "text": {"body": "free form"}}
TEMPLATE = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en"}}}


def _rows(engine: Engine, vault: Vault) -> dict[str, int]:
    """Four replies that failed with 131047: recorded (m1), outcome not yet written (m2),
    no template (m3), and one that failed with another code (m4)."""
    with engine.begin() as conn:
        vault.ensure_contact_keys(["ix-a"], conn)
    with engine.begin() as conn:
        worker = conn.execute(
            insert(Worker)
            .values(role="all", host="h", pid=1, started_at=0.0, heartbeat_at=0.0)
            .returning(Worker.id)
        ).scalar_one()
        ids = {}
        for n, (fallback, worker_id, code) in enumerate(
            [
                (TEMPLATE, None, 131047),
                (TEMPLATE, worker, 131047),
                (None, None, 131047),
                (TEMPLATE, None, 131026),
            ],
            1,
        ):
            ref = f"m{n}.0"
            body = {"msg": TEXT, "fallback": fallback}
            ids[ref] = conn.execute(
                insert(Outbox)
                .values(
                    tenant="default",
                    phone_number_id="100000000000001",
                    ref=ref,
                    kind="message",
                    contact_ix="ix-a",
                    body_enc=vault.seal_json("outbox", "body", ref, body, contact="ix-a"),
                    state="sent",
                    worker_id=worker_id,
                    wamid=f"wamid.{n}",
                    delivery_status="failed",
                    status_rank=9,
                    error_code=code,
                    created_at=1.0,
                    sent_at=1.0,
                )
                .returning(Outbox.id)
            ).scalar_one()
    return ids


def test_only_recorded_replies_with_a_template_are_requeued(engine: Engine) -> None:
    vault = Vault.open_or_create(engine, "default", secrets.token_bytes(32))
    ids = _rows(engine, vault)
    refs = list(ids)
    with engine.begin() as conn:
        assert requeue_window_closed(conn, vault, refs=refs) == 1
        # By message id as well: the same rows, nothing more to do.
        assert requeue_window_closed(conn, vault, wamids=["wamid.1", "wamid.2"]) == 0
    with engine.connect() as conn:
        got = {r.ref: r for r in conn.execute(select(Outbox))}
    m1 = got["m1.0"]
    assert (m1.state, m1.wamid, m1.delivery_status, m1.status_rank) == ("todo", None, None, 0)
    assert vault.open_json("outbox", "body", "m1.0", m1.body_enc) == {
        "msg": TEMPLATE,
        "fallback": None,
    }
    # Its send's outcome is not written yet: left to the sender, which asks by id.
    assert got["m2.0"].state == "sent"
    assert got["m3.0"].state == "sent" and got["m3.0"].delivery_status == "failed"
    assert got["m4.0"].state == "sent"
    with engine.begin() as conn:
        assert requeue_window_closed(conn, vault, ids=[ids["m2.0"], ids["m3.0"]]) == 1
    with engine.connect() as conn:
        states = {r.ref: r.state for r in conn.execute(select(Outbox.ref, Outbox.state))}
    assert states == {"m1.0": "todo", "m2.0": "todo", "m3.0": "sent", "m4.0": "sent"}
