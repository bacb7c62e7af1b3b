"""Checklist evaluators for cryptography, communication, configuration, data protection and
logging (ASVS 5.0 chapters V11-V16); see ``aman.monitor.checklist`` for the list itself."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from aman.monitor.assessment import Facts, Status
from aman.monitor.config import is_loopback

Outcome = tuple[Status, str]
_KEY_MAX_DAYS = 365.0


def _db(f: Facts) -> str | None:
    return f.db_error


# -- V11 Cryptography --------------------------------------------------------------------------
def aead_bound_to_row(f: Facts) -> Outcome:
    from aman.security.crypto import Aad, DecryptionError, Keyring

    ring = Keyring.generate()
    blob = ring.seal(b"self-test", Aad("t", "inbox", "payload", "1"))
    try:
        ring.open(blob, Aad("t", "inbox", "payload", "2"))
        moved = True
    except DecryptionError:
        moved = False
    ok = not moved and ring.open(blob, Aad("t", "inbox", "payload", "1")) == b"self-test"
    return (
        "pass" if ok else "fail",
        "AES-256-GCM self-test: a ciphertext moved to another row is refused"
        if ok
        else "a ciphertext opened under another row's associated data",
    )


def key_age(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    active = [k for k in f.keys if k.active]
    if not active:
        return "not_applicable", "no data keys yet (created on first start)"
    oldest = max((f.now - k.created_at) / 86400.0 for k in active)
    ok = oldest <= _KEY_MAX_DAYS
    return (
        "pass" if ok else "fail",
        f"{len(active)} active data key(s), oldest {oldest:.0f} days (rotate within "
        f"{_KEY_MAX_DAYS:.0f} days: `aman keys rotate`)",
    )


def wrapped_keys(f: Facts) -> Outcome:
    if f.master_key is None:
        return "fail", f.master_error or "AMAN_MASTER_KEY is not set"
    if _db(f):
        return "fail", str(f.db_error)
    raw = [k.key_id for k in f.keys if k.wrapped_len <= 32 or not k.provider_key_id]
    if raw:
        return "fail", f"data keys not stored wrapped: {', '.join(raw)}"
    return (
        "pass",
        f"master key from the environment; {len(f.keys)} data key(s) stored only wrapped by it",
    )


def keyed_blind_index(f: Facts) -> Outcome:
    from aman.security.blind_index import BlindIndex, derive_tenant_key

    master = secrets.token_bytes(32)
    number = "6281234567890"
    a = BlindIndex(derive_tenant_key(master, "a", "contact-index")).digest(number)
    b = BlindIndex(derive_tenant_key(master, "b", "contact-index")).digest(number)
    ok = a != b and number not in a and "1234567" not in a
    return (
        "pass" if ok else "fail",
        "phone numbers are found by a per-tenant HMAC index; the number is never stored in clear"
        if ok
        else "blind index self-test failed",
    )


# -- V12 Secure Communication ------------------------------------------------------------------
def _https_or_local(url: str, name: str) -> Outcome:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return "pass", f"{name} uses https ({parts.hostname})"
    if parts.hostname and is_loopback(parts.hostname):
        return "not_applicable", f"{name} is loopback only ({parts.hostname}): local or demo use"
    return "fail", f"{name} is {parts.scheme}://{parts.hostname}: use https"


def public_https(f: Facts) -> Outcome:
    status, evidence = _https_or_local(f.settings.public_url, "AMAN_PUBLIC_URL")
    note = (
        "; terminate TLS at the reverse proxy, forward X-Forwarded-Proto and keep aman "
        "bound to 127.0.0.1"
    )
    return status, evidence + note


def graph_https(f: Facts) -> Outcome:
    return _https_or_local(f.settings.graph_api_url, "AMAN_GRAPH_API_URL")


def database_tls(f: Facts) -> Outcome:
    url = f.settings.database_url
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return "not_applicable", "SQLite: a local file, no network connection"
    host = parts.hostname or ""
    if not host or is_loopback(host):
        return "pass", "PostgreSQL on this host (loopback or Unix socket)"
    mode = parse_qs(parts.query).get("sslmode", [""])[0]
    if mode in ("verify-full", "verify-ca", "require"):
        return "pass", f"PostgreSQL over TLS (sslmode={mode})"
    return "fail", "remote PostgreSQL without sslmode=verify-full (or require) in the URL"


def alert_webhook_https(f: Facts) -> Outcome:
    if f.monitor_error:
        return "fail", f.monitor_error
    if f.monitor is None or not f.monitor.webhook_url:
        return "fail", "AMAN_ALERT_WEBHOOK_URL is not set: alerts reach staff only in the console"
    status, evidence = _https_or_local(f.monitor.webhook_url, "AMAN_ALERT_WEBHOOK_URL")
    return status, evidence + "; deliveries signed with HMAC-SHA256 (X-Aman-Signature)"


# -- V13 Configuration -------------------------------------------------------------------------
def refuses_without_secrets(f: Facts) -> Outcome:
    from aman.config import ConfigError, Settings

    try:
        Settings().require_secrets()
    except ConfigError as exc:
        named = [v for v in ("AMAN_APP_SECRET", "AMAN_MASTER_KEY") if v in str(exc)]
        if len(named) == 2:
            missing = f.settings.missing_secrets()
            here = "all set here" if not missing else f"missing here: {', '.join(missing)}"
            return (
                "pass" if not missing else "fail",
                f"serve refuses to start without its secrets ({here})",
            )
    return "fail", "serve would start without its secrets"


def secrets_hidden(f: Facts) -> Outcome:
    from aman.config import Secret
    from aman.monitor.config import MonitorSettings

    probe = "probe-" + secrets.token_hex(8)
    shown = (
        repr(Secret(probe))
        + str(Secret(probe))
        + repr(MonitorSettings(webhook_url="https://x.example/h", webhook_secret=probe * 3))
    )
    ok = probe not in shown
    return (
        "pass" if ok else "fail",
        "secrets render as ********** in repr/str and logs" if ok else "a secret was printed",
    )


# -- V14 Data Protection -----------------------------------------------------------------------
def messages_encrypted(f: Facts) -> Outcome:
    from aman.security.crypto import CryptoError, key_id_of

    if _db(f):
        return "fail", str(f.db_error)
    if not f.inbox_sample:
        return "not_applicable", "no messages stored yet"
    plain = 0
    for blob in f.inbox_sample:
        try:
            key_id_of(blob)
        except CryptoError:
            plain += 1
            continue
        if b'"wa"' in blob or b'"text"' in blob:
            plain += 1
    n = len(f.inbox_sample)
    return (
        "pass" if plain == 0 else "fail",
        f"{n - plain} of {n} most recent stored messages are sealed ciphertext",
    )


def logs_masked(f: Facts) -> Outcome:
    from aman.security.blind_index import mask_id

    masked = mask_id("6281234567890")
    ok = masked == "62812****90"
    return ("pass" if ok else "fail", f"log masking self-test: 6281234567890 -> {masked}")


def typed_secrets_redacted(f: Facts) -> Outcome:
    from aman.security.redact import redact

    out = redact("PIN saya 123456 dan OTP 987654")
    ok = "123456" not in out.text and "987654" not in out.text
    return (
        "pass" if ok else "fail",
        "redaction self-test: PINs/OTPs typed in chat are removed before storage"
        if ok
        else "a typed PIN survived redaction",
    )


# -- V16 Security Logging and Error Handling ---------------------------------------------------
def audit_ledger(f: Facts) -> Outcome:
    if f.master_key is None:
        return "fail", "cannot verify the audit ledger: " + (f.master_error or "no master key")
    if _db(f):
        return "fail", str(f.db_error)
    if f.audit_ok is None:
        return "fail", "no audit ledger table: run `aman db upgrade`"
    if not f.audit_ok:
        return "fail", f"audit ledger verification failed: {f.audit_problem}"
    return (
        "pass",
        f"{f.audit_entries} entries and {f.audit_heads} signed tree heads verified "
        "(Ed25519, RFC 6962 Merkle tree)",
    )


def open_alerts(f: Facts) -> Outcome:
    if _db(f):
        return "fail", str(f.db_error)
    if f.alerts_open is None:
        return "fail", "no alerts table: run `aman db upgrade`"
    urgent = f.alerts_open.get("high", 0) + f.alerts_open.get("critical", 0)
    total = sum(f.alerts_open.values())
    detail = ", ".join(f"{k}: {v}" for k, v in f.alerts_open.items() if v) or "none"
    return (
        "pass" if urgent == 0 else "fail",
        f"{total} unresolved alert(s) ({detail}); high/critical ones must be handled",
    )
