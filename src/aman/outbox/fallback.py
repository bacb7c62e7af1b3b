"""Template fallback: a reply refused because the 24 h window closed goes out as its template.

A bot may give a reply an approved template to send instead (``Reply.fallback``);
the outbox row's sealed envelope then holds both, ``{"msg": ..., "fallback": ...}``.
Meta reports a closed window (131047) either in the answer to the send (the sender
switches at once) or later, as a ``failed`` status webhook (ingest switches the row
back to the queue).  Both go through :func:`fallback_body`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from aman.storage.sql import DriverSQL
from aman.storage.vault import Vault

__all__ = ["fallback_body", "requeue_window_closed"]

log = logging.getLogger(__name__)

# Rows whose send Meta accepted and then failed with 131047 (the status was applied
# just before, in the same transaction).  Ingest looks by ref or wamid and leaves rows
# whose send's outcome is not written yet (worker_id set): the sender looks at those by
# id when it writes the outcome, so the outcome cannot overwrite the re-queued row.
_FAILED = (
    "SELECT id, ref, contact_ix, body_enc FROM outbox WHERE kind = 'message' "
    "AND delivery_status = 'failed' AND error_code = 131047 AND "
)
_FAILED_BY_REF = DriverSQL(_FAILED + "ref IN ({refs}) AND worker_id IS NULL")
_FAILED_BY_WAMID = DriverSQL(_FAILED + "wamid IN ({wamids}) AND worker_id IS NULL")
_FAILED_BY_ID = DriverSQL(_FAILED + "id IN ({ids})")
# Back to the queue as a new message: the old wamid and its statuses stay behind.
_REQUEUE = DriverSQL(
    "UPDATE outbox SET state = 'todo', body_enc = :body, next_attempt_at = 0, "
    "worker_id = NULL, wamid = NULL, delivery_status = NULL, status_rank = 0, "
    "sent_at = NULL WHERE id = :id AND delivery_status = 'failed'"
)


def fallback_body(
    vault: Vault, ref: str, contact_ix: str, envelope: Mapping[str, Any]
) -> bytes | None:
    """The sealed envelope that sends ``envelope``'s template instead, or None if it has none."""
    template = envelope.get("fallback")
    if not template:
        return None
    return vault.seal_json(
        "outbox", "body", ref, {"msg": template, "fallback": None}, contact=contact_ix
    )


def requeue_window_closed(
    conn: Connection,
    vault: Vault,
    *,
    refs: Sequence[str] = (),
    wamids: Sequence[str] = (),
    ids: Sequence[int] = (),
) -> int:
    """Queue the template of each reply that failed with 131047 after it was accepted.

    ``refs`` and ``wamids`` name the rows of ``failed`` statuses carrying 131047 (by
    callback ref when the status had one, else by message id); ``ids`` are rows whose
    send was just recorded as sent.  A reply without a template stays failed: the
    window is closed and there is nothing else to send.
    """
    rows: dict[int, tuple[str, str, bytes]] = {}
    for stmt, name, values in (
        (_FAILED_BY_REF, "refs", refs),
        (_FAILED_BY_WAMID, "wamids", wamids),
        (_FAILED_BY_ID, "ids", ids),
    ):
        if values:
            for row_id, ref, contact_ix, body_enc in stmt.rows(conn, {name: list(values)}):
                rows[int(row_id)] = (ref, contact_ix, bytes(body_enc))
    params = []
    for row_id, (ref, contact_ix, body_enc) in rows.items():
        try:
            envelope = vault.open_json("outbox", "body", ref, body_enc)
            body = fallback_body(vault, ref, contact_ix, envelope)
        except Exception as exc:  # noqa: BLE001 - e.g. the customer's key was erased
            log.warning("outbox row %d: no template fallback (%s)", row_id, type(exc).__name__)
            continue
        if body is not None:
            params.append({"id": row_id, "body": body})
    _REQUEUE.many(conn, params)
    return len(params)
