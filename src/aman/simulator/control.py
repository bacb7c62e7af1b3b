"""Control and inspection endpoints under /_sim/ (local use only: no auth, bind to 127.0.0.1)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from aman.simulator.errors import (
    InboundRequestError,
    SimulatorConfigError,
    SimulatorError,
    SimulatorTimeoutError,
)
from aman.simulator.graph import json_response
from aman.simulator.phone import PhoneResult, normalise_wa_id

if TYPE_CHECKING:
    from aman.simulator.server import Simulator

MAX_WAIT_S = 300.0
DROPPED_HEADER = "X-Sim-Dropped"
FIRST_INDEX_HEADER = "X-Sim-First-Index"
NEXT_INDEX_HEADER = "X-Sim-Next-Index"


def _bad(message: str) -> web.Response:
    return json_response({"error": message}, 400)


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InboundRequestError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InboundRequestError("body must be a JSON object")
    return data


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InboundRequestError(f"{key} must be a string")
    return value


def _req_str(data: dict[str, Any], key: str) -> str:
    value = _opt_str(data, key)
    if not value:
        raise InboundRequestError(f"{key} is required")
    return value


class ControlApi:
    """Handlers for /_sim/*."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def add_routes(self, app: web.Application) -> None:
        """Register every /_sim/ route on `app`."""
        app.router.add_get("/_sim/health", self.health)
        app.router.add_get("/_sim/messages", self.messages)
        app.router.add_get("/_sim/stats", self.stats)
        app.router.add_get("/_sim/faults", self.get_faults)
        app.router.add_post("/_sim/faults", self.set_faults)
        app.router.add_post("/_sim/reset", self.reset)
        app.router.add_post("/_sim/inbound", self.inbound)
        app.router.add_get("/_sim/wait", self.wait)

    async def health(self, request: web.Request) -> web.Response:
        """Liveness probe; also tells the phone number id."""
        return json_response({"ok": True, "phone_number_id": self._sim.config.phone_number_id})

    async def messages(self, request: web.Request) -> web.Response:
        """GET /_sim/messages?to=<wa_id>&since=<index>: kept sends as a JSON list.

        Each item carries its absolute `index`. Only the newest max_messages sends are
        kept; the headers tell what a reader missed: X-Sim-Dropped (sends at index >=
        since no longer kept, any recipient), X-Sim-First-Index (oldest kept) and
        X-Sim-Next-Index (the index the next send gets, = accepted).
        """
        to = request.query.get("to")
        try:
            since = int(request.query.get("since", "0"))
            wa_id = normalise_wa_id(to) if to else None
        except (ValueError, InboundRequestError):
            return _bad("since must be an integer and to a wa_id")
        if since < 0:
            return _bad("since must be >= 0")
        state = self._sim.state
        response = json_response(state.messages(wa_id, since))
        response.headers[DROPPED_HEADER] = str(state.dropped_since(since))
        response.headers[FIRST_INDEX_HEADER] = str(state.first_index)
        response.headers[NEXT_INDEX_HEADER] = str(state.accepted)
        return response

    async def stats(self, request: web.Request) -> web.Response:
        """GET /_sim/stats."""
        return json_response(self._sim.stats())

    async def get_faults(self, request: web.Request) -> web.Response:
        """GET /_sim/faults: current fault settings."""
        return json_response(self._sim.dice.faults.to_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        """POST /_sim/faults with a JSON object of settings to change."""
        try:
            faults = self._sim.set_faults(**await _json_object(request))
        except (InboundRequestError, SimulatorConfigError) as err:
            return _bad(str(err))
        return json_response(faults.to_dict())

    async def reset(self, request: web.Request) -> web.Response:
        """POST /_sim/reset [{"faults": true}]: forget sends/counters; optionally faults too."""
        try:
            data = await _json_object(request)
        except InboundRequestError as err:
            return _bad(str(err))
        self._sim.reset(faults=data.get("faults") is True)
        return json_response({"ok": True})

    async def inbound(self, request: web.Request) -> web.Response:
        """POST /_sim/inbound: make the simulated phone send a message to the bot."""
        try:
            result = await self._inbound(await _json_object(request))
        except InboundRequestError as err:
            return _bad(str(err))
        return json_response(
            {"status": result.status, "wamid": result.wamid, "attempts": result.attempts}
        )

    async def _inbound(self, data: dict[str, Any]) -> PhoneResult:
        phone = self._sim.phone
        to = _opt_str(data, "to")
        if to is not None:
            phone = phone.for_number(to)
        sender = _req_str(data, "from")
        name = _opt_str(data, "name")
        if "message" in data:
            message = data["message"]
            if not isinstance(message, dict):
                raise InboundRequestError("message must be a JSON object")
            return await phone.send_raw(message, wa_id=sender, name=name)
        if "reply_id" in data:
            kind = data.get("kind", "button")
            if kind not in ("button", "list"):
                raise InboundRequestError("kind must be 'button' or 'list'")
            return await phone.send_reply(
                sender, _req_str(data, "reply_id"), _req_str(data, "title"), kind,
                description=_opt_str(data, "description"),
                context_id=_opt_str(data, "context_id"), name=name,
            )
        if "payload" in data:
            return await phone.send_button(
                sender, _req_str(data, "payload"), _req_str(data, "title"),
                context_id=_opt_str(data, "context_id"), name=name,
            )
        if "text" in data:
            return await phone.send_text(sender, _req_str(data, "text"), name=name)
        raise InboundRequestError("give text, reply_id+title, payload+title or message")

    async def wait(self, request: web.Request) -> web.Response:
        """GET /_sim/wait?count=N&timeout=S: long-poll until N sends were accepted (kept or not)."""
        try:
            count = int(request.query["count"])
            timeout = float(request.query.get("timeout", "10"))
        except (KeyError, ValueError):
            return _bad("count (integer) is required; timeout must be a number")
        if count < 0 or not math.isfinite(timeout) or not 0 <= timeout <= MAX_WAIT_S:
            return _bad(f"count must be >= 0 and timeout within 0..{MAX_WAIT_S:.0f}")
        state = self._sim.state
        try:
            await state.wait_until(count, timeout)
        except SimulatorTimeoutError:
            return json_response({"ok": False, "count": state.accepted}, 408)
        except SimulatorError:
            return json_response({"ok": False, "count": state.accepted}, 503)
        return json_response({"ok": True, "count": state.accepted})
