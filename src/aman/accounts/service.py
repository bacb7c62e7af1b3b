"""``Accounts``: every accounts service wired together, the one object the API and console hold.

    accounts = Accounts(engine, master_key, audit, config=AccountsConfig(public_url=...))
    result = accounts.login.login(email, password, code, client_ip)
    scope = accounts.authenticate_request(request.headers, client_ip, method=request.method)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlalchemy import Engine

from aman.accounts.context import AccountsConfig, AccountsContext
from aman.accounts.cookies import CookiePolicy
from aman.accounts.login import LoginService
from aman.accounts.request_auth import RequestAuthenticator
from aman.accounts.scope import TenantScope
from aman.accounts.sessions import SessionService
from aman.accounts.tenants import TenantService
from aman.accounts.tokens import TokenService
from aman.accounts.users import UserService
from aman.audit.service import AuditService
from aman.storage.vault import Vault

__all__ = ["Accounts"]


class Accounts:
    """Tenants, users, login, sessions, API tokens and request authentication."""

    def __init__(
        self,
        engine: Engine,
        master_key: bytes,
        audit: AuditService,
        *,
        config: AccountsConfig | None = None,
        vaults: Callable[[str], Vault] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.context = AccountsContext(
            engine, master_key, audit, config=config, vaults=vaults, clock=clock
        )
        cfg = self.context.config
        self.cookies = CookiePolicy.from_public_url(
            cfg.public_url, max_age=int(cfg.session_absolute)
        )
        self.tenants = TenantService(self.context)
        self.users = UserService(self.context)
        self.sessions = SessionService(self.context)
        self.login = LoginService(self.context, self.sessions)
        self.tokens = TokenService(self.context)
        self.requests = RequestAuthenticator(self.sessions, self.tokens, self.cookies)

    def authenticate_request(
        self,
        headers: Mapping[str, str],
        client_ip: str,
        now: float | None = None,
        *,
        method: str,
    ) -> TenantScope | None:
        """See :meth:`RequestAuthenticator.authenticate_request`."""
        return self.requests.authenticate_request(headers, client_ip, now, method=method)
