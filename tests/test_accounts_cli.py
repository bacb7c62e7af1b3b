"""``aman user|token|tenant`` end to end, the audit trail of every change, nothing in clear."""

from __future__ import annotations

import base64
import io
import os
import time
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import text

from aman.accounts.service import Accounts
from aman.audit.service import AuditService
from aman.cli import main
from aman.storage.db import make_engine
from test_accounts_support import PASSWORD, FakeClock, config, stack, system


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> bytes:
    master = os.urandom(32)
    monkeypatch.setenv("AMAN_DATABASE_URL", db_url)
    monkeypatch.setenv("AMAN_MASTER_KEY", base64.b64encode(master).decode())
    monkeypatch.setenv("AMAN_PUBLIC_URL", "https://console.bank.test")
    monkeypatch.delenv("AMAN_TENANT", raising=False)
    monkeypatch.delenv("AMAN_AUDIT_WITNESS", raising=False)
    return master


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_user_and_token_lifecycle(
    env: bytes, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(capsys, "tenant", "create", "bank-x", "--name", "Bank X")[0] == 0
    code, _, err = _run(capsys, "user", "create", "--tenant", "nope", "--email", "a@b.test",
                        "--role", "admin")
    assert code == 2 and "no tenant 'nope'" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("password12345\n"))
    code, _, err = _run(capsys, "user", "create", "--tenant", "bank-x", "--email",
                        "budi@bankx.test", "--role", "admin", "--password-stdin")
    assert code == 2 and "too common" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = _run(capsys, "user", "create", "--tenant", "bank-x", "--email",
                        "budi@bankx.test", "--role", "admin", "--password-stdin")
    assert code == 0
    link = next(line.strip() for line in out.splitlines() if "/enrol#" in line)
    assert link.startswith("https://console.bank.test/enrol#")
    invite_token = link.split("#", 1)[1]

    engine = make_engine(db_url)
    try:
        clock = FakeClock(time.time())  # the CLI runs on the real clock
        accounts = Accounts(engine, env, AuditService(env), config=config(), clock=clock)
        enrol = accounts.users.enrolment(invite_token)
        secret = pyotp.parse_uri(enrol.otpauth_uri).secret
        accounts.users.complete_enrolment(invite_token, PASSWORD, pyotp.TOTP(secret).at(clock.now))
        clock.advance(30)
        result = accounts.login.login("budi@bankx.test", PASSWORD,
                                      pyotp.TOTP(secret).at(clock.now), "192.0.2.1")
        assert result.scope.tenant == "bank-x"

        code, out, _ = _run(capsys, "user", "list", "--tenant", "bank-x")
        assert code == 0 and "budi@bankx.test" in out and " active " in out
        code, out, err = _run(capsys, "token", "create", "--tenant", "bank-x", "--name", "crm",
                              "--scope", "messages:send", "--scope", "contacts:read",
                              "--days", "30")
        assert code == 0 and "shown only once" in err
        secret_token = out.strip()
        scope = accounts.tokens.authenticate(secret_token, "192.0.2.1", now=clock.now)
        assert scope is not None and scope.scopes == {"messages:send", "contacts:read"}
        code, out, _ = _run(capsys, "token", "list", "--tenant", "bank-x")
        assert secret_token not in out and secret_token[:9] in out
        assert _run(capsys, "token", "revoke", "1", "--tenant", "bank-x")[0] == 0
        assert accounts.tokens.authenticate(secret_token, "192.0.2.1", now=clock.now) is None

        code, out, _ = _run(capsys, "user", "reset-2fa", "budi@bankx.test", "--tenant", "bank-x")
        assert code == 0 and "/enrol#" in out
        assert accounts.sessions.resolve(result.token, "192.0.2.1", now=clock.now) is None
        assert _run(capsys, "user", "disable", "1", "--tenant", "bank-x")[0] == 0
        assert _run(capsys, "tenant", "allowlist", "--tenant", "bank-x", "10.0.0.0/8")[0] == 0
        code, out, _ = _run(capsys, "tenant", "list")
        assert "bank-x" in out and "10.0.0.0/8" in out

        with engine.connect() as conn:
            audited = conn.execute(
                text("SELECT actor, action FROM audit_entries ORDER BY seq")
            ).all()
        actions = [a for _, a in audited]
        for action in ("tenant_created", "user_created", "user_enrolled", "login_ok",
                       "token_created", "token_revoked", "user_2fa_reset", "user_disabled",
                       "tenant_ip_allowlist_set"):
            assert action in actions, action
        assert ("cli:token-create", "token_created") in [tuple(r) for r in audited]
    finally:
        engine.dispose()
    code, out, _ = _run(capsys, "audit", "verify")
    assert code == 0 and "intact" in out


def test_nothing_secret_or_personal_is_stored_in_clear(tmp_path: Path) -> None:
    db = tmp_path / "clear.db"
    with stack(f"sqlite:///{db}") as s:
        user, codes = s.enrol(system(), "budi.santoso@bank.test", "admin")
        s.accounts.login.login("budi.santoso@bank.test", PASSWORD, s.code(user.id), "192.0.2.1")
        token = s.accounts.tokens.create(system(), "crm", ["admin"]).secret
        secret = s.secrets[user.id]
        rows = s.audit_rows()
        s.engine.dispose()
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("clear.db"))
    needles = [b"budi.santoso", PASSWORD.encode(), token.encode(), secret.encode(),
               codes[0].encode(), codes[0].replace("-", "").encode(), b"192.0.2.1"]
    for needle in needles:
        assert needle not in blob, needle
    text_of_audit = repr(rows)
    assert "budi.santoso" not in text_of_audit and token not in text_of_audit


def test_key_rotation_reseals_account_secrets(db_url: str) -> None:
    from aman.storage import rotation

    # aman.storage.rotation includes the accounts' sealed columns (encrypted_columns()).
    with stack(db_url) as s:
        user, _ = s.enrol(system(), "budi@bank.test")
        s.accounts.users.create(system(), "pending@bank.test", "agent")
        vault = s.accounts.context.vaults("default")
        vault.rotate(s.engine)
        assert rotation.count_stale(s.engine, vault) == 3  # 2 emails + 1 TOTP secret
        report = rotation.rewrap_all(s.engine, vault)
        assert report.rewrapped == 3 and rotation.count_stale(s.engine, vault) == 0
        result = s.accounts.login.login("budi@bank.test", PASSWORD, s.code(user.id), "192.0.2.1")
        assert result.scope.user_id == user.id
        assert {u.email for u in s.accounts.users.list(system())} == {
            "budi@bank.test", "pending@bank.test"}
