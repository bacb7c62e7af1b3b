"""Turn a decoded WhatsApp Cloud API webhook body into typed records, fast.

Hot path: runs on every webhook POST after the signature check. It walks the
plain dicts/lists that ``orjson.loads`` returns, validates only what the
platform relies on, keeps unknown fields and unknown message types as-is, and
rejects a wrong shape with :class:`WebhookShapeError` whose message names the
offending path (never a value: bodies carry phone numbers and message text).

Rules: ``messages`` changes yield :class:`InboundMessage` / :class:`StatusUpdate`
records (plus a :class:`FieldEvent` when the change carries a value-level
``errors`` array); every other ``field`` (templates, account, user preferences,
``smb_message_echoes``, ``calls``, security ...) yields one :class:`FieldEvent`.
Value-level ``errors`` of every change are also collected in
:attr:`ParsedWebhook.errors`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, Final

import orjson

from aman.webhook.types import (
    FieldEvent,
    InboundMessage,
    ParsedWebhook,
    StatusUpdate,
    WebhookError,
)

__all__ = [
    "STATUS_RANK",
    "WebhookShapeError",
    "parse_webhook",
    "parse_webhook_bytes",
    "replaces_below",
    "status_advances",
]

_OBJECT: Final = "whatsapp_business_account"
_MAX_TS_DIGITS: Final = 15  # epoch seconds have 10; anything past 15 is not a timestamp
_MAX_TS: Final = 10**_MAX_TS_DIGITS
_NO_ERRORS: Final[tuple[WebhookError, ...]] = ()
_NONE3: Final[tuple[None, None, None]] = (None, None, None)
_REPLY_ID_KINDS: Final = frozenset({"button_reply", "list_reply"})
_MEDIA_TYPES: Final = ("image", "video", "document", "sticker", "audio", "voice")


class WebhookShapeError(ValueError):
    """The body is not a Cloud API webhook of the expected shape.

    ``path`` is a JSONPath-like location (``entry[0].changes[1].value``) and
    ``reason`` a short description; neither contains values from the body.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------- helpers


def _opt_str(v: object) -> str | None:
    return v if type(v) is str else None


def _timestamp(v: object) -> int | None:
    """Epoch seconds from a digit string or a non-negative int; None when invalid."""
    if type(v) is str:
        if 0 < len(v) <= _MAX_TS_DIGITS and v.isascii() and v.isdigit():
            return int(v)
        return None
    if type(v) is int and 0 <= v < _MAX_TS:
        return v
    return None


def _change_path(ei: int, ci: int) -> str:
    return f"entry[{ei}].changes[{ci}]"


def _value_path(ei: int, ci: int) -> str:
    return f"entry[{ei}].changes[{ci}].value"


def _parse_errors(arr: object, path: Callable[[], str]) -> tuple[WebhookError, ...]:
    """Parse an ``errors`` array; ``path`` builds the location only on failure."""
    if type(arr) is not list:
        raise WebhookShapeError(path(), "'errors' must be an array")
    if not arr:
        return _NO_ERRORS
    out: list[WebhookError] = []
    for i, e in enumerate(arr):
        if type(e) is not dict:
            raise WebhookShapeError(f"{path()}.errors[{i}]", "expected an object")
        code = e.get("code")
        if type(code) is not int:
            if type(code) is str and 0 < len(code) <= 12 and code.isascii() and code.isdigit():
                code = int(code)
            else:
                raise WebhookShapeError(f"{path()}.errors[{i}]", "missing integer 'code'")
        message = _opt_str(e.get("message"))
        title = _opt_str(e.get("title"))
        data = e.get("error_data")
        details = _opt_str(data.get("details")) if type(data) is dict else None
        out.append(
            WebhookError(
                code=code,
                title=title if title is not None else (message or ""),
                message=message,
                details=details,
                href=_opt_str(e.get("href")),
            )
        )
    return tuple(out)


