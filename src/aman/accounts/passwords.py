"""Staff passwords: the policy (length, common list, email) and argon2id hashing.

Hashing uses argon2-cffi with argon2id.  Parameters below the OWASP minimum
(m=19 MiB, t=2, p=1) are refused; the default is m=64 MiB, t=3, p=1 (about
0.17 s on one core of the reference machine).  ``needs_rehash`` tells the
login service to upgrade a stored hash once the parameters rise.

Passwords are NFKC-normalised before checking and hashing, so the same
password typed on two keyboards matches.  The common-password check is
case-insensitive and also tries leetspeak undone and trailing digits and
symbols stripped ("P@ssw0rd2024!" is "password").
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from aman.accounts.errors import PasswordPolicyError, ValidationError

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "Argon2Params",
    "PasswordHasher",
    "check_password",
    "common_passwords",
    "normalize_password",
]

MIN_LENGTH = 12
MAX_LENGTH = 256
_OWASP_MIN_MEMORY_KIB = 19 * 1024
_OWASP_MIN_TIME = 2

_LEET = str.maketrans({"@": "a", "4": "a", "3": "e", "0": "o", "$": "s", "5": "s", "7": "t",
                       "!": "i", "|": "l", "+": "t", "8": "b", "9": "g"})
_TRAILING = re.compile(r"[\d\W_]+$")
_LEADING = re.compile(r"^[\d\W_]+")
_EMAIL_PARTS = re.compile(r"[._+\-]+")
_CONTEXT_MIN = 4  # email parts shorter than this are too common to forbid


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost: ``memory_kib`` KiB, ``time_cost`` passes, ``parallelism`` lanes."""

    memory_kib: int = 64 * 1024
    time_cost: int = 3
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.memory_kib < _OWASP_MIN_MEMORY_KIB or self.time_cost < _OWASP_MIN_TIME:
            raise ValidationError(
                "argon2id parameters below the OWASP minimum (m=19 MiB, t=2, p=1) are refused"
            )
        if self.parallelism < 1 or self.memory_kib > 4 * 1024 * 1024 or self.time_cost > 20:
            raise ValidationError("argon2id parameters out of range")


OWASP_MINIMUM = Argon2Params(memory_kib=_OWASP_MIN_MEMORY_KIB, time_cost=2, parallelism=1)


def normalize_password(password: str) -> str:
    if not isinstance(password, str):
        raise ValidationError("password must be a string")
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """argon2id hash / verify / needs-rehash with a dummy hash for unknown users."""

    def __init__(self, params: Argon2Params | None = None) -> None:
        self.params = params or Argon2Params()
        self._ph = argon2.PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_kib,
            parallelism=self.params.parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )

    def hash(self, password: str) -> str:
        return self._ph.hash(normalize_password(password))

    def verify(self, stored: str, password: str) -> bool:
        """Constant-work check (argon2 compares in constant time); False on any mismatch."""
        if len(password) > MAX_LENGTH:
            # Still spend the same time, then refuse: no oracle on length.
            self.burn()
            return False
        try:
            return self._ph.verify(stored, normalize_password(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._ph.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    @functools.cached_property
    def _dummy(self) -> str:
        return self._ph.hash(secrets.token_urlsafe(16))

    def burn(self) -> None:
        """Spend one verification's worth of time (login of an unknown user)."""
        try:
            self._ph.verify(self._dummy, "aman-dummy-password-never-matches")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    text = resources.files("aman.accounts").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line and not line.startswith("#")
    )


def _deleet(text: str) -> set[str]:
    return {text, text.translate(_LEET), text.replace("1", "i").translate(_LEET),
            text.replace("1", "l").translate(_LEET)}


def _variants(password: str) -> set[str]:
    """Forms to look up: as typed, without spaces, without trailing/leading digits and
    symbols, each also with leetspeak undone (all lower case)."""
    low = password.lower()
    trimmed = _TRAILING.sub("", low)
    bases = {low, low.replace(" ", ""), trimmed, _LEADING.sub("", trimmed)}
    out: set[str] = set()
    for base in bases:
        if base:
            out |= _deleet(base)
    for form in list(out):
        core = _LEADING.sub("", _TRAILING.sub("", form))
        if core:
            out.add(core)
    return out


def check_password(
    password: str, *, email: str = "", context: Iterable[str] = ()
) -> str:
    """Return the normalised password or raise ``PasswordPolicyError`` with a reason code.

    Rules: 12-256 characters; not a common password (case-insensitive, with
    simple substitutions undone); must not contain the email's local part (or
    any of its dotted parts of 4+ characters) nor any ``context`` word (e.g. the
    tenant name).
    """
    pw = normalize_password(password)
    if len(pw) < MIN_LENGTH:
        raise PasswordPolicyError(
            "too_short", f"password must have at least {MIN_LENGTH} characters"
        )
    if len(pw) > MAX_LENGTH:
        raise PasswordPolicyError("too_long", f"password must have at most {MAX_LENGTH} characters")
    if len(set(pw)) < 4:
        raise PasswordPolicyError("too_simple", "password repeats too few different characters")
    listed = common_passwords()
    variants = _variants(pw)
    if any(v in listed for v in variants):
        raise PasswordPolicyError("common", "password is too common; choose another")
    low = pw.lower()
    squashed = {v.replace(" ", "") for v in variants} | {low}
    local = email.strip().lower().partition("@")[0]
    words = {local} if len(local) >= 3 else set()
    words |= {p for p in _EMAIL_PARTS.split(local) if len(p) >= _CONTEXT_MIN}
    if any(w and w in v for w in words for v in squashed):
        raise PasswordPolicyError("contains_email", "password must not contain your email name")
    ctx = {c.strip().lower() for c in context if len(c.strip()) >= _CONTEXT_MIN}
    if any(c in v for c in ctx for v in squashed):
        raise PasswordPolicyError("context", "password must not contain the organisation's name")
    return pw
