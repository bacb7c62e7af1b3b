"""Tenant isolation (scoped queries, cross-tenant refusals) and the permission matrix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from aman.accounts import permissions as perms
from aman.accounts.errors import NotFoundError, PermissionDeniedError, ScopeError, ValidationError
from aman.accounts.models import ApiTokenRow, RecoveryCodeRow, UserRow
from aman.accounts.scope import TenantScope, can, require, scoped, visibility
from test_accounts_support import PASSWORD, Stack, stack, system

IP = "192.0.2.10"


@pytest.fixture
def s(db_url: str) -> Iterator[Stack]:
    with stack(db_url) as st:
        yield st


def test_scoped_adds_the_tenant_filter_and_fails_closed() -> None:
    scope = system("bank-b")
    sql = str(scoped(select(UserRow.id), UserRow, scope).compile())
    assert "users.tenant = :tenant_1" in sql
    upd = scoped(update(ApiTokenRow).values(name="x"), ApiTokenRow, scope)
    assert "api_tokens.tenant" in str(upd.compile())
    with pytest.raises(ScopeError):
        scoped(select(RecoveryCodeRow.id), RecoveryCodeRow, scope)
    with pytest.raises(ScopeError):
        scoped(select(UserRow.id), object(), scope)
    with pytest.raises(ScopeError):
        TenantScope(tenant="", principal="x", kind="system")


def test_tenant_b_never_sees_tenant_a(s: Stack) -> None:
    s.accounts.tenants.create("bank-a", "Bank A")
    s.accounts.tenants.create("bank-b", "Bank B")
    with pytest.raises(ValidationError):
        s.accounts.tenants.create("bank-a", "Again")
    with pytest.raises(ValidationError):
        s.accounts.tenants.create("Bank A!", "Bad id")
    a_admin, _ = s.enrol(system("bank-a"), "admin@a.test", "admin")
    b_admin, _ = s.enrol(system("bank-b"), "admin@b.test", "admin")
    a_token = s.accounts.tokens.create(system("bank-a"), "a-crm", ["admin"])
    s.accounts.tokens.create(system("bank-b"), "b-crm", ["analytics:read"])
    a_login = s.accounts.login.login("admin@a.test", PASSWORD, s.code(a_admin.id), IP)
    b = s.accounts.login.login("admin@b.test", PASSWORD, s.code(b_admin.id), IP).scope
    assert b.tenant == "bank-b" and b.is_admin

    assert [u.email for u in s.accounts.users.list(b)] == ["admin@b.test"]
    assert [t.name for t in s.accounts.tokens.list(b)] == ["b-crm"]
    assert [x.user_id for x in s.accounts.sessions.list(b, a_admin.id)] == []
    with pytest.raises(NotFoundError):
        s.accounts.users.get(b, a_admin.id)
    with pytest.raises(NotFoundError):
        s.accounts.users.find_by_email(b, "admin@a.test")
    with pytest.raises(NotFoundError):
        s.accounts.users.disable(b, a_admin.id)
    with pytest.raises(NotFoundError):
        s.accounts.users.reset_2fa(b, a_admin.id)
    with pytest.raises(NotFoundError):
        s.accounts.tokens.revoke(b, a_token.info.id)
    with pytest.raises(NotFoundError):
        s.accounts.sessions.revoke(b, a_login.session.id)
    assert s.accounts.tenants.get(b).id == "bank-b"
    # Tenant A is untouched and a token of A acts only in A.
    assert s.accounts.sessions.resolve(a_login.token, IP) is not None
    a_scope = s.accounts.tokens.authenticate(a_token.secret, IP)
    assert a_scope is not None and a_scope.tenant == "bank-a"
    assert {u.email for u in s.accounts.users.list(a_scope)} == {"admin@a.test"}
    # Emails are unique across the platform (login needs no tenant).
    with pytest.raises(ValidationError):
        s.accounts.users.create(b, "admin@a.test", "agent")
    # Resources of another tenant are refused by can() as well.
    assert not can(b, perms.MESSAGES_READ, {"tenant": "bank-a"})
    assert can(b, perms.MESSAGES_READ, {"tenant": "bank-b"})


def _user(role: str, team: str | None = "cards", user_id: int = 7) -> TenantScope:
    return TenantScope.for_user("t", user_id, role, team, session_id=1)


def test_permission_matrix() -> None:
    admin, agent, analyst = _user("admin"), _user("agent"), _user("analyst")
    for p in perms.PERMISSIONS:
        assert can(admin, p, {"assigned_user": 99})
    mine = {"assigned_user": 7}
    ours = {"assigned_team": "cards", "assigned_user": 99}
    theirs = {"assigned_team": "loans", "assigned_user": 99}
    assert can(agent, perms.MESSAGES_READ, mine) and can(agent, perms.MESSAGES_SEND, ours)
    assert not can(agent, perms.MESSAGES_READ, theirs)
    assert not can(agent, perms.MESSAGES_READ)  # no resource: no assignment: denied
    assert not can(_user("agent", team=None), perms.MESSAGES_READ, {"assigned_team": None})
    for p in (perms.USERS_MANAGE, perms.TOKENS_MANAGE, perms.AUDIT_READ, perms.ANALYTICS_READ,
              perms.CONTACTS_WRITE, perms.CAMPAIGNS_WRITE):
        assert not can(agent, p, mine)
    assert can(analyst, perms.ANALYTICS_READ)
    for p in perms.PERMISSIONS - {perms.ANALYTICS_READ}:
        assert not can(analyst, p, mine), p  # never message bodies, never management
    assert not can(admin, "messages:delete")  # unknown permissions are denied
    assert not can(_user("superuser"), perms.ANALYTICS_READ)  # unknown roles have nothing
    with pytest.raises(PermissionDeniedError):
        require(analyst, perms.MESSAGES_READ)
    assert visibility(admin).all
    v = visibility(agent)
    assert (v.all, v.user_id, v.team) == (False, 7, "cards")
    with pytest.raises(PermissionDeniedError):
        visibility(analyst)


def test_token_scopes_map_to_permissions() -> None:
    assert set(perms.SCOPES) == set(perms.SCOPE_PERMISSIONS)
    for scope_name, granted in perms.SCOPE_PERMISSIONS.items():
        assert granted <= perms.PERMISSIONS, scope_name
    token = TenantScope.for_token("t", 1, frozenset({"messages:read"}))
    assert can(token, perms.MESSAGES_READ) and can(token, perms.CONVERSATIONS_LIST)
    assert not can(token, perms.MESSAGES_SEND)
    assert visibility(token).all  # integrations are not assignment-bound
    analytics = TenantScope.for_token("t", 2, frozenset({"analytics:read", "bogus"}))
    assert analytics.permissions == {perms.ANALYTICS_READ}
    assert TenantScope.for_token("t", 3, frozenset({"admin"})).is_admin


def test_tenant_settings_need_tenant_manage_and_are_audited(s: Stack) -> None:
    admin, _ = s.enrol(system(), "admin@bank.test", "admin")
    analyst, _ = s.enrol(system(), "analyst@bank.test", "analyst")
    a = s.accounts.login.login("admin@bank.test", PASSWORD, s.code(admin.id), IP).scope
    n = s.accounts.login.login("analyst@bank.test", PASSWORD, s.code(analyst.id), IP).scope
    with pytest.raises(PermissionDeniedError):
        s.accounts.tenants.update_settings(n, {"locale": "id"})
    with pytest.raises(PermissionDeniedError):
        s.accounts.tenants.set_ip_allowlist(n, ["10.0.0.0/8"])
    with pytest.raises(ValidationError):
        s.accounts.tenants.update_settings(a, ["not", "a", "mapping"])  # type: ignore[arg-type]
    tenant = s.accounts.tenants.update_settings(a, {"locale": "id", "handoff_minutes": 5})
    assert tenant.settings == {"locale": "id", "handoff_minutes": 5}
    entries = [(actor, d) for actor, act, _, d in s.audit_rows()
               if act == "tenant_settings_updated"]
    assert entries == [(f"user:{admin.id}", {"keys": ["handoff_minutes", "locale"]})]