def _event(
    field: str,
    entry_id: str,
    pnid: str,
    value: dict[str, Any],
    entry_time: int | None,
    ei: int,
    ci: int,
) -> FieldEvent:
    """A field event keyed by its content and, when the entry has one, its ``time``.

    Many values carry no time of their own (a template's ``APPROVED``, a quality
    ``GREEN`` -> ``YELLOW``), so the same value can be a new event later (approved,
    paused, approved again); Meta's redelivery of one event keeps its entry ``time``.
    """
    try:
        canon = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raise WebhookShapeError(
            f"{_change_path(ei, ci)}.value", "not serialisable as JSON"
        ) from None
    when = b"" if entry_time is None else b"%d:" % entry_time
    return FieldEvent(
        field=field,
        entry_id=entry_id,
        phone_number_id=pnid,
        event_key=f"{field}:{hashlib.sha256(when + canon).hexdigest()}",
        value=value,
    )


# ------------------------------------------------------------ message text extraction

_Extracted = tuple[str | None, str | None, str | None]  # text, reply_id, subtype


def _x_text(p: object) -> _Extracted:
    if type(p) is dict:
        return _opt_str(p.get("body")), None, None
    return _NONE3


def _x_media(p: object) -> _Extracted:
    if type(p) is dict:
        return _opt_str(p.get("caption")), None, ("voice" if p.get("voice") is True else None)
    return _NONE3


def _x_button(p: object) -> _Extracted:
    if type(p) is dict:
        return _opt_str(p.get("text")), _opt_str(p.get("payload")), None
    return _NONE3


def _x_interactive(p: object) -> _Extracted:
    if type(p) is not dict:
        return _NONE3
    kind = _opt_str(p.get("type"))
    sub = p.get(kind) if kind is not None else None
    if type(sub) is not dict:
        return None, None, kind
    text = _opt_str(sub.get("title"))
    if text is None:
        text = _opt_str(sub.get("body"))
    reply_id = _opt_str(sub.get("id")) if kind in _REPLY_ID_KINDS else None
    return text, reply_id, kind


def _x_reaction(p: object) -> _Extracted:
    if type(p) is dict:
        return _opt_str(p.get("emoji")) or None, None, None
    return _NONE3


def _x_system(p: object) -> _Extracted:
    if type(p) is dict:
        return _opt_str(p.get("body")), None, _opt_str(p.get("type"))
    return _NONE3


def _x_location(p: object) -> _Extracted:
    if type(p) is not dict:
        return _NONE3
    parts = [s for s in (_opt_str(p.get("name")), _opt_str(p.get("address"))) if s]
    return (", ".join(parts) if parts else None), None, None


def _x_contacts(p: object) -> _Extracted:
    if type(p) is not list:
        return _NONE3
    names: list[str] = []
    for c in p:
        if type(c) is dict:
            n = c.get("name")
            if type(n) is dict:
                fn = n.get("formatted_name")
                if type(fn) is str and fn:
                    names.append(fn)
    return (", ".join(names) if names else None), None, None


def _x_order(p: object) -> _Extracted:
    if type(p) is dict:
        return _opt_str(p.get("text")) or None, None, None
    return _NONE3


def _x_generic(p: object) -> _Extracted:
    """Unknown types: take a ``body``/``caption``/``text`` string if the payload has one."""
    if type(p) is not dict:
        return _NONE3
    for key in ("body", "caption", "text"):
        v = p.get(key)
        if type(v) is str:
            return v, None, _opt_str(p.get("type"))
    return None, None, _opt_str(p.get("type"))


_EXTRACTORS: Final[Mapping[str, Callable[[object], _Extracted]]] = MappingProxyType(
    {
        "text": _x_text,
        **dict.fromkeys(_MEDIA_TYPES, _x_media),
        "button": _x_button,
        "interactive": _x_interactive,
        "reaction": _x_reaction,
        "system": _x_system,
        "location": _x_location,
        "contacts": _x_contacts,
        "order": _x_order,
    }
)


