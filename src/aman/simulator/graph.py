"""The fake Graph API /messages endpoint: auth, faults, validation, window, recording."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from aman.simulator.config import SimulatorConfig
from aman.simulator.errors import GraphError, SimulatorError
from aman.simulator.faults import FaultDice, Faults
from aman.simulator.payloads import new_wamid
from aman.simulator.state import SentMessage, SimState
from aman.simulator.statuses import StatusEmitter
from aman.simulator.validation import SendRequest, validate_send

MESSAGES_ROUTE = r"/{version:v\d+\.\d+}/{phone_number_id}/messages"
_JSON = "application/json"
_WINDOW_DETAILS = (
    "Message failed to send because more than 24 hours have passed since the customer last "
    "replied to this number."
)
_SUCCESS_READ = orjson.dumps({"success": True})


def json_response(data: Any, status: int = 200) -> web.Response:
    """An orjson-encoded JSON response."""
    return web.Response(body=orjson.dumps(data), status=status, content_type=_JSON)


def graph_error_response(err: GraphError) -> web.Response:
    """Meta-shaped error answer, with Retry-After / WWW-Authenticate where Meta sends them."""
    response = json_response(err.body(), err.http_status)
    if err.retry_after_s is not None:
        response.headers["Retry-After"] = str(err.retry_after_s)
    if err.http_status == 401:
        response.headers["WWW-Authenticate"] = (
            'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'
        )
    return response


class DroppedConnection(SimulatorError):
    """Internal signal: the timeout fault closed the connection without an answer."""


class GraphApi:
    """Handler for POST /{version}/{phone_number_id}/messages."""

    def __init__(
        self,
        config: SimulatorConfig,
        state: SimState,
        dice: FaultDice,
        emitter: StatusEmitter,
        now: Callable[[], float],
        closing: asyncio.Event,
    ) -> None:
        self._config = config
        self._state = state
        self._dice = dice
        self._emitter = emitter
        self._now = now
        self._closing = closing
        self._auth = b"Bearer " + config.access_token.encode()

    async def messages(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler."""
        try:
            return await self._messages(request)
        except GraphError as err:
            self._state.record_rejected(err.code)
            return graph_error_response(err)
        except DroppedConnection:
            return web.Response(status=504)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        faults = self._dice.faults
        latency = self._dice.latency_s()
        if latency > 0:
            await asyncio.sleep(latency)
        header = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(header, self._auth):
            raise GraphError(190, http_status=401)
        phone_number_id = request.match_info["phone_number_id"]
        if (
            phone_number_id != self._config.phone_number_id
            and phone_number_id not in self._config.extra_numbers
        ):
            raise GraphError(
                100,
                subcode=33,
                error_type="GraphMethodException",
                message=(
                    f"Unsupported post request. Object with ID '{phone_number_id[:32]}' does "
                    "not exist, cannot be loaded due to missing permissions, or does not "
                    "support this operation."
                ),
            )
        timeout = self._dice.hit(faults.rate_timeout)
        if timeout and not faults.timeout_accepts:
            await self._drop(request, faults)
        if not timeout:
            self._roll_errors(faults)
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise GraphError(100, "Request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise GraphError(100, "Request body must be a JSON object.")
        if body.get("status") == "read":
            return self._mark_read(body)
        send = validate_send(body, self._config.templates)
        wamid = self._accept(send, body)
        if timeout:
            await self._drop(request, faults)
        messages: dict[str, Any] = {"id": wamid}
        if send.type == "template":
            messages["message_status"] = "accepted"
        return json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": send.to, "wa_id": send.wa_id}],
                "messages": [messages],
            }
        )

    def _roll_errors(self, faults: Faults) -> None:
        if self._dice.hit(faults.rate_5xx):
            if self._dice.coin():
                raise GraphError(131000, "Something went wrong.", http_status=500)
            raise GraphError(2, "Service temporarily unavailable.", http_status=503)
        if self._dice.hit(faults.rate_429):
            raise GraphError(
                130429,
                "Cloud API message throughput has been reached.",
                http_status=429,
                retry_after_s=faults.retry_after_s,
            )
        if self._dice.hit(faults.rate_131056):
            raise GraphError(
                131056,
                "Message failed to send because there were too many messages sent from this "
                "phone number to the same phone number in a short period of time.",
            )

    def _mark_read(self, body: dict[str, Any]) -> web.Response:
        if body.get("messaging_product") != "whatsapp":
            raise GraphError(100, "Param messaging_product must be 'whatsapp'.")
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id.startswith("wamid."):
            raise GraphError(100, "Param message_id must be a valid WhatsApp message id.")
        typing = body.get("typing_indicator")
        if typing is not None and (not isinstance(typing, dict) or typing.get("type") != "text"):
            raise GraphError(100, "Param typing_indicator['type'] must be 'text'.")
        self._state.record_read(message_id)
        return web.Response(body=_SUCCESS_READ, content_type=_JSON)

    def _accept(self, send: SendRequest, body: dict[str, Any]) -> str:
        now = self._now()
        undeliverable = send.wa_id in self._config.unknown_numbers
        if undeliverable and not self._config.undeliverable_as_status:
            raise GraphError(131026, "Message Undeliverable.")
        window_open = self._state.window_open(send.wa_id, now)
        window_closed = send.template is None and self._config.enforce_window and not window_open
        if window_closed and not self._config.window_closed_as_status:
            raise GraphError(131047, _WINDOW_DETAILS)
        wamid = new_wamid(send.wa_id)
        message = SentMessage(
            wamid, send.wa_id, send.type, body, send.biz_opaque_callback_data, now
        )
        self._state.record_sent(message)
        if not self._config.statuses:
            return wamid
        if undeliverable:
            self._emitter.schedule_failed(message, 131026, "Message Undeliverable.")
        elif window_closed:
            self._emitter.schedule_failed(message, 131047, _WINDOW_DETAILS)
        elif send.template is None:
            self._emitter.schedule(message, "service", free=True)
        else:
            category = send.template.category
            self._emitter.schedule(message, category, free=category == "utility" and window_open)
        return wamid

    async def _drop(self, request: web.Request, faults: Faults) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(faults.timeout_hang_s):
                await self._closing.wait()
        self._state.dropped += 1
        transport = request.transport
        if transport is not None:
            transport.close()
        raise DroppedConnection
