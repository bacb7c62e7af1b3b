"""Parse bot.yaml: languages, NLU threshold, session timeout, business hours, domains, commands.

Example::

    name: bank
    languages: [id, en]
    fallback_threshold: 0.5        # intents below this confidence count as fallback
    session_timeout: 10            # minutes idle before the conversation starts over
    timezone: Asia/Jakarta
    business_hours: {mon-fri: "08:00-16:00", sat: "08:00-12:00"}
    allowed_domains: [bankaman.co.id]
    official: {number: "+62 21 1500 888", domains: "bankaman.co.id"}
    start_flow: menu
    fallback_flow: fallback
    commands:
      menu: {words: [menu], flow: menu}
      agent: {words: [agent, cs], flow: human_agent}
    messages: {opt_out: {id: ..., en: ...}, ...}
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aman.engine.flows.conditions import WEEKDAYS, parse_clock
from aman.engine.flows.model import BotConfig, Command, SendSpec, Text
from aman.engine.flows.schema_send import LIMITS, OutboundText, SchemaContext, parse_send
from aman.engine.flows.yamlsrc import YMap

__all__ = ["DEFAULT_MESSAGES", "parse_config"]

_KEYS = frozenset(
    {
        "name",
        "languages",
        "fallback_threshold",
        "session_timeout",
        "timezone",
        "business_hours",
        "allowed_domains",
        "official",
        "start_flow",
        "fallback_flow",
        "commands",
        "messages",
        "description",
    }
)
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")

DEFAULT_MESSAGES: dict[str, Text] = {
    "opt_out": {
        "id": "Anda tidak akan menerima pesan dari kami lagi. Ketik MULAI kapan saja untuk "
        "berlangganan kembali.",
        "en": "You will not receive messages from us any more. Send START at any time to "
        "subscribe again.",
    },
    "opt_in": {
        "id": "Selamat datang kembali! Anda akan menerima pesan dari kami lagi.",
        "en": "Welcome back! You will receive our messages again.",
    },
    "error": {
        "id": "Maaf, layanan sedang terganggu. Silakan coba lagi nanti atau ketik CS.",
        "en": "Sorry, the service is having trouble. Please try again later or type CS.",
    },
    "cancelled": {
        "id": "Baik, dibatalkan.",
        "en": "OK, cancelled.",
    },
    "retry": {
        "id": "Maaf, jawaban itu belum sesuai. Coba lagi ya.",
        "en": "Sorry, that answer does not fit. Please try again.",
    },
    "verify_waiting": {
        "id": "Silakan selesaikan verifikasi melalui tautan aman ini: {verify_link}",
        "en": "Please complete the verification through this secure link: {verify_link}",
    },
}


def _day_keys(key: str) -> list[int] | None:
    if key in WEEKDAYS:
        return [WEEKDAYS.index(key)]
    first, sep, last = key.partition("-")
    if sep and first in WEEKDAYS and last in WEEKDAYS:
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
        return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    return None


def _business_hours(
    ctx: SchemaContext, raw: Any, line: int
) -> dict[int, tuple[tuple[int, int], ...]]:
    if not isinstance(raw, dict):
        ctx.err(line, "bot", "schema", 'business_hours is {mon-fri: "08:00-17:00", ...}')
        return {}
    out: dict[int, list[tuple[int, int]]] = {}
    for key, value in raw.items():
        days = _day_keys(str(key))
        if days is None:
            ctx.err(line, "bot", "schema", f"business_hours day {key!r}: use mon..sun or mon-fri")
            continue
        ranges = value if isinstance(value, list) else [value]
        for item in ranges:
            if item == "closed":
                continue
            m = _RANGE.match(item) if isinstance(item, str) else None
            start = parse_clock(m.group(1)) if m else None
            end = parse_clock(m.group(2)) if m else None
            if start is None or end is None or start >= end:
                ctx.err(line, "bot", "schema", f"business_hours {key}: {item!r} is not HH:MM-HH:MM")
                continue
            for day in days:
                out.setdefault(day, []).append((start, end))
    return {day: tuple(sorted(r)) for day, r in out.items()}


def _commands(
    ctx: SchemaContext, raw: Any, line: int, start_flow: str
) -> tuple[tuple[Command, ...], dict[str, int]]:
    defaults: dict[str, Any] = {
        "menu": {"words": ["menu", "menu utama", "main menu", "home"], "flow": start_flow},
        "cancel": {
            "words": ["cancel", "batal", "batalkan", "stop flow", "gak jadi", "nggak jadi"],
            "flow": start_flow,
        },
    }
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        ctx.err(line, "bot", "schema", "'commands' is {name: {words: [...], flow: name}}")
        raw = {}
    merged = {**defaults, **raw}
    out: list[Command] = []
    flow_lines: dict[str, int] = {}
    for name, spec in merged.items():
        cline = raw.line_of(name) if isinstance(raw, YMap) and name in raw else line
        if (
            not isinstance(spec, dict)
            or "words" not in spec
            or set(spec) - {"words", "flow", "text"}
        ):
            ctx.err(cline, "bot", "schema", f"command {name!r} needs 'words' and 'flow' or 'text'")
            continue
        words = spec["words"]
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            ctx.err(cline, "bot", "schema", f"command {name!r}: 'words' must be a list of words")
            continue
        send: SendSpec | None = None
        if "text" in spec:
            send = parse_send(ctx, spec["text"], cline, f"command {name}")
        flow = spec.get("flow")
        if flow is not None and not isinstance(flow, str):
            ctx.err(cline, "bot", "schema", f"command {name!r}: 'flow' must be a flow name")
            continue
        if flow is None and send is None:
            ctx.err(cline, "bot", "schema", f"command {name!r} needs 'flow' or 'text'")
            continue
        if flow is not None and name in raw:
            flow_lines[f"command {name}"] = cline
        out.append(Command(str(name), tuple(w.lower() for w in words), flow, send))
    return tuple(out), flow_lines


def parse_config(ctx: SchemaContext, raw: Any) -> tuple[BotConfig | None, dict[str, int]]:
    """Parse bot.yaml; returns the config and {"what": line} for flow names to check later."""
    if not isinstance(raw, YMap):
        ctx.err(1, "bot", "schema", "bot.yaml must be a mapping")
        return None, {}
    unknown = set(raw) - _KEYS
    if unknown:
        ctx.err(raw.line, "bot", "schema", f"unknown bot.yaml keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_]{0,47}$", name):
        ctx.err(raw.line_of("name"), "bot", "schema", "'name' must be lower_snake_case")
        name = "bot"
    languages = raw.get("languages", ["id", "en"])
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(x, str) and re.match(r"^[a-z]{2,3}$", x) for x in languages)
    ):
        ctx.err(raw.line_of("languages"), "bot", "schema", "'languages' is a list like [id, en]")
        languages = ["id", "en"]
    ctx.languages = tuple(languages)
    threshold = raw.get("fallback_threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold < 1
    ):
        ctx.err(raw.line_of("fallback_threshold"), "bot", "schema", "fallback_threshold is 0..1")
        threshold = None
    timeout = raw.get("session_timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 1440:
        ctx.err(raw.line_of("session_timeout"), "bot", "schema", "session_timeout: 1..1440 minutes")
        timeout = 30
    tz_name = raw.get("timezone", "Asia/Jakarta")
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: absurdly long names
        ctx.err(raw.line_of("timezone"), "bot", "schema", f"unknown timezone {tz_name!r}")
        tz_name, tz = "Asia/Jakarta", ZoneInfo("Asia/Jakarta")
    hours = _business_hours(ctx, raw.get("business_hours", {}), raw.line_of("business_hours"))
    domains = raw.get("allowed_domains", [])
    if not isinstance(domains, list) or not all(
        isinstance(d, str) and _DOMAIN.match(d.lower()) for d in domains
    ):
        ctx.err(raw.line_of("allowed_domains"), "bot", "schema", "allowed_domains: bare domains")
        domains = []
    official = raw.get("official", {})
    if not isinstance(official, dict) or not all(isinstance(v, str) for v in official.values()):
        ctx.err(raw.line_of("official"), "bot", "schema", "'official' maps names to text")
        official = {}
    start_flow = str(raw.get("start_flow", "menu"))
    fallback_flow = str(raw.get("fallback_flow", "fallback"))
    commands, flow_lines = _commands(ctx, raw.get("commands"), raw.line_of("commands"), start_flow)
    flow_lines["start_flow"] = raw.line_of("start_flow")
    flow_lines["fallback_flow"] = raw.line_of("fallback_flow")
    messages: dict[str, Text] = dict(DEFAULT_MESSAGES)
    raw_messages = raw.get("messages", {})
    if not isinstance(raw_messages, dict):
        ctx.err(raw.line_of("messages"), "bot", "schema", "'messages' maps names to text")
        raw_messages = {}
    for key, value in raw_messages.items():
        mline = raw_messages.line_of(key) if isinstance(raw_messages, YMap) else raw.line
        text = ctx.text(
            value, mline, f"messages.{key}", limit=LIMITS["text"], what=f"message {key}"
        )
        if text is not None:
            messages[str(key)] = text
    for key in DEFAULT_MESSAGES:
        if key not in raw_messages:
            for value in DEFAULT_MESSAGES[key].values():
                ctx.texts.append(OutboundText(ctx.file, 0, f"messages.{key}", value))
    config = BotConfig(
        name=name,
        languages=tuple(languages),
        threshold=None if threshold is None else float(threshold),
        session_timeout=float(timeout) * 60,
        tz=tz,
        tz_name=str(tz_name),
        business_hours=hours,
        allowed_domains=tuple(d.lower() for d in domains),
        official={str(k): v for k, v in official.items()},
        start_flow=start_flow,
        fallback_flow=fallback_flow,
        messages=messages,
        commands=commands,
    )
    return config, flow_lines