def _extract(msg: dict[str, Any], mtype: str) -> _Extracted:
    if mtype == "edit":
        edit = msg.get("edit")
        inner = edit.get("message") if type(edit) is dict else None
        if type(inner) is not dict:
            return _NONE3
        itype = inner.get("type")
        if type(itype) is not str or itype == "edit":
            return _NONE3
        text, reply_id, _ = _EXTRACTORS.get(itype, _x_generic)(inner.get(itype))
        return text, reply_id, itype
    return _EXTRACTORS.get(mtype, _x_generic)(msg.get(mtype))


# ------------------------------------------------------------------- items


def _find_contact(contacts: list[Any], wa_id: str) -> dict[str, Any] | None:
    """The contact whose wa_id matches, else the only contact, else None."""
    if len(contacts) == 1:
        c = contacts[0]
        return c if type(c) is dict else None
    for c in contacts:
        if type(c) is dict and c.get("wa_id") == wa_id:
            return c
    return None


def _item_path(ei: int, ci: int, key: str, i: int) -> str:
    return f"{_change_path(ei, ci)}.value.{key}[{i}]"


def _required_str(d: dict[str, Any], key: str, ei: int, ci: int, arr: str, i: int) -> str:
    v = d.get(key)
    if type(v) is not str:
        reason = f"missing '{key}'" if v is None else f"'{key}' must be a string"
        raise WebhookShapeError(_item_path(ei, ci, arr, i), reason)
    if not v:
        raise WebhookShapeError(_item_path(ei, ci, arr, i), f"empty '{key}'")
    return v


def _required_ts(d: dict[str, Any], ei: int, ci: int, arr: str, i: int) -> int:
    raw = d.get("timestamp")
    ts = _timestamp(raw)
    if ts is None:
        reason = "missing 'timestamp'" if raw is None else "'timestamp' must be epoch digits"
        raise WebhookShapeError(_item_path(ei, ci, arr, i), reason)
    return ts


def _parse_message(
    m: object,
    contacts: list[Any],
    pnid: str,
    display: str,
    entry_id: str,
    ei: int,
    ci: int,
    i: int,
) -> InboundMessage:
    if type(m) is not dict:
        raise WebhookShapeError(_item_path(ei, ci, "messages", i), "expected an object")
    wamid = _required_str(m, "id", ei, ci, "messages", i)
    wa_id = _required_str(m, "from", ei, ci, "messages", i)
    ts = _required_ts(m, ei, ci, "messages", i)
    mtype = _required_str(m, "type", ei, ci, "messages", i)

    contact = _find_contact(contacts, wa_id) if contacts else None
    user_id = _opt_str(m.get("from_user_id"))
    profile_name: str | None = None
    if contact is not None:
        if user_id is None:
            user_id = _opt_str(contact.get("user_id"))
        profile = contact.get("profile")
        if type(profile) is dict:
            profile_name = _opt_str(profile.get("name"))

    if mtype == "text":
        body = m.get("text")
        text = _opt_str(body.get("body")) if type(body) is dict else None
        reply_id: str | None = None
        subtype: str | None = None
    else:
        text, reply_id, subtype = _extract(m, mtype)

    ctx = m.get("context")
    context_wamid = _opt_str(ctx.get("id")) if type(ctx) is dict else None
    referral = m.get("referral")
    errs = m.get("errors")
    return InboundMessage(
        wamid=wamid,
        phone_number_id=pnid,
        display_phone_number=display,
        wa_id=wa_id,
        user_id=user_id,
        profile_name=profile_name,
        timestamp=ts,
        type=mtype,
        text=text,
        reply_id=reply_id,
        context_wamid=context_wamid,
        referral=referral if type(referral) is dict else None,
        errors=(
            _NO_ERRORS
            if errs is None
            else _parse_errors(errs, lambda: _item_path(ei, ci, "messages", i))
        ),
        raw=m,
        entry_id=entry_id,
        subtype=subtype,
    )


