"""The compiled form of a bot folder: configuration, flows, steps and triggers (immutable).

Loading turns YAML into these objects once per process; the executor only reads them.
Texts are ``Text`` mappings from language code to string (``"*"`` for language-neutral).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "AskStep",
    "AuditStep",
    "BotConfig",
    "BotSpec",
    "Button",
    "CallStep",
    "Choice",
    "Command",
    "ConditionStep",
    "ContactSpec",
    "EndStep",
    "Flow",
    "GotoStep",
    "HandlerStep",
    "HandoffStep",
    "HttpStep",
    "ListRow",
    "ListSection",
    "ListSpec",
    "MediaSpec",
    "Predicate",
    "ReminderStep",
    "ReturnStep",
    "SendSpec",
    "SendStep",
    "SetStep",
    "Step",
    "TagStep",
    "Target",
    "TemplateSpec",
    "Text",
    "Trigger",
    "VerifyStep",
    "WaitStep",
]

Text = Mapping[str, str]
Predicate = Callable[[Any], bool]  # called with an EvalContext (see conditions.py)


@dataclass(frozen=True, slots=True)
class Target:
    """Where control goes: a step of a flow ("" = its first step), or the end / a return."""

    flow: str
    step: str = ""
    kind: Literal["step", "end", "return"] = "step"


END = Target("", "", "end")
RETURN = Target("", "", "return")


@dataclass(frozen=True, slots=True)
class Button:
    id: str
    title: Text


@dataclass(frozen=True, slots=True)
class ListRow:
    id: str
    title: Text
    description: Text | None = None


@dataclass(frozen=True, slots=True)
class ListSection:
    title: Text | None
    rows: tuple[ListRow, ...]


@dataclass(frozen=True, slots=True)
class ListSpec:
    button: Text
    sections: tuple[ListSection, ...] = ()
    rows_from: str | None = None  # a field holding [{"id", "title", "description"}]


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    name: str
    language: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MediaSpec:
    kind: Literal["image", "document", "video", "audio"]
    link: str
    caption: Text | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class ContactSpec:
    name: str
    phone: str
    organization: str | None = None


@dataclass(frozen=True, slots=True)
class SendSpec:
    """One outgoing message: text, buttons, list, template, media, location request or contact."""

    text: Text | None = None
    header: Text | None = None
    footer: Text | None = None
    buttons: tuple[Button, ...] = ()
    buttons_from: str | None = None
    list: ListSpec | None = None
    template: TemplateSpec | None = None
    media: MediaSpec | None = None
    location_request: bool = False
    contact: ContactSpec | None = None


@dataclass(frozen=True, slots=True)
class _StepBase:
    id: str
    line: int


@dataclass(frozen=True, slots=True)
class SendStep(_StepBase):
    send: SendSpec
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    title: Text
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AskStep(_StepBase):
    prompt: SendSpec
    kind: str
    field: str
    choices: tuple[Choice, ...] = ()
    choices_from: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: re.Pattern[str] | None = None
    retry: Text | None = None
    max_attempts: int = 3
    on_fail: Target | None = None
    prefill: bool = True
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class SetStep(_StepBase):
    values: Mapping[str, Any]
    clear: tuple[str, ...] = ()
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class TagStep(_StepBase):
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class ConditionStep(_StepBase):
    branches: tuple[tuple[Predicate, Target], ...]
    otherwise: Target | None = None


@dataclass(frozen=True, slots=True)
class HttpStep(_StepBase):
    url: str
    method: str
    body: Any
    secret_env: str | None
    timeout: float
    mapping: Mapping[str, str]
    on_error: Target | None = None
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class HandlerStep(_StepBase):
    call: str
    function: Callable[..., Any]
    args: Mapping[str, Any]
    outcomes: Mapping[str, Target]
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class HandoffStep(_StepBase):
    reason: str
    send: SendSpec | None = None


@dataclass(frozen=True, slots=True)
class WaitStep(_StepBase):
    seconds: float
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class ReminderStep(_StepBase):
    name: str
    flow: str
    at_field: str | None
    offset_seconds: float
    keep: tuple[str, ...]
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class VerifyStep(_StepBase):
    purpose: str
    send: SendSpec
    valid_seconds: float
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class AuditStep(_StepBase):
    action: str
    target: str
    details: Mapping[str, Any]
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class GotoStep(_StepBase):
    target: Target


@dataclass(frozen=True, slots=True)
class CallStep(_StepBase):
    flow: str
    next: Target | None = None


@dataclass(frozen=True, slots=True)
class ReturnStep(_StepBase):
    pass


@dataclass(frozen=True, slots=True)
class EndStep(_StepBase):
    send: SendSpec | None = None


Step = (
    SendStep
    | AskStep
    | SetStep
    | TagStep
    | ConditionStep
    | HttpStep
    | HandlerStep
    | HandoffStep
    | WaitStep
    | ReminderStep
    | VerifyStep
    | AuditStep
    | GotoStep
    | CallStep
    | ReturnStep
    | EndStep
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """What starts a flow.  ``kind`` decides which of the other fields matter."""

    kind: Literal[
        "intent", "keyword", "button", "first_message", "schedule", "inactivity", "message_type"
    ]
    flow: str
    line: int
    file: str
    value: str = ""  # intent name, button id, schedule name, message type
    min_confidence: float = 0.0
    mode: Literal["exact", "contains", "regex", ""] = ""
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # lang -> keywords
    pattern: re.Pattern[str] | None = None
    seconds: float = 0.0  # inactivity


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    file: str
    line: int
    steps: tuple[Step, ...]
    index: Mapping[str, int]
    triggers: tuple[Trigger, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    """A global command (menu, cancel, agent ...) recognised in every state."""

    name: str
    words: tuple[str, ...]
    flow: str | None
    send: SendSpec | None = None


@dataclass(frozen=True, slots=True)
class BotConfig:
    name: str
    languages: tuple[str, ...]
    threshold: float | None
    session_timeout: float  # seconds
    tz: tzinfo
    tz_name: str
    business_hours: Mapping[int, tuple[tuple[int, int], ...]]  # weekday -> (start, end) minutes
    allowed_domains: tuple[str, ...]
    official: Mapping[str, str]
    start_flow: str
    fallback_flow: str
    messages: Mapping[str, Text]
    commands: tuple[Command, ...]
    max_call_depth: int = 8


@dataclass(frozen=True, slots=True)
class BotSpec:
    """A loaded, validated bot folder."""

    config: BotConfig
    flows: Mapping[str, Flow]
    triggers: tuple[Trigger, ...]
    intents: frozenset[str]
    directory: Path
