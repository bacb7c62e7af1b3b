"""Flow switches: admins turn single flows of a running bot off and on again, per tenant.

``FlowSwitches`` stores the switches (``flow_settings``, audited) and reads
them through a short per-process cache: a change made in this process applies
to the next message at once, other processes pick it up within ``ttl``
seconds.  ``SwitchedBot`` wraps the runtime's bot (a ``FlowBot`` or a
``BotRouter`` of them) and hands each message to the addressed flow bot with
the tenant's switched-off flows left out (:meth:`FlowBot.without`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from aman.accounts.scope import TenantScope
from aman.audit.service import AuditService
from aman.engine.bot import Bot, BotResult, Incoming
from aman.engine.flows.executor import FlowBot
from aman.engine.flows.repository import disabled_flows, flow_enabled, set_flow_enabled
from aman.engine.router import BotRouter
from aman.monitor.services import audited

__all__ = ["FlowSwitches", "SwitchedBot"]

DEFAULT_TTL = 2.0


class FlowSwitches:
    """Which flows each tenant switched off, per bot; changes are audited."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditService,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._audit = audit
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def disabled(self, tenant: str, bot: str) -> frozenset[str]:
        """The switched-off flows of ``bot`` in ``tenant`` (at most ``ttl`` seconds old)."""
        key = (tenant, bot)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._engine.connect() as conn:
            value = disabled_flows(conn, TenantScope.system(tenant, "flows"), bot)
        with self._lock:
            self._cache[key] = (now + self._ttl, value)
        return value

    def set_enabled(self, scope: TenantScope, bot: str, flow: str, enabled: bool) -> bool:
        """Switch ``flow`` of ``bot`` on or off for the scope's tenant; True if it changed.

        The caller checks the permission and that the flow exists.  A change
        writes the audit ledger in the same transaction; a no-op writes nothing.
        """

        def work(conn: Connection) -> bool:
            if flow_enabled(conn, scope, bot, flow) == enabled:
                return False
            set_flow_enabled(conn, self._dialect, scope, bot, flow, enabled, time.time())
            self._audit.append(
                conn,
                tenant=scope.tenant,
                actor=scope.principal,
                action="flow_enabled" if enabled else "flow_disabled",
                target=f"flow:{bot}/{flow}",
                details={"bot": bot, "flow": flow},
            )
            return True

        changed = bool(audited(self._engine, self._audit, work))
        with self._lock:
            self._cache.pop((scope.tenant, bot), None)
        return changed


class SwitchedBot:
    """A bot that runs the addressed flow bot without the tenant's switched-off flows."""

    def __init__(self, inner: Bot, switches: FlowSwitches, tenant: str) -> None:
        self.inner = inner
        self.name = inner.name
        self._switches = switches
        self._tenant = tenant
        # (bot, switched-off flows) -> that bot without them: built once per change.
        self._variants: dict[tuple[int, frozenset[str]], tuple[FlowBot, FlowBot]] = {}
        self._lock = threading.Lock()

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        inner = self.inner
        bot = inner.bot_for(msg.phone_number_id) if isinstance(inner, BotRouter) else inner
        if isinstance(bot, FlowBot):
            bot = self._variant(bot, self._switches.disabled(self._tenant, bot.name))
        return bot.handle(msg, state)

    def _variant(self, bot: FlowBot, disabled: frozenset[str]) -> FlowBot:
        if not disabled:
            return bot
        key = (id(bot), disabled)
        with self._lock:
            found = self._variants.get(key)
        if found is not None and found[0] is bot:
            return found[1]
        variant = bot.without(disabled)
        with self._lock:
            if len(self._variants) >= 64:
                self._variants.clear()
            self._variants[key] = (bot, variant)
        return variant
