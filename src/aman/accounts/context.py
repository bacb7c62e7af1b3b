"""What every accounts service shares: settings, engine, vaults, audit, clock, keyed digests.

Also the small privacy helpers (email normalisation and blind index, masked
email and address for audit entries) and the unit-of-work helper that keeps an
audit append and the change it describes in one transaction.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from aman.accounts.errors import ValidationError
from aman.accounts.passwords import Argon2Params, PasswordHasher
from aman.accounts.throttle import ThrottlePolicy
from aman.audit.service import AuditService
from aman.security.blind_index import BlindIndex, derive_tenant_key
from aman.storage.vault import Vault

__all__ = [
    "PLATFORM",
    "AccountsConfig",
    "AccountsContext",
    "VaultCache",
    "mask_address",
    "mask_email",
    "normalize_email",
]

PLATFORM = "_platform"  # audit tenant for events not (yet) tied to a tenant
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    """Security knobs; defaults follow OWASP and the product's promises."""

    argon2: Argon2Params = field(default_factory=Argon2Params)
    session_idle: float = 30 * 60.0
    session_absolute: float = 12 * 3600.0
    enrol_ttl: float = 72 * 3600.0
    account_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    address_throttle: ThrottlePolicy = field(
        default_factory=lambda: ThrottlePolicy(threshold=20, forget_after=3600.0)
    )
    token_default_days: int = 90
    token_max_days: int = 366
    token_rate: float = 10.0
    token_burst: int = 50
    issuer: str = "aman"
    # Where the console lives; https unless it is a loopback dev URL (see cookies.py).
    public_url: str = "https://127.0.0.1:8080"

    def __post_init__(self) -> None:
        if not 60 <= self.session_idle <= self.session_absolute <= 7 * 86400:
            raise ValidationError("session timeouts out of range")
        if not 1 <= self.token_default_days <= self.token_max_days <= 3660:
            raise ValidationError("token lifetime out of range")


class VaultCache:
    """One ``Vault`` per tenant, opened (or created) on first use."""

    def __init__(self, engine: Engine, master_key: bytes, keystore: Engine | None = None) -> None:
        self._engine = engine
        self._master = master_key
        self._keystore = keystore
        self._vaults: dict[str, Vault] = {}
        self._lock = threading.Lock()

    def add(self, vault: Vault) -> None:
        with self._lock:
            self._vaults[vault.tenant] = vault

    def __call__(self, tenant: str) -> Vault:
        with self._lock:
            vault = self._vaults.get(tenant)
            if vault is None:
                vault = Vault.open_or_create(self._engine, tenant, self._master, self._keystore)
                self._vaults[tenant] = vault
            return vault


def normalize_email(email: str) -> str:
    """Lower-cased, trimmed address; raises ``ValidationError`` unless it looks like one."""
    if not isinstance(email, str):
        raise ValidationError("email must be a string")
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValidationError("not a valid email address")
    return value


def mask_email(email: str) -> str:
    """``budi.santoso@bank.co.id`` -> ``bu***@bank.co.id`` (for audit entries)."""
    local, at, domain = email.strip().lower().partition("@")
    if not at:
        return "***"
    return f"{local[:2]}***@{domain[:64]}"


def mask_address(client_ip: str) -> str:
    """``203.0.113.7`` -> ``203.0.113.0/24``; IPv6 -> its /48; anything else -> ``?``."""
    try:
        addr = ipaddress.ip_address(client_ip.strip())
    except (ValueError, AttributeError):
        return "?"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bits = 24 if isinstance(addr, ipaddress.IPv4Address) else 48
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


class AccountsContext:
    """Shared dependencies of the accounts services."""

    def __init__(
        self,
        engine: Engine,
        master_key: bytes,
        audit: AuditService,
        *,
        config: AccountsConfig | None = None,
        vaults: Callable[[str], Vault] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.audit = audit
        self.config = config or AccountsConfig()
        self.vaults: Callable[[str], Vault] = vaults or VaultCache(engine, master_key)
        self.clock = clock
        self.hasher = PasswordHasher(self.config.argon2)
        platform_key = derive_tenant_key(master_key, PLATFORM, "staff-email-index")
        self._email_index = BlindIndex(platform_key)
        self.throttle_key = derive_tenant_key(master_key, PLATFORM, "login-throttle")

    def email_ix(self, email: str) -> str:
        return self._email_index.digest_text(normalize_email(email))

    @contextmanager
    def unit(self) -> Iterator[Connection]:
        """One transaction whose audit entries are published only if it commits."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except BaseException:
            self.audit.discard()
            raise
        self.audit.committed()

    def audit_append(
        self,
        conn: Connection,
        *,
        tenant: str,
        actor: str,
        action: str,
        target: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.audit.append(
            conn, tenant=tenant, actor=actor, action=action, target=target, details=details
        )
