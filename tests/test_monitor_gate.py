"""GatedBot: quarantined contacts get no bot reply; it uses the worker's contact index."""

from __future__ import annotations

from typing import Any, cast

from aman.engine.bot import BotResult, Incoming, Reply
from aman.monitor.controls import Control
from aman.monitor.monitor import Monitor
from aman.monitor.taps import GatedBot


class _Echo:
    name = "echo"

    def handle(self, msg: Incoming, state: Any) -> BotResult:
        return BotResult(state={"n": 1}, replies=(Reply({"type": "text"}),))


class _Controls:
    """The two questions GatedBot asks the monitor, answered from a set of quarantined ixs."""

    def __init__(self, quarantined: set[str]) -> None:
        self.quarantined = quarantined
        self.asked: list[str] = []

    def control_for(self, tenant: str, contact_ix: str) -> Control | None:
        self.asked.append(contact_ix)
        if contact_ix not in self.quarantined:
            return None
        return Control(tenant, contact_ix, "quarantined", None, 0, "test", "system", 0.0)

    def reply_allowed(self, tenant: str, contact_ix: str, ts: float | None = None) -> bool:
        return True


def _incoming(contact_ix: str | None) -> Incoming:
    return Incoming(
        "wamid.1", "1065", "6281200000001", None, "text", "halo", None, 1, contact_ix=contact_ix
    )


def test_the_worker_s_contact_index_is_used_and_not_computed_again() -> None:
    computed: list[str] = []

    def index(wa_id: str) -> str:
        computed.append(wa_id)
        return "ix-computed"

    controls = _Controls({"ix-q"})
    bot = GatedBot(_Echo(), lambda: cast(Monitor, controls), index, "default")
    assert bot.handle(_incoming("ix-q"), {}).replies == ()  # quarantined: quiet
    assert bot.suppressed == 1
    assert bot.handle(_incoming("ix-ok"), {}).replies != ()
    assert computed == [] and controls.asked == ["ix-q", "ix-ok"]
    # Without one (a caller outside the inbox worker), the index is computed.
    assert bot.handle(_incoming(None), {}).replies != ()
    assert computed == ["6281200000001"] and controls.asked[-1] == "ix-computed"
