"""The checklist: aman-specific requirements derived from OWASP ASVS 5.0, each with a live test.

Items are grouped by ASVS 5.0 chapter (V1 Encoding and Sanitization, V2 Validation
and Business Logic, V3 Web Frontend Security, V4 API and Web Service, V6
Authentication, V7 Session Management, V8 Authorization, V9 Self-contained Tokens,
V11 Cryptography, V12 Secure Communication, V13 Configuration, V14 Data Protection,
V16 Security Logging and Error Handling).  Wording is ours; ids are aman's
(``AMAN-<chapter>-<n>``), not ASVS requirement numbers.  Every evaluator looks at
this deployment (settings, database) or exercises aman's own code (self-tests of
signature checks, encryption, redaction...) and states its evidence.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from aman.monitor.assessment import Check, Facts, Status
from aman.monitor.checks_data import (
    aead_bound_to_row,
    alert_webhook_https,
    audit_ledger,
    database_tls,
    graph_https,
    key_age,
    keyed_blind_index,
    logs_masked,
    messages_encrypted,
    open_alerts,
    public_https,
    refuses_without_secrets,
    secrets_hidden,
    typed_secrets_redacted,
    wrapped_keys,
)

__all__ = ["ITEMS", "run_checks"]

Outcome = tuple[Status, str]
_SESSION_MAX_HOURS = 24.0


def _db(f: Facts) -> str | None:
    return f.db_error


# -- V1 Encoding and Sanitization ----------------------------------------------------------
def html_escaped(f: Facts) -> Outcome:
    from aman.monitor.render import render_html

    probe = {
        "checks": [
            {
                "id": "x",
                "chapter": "x",
                "title": "<script>alert(1)</script>",
                "status": "pass",
                "evidence": "\"'><img src=x onerror=1>",
            }
        ]
    }
    page = render_html(probe)
    ok = "<script>alert(1)" not in page and "<img src=x" not in page
    return (
        "pass" if ok else "fail",
        "report renderer self-test: markup in evidence is escaped"
        if ok
        else "report renderer emitted unescaped markup",
    )


# -- V2 Validation and Business Logic ----------------------------------------------------------
def body_limit(f: Facts) -> Outcome:
    limit = f.settings.max_body
    ok = limit <= 3 * 1024 * 1024
    return ("pass" if ok else "fail", f"AMAN_MAX_BODY = {limit} bytes (Meta's maximum is 3 MiB)")


def webhook_shape(f: Facts) -> Outcome:
    from aman.webhook.parser import WebhookShapeError, parse_webhook_bytes

    refused = 0
    for body in (
        b"[]",
        b'{"object": "page"}',
        b"\xff\xfe",
        b'{"object":"whatsapp_business_account","entry":"x"}',
    ):
        try:
            parse_webhook_bytes(body)
        except WebhookShapeError:
            refused += 1
    return (
        "pass" if refused == 4 else "fail",
        f"parser self-test: {refused} of 4 malformed webhook bodies refused (400)",
    )


def anti_automation(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    missing = [t for t in ("alerts", "contact_controls", "fraud_reports") if t not in f.tables]
    if missing:
        return "fail", f"monitor tables missing ({', '.join(missing)}): run `aman db upgrade`"
    m = f.monitor
    extra = (
        ""
        if m is None
        else (
            f"; flood >= {m.flood_per_minute}/min throttles, verification failures >= "
            f"{m.verify_failures}/{int(m.verify_window_seconds)}s quarantine"
        )
    )
    return "pass", "anomaly detection tables present" + extra


def step_up_attempts(f: Facts) -> Outcome:
    from aman.verify.service import MAX_ATTEMPTS

    ok = MAX_ATTEMPTS <= 5
    return (
        "pass" if ok else "fail",
        f"a verification link burns after {MAX_ATTEMPTS} wrong PINs; links are single-use",
    )


# -- V3 Web Frontend Security ------------------------------------------------------------------
def security_headers(f: Facts) -> Outcome:
    from aman.api.security_headers import SecurityHeadersMiddleware

    sent: list[Any] = []

    async def page(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def record(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    # The middleware never suspends here, so one send() drives it to completion.
    coro = SecurityHeadersMiddleware(page)({"type": "http"}, receive, record)
    try:
        coro.send(None)
    except StopIteration:
        pass
    finally:
        coro.close()
    raw: list[tuple[bytes, bytes]] = list(sent[0]["headers"]) if sent else []
    headers = {bytes(k).decode().lower(): bytes(v).decode() for k, v in raw}
    csp = headers.get("content-security-policy", "")
    want = {
        "frame-ancestors 'none'": "frame-ancestors 'none'" in csp,
        "nosniff": headers.get("x-content-type-options") == "nosniff",
        "no-referrer": headers.get("referrer-policy") == "no-referrer",
    }
    missing = [k for k, ok in want.items() if not ok]
    if missing:
        return "fail", f"missing: {', '.join(missing)}"
    return "pass", "CSP with frame-ancestors 'none', nosniff and no-referrer on every page"


# -- V4 API and Web Service --------------------------------------------------------------------
def webhook_signature(f: Facts) -> Outcome:
    from aman.config import Settings
    from aman.webhook.signature import sign, verify_signature

    secret = secrets.token_bytes(32)
    body = b'{"object":"whatsapp_business_account"}'
    good = sign(secret, body)
    selftest = (
        verify_signature(secret, body, good)
        and not verify_signature(secret, body + b" ", good)
        and not verify_signature(secret, body, None)
        and not verify_signature(secret, body, good[:-1])
        and not verify_signature(secrets.token_bytes(32), body, good)
    )
    refuses = "AMAN_APP_SECRET" in Settings().missing_secrets()
    if not selftest or not refuses:
        return "fail", "HMAC self-test or start-up refusal failed"
    if not f.settings.app_secret:
        return "fail", "AMAN_APP_SECRET is not set: `aman serve` refuses to start"
    return (
        "pass",
        "AMAN_APP_SECRET set; HMAC-SHA256 checked in constant time before parsing "
        "(self-test: tampered, missing and foreign signatures refused); serve refuses "
        "to start without it",
    )


def api_tokens(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    if f.tokens is None:
        return "not_applicable", "no API tokens table yet"
    live, too_long = f.tokens
    cols = f.tables.get("api_tokens", set())
    hashed = "token_hash" in cols and "token" not in cols
    if not hashed:
        return "fail", "API tokens table stores more than a hash of the token"
    if too_long:
        return "fail", f"{too_long} of {live} live API tokens are valid for more than a year"
    return "pass", f"{live} live API token(s), all expiring within a year, stored as SHA-256 only"


# -- V6 Authentication -------------------------------------------------------------------------
def staff_two_factor(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    s = f.staff
    if s is None or s.users == 0:
        return "not_applicable", "no staff accounts yet"
    pct = 100.0 * s.with_totp / s.users
    return (
        "pass" if s.with_totp == s.users else "fail",
        f"{s.with_totp} of {s.users} active staff accounts use TOTP ({pct:.0f} %)",
    )


def no_secrets_in_chat(f: Facts) -> Outcome:
    from aman.guard import check_outbound

    asks = check_outbound("Silakan balas dengan PIN dan kode OTP Anda", [])
    ok = any(v.code == "asks_secret" for v in asks)
    return (
        "pass" if ok else "fail",
        "outbound guard self-test: a reply asking for PIN/OTP is blocked; step-up "
        "verification happens on aman's own page"
        if ok
        else "outbound guard let it through",
    )


def login_throttle(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    if "users" not in f.tables:
        return "not_applicable", "no staff accounts yet"
    ok = "auth_throttle" in f.tables
    return (
        "pass" if ok else "fail",
        "failed sign-ins are counted per account and address with lockout (auth_throttle)"
        if ok
        else "no sign-in throttling table",
    )


# -- V7 Session Management ---------------------------------------------------------------------
def session_lifetime(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    if f.session_hours is None:
        return "not_applicable", "no staff sessions table yet"
    ok = f.session_hours <= _SESSION_MAX_HOURS
    return (
        "pass" if ok else "fail",
        f"longest live session lasts {f.session_hours:.1f} h (limit {_SESSION_MAX_HOURS:.0f} h)",
    )


# -- V8 Authorization --------------------------------------------------------------------------
def known_roles(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    if f.staff is None or f.staff.users == 0:
        return "not_applicable", "no staff accounts yet"
    try:
        from aman.accounts.permissions import ROLES
    except ImportError:
        return "fail", "staff accounts exist but no permission matrix is installed"
    unknown = sorted(set(f.staff.roles) - set(ROLES))
    counts = ", ".join(f"{r}: {n}" for r, n in sorted(f.staff.roles.items()))
    if unknown:
        return "fail", f"roles outside the permission matrix: {', '.join(unknown)}"
    return "pass", f"every account has a role of the deny-by-default matrix ({counts})"


def tenant_scoped(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    if f.unscoped_tables:
        return "fail", f"tables with sealed data but no tenant: {', '.join(f.unscoped_tables)}"
    sealed = sum(1 for cols in f.tables.values() if any(c.endswith("_enc") for c in cols))
    return "pass", f"all {sealed} tables holding sealed personal data carry a tenant column"


# -- V9 Self-contained Tokens ------------------------------------------------------------------
def no_self_contained_tokens(f: Facts) -> Outcome:
    cols = f.tables.get("verify_tokens", set())
    hashed = "token_hash" in cols and "token" not in cols
    note = " (verify_tokens holds only SHA-256 hashes)" if hashed else ""
    return (
        "not_applicable",
        "aman issues no self-contained tokens (JWT); verification links, sessions and API "
        "tokens are random references checked server-side" + note,
    )


ITEMS: list[tuple[str, str, str, Callable[[Facts], Outcome]]] = [
    (
        "AMAN-V1-1",
        "V1 Encoding and Sanitization",
        "Untrusted text is escaped in HTML output",
        html_escaped,
    ),
    (
        "AMAN-V2-1",
        "V2 Validation and Business Logic",
        "Webhook bodies are size-limited",
        body_limit,
    ),
    (
        "AMAN-V2-2",
        "V2 Validation and Business Logic",
        "Webhook bodies are validated before use",
        webhook_shape,
    ),
    (
        "AMAN-V2-3",
        "V2 Validation and Business Logic",
        "Floods, guessing and bursts are detected and throttled",
        anti_automation,
    ),
    (
        "AMAN-V2-4",
        "V2 Validation and Business Logic",
        "Step-up verification attempts are limited",
        step_up_attempts,
    ),
    (
        "AMAN-V3-1",
        "V3 Web Frontend Security",
        "Pages send CSP, anti-framing and no-sniff headers",
        security_headers,
    ),
    (
        "AMAN-V4-1",
        "V4 API and Web Service",
        "Webhooks require a valid HMAC-SHA256 signature",
        webhook_signature,
    ),
    ("AMAN-V4-2", "V4 API and Web Service", "API tokens expire and are stored hashed", api_tokens),
    (
        "AMAN-V6-1",
        "V6 Authentication",
        "Every staff account uses a second factor (TOTP)",
        staff_two_factor,
    ),
    (
        "AMAN-V6-2",
        "V6 Authentication",
        "Customers are never asked for PIN/OTP in chat",
        no_secrets_in_chat,
    ),
    ("AMAN-V6-3", "V6 Authentication", "Failed staff sign-ins are throttled", login_throttle),
    (
        "AMAN-V7-1",
        "V7 Session Management",
        "Staff sessions have an absolute timeout",
        session_lifetime,
    ),
    (
        "AMAN-V8-1",
        "V8 Authorization",
        "Staff roles come from a deny-by-default matrix",
        known_roles,
    ),
    ("AMAN-V8-2", "V8 Authorization", "Sealed personal data is scoped by tenant", tenant_scoped),
    (
        "AMAN-V9-1",
        "V9 Self-contained Tokens",
        "Self-contained tokens are validated",
        no_self_contained_tokens,
    ),
    (
        "AMAN-V11-1",
        "V11 Cryptography",
        "Personal data is encrypted (AEAD) and bound to its row",
        aead_bound_to_row,
    ),
    ("AMAN-V11-2", "V11 Cryptography", "Data keys are rotated within a year", key_age),
    (
        "AMAN-V11-3",
        "V11 Cryptography",
        "Data keys are stored only wrapped by the master key",
        wrapped_keys,
    ),
    (
        "AMAN-V11-4",
        "V11 Cryptography",
        "Phone numbers are looked up by a keyed blind index",
        keyed_blind_index,
    ),
    ("AMAN-V12-1", "V12 Secure Communication", "The public URL uses HTTPS", public_https),
    ("AMAN-V12-2", "V12 Secure Communication", "The Graph API is called over HTTPS", graph_https),
    (
        "AMAN-V12-3",
        "V12 Secure Communication",
        "Database connections are encrypted or local",
        database_tls,
    ),
    (
        "AMAN-V12-4",
        "V12 Secure Communication",
        "Alerts are pushed over HTTPS and signed",
        alert_webhook_https,
    ),
    (
        "AMAN-V13-1",
        "V13 Configuration",
        "The server refuses to start without its secrets",
        refuses_without_secrets,
    ),
    ("AMAN-V13-2", "V13 Configuration", "Secrets never appear in output or logs", secrets_hidden),
    ("AMAN-V14-1", "V14 Data Protection", "Stored messages are encrypted", messages_encrypted),
    ("AMAN-V14-2", "V14 Data Protection", "Phone numbers are masked in logs", logs_masked),
    (
        "AMAN-V14-3",
        "V14 Data Protection",
        "PINs/OTPs typed in chat are redacted before storage",
        typed_secrets_redacted,
    ),
    (
        "AMAN-V16-1",
        "V16 Security Logging and Error Handling",
        "The audit ledger is intact and signed",
        audit_ledger,
    ),
    (
        "AMAN-V16-2",
        "V16 Security Logging and Error Handling",
        "No high-severity alert is left unresolved",
        open_alerts,
    ),
]


def run_checks(facts: Facts) -> list[Check]:
    out = []
    for item_id, chapter, title, fn in ITEMS:
        status, evidence = fn(facts)
        out.append(Check(item_id, chapter, title, status, evidence[:400]))
    return out
