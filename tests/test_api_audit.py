"""Generated from the route table: every state change through the API writes the audit ledger."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import func, select

from aman.accounts.scope import TenantScope
from aman.storage.models import AuditEntryRow
from test_api import SAMPLE_BODIES, SELF_SERVICE, World, _routes, bearer, path_values, world

pytestmark = pytest.mark.anyio
__all__ = ["world"]  # the fixture, shared with test_api

# POSTs that compute an answer and change nothing.
READ_ONLY_POSTS = {
    ("POST", "/flows/check"),
    ("POST", "/nlu/predict"),
    ("POST", "/segments/preview"),
}
# Run last: they remove what earlier calls use.
_DESTRUCTIVE = ("erase", "disable", "merge", "revoke", "close")


def _entries(world: World) -> int:
    with world.st.runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditEntryRow)).scalar_one())


async def test_every_state_change_is_audited(world: World) -> None:
    routes = [
        (m, p)
        for m, p in _routes(world)
        if m in ("POST", "PUT", "PATCH", "DELETE")
        and (m, p) not in SELF_SERVICE
        and (m, p) not in READ_ONLY_POSTS
    ]
    routes.sort(key=lambda r: (r[0] == "DELETE" or any(w in r[1] for w in _DESTRUCTIVE), r))
    spare = world.st.runtime.accounts.tokens.create(
        TenantScope.system("default", "test"), "spare", ["contacts:read"]
    )
    bodies = SAMPLE_BODIES | {"/tenant/ip-allowlist": {"networks": ["127.0.0.1/32"]}}
    # Users and tokens other than the ones the test itself acts with.
    values = path_values(world, user_id=world.ids["agent"], token_id=spare.info.id)
    changed: list[tuple[str, str]] = []
    silent: list[tuple[str, str, int]] = []
    async with aiohttp.ClientSession(headers=bearer(world.tokens["admin"])) as s:
        for method, path in routes:
            before = _entries(world)
            url = world.api + path.format(**values)
            async with s.request(method, url, json=bodies.get(path)) as r:
                status = r.status
                await r.read()
            if 200 <= status < 300:
                if _entries(world) > before:
                    changed.append((method, path))
                else:
                    silent.append((method, path, status))
    assert not silent, f"state changes with no audit entry: {silent}"
    # The check means something only if many state-changing routes really ran (the rest
    # refused the sample input: unknown ids, a bot this server does not run).
    assert len(changed) * 2 >= len(routes), (changed, routes)
    for must in (
        ("POST", "/tokens"),
        ("POST", "/users"),
        ("POST", "/conversations/{conv_id}/reply"),
        ("PUT", "/tenant/ip-allowlist"),
        ("POST", "/privacy/contacts/{contact_id}/erase"),
    ):
        assert must in changed, (must, changed)
