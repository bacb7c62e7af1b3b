"""Demo only: the simulated customer phone's two calls, forwarded to the Cloud API simulator.

The browser never talks to the simulator directly (no CORS, no second
origin): ``POST /simulator/api/send`` makes the simulated phone send one
message through the real signed-webhook path, and ``GET
/simulator/api/messages`` returns what the bots sent to that customer.  Input
is checked here; only the fields the phone page needs are passed on.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["SimulatorProxy", "SimulatorProxyError"]

_WA_ID = re.compile(r"^[1-9]\d{7,14}$")
_PNID = re.compile(r"^\d{1,32}$")
_REPLY_ID = re.compile(r"^[\w.:-]{1,256}$")
_TIMEOUT = aiohttp.ClientTimeout(total=15)


class SimulatorProxyError(ValueError):
    """A phone-page request is malformed (answered 400)."""


def _str(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise SimulatorProxyError(f"{key} must be a non-empty string of at most {limit} characters")
    return value


def outbound_request(data: Any, numbers: set[str]) -> dict[str, Any]:
    """The simulator ``/_sim/inbound`` body for a phone-page request (validated)."""
    if not isinstance(data, dict):
        raise SimulatorProxyError("body must be a JSON object")
    sender = _str(data, "from", 15)
    if sender is None or not _WA_ID.match(sender):
        raise SimulatorProxyError("from must be a phone number in international form, digits only")
    out: dict[str, Any] = {"from": sender}
    to = _str(data, "to", 32, required=False)
    if to is not None:
        if not _PNID.match(to) or to not in numbers:
            raise SimulatorProxyError("to must be one of the demo's business numbers")
        out["to"] = to
    name = _str(data, "name", 60, required=False)
    if name is not None:
        out["name"] = name
    if "reply_id" in data:
        reply_id = _str(data, "reply_id", 256)
        if reply_id is None or not _REPLY_ID.match(reply_id):
            raise SimulatorProxyError("reply_id has unexpected characters")
        kind = data.get("kind", "button")
        if kind not in ("button", "list"):
            raise SimulatorProxyError("kind must be 'button' or 'list'")
        out |= {"reply_id": reply_id, "title": _str(data, "title", 72), "kind": kind}
        return out
    out["text"] = _str(data, "text", 4096)
    return out


def phone_view(message: dict[str, Any]) -> dict[str, Any]:
    """What the phone page shows of one bot message (no delivery metadata)."""
    return {
        "index": message.get("index"),
        "type": message.get("type"),
        "body": message.get("body"),
        "at": message.get("received_at"),
    }


class SimulatorProxy:
    """Forwards phone-page calls to the simulator at ``base_url`` (loopback, demo only)."""

    def __init__(self, base_url: str, numbers: dict[str, str]) -> None:
        self._base = base_url.rstrip("/")
        self.numbers = dict(numbers)  # phone_number_id -> label shown on the page

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """(status, JSON) from the simulator; (502, None) when it cannot be reached."""
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                session.request(method, f"{self._base}{path}", **kwargs) as resp,
            ):
                return resp.status, orjson.loads(await resp.read() or b"null")
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError):
            return 502, None

    async def numbers_endpoint(self, request: Request) -> Response:
        """GET: the business numbers the phone can write to."""
        return JSONResponse(
            [{"phone_number_id": k, "label": v} for k, v in self.numbers.items()],
            headers={"Cache-Control": "no-store"},
        )

    async def send(self, request: Request) -> Response:
        """POST: the simulated phone sends one message (text, or a button / list reply)."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            # A cross-site form cannot send this type without a CORS preflight (refused).
            return JSONResponse({"error": "send application/json"}, 415)
        try:
            body = outbound_request(orjson.loads(await request.body()), set(self.numbers))
        except (orjson.JSONDecodeError, SimulatorProxyError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        status, data = await self._call("POST", "/_sim/inbound", json=body)
        if status != 200 or not isinstance(data, dict):
            return JSONResponse({"error": "the simulator refused the message"}, 502)
        return JSONResponse({"status": data.get("status"), "wamid": data.get("wamid")})

    async def messages(self, request: Request) -> Response:
        """GET ?to=<customer>&since=<index>: bot messages to that customer."""
        to = request.query_params.get("to", "")
        since = request.query_params.get("since", "0")
        if not _WA_ID.match(to) or not since.isdigit() or len(since) > 9:
            return JSONResponse({"error": "to must be a phone number and since an index"}, 400)
        status, data = await self._call(
            "GET", "/_sim/messages", params={"to": to, "since": since}
        )
        if status != 200 or not isinstance(data, list):
            return JSONResponse({"error": "the simulator did not answer"}, 502)
        return JSONResponse([phone_view(m) for m in data if isinstance(m, dict)],
                            headers={"Cache-Control": "no-store"})
