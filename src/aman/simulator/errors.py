"""Exception family of the simulator, including Meta-shaped Graph API errors."""

from __future__ import annotations

import secrets
from typing import Any

# Titles Meta uses for the error codes the simulator can answer with.
GRAPH_TITLES: dict[int, str] = {
    2: "Service temporarily unavailable",
    100: "Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132018: "There was an issue with the parameters in your template.",
}


class SimulatorError(Exception):
    """Root of every error raised by aman.simulator."""


class SimulatorConfigError(SimulatorError, ValueError):
    """A configuration value or a fault setting is invalid."""


class SimulatorTimeoutError(SimulatorError, TimeoutError):
    """Waiting for simulator state (e.g. a number of sends) took too long."""


class InboundRequestError(SimulatorError, ValueError):
    """A request to the simulated phone (/_sim/inbound or the Python API) is malformed."""


class GraphError(SimulatorError):
    """An error the fake Graph API answers with, serialised exactly like Meta's."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        http_status: int = 400,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        message: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        title = GRAPH_TITLES.get(code, "Unknown error")
        self.code = code
        self.title = title
        self.details = details
        self.http_status = http_status
        self.subcode = subcode
        self.error_type = error_type
        self.retry_after_s = retry_after_s
        if message is not None:
            self.message = message
        elif code == 190:
            self.message = title
        else:
            self.message = f"(#{code}) {title}"
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The JSON document Meta would answer with (a fresh fbtrace_id each time)."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)[:22]
        return {"error": error}
