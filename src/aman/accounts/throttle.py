"""Login throttling: failure counters and exponential lockout, persisted in ``auth_throttle``.

Two counters per attempt: one for the account (keyed by the email's blind
index, whether or not the account exists, so lockout reveals nothing) and one
for the client address (IPv4 address or IPv6 /64).  From the ``threshold``-th
failure on, the key is locked for ``base * 2**(failures - threshold)`` seconds,
capped at ``cap``.  Counters are forgotten after ``forget_after`` seconds
without failures; a successful login clears the account counter only.
Keys are HMAC digests: the table holds no address or email.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from aman.accounts.models import AuthThrottleRow
from aman.storage.sql import insert_ignore

__all__ = ["ThrottlePolicy", "account_key", "address_key", "client_network", "lock_remaining",
           "record_failure", "reset"]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    threshold: int = 5
    base: float = 1.0
    cap: float = 900.0
    forget_after: float = 86400.0

    def lock_seconds(self, failures: int) -> float:
        if failures < self.threshold:
            return 0.0
        exponent = min(failures - self.threshold, 30)
        return float(min(self.cap, self.base * (2**exponent)))


def client_network(client_ip: str) -> str:
    """The throttled unit of an address: the IPv4 address or the IPv6 /64 ("?" if invalid)."""
    try:
        addr = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return "?"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def _digest(key: bytes, label: str, value: str) -> str:
    return hmac.digest(key, f"{label}:{value}".encode(), "sha256")[:20].hex()


def account_key(index_key: bytes, email_ix: str) -> str:
    return "acct:" + _digest(index_key, "acct", email_ix)


def address_key(index_key: bytes, client_ip: str) -> str:
    return "addr:" + _digest(index_key, "addr", client_network(client_ip))


def lock_remaining(conn: Connection, key: str, policy: ThrottlePolicy, now: float) -> float:
    """Seconds until ``key`` may try again (0 when it may try now)."""
    row = conn.execute(
        select(AuthThrottleRow.locked_until, AuthThrottleRow.last_failure_at).where(
            AuthThrottleRow.key == key
        )
    ).first()
    if row is None or now - row.last_failure_at > policy.forget_after:
        return 0.0
    return max(0.0, float(row.locked_until) - now)


def record_failure(
    conn: Connection, dialect: str, key: str, policy: ThrottlePolicy, now: float
) -> int:
    """Count one failure for ``key`` (row-locked on PostgreSQL); return the new count."""
    conn.execute(
        insert_ignore(dialect, AuthThrottleRow, ["key"]).values(
            key=key, failures=0, last_failure_at=now, locked_until=0.0
        )
    )
    stmt = select(AuthThrottleRow.failures, AuthThrottleRow.last_failure_at).where(
        AuthThrottleRow.key == key
    )
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).one()
    failures = int(row.failures)
    if row.failures and now - row.last_failure_at > policy.forget_after:
        failures = 0
    failures += 1
    conn.execute(
        update(AuthThrottleRow)
        .where(AuthThrottleRow.key == key)
        .values(
            failures=failures,
            last_failure_at=now,
            locked_until=now + policy.lock_seconds(failures),
        )
    )
    return int(failures)


def reset(conn: Connection, key: str) -> None:
    conn.execute(delete(AuthThrottleRow).where(AuthThrottleRow.key == key))
