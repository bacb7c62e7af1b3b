"""Named leases: an expiring lock row held by one worker, renewed while it lives.

Used for "exactly one active sender per phone number": the holder renews its
lease every few seconds; when it dies, another process takes over once the
lease expired.  Works the same on SQLite and PostgreSQL (one upsert).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, text

from aman.storage.models import Lease

__all__ = ["Leases"]

_ACQUIRE = text(
    """
    INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :expires)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.holder = excluded.holder OR leases.expires_at < :now
    RETURNING holder
    """
)


class Leases:
    def acquire(self, conn: Connection, name: str, holder: int, ttl: float, now: float) -> bool:
        """Take or renew ``name`` for ``holder`` until ``now + ttl``; False if held by another."""
        row = conn.execute(
            _ACQUIRE, {"name": name, "holder": holder, "expires": now + ttl, "now": now}
        ).first()
        return row is not None and int(row[0]) == holder

    def release(self, conn: Connection, name: str, holder: int) -> None:
        conn.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