def _parse_status(s: object, pnid: str, entry_id: str, ei: int, ci: int, i: int) -> StatusUpdate:
    if type(s) is not dict:
        raise WebhookShapeError(_item_path(ei, ci, "statuses", i), "expected an object")
    wamid = _required_str(s, "id", ei, ci, "statuses", i)
    status = _required_str(s, "status", ei, ci, "statuses", i).lower()
    ts = _required_ts(s, ei, ci, "statuses", i)
    rtype = _opt_str(s.get("recipient_type"))
    recipient_id: str | None
    if s.get("recipient_id") is None and rtype == "group":
        recipient_id = None
    else:
        recipient_id = _required_str(s, "recipient_id", ei, ci, "statuses", i)
    conv = s.get("conversation")
    pricing = s.get("pricing")
    errs = s.get("errors")
    return StatusUpdate(
        wamid=wamid,
        phone_number_id=pnid,
        recipient_id=recipient_id,
        status=status,
        timestamp=ts,
        biz_opaque_callback_data=_opt_str(s.get("biz_opaque_callback_data")),
        conversation_id=_opt_str(conv.get("id")) if type(conv) is dict else None,
        pricing_category=_opt_str(pricing.get("category")) if type(pricing) is dict else None,
        errors=(
            _NO_ERRORS
            if errs is None
            else _parse_errors(errs, lambda: _item_path(ei, ci, "statuses", i))
        ),
        raw=s,
        entry_id=entry_id,
        recipient_type=rtype,
    )


def _metadata(value: dict[str, Any], ei: int, ci: int) -> tuple[str, str]:
    meta = value.get("metadata")
    if meta is None:
        return "", ""
    if type(meta) is not dict:
        raise WebhookShapeError(f"{_change_path(ei, ci)}.value.metadata", "expected an object")
    pnid = meta.get("phone_number_id", "")
    display = meta.get("display_phone_number", "")
    if type(pnid) is not str:
        raise WebhookShapeError(
            f"{_change_path(ei, ci)}.value.metadata", "'phone_number_id' must be a string"
        )
    if type(display) is not str:
        raise WebhookShapeError(
            f"{_change_path(ei, ci)}.value.metadata", "'display_phone_number' must be a string"
        )
    return pnid, display


def _entry_id(entry: dict[str, Any], ei: int) -> str:
    eid = entry.get("id")
    if type(eid) is str:
        return eid
    if eid is None:
        return ""
    if type(eid) is int:
        return str(eid)
    raise WebhookShapeError(f"entry[{ei}]", "'id' must be a string")


def _array(value: dict[str, Any], key: str, ei: int, ci: int) -> list[Any] | None:
    arr = value.get(key)
    if arr is None or type(arr) is list:
        return arr
    raise WebhookShapeError(f"{_change_path(ei, ci)}.value", f"'{key}' must be an array")


# ----------------------------------------------------------------------- public


def parse_webhook(body: Any) -> ParsedWebhook:
    """Parse a decoded webhook body (the result of ``orjson.loads``).

    Raises :class:`WebhookShapeError` when the body is not a
    ``whatsapp_business_account`` webhook or a required field is missing or of
    the wrong type. Everything else (unknown fields, unknown message types,
    unknown change fields) is tolerated and passed through.
    """
    if type(body) is not dict:
        raise WebhookShapeError("body", "expected a JSON object")
    if body.get("object") != _OBJECT:
        raise WebhookShapeError("body", f"'object' must be '{_OBJECT}'")
    entries = body.get("entry")
    if type(entries) is not list:
        reason = "missing 'entry'" if entries is None else "'entry' must be an array"
        raise WebhookShapeError("body", reason)

    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    events: list[FieldEvent] = []
    errors: list[WebhookError] = []

    for ei, entry in enumerate(entries):
        if type(entry) is not dict:
            raise WebhookShapeError(f"entry[{ei}]", "expected an object")
        entry_id = _entry_id(entry, ei)
        entry_time = _timestamp(entry.get("time"))
        changes = entry.get("changes")
        if type(changes) is not list:
            reason = "missing 'changes'" if changes is None else "'changes' must be an array"
            raise WebhookShapeError(f"entry[{ei}]", reason)
        for ci, change in enumerate(changes):
            if type(change) is not dict:
                raise WebhookShapeError(_change_path(ei, ci), "expected an object")
            field = change.get("field")
            if type(field) is not str or not field:
                raise WebhookShapeError(_change_path(ei, ci), "missing 'field'")
            value = change.get("value")
            if type(value) is not dict:
                reason = "missing 'value'" if value is None else "'value' must be an object"
                raise WebhookShapeError(_change_path(ei, ci), reason)

            pnid, display = _metadata(value, ei, ci)
            verrs = value.get("errors")
            change_errors = _NO_ERRORS
            if verrs is not None:
                change_errors = _parse_errors(verrs, partial(_value_path, ei, ci))
                errors.extend(change_errors)

            if field != "messages":
                events.append(_event(field, entry_id, pnid, value, entry_time, ei, ci))
                continue

            msgs = _array(value, "messages", ei, ci)
            if msgs:
                raw_contacts = value.get("contacts")
                contacts = raw_contacts if type(raw_contacts) is list else []
                for i, m in enumerate(msgs):
                    messages.append(_parse_message(m, contacts, pnid, display, entry_id, ei, ci, i))
            sts = _array(value, "statuses", ei, ci)
            if sts:
                for i, s in enumerate(sts):
                    statuses.append(_parse_status(s, pnid, entry_id, ei, ci, i))
            if change_errors:
                events.append(_event(field, entry_id, pnid, value, entry_time, ei, ci))

    return ParsedWebhook(
        messages=tuple(messages),
        statuses=tuple(statuses),
        events=tuple(events),
        errors=tuple(errors),
    )


