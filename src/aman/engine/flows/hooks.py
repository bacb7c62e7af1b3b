"""Python hooks for ``handler`` steps: the context they get, the result they return, the registry.

A hook is a plain function ``f(ctx: HookContext) -> HookResult`` decorated with
``@hook(outcomes=(...))``; flows name it as ``"package.module:function"``.  Only
decorated functions can be called from YAML, so a flow file cannot reach arbitrary
callables.  Hooks report expected business failures as outcomes (``"over_limit"``)
and raise an ``aman.adapters.AdapterError`` subclass when a back end is down.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aman.engine.bot import AuditRecord, Incoming

__all__ = ["HookContext", "HookFunction", "HookResult", "hook", "hook_outcomes", "resolve_hook"]

_SPEC = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*):([A-Za-z_]\w*)$")
_MARK = "__aman_hook_outcomes__"


@dataclass(frozen=True, slots=True)
class HookContext:
    """What a hook may read: the message, the conversation's fields and its arguments."""

    msg: Incoming
    fields: Mapping[str, Any]
    args: Mapping[str, Any]
    now: float
    lang: str
    verified: bool
    services: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HookResult:
    """The hook's outcome (selects the branch), new field values and audit records."""

    outcome: str = "ok"
    fields: Mapping[str, Any] = field(default_factory=dict)
    audit: tuple[AuditRecord, ...] = ()


HookFunction = Callable[[HookContext], HookResult]


def hook(*, outcomes: tuple[str, ...] = ("ok",)) -> Callable[[HookFunction], HookFunction]:
    """Mark ``fn`` as callable from flows; ``outcomes`` lists what it can return."""

    def mark(fn: HookFunction) -> HookFunction:
        setattr(fn, _MARK, tuple(outcomes))
        return fn

    return mark


def hook_outcomes(fn: object) -> tuple[str, ...] | None:
    """The declared outcomes of a hook, or None when ``fn`` is not one."""
    value = getattr(fn, _MARK, None)
    return value if isinstance(value, tuple) else None


def resolve_hook(spec: str) -> tuple[HookFunction | None, str]:
    """Import ``"module:function"``; returns (function, "") or (None, reason)."""
    m = _SPEC.match(spec)
    if not m:
        return None, f"handler {spec!r} must look like 'package.module:function'"
    try:
        module = importlib.import_module(m.group(1))
    except ImportError as exc:
        return None, f"cannot import {m.group(1)!r}: {exc}"
    fn = getattr(module, m.group(2), None)
    if fn is None:
        return None, f"{m.group(1)!r} has no function {m.group(2)!r}"
    if hook_outcomes(fn) is None or not callable(fn):
        return None, f"{spec!r} is not marked with @hook"
    return fn, ""
