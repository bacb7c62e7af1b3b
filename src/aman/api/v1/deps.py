"""Request dependencies: the authenticated principal, deny by default."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from aman.accounts.scope import TenantScope, require
from aman.api.v1.problems import Problem
from aman.runtime import Runtime

__all__ = [
    "MAX_ID",
    "ObjectId",
    "Principal",
    "client_ip",
    "permission",
    "principal",
    "runtime_of",
]

MAX_ID = 2**62  # ids are BIGINT; larger values are refused before they reach SQL
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]  # an object's id in a path


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def client_ip(request: Request) -> str:
    # No peer address (only over a Unix socket): an address no allowlist contains.
    return request.client.host if request.client is not None else "0.0.0.0"  # noqa: S104  # nosec B104


def principal(request: Request) -> TenantScope:
    """The caller: an API token (Bearer aman_...) or a console session (+CSRF when unsafe)."""
    accounts = runtime_of(request).accounts
    scope: TenantScope | None = accounts.authenticate_request(
        {k.lower(): v for k, v in request.headers.items()},
        client_ip(request),
        method=request.method,
    )
    if scope is None:
        raise Problem(401, "authentication required")
    return scope


Principal = Annotated[TenantScope, Depends(principal)]


def permission(name: str) -> object:
    """A dependency that requires ``name`` (no resource: tenant-wide permissions)."""

    def check(scope: Principal) -> TenantScope:
        require(scope, name)
        return scope

    return Depends(check)
