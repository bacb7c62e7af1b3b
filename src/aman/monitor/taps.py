"""Ready-made connections between the platform and the ``Monitor``.

``observe_webhook`` turns one parsed webhook into monitor events (messages,
delivery statuses, quality updates); call it from ingest after the durable
write, with the blind index ingest already computed for each message.  Texts are
not scanned here but by the inbox worker, once per handled message
(``Monitor.inbound_text``): the receiver stays lean, and a redelivered webhook is
not scanned twice.
``GatedBot`` wraps any bot so a quarantined contact gets no bot replies and a
throttled one at most its per-minute budget; it needs no change in the inbox
worker (the opt-out keyword STOP still works: the worker handles it itself).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aman.engine.bot import Bot, BotResult, Incoming
from aman.monitor.monitor import Monitor
from aman.webhook.types import ParsedWebhook

__all__ = ["GatedBot", "observe_webhook"]

_QUALITY_FIELD = "phone_number_quality_update"


def observe_webhook(
    monitor: Monitor,
    tenant: str,
    parsed: ParsedWebhook,
    contacts: Sequence[str],
    now: float,
) -> None:
    """Report everything in ``parsed`` to the monitor (cheap, in memory).

    ``contacts[i]`` is the contact_ix (blind index) of ``parsed.messages[i]``.
    """
    for msg, ix in zip(parsed.messages, contacts, strict=True):
        monitor.inbound_message(tenant, msg.phone_number_id, ix, now)
    for st in parsed.statuses:
        code = st.errors[0].code if st.errors else None
        monitor.delivery_status(tenant, st.phone_number_id, st.status, code, now)
    for ev in parsed.events:
        if ev.field == _QUALITY_FIELD:
            event = ev.value.get("event")
            if isinstance(event, str) and event:
                monitor.quality_update(tenant, ev.phone_number_id or "unknown", event[:32], now)


class GatedBot:
    """A bot that stays quiet for quarantined contacts and paces throttled ones."""

    def __init__(
        self,
        inner: Bot,
        monitor: Monitor | Callable[[], Monitor | None],
        contact_index: Callable[[str], str],
        tenant: str,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._monitor = monitor
        self._index = contact_index
        self._tenant = tenant
        self.suppressed = 0

    def _current(self) -> Monitor | None:
        m = self._monitor
        return m if isinstance(m, Monitor) else m()

    def handle(self, msg: Incoming, state: Mapping[str, Any]) -> BotResult:
        monitor = self._current()
        if monitor is not None and msg.wa_id:
            ix = msg.contact_ix or self._index(msg.wa_id)
            control = monitor.control_for(self._tenant, ix)
            if control is not None and (
                control.quarantined
                or (msg.type != "event" and not monitor.reply_allowed(self._tenant, ix))
            ):
                self.suppressed += 1
                return BotResult(state=dict(state))
        return self.inner.handle(msg, state)
