"""Enrolment and login: TOTP reuse, recovery codes, uniform errors, lockout, rehash, audit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from aman.accounts.errors import (
    EnrolmentError,
    InvalidCredentialsError,
    LoginThrottledError,
    PasswordPolicyError,
)
from aman.accounts.passwords import Argon2Params
from aman.accounts.service import Accounts
from aman.accounts.throttle import ThrottlePolicy
from test_accounts_support import PASSWORD, Stack, stack, system

IP = "203.0.113.7"


@pytest.fixture
def s(db_url: str) -> Iterator[Stack]:
    with stack(db_url) as st:
        yield st


def test_enrolment_then_login_with_totp(s: Stack) -> None:
    user, codes = s.enrol(system(), "Budi@Bank.test", "agent", team="cards")
    assert user.status == "active" and user.has_totp and user.email == "budi@bank.test"
    assert len(codes) == 10
    result = s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), IP)
    assert result.scope.user_id == user.id and result.scope.roles == {"agent"}
    assert result.scope.team == "cards" and result.scope.tenant == "default"
    assert len(result.token) >= 43 and result.session.client == "203.0.113.0/24"
    actions = s.actions()
    for action in ("user_created", "totp_enrolment_started", "user_enrolled", "login_ok"):
        assert action in actions


def test_invite_link_is_single_use_and_expires(s: Stack) -> None:
    invite = s.accounts.users.create(system(), "siti@bank.test", "analyst")
    enrol = s.accounts.users.enrolment(invite.token)
    assert enrol.needs_password and enrol.qr_svg.startswith("<svg")
    again = s.accounts.users.enrolment(invite.token)
    assert again.otpauth_uri == enrol.otpauth_uri  # reloading keeps the scanned secret
    secret = pyotp.parse_uri(enrol.otpauth_uri).secret
    with pytest.raises(PasswordPolicyError):
        s.accounts.users.complete_enrolment(invite.token, "password123!", "000000")
    with pytest.raises(EnrolmentError):
        s.accounts.users.complete_enrolment(invite.token, PASSWORD, "000000")
    s.accounts.users.complete_enrolment(invite.token, PASSWORD, pyotp.TOTP(secret).at(s.clock.now))
    with pytest.raises(EnrolmentError):
        s.accounts.users.enrolment(invite.token)
    late = s.accounts.users.create(system(), "late@bank.test", "agent")
    s.clock.advance(72 * 3600 + 1)
    with pytest.raises(EnrolmentError):
        s.accounts.users.enrolment(late.token)
    with pytest.raises(EnrolmentError):
        s.accounts.users.enrolment("x" * 43)


def test_user_cannot_log_in_before_enrolling(s: Stack) -> None:
    invite = s.accounts.users.create(system(), "ani@bank.test", "agent", password=PASSWORD)
    with pytest.raises(InvalidCredentialsError):
        s.accounts.login.login("ani@bank.test", PASSWORD, "123456", IP)
    enrol = s.accounts.users.enrolment(invite.token)
    assert not enrol.needs_password
    secret = pyotp.parse_uri(enrol.otpauth_uri).secret
    with pytest.raises(EnrolmentError):  # the admin-set password must be proven
        s.accounts.users.complete_enrolment(invite.token, "Another-long-pass 9",
                                            pyotp.TOTP(secret).at(s.clock.now))
    s.accounts.users.complete_enrolment(invite.token, PASSWORD, pyotp.TOTP(secret).at(s.clock.now))


def test_totp_window_and_no_reuse(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    login = s.accounts.login.login
    with pytest.raises(InvalidCredentialsError):  # the step used to enrol is spent
        login("budi@bank.test", PASSWORD, s.code(user.id, -1), IP)
    s.clock.advance(30)
    login("budi@bank.test", PASSWORD, s.code(user.id, -1), IP)  # previous step accepted
    with pytest.raises(InvalidCredentialsError):  # same code again: replay
        login("budi@bank.test", PASSWORD, s.code(user.id, -1), IP)
    login("budi@bank.test", PASSWORD, s.code(user.id, +1), IP)  # next step accepted
    with pytest.raises(InvalidCredentialsError):  # the current step is now older than the last
        login("budi@bank.test", PASSWORD, s.code(user.id, 0), IP)
    s.clock.advance(60)
    with pytest.raises(InvalidCredentialsError):  # two steps old
        login("budi@bank.test", PASSWORD, s.code(user.id, -2), IP)
    login("budi@bank.test", PASSWORD, s.code(user.id), IP)


def test_recovery_codes_are_single_use_and_regenerable(s: Stack) -> None:
    user, codes = s.enrol(system(), "budi@bank.test")
    result = s.accounts.login.login("budi@bank.test", PASSWORD, codes[0], IP)
    assert result.recovery_codes_left == 9
    with pytest.raises(InvalidCredentialsError):
        s.accounts.login.login("budi@bank.test", PASSWORD, codes[0], IP)
    assert s.accounts.users.recovery_codes_left(result.scope) == 9
    used = [d for _, a, _, d in s.audit_rows() if a == "recovery_code_used"]
    assert used == [{"remaining": 9}]
    s.clock.advance(30)
    with pytest.raises(InvalidCredentialsError):
        s.accounts.users.regenerate_recovery_codes(result.scope, "000000")
    fresh = s.accounts.users.regenerate_recovery_codes(result.scope, s.code(user.id))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    assert s.accounts.users.recovery_codes_left(result.scope) == 10
    with pytest.raises(InvalidCredentialsError):  # old codes stopped working
        s.accounts.login.login("budi@bank.test", PASSWORD, codes[1], IP)
    assert "recovery_codes_regenerated" in s.actions()


def test_errors_are_uniform(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    s.enrol(system(), "gone@bank.test", "agent")
    gone = s.accounts.users.find_by_email(system(), "gone@bank.test")
    s.accounts.users.disable(system(), gone.id)
    attempts = [
        ("nobody@bank.test", PASSWORD, s.code(user.id)),
        ("not an email", PASSWORD, s.code(user.id)),
        ("budi@bank.test", "Wrong-password 123", s.code(user.id)),
        ("budi@bank.test", PASSWORD, "000000"),
        ("budi@bank.test", PASSWORD, "AAAA-BBBB-CCCC-DDDD"),
        ("budi@bank.test", PASSWORD, "garbage"),
        ("gone@bank.test", PASSWORD, s.code(gone.id)),
    ]
    messages = set()
    for i, (email, password, code) in enumerate(attempts):
        with pytest.raises(InvalidCredentialsError) as info:
            s.accounts.login.login(email, password, code, f"198.51.100.{i}")
        messages.add(str(info.value))
    assert messages == {"invalid credentials"}
    failed = [d for _, a, _, d in s.audit_rows() if a == "login_failed"]
    assert [d["reason"] for d in failed] == [
        "unknown_user", "unknown_user", "bad_password", "bad_code", "bad_code", "bad_code",
        "account_disabled",
    ]
    assert failed[0]["email"] == "no***@bank.test" and failed[0]["client"] == "198.51.100.0/24"


def test_every_failure_costs_exactly_one_argon2_verification(
    s: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No account enumeration by timing: unknown, disabled or wrong — one argon2 verify each."""
    user, _ = s.enrol(system(), "budi@bank.test")
    hasher = s.accounts.context.hasher
    hasher.burn()  # the dummy hash is computed once, up front
    inner = hasher._ph
    calls: list[float] = []

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            start = time.perf_counter()
            try:
                return bool(inner.verify(stored, password))
            finally:
                calls.append(time.perf_counter() - start)

        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

    monkeypatch.setattr(hasher, "_ph", Counting())
    cases = [
        ("ghost@bank.test", PASSWORD, "123456"),
        ("not-an-email", PASSWORD, "123456"),
        ("budi@bank.test", "Wrong-password 123", "123456"),
        ("budi@bank.test", "x" * 10_000, "123456"),
        ("budi@bank.test", PASSWORD, "000000"),
    ]
    for i, (email, password, code) in enumerate(cases):
        calls.clear()
        start = time.perf_counter()
        with pytest.raises(InvalidCredentialsError):
            s.accounts.login.login(email, password, code, f"192.0.2.{i}")
        total = time.perf_counter() - start
        assert len(calls) == 1, (email, len(calls))
        print(f"{email[:14]:14} {len(password):5} chars: {total * 1000:.0f} ms "
              f"(argon2 {calls[0] * 1000:.0f} ms)")
    assert user.id


