"""Shared helpers for the accounts tests (no tests here): a fake clock and a wired stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pyotp
from sqlalchemy import Engine, text

from aman.accounts.context import AccountsConfig
from aman.accounts.passwords import OWASP_MINIMUM
from aman.accounts.scope import TenantScope
from aman.accounts.service import Accounts
from aman.accounts.users import User
from aman.audit.service import AuditService
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade

T0 = 1_800_000_010.0  # 10 s into a TOTP step
PASSWORD = "Kopi-tubruk di Senayan 47"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Stack:
    accounts: Accounts
    engine: Engine
    audit: AuditService
    clock: FakeClock
    master: bytes
    secrets: dict[int, str] = field(default_factory=dict)

    def code(self, user_id: int, offset_steps: int = 0) -> str:
        return pyotp.TOTP(self.secrets[user_id]).at(self.clock.now + 30 * offset_steps)

    def audit_rows(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT actor, action, target, details FROM audit_entries ORDER BY seq")
            ).all()
        return [(r.actor, r.action, r.target, orjson.loads(r.details)) for r in rows]

    def actions(self) -> list[str]:
        return [a for _, a, _, _ in self.audit_rows()]

    def enrol(
        self,
        scope: TenantScope,
        email: str,
        role: str = "admin",
        *,
        team: str | None = None,
        password: str = PASSWORD,
    ) -> tuple[User, list[str]]:
        """Create + enrol a user (TOTP secret remembered); returns (user, recovery codes)."""
        invite = self.accounts.users.create(scope, email, role, team=team)
        enrolment = self.accounts.users.enrolment(invite.token)
        secret = parse_qs(urlsplit(enrolment.otpauth_uri).query)["secret"][0]
        self.secrets[invite.user.id] = secret
        codes = self.accounts.users.complete_enrolment(
            invite.token, password, pyotp.TOTP(secret).at(self.clock.now)
        )
        self.clock.advance(30)  # the enrolment used this step
        return self.accounts.users.get(scope, invite.user.id), codes


def config(**overrides: Any) -> AccountsConfig:
    base: dict[str, Any] = {"argon2": OWASP_MINIMUM, "public_url": "https://console.bank.test"}
    base.update(overrides)
    return AccountsConfig(**base)


@contextmanager
def stack(db_url: str, **overrides: Any) -> Iterator[Stack]:
    """Migrated database + Accounts with fast (OWASP-minimum) argon2 and a fake clock."""
    engine = make_engine(db_url)
    upgrade(engine)
    master = os.urandom(32)
    audit = AuditService(master)
    clock = FakeClock()
    accounts = Accounts(engine, master, audit, config=config(**overrides), clock=clock)
    try:
        yield Stack(accounts, engine, audit, clock, master)
    finally:
        engine.dispose()


def system(tenant: str = "default") -> TenantScope:
    return TenantScope.system(tenant, "test")
