"""``aman user``, ``aman token`` and ``aman tenant``: operator accounts from the command line.

Secrets are printed once and never logged: the enrolment link of a new user
(or after ``reset-2fa``) and a new API token.  Passwords are only read from
standard input (``--password-stdin``), never from arguments.  Every change is
audited with actor ``cli:<command>``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aman.accounts.scope import TenantScope
    from aman.accounts.service import Accounts
    from aman.accounts.users import Invitation

__all__ = ["ENROL_PATH", "register"]

ENROL_PATH = "/enrol"  # console page that reads the token from the URL fragment


@contextmanager
def _accounts() -> Iterator[tuple[Accounts, str, str]]:
    from pathlib import Path

    from aman.accounts.context import AccountsConfig
    from aman.accounts.service import Accounts
    from aman.audit.service import AuditService
    from aman.config import Settings
    from aman.storage.db import make_engine
    from aman.storage.migrate import upgrade

    settings = Settings.from_env()
    master = settings.master_key_bytes()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        witness = Path(settings.audit_witness) if settings.audit_witness else None
        audit = AuditService(master, witness=witness)
        accounts = Accounts(engine, master, audit,
                            config=AccountsConfig(public_url=settings.public_url))
        yield accounts, settings.tenant, settings.public_url
    finally:
        engine.dispose()


def _run(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        from aman.accounts.errors import AccountsError

        try:
            return action(args)
        except AccountsError as exc:
            print(f"aman {args.command}: {exc}", file=sys.stderr)
            return 2

    return wrapped


def _scope(accounts: Accounts, tenant: str, actor: str) -> TenantScope:
    from aman.accounts.errors import NotFoundError
    from aman.accounts.scope import TenantScope

    if accounts.tenants.find(tenant) is None:
        raise NotFoundError(f"no tenant {tenant!r} (create it with `aman tenant create`)")
    return TenantScope.system(tenant, actor)


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts)) + "Z"


def _print_link(invite: Invitation, public_url: str) -> None:
    print(f"user {invite.user.id} ({invite.user.role}) must enrol before signing in.")
    print(f"enrolment link, shown once, valid until {_when(invite.expires_at)}:")
    print(f"  {public_url}{ENROL_PATH}#{invite.token}")


def _user_ref(accounts: Accounts, scope: TenantScope, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    return accounts.users.find_by_email(scope, ref).id


# -- user ---------------------------------------------------------------------
@_run
def _user_create(args: argparse.Namespace) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    with _accounts() as (accounts, default_tenant, url):
        scope = _scope(accounts, args.tenant or default_tenant, "user-create")
        invite = accounts.users.create(scope, args.email, args.role, team=args.team,
                                       password=password)
        _print_link(invite, url)
    return 0


@_run
def _user_list(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, default_tenant, _url):
        scope = _scope(accounts, args.tenant or default_tenant, "user-list")
        users = accounts.users.list(scope)
    if args.json:
        print(json.dumps([asdict(u) for u in users], indent=2))
        return 0
    print(f"{'id':>5}  {'role':8} {'team':12} {'status':10} {'2fa':4} {'last login':17} email")
    for u in users:
        print(f"{u.id:>5}  {u.role:8} {(u.team or '-'):12} {u.status:10} "
              f"{'yes' if u.has_totp else 'no':4} {_when(u.last_login_at):17} {u.email}")
    return 0


@_run
def _user_disable(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, default_tenant, _url):
        scope = _scope(accounts, args.tenant or default_tenant, "user-disable")
        user = accounts.users.disable(scope, _user_ref(accounts, scope, args.user))
    print(f"user {user.id} disabled; their sessions are revoked")
    return 0


@_run
def _user_reset_2fa(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, default_tenant, url):
        scope = _scope(accounts, args.tenant or default_tenant, "user-reset-2fa")
        invite = accounts.users.reset_2fa(scope, _user_ref(accounts, scope, args.user))
        _print_link(invite, url)
    return 0


# -- token --------------------------------------------------------------------
@_run
def _token_create(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, default_tenant, _url):
        scope = _scope(accounts, args.tenant or default_tenant, "token-create")
        created = accounts.tokens.create(scope, args.name, args.scope,
                                         expires_in_days=args.days, rate=args.rate,
                                         burst=args.burst)
    info = created.info
    print(f"token {info.id} '{info.name}' scopes={' '.join(info.scopes)} "
          f"expires {_when(info.expires_at)}", file=sys.stderr)
    print("copy it now, it is shown only once:", file=sys.stderr)
    print(created.secret)
    return 0


@_run
def _token_list(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, default_tenant, _url):
        scope = _scope(accounts, args.tenant or default_tenant, "token-list")
        tokens = accounts.tokens.list(scope)
    if args.json:
        print(json.dumps([asdict(t) for t in tokens], indent=2))
        return 0
    now = time.time()
    print(f"{'id':>5}  {'hint':10} {'state':8} {'expires':17} {'last used':17} name / scopes")
    for t in tokens:
        state = "revoked" if t.revoked_at else ("expired" if t.expires_at <= now else "active")
        print(f"{t.id:>5}  {t.hint:10} {state:8} {_when(t.expires_at):17} "
              f"{_when(t.last_used_at):17} {t.name} [{' '.join(t.scopes)}]")
    return 0


@_run
def _token_revoke(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, default_tenant, _url):
        scope = _scope(accounts, args.tenant or default_tenant, "token-revoke")
        info = accounts.tokens.revoke(scope, args.token_id)
    print(f"token {info.id} '{info.name}' revoked")
    return 0


# -- tenant -------------------------------------------------------------------
@_run
def _tenant_create(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, _tenant, _url):
        tenant = accounts.tenants.create(args.tenant_id, args.name, actor="cli:tenant-create")
    print(f"tenant {tenant.id} ({tenant.name}) created")
    return 0


@_run
def _tenant_list(args: argparse.Namespace) -> int:
    with _accounts() as (accounts, _tenant, _url):
        tenants = accounts.tenants.list_all()
    for t in tenants:
        allow = ", ".join(t.ip_allowlist) if t.ip_allowlist else "any address"
        print(f"{t.id:20} {t.name:30} {allow}")
    return 0


@_run
def _tenant_allowlist(args: argparse.Namespace) -> int:
    from aman.accounts.errors import ValidationError

    if args.clear == bool(args.cidr):
        raise ValidationError("give networks or --clear (not both)")
    with _accounts() as (accounts, default_tenant, _url):
        scope = _scope(accounts, args.tenant or default_tenant, "tenant-allowlist")
        tenant = accounts.tenants.set_ip_allowlist(scope, None if args.clear else args.cidr)
    print(f"tenant {tenant.id}: " + (", ".join(tenant.ip_allowlist or ()) or "any address"))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aman.accounts.permissions import ROLES, SCOPES

    tenant_help = "tenant id (default: AMAN_TENANT or 'default')"

    p = sub.add_parser("user", help="staff accounts (admin, agent, analyst)")
    usub = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    c = usub.add_parser("create", help="create a user; prints a one-time enrolment link")
    c.add_argument("--tenant", help=tenant_help)
    c.add_argument("--email", required=True)
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--team", help="agents see conversations assigned to their team")
    c.add_argument("--password-stdin", action="store_true",
                   help="read the initial password from standard input (TOTP is still enrolled)")
    c.set_defaults(func=_user_create)
    ls = usub.add_parser("list", help="list the tenant's users")
    ls.add_argument("--tenant", help=tenant_help)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_user_list)
    d = usub.add_parser("disable", help="disable a user and end their sessions")
    d.add_argument("user", help="user id or email")
    d.add_argument("--tenant", help=tenant_help)
    d.set_defaults(func=_user_disable)
    r = usub.add_parser("reset-2fa", help="remove a user's authenticator; prints a new link")
    r.add_argument("user", help="user id or email")
    r.add_argument("--tenant", help=tenant_help)
    r.set_defaults(func=_user_reset_2fa)

    p = sub.add_parser("token", help="API tokens (Authorization: Bearer aman_...)")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    c = tsub.add_parser("create", help="create a token; prints it once")
    c.add_argument("--tenant", help=tenant_help)
    c.add_argument("--name", required=True)
    c.add_argument("--scope", action="append", required=True, choices=SCOPES,
                   help="repeat for several scopes")
    c.add_argument("--days", type=int, default=None, help="lifetime in days (default 90)")
    c.add_argument("--rate", type=float, default=None, help="requests per second (default 10)")
    c.add_argument("--burst", type=int, default=None, help="burst size (default 50)")
    c.set_defaults(func=_token_create)
    ls = tsub.add_parser("list", help="list the tenant's tokens (never the secrets)")
    ls.add_argument("--tenant", help=tenant_help)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_token_list)
    r = tsub.add_parser("revoke", help="revoke a token now")
    r.add_argument("token_id", type=int)
    r.add_argument("--tenant", help=tenant_help)
    r.set_defaults(func=_token_revoke)

    p = sub.add_parser("tenant", help="tenants (organisations) and their IP allowlists")
    nsub = p.add_subparsers(dest="tenant_command", metavar="ACTION", required=True)
    c = nsub.add_parser("create", help="create a tenant")
    c.add_argument("tenant_id", help="slug: a-z, 0-9, '-'")
    c.add_argument("--name", required=True)
    c.set_defaults(func=_tenant_create)
    ls = nsub.add_parser("list", help="list tenants")
    ls.set_defaults(func=_tenant_list)
    a = nsub.add_parser("allowlist", help="restrict a tenant to networks (CIDR), or --clear")
    a.add_argument("cidr", nargs="*")
    a.add_argument("--clear", action="store_true")
    a.add_argument("--tenant", help=tenant_help)
    a.set_defaults(func=_tenant_allowlist)