def test_lockout_per_account_with_backoff(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    login = s.accounts.login.login
    for i in range(5):
        with pytest.raises(InvalidCredentialsError):
            login("budi@bank.test", f"Wrong-password {i}x", "123456", f"192.0.2.{i}")
    with pytest.raises(LoginThrottledError) as info:  # even the right password waits
        login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.99")
    assert info.value.retry_after == 1
    s.clock.advance(1.01)
    with pytest.raises(InvalidCredentialsError):
        login("budi@bank.test", "Wrong-password 6x", "123456", "192.0.2.6")
    with pytest.raises(LoginThrottledError) as info:
        login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.99")
    assert info.value.retry_after == 2
    for expected in (4, 8, 16):
        s.clock.advance(expected / 2 + 0.01)
        with pytest.raises(InvalidCredentialsError):
            login("budi@bank.test", "Wrong-password 7x", "123456", "192.0.2.7")
        with pytest.raises(LoginThrottledError) as info:
            login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.99")
        assert info.value.retry_after == expected
    # The lock is in the database: another process (a second Accounts) sees it.
    other = Accounts(s.engine, s.master, s.audit, config=s.accounts.context.config,
                     clock=s.clock)
    with pytest.raises(LoginThrottledError):
        other.login.login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.99")
    # Unknown accounts lock the same way: lockout reveals nothing.
    for i in range(5):
        with pytest.raises(InvalidCredentialsError):
            login("ghost@bank.test", "Wrong-password 1x", "123456", f"192.0.2.{50 + i}")
    with pytest.raises(LoginThrottledError):
        login("ghost@bank.test", "Wrong-password 1x", "123456", "192.0.2.60")
    s.clock.advance(16.01)
    result = login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.99")
    assert result.scope.user_id == user.id
    with pytest.raises(InvalidCredentialsError):  # success reset the account's counter
        login("budi@bank.test", "Wrong-password 8x", "123456", "192.0.2.8")
    assert "login_throttled" in s.actions()


def test_backoff_is_capped_at_15_minutes() -> None:
    policy = ThrottlePolicy()
    assert [policy.lock_seconds(n) for n in (4, 5, 6, 7)] == [0.0, 1.0, 2.0, 4.0]
    assert policy.lock_seconds(15) == 900.0 and policy.lock_seconds(500) == 900.0


def test_lockout_per_address(db_url: str) -> None:
    with stack(db_url, address_throttle=ThrottlePolicy(threshold=3, forget_after=3600)) as s:
        user, _ = s.enrol(system(), "budi@bank.test")
        for i in range(3):  # a different account each time: only the address adds up
            with pytest.raises(InvalidCredentialsError):
                s.accounts.login.login(f"u{i}@bank.test", "Wrong-password 1x", "1", "192.0.2.5")
        with pytest.raises(LoginThrottledError):
            s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.5")
        # Another address is not affected.
        s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.6")


def test_password_rehashed_on_login_when_parameters_rise(db_url: str) -> None:
    with stack(db_url) as s:
        user, _ = s.enrol(system(), "budi@bank.test")
        stronger = s.accounts.context.config.__class__(
            argon2=Argon2Params(memory_kib=24 * 1024, time_cost=2),
            public_url="https://console.bank.test",
        )
        upgraded = Accounts(s.engine, s.master, s.audit, config=stronger, clock=s.clock)
        upgraded.login.login("budi@bank.test", PASSWORD, s.code(user.id), IP)
        with s.engine.connect() as conn:
            stored = conn.execute(text("SELECT password_hash FROM users WHERE id = :i"),
                                  {"i": user.id}).scalar_one()
        assert stored.startswith("$argon2id$v=19$m=24576,t=2,p=1$")
        ok = [d for _, a, _, d in s.audit_rows() if a == "login_ok"]
        assert ok[-1]["rehashed"] is True
        s.clock.advance(30)
        upgraded.login.login("budi@bank.test", PASSWORD, s.code(user.id), IP)


def test_change_password_ends_other_sessions(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    first = s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), IP)
    s.clock.advance(30)
    second = s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), IP)
    with pytest.raises(InvalidCredentialsError):
        s.accounts.users.change_password(second.scope, "Wrong-password 1x", "New pass phrase 2026")
    s.accounts.users.change_password(second.scope, PASSWORD, "New pass phrase 2026")
    assert s.accounts.sessions.resolve(first.token, IP) is None
    assert s.accounts.sessions.resolve(second.token, IP) is not None
    s.clock.advance(30)
    s.accounts.login.login("budi@bank.test", "New pass phrase 2026", s.code(user.id), IP)
    assert {"password_changed", "password_change_failed"} <= set(s.actions())


def test_login_from_outside_the_allowlist_fails_uniformly(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    s.accounts.tenants.set_ip_allowlist(system(), ["10.0.0.0/8"])
    with pytest.raises(InvalidCredentialsError):
        s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), IP)
    reasons = [d["reason"] for _, a, _, d in s.audit_rows() if a == "login_failed"]
    assert reasons == ["address_not_allowed"]
    result = s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), "10.2.3.4")
    assert result.session.client == "10.2.3.0/24"
