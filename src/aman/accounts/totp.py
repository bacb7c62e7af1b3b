"""Second factor: RFC 6238 TOTP (pyotp), enrolment QR codes (segno), recovery codes.

TOTP: 30 s steps, 6 digits, SHA-1 (what every authenticator app speaks),
160-bit secrets; a code of the previous, current or next step is accepted and
:func:`match_step` returns the step so the caller can refuse it next time.
Recovery codes: 10 codes of 80 random bits (16 base32 characters in 4 groups),
each stored as SHA-256 over a per-code 16-byte salt.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import pyotp
import segno

from aman.accounts.errors import ValidationError

__all__ = [
    "DIGITS",
    "RECOVERY_CODE_COUNT",
    "STEP_SECONDS",
    "HashedCode",
    "hash_recovery_code",
    "is_totp_code",
    "match_step",
    "new_recovery_codes",
    "new_secret",
    "normalize_recovery_code",
    "provisioning_uri",
    "qr_svg",
    "recovery_code_matches",
]

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of now
RECOVERY_CODE_COUNT = 10
_RECOVERY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_RECOVERY_LEN = 16  # 16 base32 characters = 80 bits
_TOTP_RE = re.compile(r"^[0-9]{6}$")
_RECOVERY_RE = re.compile(r"^[A-Z2-7]{16}$")


def new_secret() -> str:
    """A fresh 160-bit base32 TOTP secret (RFC 4226's recommended length)."""
    return pyotp.random_base32(length=32)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def is_totp_code(code: str) -> bool:
    return bool(_TOTP_RE.match(code.strip().replace(" ", "")))


def match_step(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (now ±1), if later than ``last_step``; else None."""
    code = code.strip().replace(" ", "")
    if not _TOTP_RE.match(code):
        return None
    totp = _totp(secret)
    current = int(now // STEP_SECONDS)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Check every candidate (no early exit) so timing does not reveal which matched.
        expected = totp.at(step * STEP_SECONDS)
        if hmac.compare_digest(expected.encode(), code.encode()) and found is None:
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (rendered server-side; no script, no external refs)."""
    return str(segno.make(uri, error="m", micro=False).svg_inline(scale=5, border=4))


# -- recovery codes -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HashedCode:
    salt: bytes
    code_hash: str


def _format(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Fresh recovery codes for the user to write down (shown once)."""
    return [
        _format("".join(secrets.choice(_RECOVERY_CHARS) for _ in range(_RECOVERY_LEN)))
        for _ in range(count)
    ]


def normalize_recovery_code(code: str) -> str | None:
    """Canonical form (upper case, no dashes or spaces), or None if it cannot be one."""
    raw = code.strip().upper().replace("-", "").replace(" ", "")
    return raw if _RECOVERY_RE.match(raw) else None


def hash_recovery_code(code: str, salt: bytes | None = None) -> HashedCode:
    raw = normalize_recovery_code(code)
    if raw is None:
        raise ValidationError("not a recovery code")
    salt = salt if salt is not None else secrets.token_bytes(16)
    return HashedCode(salt, hashlib.sha256(salt + raw.encode()).hexdigest())


def recovery_code_matches(code: str, stored: HashedCode) -> bool:
    raw = normalize_recovery_code(code)
    if raw is None:
        return False
    digest = hashlib.sha256(stored.salt + raw.encode()).hexdigest()
    return hmac.compare_digest(digest, stored.code_hash)