def parse_webhook_bytes(raw: bytes) -> ParsedWebhook:
    """Decode a raw POST body with ``orjson`` and parse it.

    Invalid JSON, invalid UTF-8 and nesting deeper than orjson's limit (1024)
    all raise :class:`WebhookShapeError`; a non-bytes argument is a caller bug
    and raises ``TypeError``.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"parse_webhook_bytes() needs bytes, not {type(raw).__name__}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise WebhookShapeError("body", f"invalid JSON ({exc.msg})") from None
    return parse_webhook(body)


# ------------------------------------------------------------------ status order

STATUS_RANK: Final[Mapping[str, int]] = MappingProxyType(
    {"sent": 1, "delivered": 2, "read": 3, "played": 4, "deleted": 8, "failed": 9}
)
"""Progress order of outbound statuses; unknown statuses rank 0.

The single definition of status order: ``status_advances`` below and the rank
guard of ingest's ``UPDATE outbox`` (via :func:`replaces_below`) both use it.  The
numbers are stored in ``outbox.status_rank``: keep existing ones unchanged.
"""

_READ_RANK: Final = STATUS_RANK["read"]


def replaces_below(status: str) -> int:
    """``status`` replaces a stored status only if that one ranks below this number.

    ``failed`` replaces only statuses below ``read`` (a message that was read did not
    fail); any other known status replaces those ranked below itself; unknown
    statuses rank 0 and so replace nothing that has a rank.
    """
    rank = STATUS_RANK.get(status, 0)
    return min(rank, _READ_RANK) if status == "failed" else rank


def status_advances(current: str | None, new: str) -> bool:
    """Whether ``new`` should replace ``current`` as a message's stored status.

    Statuses never move backwards (webhooks arrive out of order):

    * anything advances from no status (``current is None``);
    * a repeat of the current status does not advance;
    * ``failed`` is terminal: nothing replaces it;
    * ``failed`` is accepted only before the message was seen, i.e. while the
      current status ranks below ``read`` (``sent``, ``delivered``, unknown);
      a ``failed`` after ``read``/``played``/``deleted`` is ignored because a
      message that reached the user cannot fail afterwards;
    * otherwise ``new`` advances iff it ranks strictly higher (``deleted`` is
      above everything except ``failed``); unknown statuses rank 0, so they
      only ever fill an empty status or replace another unknown one.

    Comparison is case-insensitive.
    """
    if current is None:
        return True
    cur = current.lower()
    nxt = new.lower()
    if cur == nxt:
        return False
    cur_rank = STATUS_RANK.get(cur, 0)
    if nxt not in STATUS_RANK:
        return cur_rank == 0
    return cur_rank < replaces_below(nxt)
