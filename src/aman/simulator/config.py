"""Simulator configuration and the registry of message templates it knows."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from aman.simulator.errors import SimulatorConfigError
from aman.simulator.faults import Faults
from aman.simulator.state import DEFAULT_MAX_MESSAGES, check_max_messages

TemplateCategory = Literal["utility", "marketing", "authentication"]
STATUS_KINDS: tuple[str, ...] = ("sent", "delivered", "read")

_DIGITS = re.compile(r"[0-9]{1,32}")
_WA_ID = re.compile(r"[1-9][0-9]{7,14}")


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """An approved template: its name, language code, category and variable counts."""

    name: str
    language: str
    category: TemplateCategory = "utility"
    body_params: int = 0
    header_params: int = 0
    button_params: int = 0

    def __post_init__(self) -> None:
        if not self.name or not self.language:
            raise SimulatorConfigError("template name and language must be non-empty")
        if self.category not in ("utility", "marketing", "authentication"):
            raise SimulatorConfigError(f"template {self.name}: unknown category")
        for count in (self.body_params, self.header_params, self.button_params):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise SimulatorConfigError(f"template {self.name}: bad parameter count")


TemplateRegistry = Mapping[tuple[str, str], TemplateSpec]


def template_registry(*specs: TemplateSpec) -> TemplateRegistry:
    """Build a read-only registry keyed by (name, language code)."""
    registry: dict[tuple[str, str], TemplateSpec] = {}
    for spec in specs:
        key = (spec.name, spec.language)
        if key in registry:
            raise SimulatorConfigError(f"template {spec.name}/{spec.language} listed twice")
        registry[key] = spec
    return MappingProxyType(registry)


DEFAULT_TEMPLATES: TemplateRegistry = template_registry(
    TemplateSpec("hello_world", "en_US", "utility"),
    TemplateSpec("appointment_reminder", "id", "utility", body_params=3),
    TemplateSpec("order_update", "id", "utility", body_params=2),
    TemplateSpec("payment_reminder", "id", "utility", body_params=3),
    TemplateSpec("account_alert", "id", "utility", body_params=2),
    TemplateSpec("kode_verifikasi", "id", "authentication", body_params=1, button_params=1),
    TemplateSpec("promo_bulanan", "id", "marketing", body_params=1, header_params=1),
)


def _default_templates() -> TemplateRegistry:
    return DEFAULT_TEMPLATES


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator needs; secrets are kept out of repr()."""

    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    webhook_url: str
    phone_number_id: str = "106540352242922"
    display_phone_number: str = "6281100000001"
    waba_id: str = "102290129340398"
    # More business numbers served by the same fake (phone_number_id -> display number),
    # for multi-number set-ups such as the demo's bank and shop bots.
    extra_numbers: Mapping[str, str] = field(default_factory=dict)
    statuses: bool = True
    # Delay before "sent", then between "sent" and "delivered", then before "read".
    status_delays: tuple[float, float, float] = (0.01, 0.05, 0.2)
    # Which statuses to emit (any subset of sent/delivered/read, in this order).
    status_kinds: tuple[str, ...] = STATUS_KINDS
    status_batch_max: int = 10
    status_linger_ms: float = 0.0
    # Status webhooks in flight at once; 1 keeps every status in emission order.
    status_concurrency: int = 1
    enforce_window: bool = True
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    templates: TemplateRegistry = field(default_factory=_default_templates)
    webhook_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
    webhook_timeout_s: float = 10.0
    # Numbers that are not on WhatsApp: sends to them fail with 131026.
    unknown_numbers: frozenset[str] = frozenset()
    # False: answer 131026 synchronously. True: accept and emit a "failed" status.
    undeliverable_as_status: bool = False
    # False: answer 131047 (window closed) synchronously. True: accept the free-form send
    # and emit a "failed" status carrying 131047, as Meta often reports it.
    window_closed_as_status: bool = False
    # How many of the newest sends (and read receipts, callback-data keys) stay in memory.
    max_messages: int = DEFAULT_MAX_MESSAGES

    def __post_init__(self) -> None:
        if not self.access_token or not self.app_secret:
            raise SimulatorConfigError("access_token and app_secret must be non-empty")
        if not self.webhook_url.startswith(("http://", "https://")):
            raise SimulatorConfigError("webhook_url must be an http(s) URL")
        for name in ("phone_number_id", "display_phone_number", "waba_id"):
            if not _DIGITS.fullmatch(getattr(self, name)):
                raise SimulatorConfigError(f"{name} must be digits")
        for pnid, display in self.extra_numbers.items():
            if not _DIGITS.fullmatch(pnid) or not _DIGITS.fullmatch(display):
                raise SimulatorConfigError("extra_numbers must map digits to digits")
        if len(self.status_delays) != 3:
            raise SimulatorConfigError("status_delays needs exactly three delays")
        _check_delays("status_delays", self.status_delays)
        _check_delays("webhook_retry_delays", self.webhook_retry_delays)
        unknown = [k for k in self.status_kinds if k not in STATUS_KINDS]
        if unknown or len(set(self.status_kinds)) != len(self.status_kinds):
            raise SimulatorConfigError("status_kinds must be distinct sent/delivered/read")
        if self.status_batch_max < 1 or self.status_concurrency < 1:
            raise SimulatorConfigError("status_batch_max and status_concurrency must be >= 1")
        _check_delays("status_linger_ms", (self.status_linger_ms,))
        if not math.isfinite(self.webhook_timeout_s) or self.webhook_timeout_s <= 0:
            raise SimulatorConfigError("webhook_timeout_s must be > 0")
        for number in self.unknown_numbers:
            if not _WA_ID.fullmatch(number):
                raise SimulatorConfigError("unknown_numbers must hold wa_ids (digits)")
        check_max_messages(self.max_messages)


def _check_delays(name: str, delays: tuple[float, ...]) -> None:
    for delay in delays:
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise SimulatorConfigError(f"{name} must hold numbers")
        if not math.isfinite(delay) or delay < 0:
            raise SimulatorConfigError(f"{name} must hold finite numbers >= 0")
