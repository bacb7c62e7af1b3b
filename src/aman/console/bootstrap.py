"""Demo only: make sure the demo has an administrator and say how to sign in to the console.

``aman demo`` calls ``demo_admin_hint`` once it runs: a first run invites
``admin@demo.aman`` and returns the one-time enrolment link (the console's
``/enrol/<token>`` page: set a password, scan the QR code); later runs just name
the account, or give a new link while its enrolment is still unfinished.
"""

from __future__ import annotations

from aman.accounts.errors import AccountsError, NotFoundError
from aman.accounts.scope import TenantScope
from aman.accounts.service import Accounts

__all__ = ["DEMO_ADMIN", "demo_admin_hint"]

DEMO_ADMIN = "admin@demo.aman"


def demo_admin_hint(accounts: Accounts, tenant: str, console_url: str) -> str:
    """One line for the demo's banner: an enrolment link, or the account to sign in with."""
    scope = TenantScope.system(tenant, "demo")
    try:
        try:
            user = accounts.users.find_by_email(scope, DEMO_ADMIN)
        except NotFoundError:
            invite = accounts.users.create(scope, DEMO_ADMIN, "admin")
            return f"set up the demo admin: {console_url}/enrol/{invite.token}"
        if user.status == "enrolling":
            invite = accounts.users.reset_2fa(scope, user.id)
            return f"finish the demo admin's set-up: {console_url}/enrol/{invite.token}"
        return f"sign in as {DEMO_ADMIN} (aman user reset-2fa if the authenticator is lost)"
    except AccountsError as exc:
        return f"no demo admin ({exc}); add staff with 'aman user create'"
