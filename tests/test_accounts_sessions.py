"""Sessions (idle/absolute timeout, revocation), cookies, CSRF and authenticate_request."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest

from aman.accounts.cookies import CookiePolicy, check_csrf, csrf_token, read_cookie
from aman.accounts.errors import (
    CsrfError,
    InvalidCredentialsError,
    IpNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from aman.accounts.login import LoginResult
from test_accounts_support import PASSWORD, Stack, stack, system

IP = "203.0.113.7"


@pytest.fixture
def s(db_url: str) -> Iterator[Stack]:
    with stack(db_url) as st:
        yield st


def _login(s: Stack, email: str, user_id: int) -> LoginResult:
    result = s.accounts.login.login(email, PASSWORD, s.code(user_id), IP)
    s.clock.advance(30)  # next login needs a fresh TOTP step
    return result


def test_idle_timeout(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    token = _login(s, "budi@bank.test", user.id).token
    for _ in range(3):  # activity keeps it alive past 30 minutes in total
        s.clock.advance(29 * 60 - 30)
        assert s.accounts.sessions.resolve(token, IP) is not None
    s.clock.advance(30 * 60 + 1)
    assert s.accounts.sessions.resolve(token, IP) is None


def test_absolute_timeout(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    result = _login(s, "budi@bank.test", user.id)
    assert result.session.expires_at == result.session.created_at + 12 * 3600
    start = result.session.created_at
    while s.clock.now + 20 * 60 < start + 12 * 3600:
        s.clock.advance(20 * 60)
        assert s.accounts.sessions.resolve(result.token, IP) is not None
    s.clock.now = start + 12 * 3600
    assert s.accounts.sessions.resolve(result.token, IP) is None


def test_revocation_is_immediate_and_scoped(s: Stack) -> None:
    admin, _ = s.enrol(system(), "admin@bank.test", "admin")
    agent, _ = s.enrol(system(), "agent@bank.test", "agent")
    a = _login(s, "admin@bank.test", admin.id)
    g1 = _login(s, "agent@bank.test", agent.id)
    g2 = _login(s, "agent@bank.test", agent.id)
    own = s.accounts.sessions.list(g1.scope)
    assert [x.id for x in own] == [g1.session.id, g2.session.id]
    assert [x.current for x in own] == [True, False]
    with pytest.raises(PermissionDeniedError):  # agents cannot see others' sessions
        s.accounts.sessions.list(g1.scope, admin.id)
    with pytest.raises(PermissionDeniedError):
        s.accounts.sessions.revoke(g1.scope, a.session.id)
    s.accounts.sessions.revoke(g1.scope, g2.session.id)  # own other session
    assert s.accounts.sessions.resolve(g2.token, IP) is None
    assert len(s.accounts.sessions.list(a.scope, agent.id)) == 1
    s.accounts.sessions.revoke(a.scope, g1.session.id)  # admin revokes an agent's session
    assert s.accounts.sessions.resolve(g1.token, IP) is None
    with pytest.raises(NotFoundError):
        s.accounts.sessions.revoke(a.scope, 10_000)
    s.accounts.sessions.logout(a.scope)
    assert s.accounts.sessions.resolve(a.token, IP) is None
    assert s.actions().count("session_revoked") == 2 and "logout" in s.actions()


def test_disabling_a_user_ends_their_sessions(s: Stack) -> None:
    admin, _ = s.enrol(system(), "admin@bank.test", "admin")
    agent, _ = s.enrol(system(), "agent@bank.test", "agent")
    a = _login(s, "admin@bank.test", admin.id)
    g = _login(s, "agent@bank.test", agent.id)
    with pytest.raises(PermissionDeniedError):
        s.accounts.users.disable(g.scope, admin.id)
    disabled = s.accounts.users.disable(a.scope, agent.id)
    assert disabled.status == "disabled" and disabled.disabled_at == s.clock.now
    assert s.accounts.sessions.resolve(g.token, IP) is None
    with pytest.raises(ValidationError):
        s.accounts.users.disable(a.scope, admin.id)  # not yourself
    entry = [(actor, d) for actor, act, _, d in s.audit_rows() if act == "user_disabled"]
    assert entry == [(f"user:{admin.id}", {"sessions_revoked": 1})]


def test_reset_2fa_revokes_sessions_and_reenrols(s: Stack) -> None:
    user, codes = s.enrol(system(), "budi@bank.test")
    r = _login(s, "budi@bank.test", user.id)
    invite = s.accounts.users.reset_2fa(system(), user.id)
    assert invite.user.status == "enrolling" and not invite.user.has_totp
    assert s.accounts.sessions.resolve(r.token, IP) is None
    with pytest.raises(InvalidCredentialsError):  # old recovery codes are gone
        s.accounts.login.login("budi@bank.test", PASSWORD, codes[0], IP)
    enrol = s.accounts.users.enrolment(invite.token)
    assert not enrol.needs_password
    secret = pyotp.parse_uri(enrol.otpauth_uri).secret
    s.clock.advance(30)
    s.accounts.users.complete_enrolment(invite.token, PASSWORD, pyotp.TOTP(secret).at(s.clock.now))
    s.secrets[user.id] = secret
    s.clock.advance(30)
    assert _login(s, "budi@bank.test", user.id).scope.user_id == user.id
    assert "user_2fa_reset" in s.actions()


def test_cookie_policy() -> None:
    secure = CookiePolicy.from_public_url("https://console.bank.test")
    header = secure.set_cookie("tok")
    assert header.startswith("__Host-aman_session=tok;")
    for attr in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert attr in header
    assert "Domain" not in header and "Max-Age=0" in secure.clear_cookie()
    dev = CookiePolicy.from_public_url("http://127.0.0.1:8080")
    assert dev.name == "aman_session" and "Secure" not in dev.set_cookie("tok")
    assert CookiePolicy.from_public_url("http://localhost:8080").secure is False
    for bad in ("http://console.bank.test", "ftp://127.0.0.1", "console"):
        with pytest.raises(ValidationError):
            CookiePolicy.from_public_url(bad)
    assert read_cookie('a=1; __Host-aman_session="xyz"; b=2', secure.name) == "xyz"
    assert read_cookie("aman_session=abc", secure.name) is None
    assert read_cookie(None, secure.name) is None


def test_csrf_check_is_bound_to_the_session(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    one = _login(s, "budi@bank.test", user.id).session
    two = _login(s, "budi@bank.test", user.id).session
    assert check_csrf(one, csrf_token(one))
    assert not check_csrf(one, csrf_token(two))
    assert not check_csrf(one, "")
    assert not check_csrf(one, None)
    assert not check_csrf(one, csrf_token(one)[:-1])
    assert not check_csrf(one, "x" * 1000)


def test_authenticate_request_with_cookie(s: Stack) -> None:
    user, _ = s.enrol(system(), "budi@bank.test")
    r = _login(s, "budi@bank.test", user.id)
    auth = s.accounts.authenticate_request
    cookie = {"cookie": f"__Host-aman_session={r.token}"}
    scope = auth(cookie, IP, method="GET")
    assert scope is not None and scope.user_id == user.id and scope.session_id == r.session.id
    with pytest.raises(CsrfError):
        auth(cookie, IP, method="POST")
    with pytest.raises(CsrfError):
        auth({**cookie, "X-CSRF-Token": "wrong"}, IP, method="DELETE")
    good = {**cookie, "X-CSRF-Token": r.session.csrf}
    assert auth(good, IP, method="POST") == scope
    assert auth({**good, "Origin": "https://console.bank.test"}, IP, method="PUT") == scope
    with pytest.raises(CsrfError):
        auth({**good, "Origin": "https://evil.test"}, IP, method="POST")
    # An invalid bearer header is a refusal, not a fallback to the cookie.
    assert auth({**cookie, "Authorization": "Bearer aman_nope"}, IP, method="GET") is None
    assert auth({"Cookie": "__Host-aman_session=forged-token-value-of-43-chars-length"},
                IP, method="GET") is None
    assert auth({}, IP, method="GET") is None
    s.accounts.tenants.set_ip_allowlist(system(), ["10.0.0.0/8"])
    with pytest.raises(IpNotAllowedError):
        auth(cookie, IP, method="GET")
    assert auth(cookie, "10.1.2.3", method="GET") == scope
