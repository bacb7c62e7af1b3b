"""API tokens: format, scopes -> permissions, expiry, revocation, rate limit, IP allowlist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from aman.accounts.errors import (
    IpNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from aman.accounts.ratelimit import TokenBuckets
from aman.accounts.scope import can
from aman.accounts.tokens import new_token, parse_token
from test_accounts_support import Stack, stack, system

IP = "198.51.100.20"


@pytest.fixture
def s(db_url: str) -> Iterator[Stack]:
    with stack(db_url) as st:
        yield st


def test_token_format_and_checksum() -> None:
    token = new_token()
    assert token.startswith("aman_") and len(token) == 54
    assert parse_token(token) == token
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert parse_token(flipped) is None
    body_typo = token[:10] + ("x" if token[10] != "x" else "y") + token[11:]
    assert parse_token(body_typo) is None
    assert parse_token("aman_short") is None and parse_token("Bearer " + token) is None
    assert len({new_token() for _ in range(100)}) == 100


def test_create_is_shown_once_and_stored_hashed(s: Stack) -> None:
    created = s.accounts.tokens.create(system(), "crm", ["messages:send", "contacts:read"])
    info = created.info
    assert info.scopes == ("contacts:read", "messages:send")
    assert info.expires_at == s.clock.now + 90 * 86400 and (info.rate, info.burst) == (10.0, 50)
    assert info.hint == created.secret[:9] and created.secret not in repr(created)
    with s.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert created.secret not in stored and len(stored) == 64
    scope = s.accounts.tokens.authenticate(created.secret, IP)
    assert scope is not None and scope.kind == "token" and scope.token_id == info.id
    assert can(scope, "messages:send") and can(scope, "contacts:read")
    assert not can(scope, "messages:read") and not can(scope, "users:manage")
    listed = s.accounts.tokens.list(system())
    assert listed[0].last_used_at == s.clock.now and listed[0].last_used_from == "198.51.100.0/24"
    created_audit = [d for _, a, _, d in s.audit_rows() if a == "token_created"]
    assert created_audit[0]["hint"] == info.hint and created_audit[0]["name"] == "crm"


def test_validation(s: Stack) -> None:
    tokens = s.accounts.tokens
    with pytest.raises(ValidationError):
        tokens.create(system(), "x", [])
    with pytest.raises(ValidationError):
        tokens.create(system(), "x", ["messages:delete"])
    with pytest.raises(ValidationError):
        tokens.create(system(), "x", ["admin"], expires_in_days=367)
    with pytest.raises(ValidationError):
        tokens.create(system(), "x", ["admin"], expires_in_days=0)
    with pytest.raises(ValidationError):
        tokens.create(system(), "x", ["admin"], rate=0)
    with pytest.raises(ValidationError):
        tokens.create(system(), "<script>", ["admin"])


def test_expiry_and_revocation(s: Stack) -> None:
    short = s.accounts.tokens.create(system(), "short", ["analytics:read"], expires_in_days=1)
    other = s.accounts.tokens.create(system(), "other", ["analytics:read"])
    assert s.accounts.tokens.authenticate(short.secret, IP) is not None
    s.clock.advance(86400)
    assert s.accounts.tokens.authenticate(short.secret, IP) is None
    assert s.accounts.tokens.authenticate(other.secret, IP) is not None
    revoked = s.accounts.tokens.revoke(system(), other.info.id)
    assert revoked.revoked_at == s.clock.now
    assert s.accounts.tokens.authenticate(other.secret, IP) is None
    with pytest.raises(NotFoundError):
        s.accounts.tokens.revoke(system(), 999)
    assert s.actions().count("token_revoked") == 1
    s.accounts.tokens.revoke(system(), other.info.id)  # idempotent, audited once
    assert s.actions().count("token_revoked") == 1


def test_rate_limit(s: Stack) -> None:
    created = s.accounts.tokens.create(system(), "bot", ["messages:send"], rate=2, burst=3)
    for _ in range(3):
        assert s.accounts.tokens.authenticate(created.secret, IP) is not None
    with pytest.raises(RateLimitedError) as info:
        s.accounts.tokens.authenticate(created.secret, IP)
    assert info.value.retry_after == pytest.approx(0.5)
    s.clock.advance(0.5)
    assert s.accounts.tokens.authenticate(created.secret, IP) is not None
    header = {"Authorization": f"Bearer {created.secret}"}
    with pytest.raises(RateLimitedError):
        s.accounts.authenticate_request(header, IP, method="POST")


def test_token_buckets_refill_and_bound_memory() -> None:
    buckets = TokenBuckets(max_buckets=2)
    assert buckets.take(1, 10, 1, 0.0) == 0.0
    assert buckets.take(1, 10, 1, 0.0) == pytest.approx(0.1)
    assert buckets.take(1, 10, 1, 0.1) == 0.0
    buckets.take(2, 10, 1, 0.1)
    buckets.take(3, 10, 1, 0.1)  # evicts bucket 1 (least recently used)
    assert buckets.take(1, 10, 1, 0.1) == 0.0


def test_ip_allowlist(s: Stack) -> None:
    created = s.accounts.tokens.create(system(), "erp", ["contacts:write"])
    with pytest.raises(ValidationError):
        s.accounts.tenants.set_ip_allowlist(system(), ["10.0.0.0/33"])
    tenant = s.accounts.tenants.set_ip_allowlist(system(), ["10.0.0.0/8", "2001:db8::/32"])
    assert tenant.ip_allowlist == ("10.0.0.0/8", "2001:db8::/32")
    with pytest.raises(IpNotAllowedError):
        s.accounts.tokens.authenticate(created.secret, IP)
    with pytest.raises(IpNotAllowedError):
        s.accounts.tokens.authenticate(created.secret, "not-an-ip")
    assert s.accounts.tokens.authenticate(created.secret, "10.9.8.7") is not None
    assert s.accounts.tokens.authenticate(created.secret, "2001:db8::1") is not None
    assert s.accounts.tokens.authenticate(created.secret, "::ffff:10.1.1.1") is not None
    s.accounts.tenants.set_ip_allowlist(system(), None)
    assert s.accounts.tokens.authenticate(created.secret, IP) is not None
    sets = [d for _, a, _, d in s.audit_rows() if a == "tenant_ip_allowlist_set"]
    assert sets == [{"networks": ["10.0.0.0/8", "2001:db8::/32"]}, {"networks": []}]


def test_no_privilege_escalation_through_tokens(s: Stack) -> None:
    sender = s.accounts.tokens.create(system(), "sender", ["messages:send"])
    sender_scope = s.accounts.tokens.authenticate(sender.secret, IP)
    assert sender_scope is not None
    with pytest.raises(PermissionDeniedError):
        s.accounts.tokens.create(sender_scope, "mine", ["messages:send"])
    admin = s.accounts.tokens.create(system(), "ops", ["admin"])
    admin_scope = s.accounts.tokens.authenticate(admin.secret, IP)
    assert admin_scope is not None and admin_scope.is_admin
    minted = s.accounts.tokens.create(admin_scope, "child", ["audit:read"])
    assert minted.info.created_by == f"token:{admin.info.id}"


def test_bearer_header_parsing(s: Stack) -> None:
    created = s.accounts.tokens.create(system(), "crm", ["messages:read"])
    auth = s.accounts.authenticate_request
    assert auth({"authorization": f"bearer {created.secret}"}, IP, method="GET") is not None
    assert auth({"Authorization": f"Basic {created.secret}"}, IP, method="GET") is None
    assert auth({"Authorization": "Bearer"}, IP, method="GET") is None
    assert auth({"Authorization": f"Bearer {new_token()}"}, IP, method="GET") is None
    # Tokens need no CSRF token: they are not sent automatically by browsers.
    assert auth({"Authorization": f"Bearer {created.secret}"}, IP, method="POST") is not None
