"""The accounts error family: one root, one subclass per kind of refusal."""

from __future__ import annotations

__all__ = [
    "AccountsError",
    "CsrfError",
    "EnrolmentError",
    "InvalidCredentialsError",
    "IpNotAllowedError",
    "LoginThrottledError",
    "NotFoundError",
    "PasswordPolicyError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ScopeError",
    "ValidationError",
]


class AccountsError(Exception):
    """Root of every error raised by ``aman.accounts``."""


class ValidationError(AccountsError, ValueError):
    """Malformed input (an email, a role, a scope name, a CIDR...); the message says which."""


class PasswordPolicyError(ValidationError):
    """A new password breaks the policy; ``reason`` is a stable code for the UI."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidCredentialsError(AccountsError):
    """Login failed. Always the same message, whatever was wrong."""

    def __init__(self) -> None:
        super().__init__("invalid credentials")


class LoginThrottledError(AccountsError):
    """Too many failed logins for this account or address: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(f"too many attempts; try again in {self.retry_after} s")


class EnrolmentError(AccountsError):
    """An invite / enrolment link is unknown, used or expired, or its TOTP code is wrong."""


class NotFoundError(AccountsError):
    """No such user, session, token or tenant (in the caller's tenant)."""


class PermissionDeniedError(AccountsError):
    """The principal lacks the permission (HTTP 403)."""


class ScopeError(AccountsError):
    """A query could not be scoped to a tenant (programming error: fail closed)."""


class CsrfError(AccountsError):
    """A cookie-authenticated unsafe request lacks a valid CSRF token or has a foreign Origin."""


class IpNotAllowedError(AccountsError):
    """The client address is outside the tenant's IP allowlist (HTTP 403)."""


class RateLimitedError(AccountsError):
    """The API token exceeded its rate limit: retry after ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"rate limit exceeded; retry after {retry_after:.2f} s")
