"""Redeem a verification link: check the credential, burn the token, tell the conversation.

The bot never asks for a PIN or OTP in chat.  It sends a link (minted by the
inbox worker, only the token's SHA-256 is stored); the customer opens it over
HTTPS and authenticates with the bank's own credential check.  Success marks
the token used (atomically, so it works once), and delivers a ``verified``
event through the conversation's ordered inbox.  Three wrong tries burn the
link.  Every outcome is audited; failures feed anomaly detection.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from aman.audit.service import AuditService
from aman.inbox.events import EventWriter, event_row
from aman.storage.models import VerifyToken
from aman.storage.vault import Vault

__all__ = ["MAX_ATTEMPTS", "PendingVerification", "VerificationService"]

MAX_ATTEMPTS = 3
Authenticator = Callable[[str, str], bool]  # (wa_id, secret) -> ok


@dataclass(frozen=True, slots=True)
class PendingVerification:
    purpose: str
    expires_at: float
    attempts_left: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class VerificationService:
    def __init__(
        self,
        engine: Engine,
        vault: Vault,
        audit: AuditService,
        dialect: str,
        authenticate: Authenticator,
        *,
        wake_worker: Callable[[], None] | None = None,
        on_failure: Callable[[str, str, float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._audit = audit
        self._events = EventWriter(dialect)
        self._authenticate = authenticate
        self._wake = wake_worker
        self._on_failure = on_failure
        self._clock = clock

    def pending(self, token: str) -> PendingVerification | None:
        """The link's state if it can still be used, else None (unknown/used/expired/burnt)."""
        if not token or len(token) > 100:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                select(
                    VerifyToken.purpose,
                    VerifyToken.expires_at,
                    VerifyToken.attempts,
                    VerifyToken.used_at,
                ).where(
                    VerifyToken.token_hash == _hash(token), VerifyToken.tenant == self._vault.tenant
                )
            ).first()
        if row is None or row.used_at is not None or row.expires_at < self._clock():
            return None
        if row.attempts >= MAX_ATTEMPTS:
            return None
        return PendingVerification(row.purpose, row.expires_at, MAX_ATTEMPTS - row.attempts)

    def redeem(self, token: str, secret: str) -> str:
        """Try the credential: "ok", "wrong" (tries left), or "invalid" (link unusable)."""
        digest = _hash(token)
        now = self._clock()
        if self.pending(token) is None:
            return "invalid"
        with self._engine.connect() as conn:
            row = conn.execute(select(VerifyToken).where(VerifyToken.token_hash == digest)).first()
        if row is None:
            return "invalid"
        wa_id = self._vault.open_json("verify_tokens", "data", digest, row.data_enc)["wa"]
        ok = len(secret) <= 64 and self._authenticate(wa_id, secret)
        target = f"contact:{row.contact_ix[:12]}"
        try:
            with self._engine.begin() as conn:
                if not ok:
                    conn.execute(
                        update(VerifyToken)
                        .where(VerifyToken.token_hash == digest)
                        .values(attempts=VerifyToken.attempts + 1)
                    )
                    self._audit.append(
                        conn,
                        tenant=self._vault.tenant,
                        actor="customer",
                        action="step_up_failed",
                        target=target,
                        details={"purpose": row.purpose},
                    )
                    outcome = "wrong"
                else:
                    used = conn.execute(
                        update(VerifyToken)
                        .where(
                            VerifyToken.token_hash == digest,
                            VerifyToken.used_at.is_(None),
                            VerifyToken.attempts < MAX_ATTEMPTS,
                        )
                        .values(used_at=now)
                    ).rowcount
                    if used != 1:
                        outcome = "invalid"  # redeemed concurrently
                    else:
                        self._events.write(
                            conn,
                            [
                                event_row(
                                    self._vault,
                                    phone_number_id=row.phone_number_id,
                                    contact_ix=row.contact_ix,
                                    wa_id=wa_id,
                                    event="verified",
                                    data={"purpose": row.purpose, "at": now},
                                    key=f"verified:{digest[:32]}",
                                    now=now,
                                )
                            ],
                        )
                        self._audit.append(
                            conn,
                            tenant=self._vault.tenant,
                            actor="customer",
                            action="step_up_verified",
                            target=target,
                            details={"purpose": row.purpose},
                        )
                        outcome = "ok"
        except Exception:
            self._audit.discard()
            raise
        self._audit.committed()
        if outcome == "ok" and self._wake is not None:
            self._wake()
        if outcome == "wrong" and self._on_failure is not None:
            self._on_failure(self._vault.tenant, row.contact_ix, now)  # brute-force detector
        return outcome
