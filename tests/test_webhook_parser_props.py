"""Property tests for aman.webhook.parser: total on junk, exact on valid bodies."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aman.webhook.parser import (
    WebhookShapeError,
    parse_webhook,
    parse_webhook_bytes,
    status_advances,
)
from aman.webhook.types import ParsedWebhook

PROPS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
# values orjson can encode (64-bit ints, no lone surrogates), for the bytes-level tests
_safe_text = st.text(st.characters(codec="utf-8"), max_size=12)
json_scalars_safe = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | _safe_text
)
json_safe = st.recursive(
    json_scalars_safe,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_safe_text, inner, max_size=4),
    max_leaves=25,
)


def _total(body: Any) -> None:
    try:
        result = parse_webhook(body)
    except WebhookShapeError as exc:
        assert exc.path and exc.reason
    else:
        assert isinstance(result, ParsedWebhook)


@PROPS
@given(json_values)
def test_arbitrary_json_is_parsed_or_rejected(body: Any) -> None:
    _total(body)


# "Mostly valid" bodies: the skeleton is rarely junk and item fields are junk about once
# in ten, so the deep checks (items, payload extraction, contacts, errors) run often.
_VOCAB = [
    "text", "image", "audio", "voice", "video", "document", "sticker", "location", "contacts",
    "interactive", "button", "reaction", "order", "system", "unsupported", "edit", "revoke",
    "button_reply", "list_reply", "nfm_reply", "body", "caption", "title", "id", "payload",
    "emoji", "name", "address", "type", "message", "formatted_name", "wa_id", "profile",
    "user_id", "from_user_id", "context", "referral", "errors", "code", "error_data",
    "details", "recipient_type", "group", "conversation", "pricing", "category",
    "biz_opaque_callback_data", "voice",
]
_MSG_TYPES = _VOCAB[:17]
_vocab_key = st.sampled_from(_VOCAB)
vocab_values = st.recursive(
    _vocab_key | json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_vocab_key, inner, max_size=4),
    max_leaves=8,
)


@st.composite
def _mostly(
    draw: st.DrawFn,
    good: st.SearchStrategy[Any],
    junk: st.SearchStrategy[Any],
    one_in: int = 10,
) -> Any:
    """``good``, except junk about once in ``one_in`` draws."""
    return draw(junk if draw(st.integers(1, one_in)) == one_in else good)


_good_str = _mostly(
    st.sampled_from(["6281234567890", "6281298765432", "wamid.HBgN"]) | st.text(min_size=1),
    json_scalars,
)
_good_ts = _mostly(
    st.text(alphabet="0123456789", min_size=1, max_size=10) | st.integers(0, 2**33),
    st.text(max_size=16) | json_scalars,
)
_errors = _mostly(
    st.lists(st.fixed_dictionaries(
        {"code": _mostly(st.integers(0, 10**6) | st.from_regex(r"[0-9]{1,6}", fullmatch=True),
                         json_scalars)},
        optional={"title": vocab_values, "message": vocab_values, "href": vocab_values,
                  "error_data": st.fixed_dictionaries({}, optional={"details": vocab_values})
                  | vocab_values},
    ), max_size=2),
    vocab_values,
    25,
)


@st.composite
def _item(draw: st.DrawFn, required: dict[str, st.SearchStrategy[Any]], typed: bool) -> Any:
    """A message/status: required keys, a payload under its type, extra keys, maybe a drop."""
    if draw(st.integers(1, 50)) == 50:
        return draw(vocab_values)
    item = {key: draw(gen) for key, gen in required.items()}
    mtype = item.get("type")
    if typed and isinstance(mtype, str):
        item[mtype] = draw(vocab_values)
    extras = draw(st.dictionaries(_vocab_key, vocab_values, max_size=4))
    item.update({k: v for k, v in extras.items() if k not in required})
    if "errors" in extras:
        item["errors"] = draw(_errors)
    if draw(st.integers(1, 10)) == 10:
        del item[draw(st.sampled_from(sorted(required)))]
    return item


_messages = _item(
    {"id": _good_str, "from": _good_str, "timestamp": _good_ts,
     "type": _mostly(st.sampled_from(_MSG_TYPES), _vocab_key | st.text(max_size=4))},
    typed=True,
)
_statuses = _item(
    {"id": _good_str, "status": _mostly(st.sampled_from(["sent", "READ", "failed"]), _good_str),
     "timestamp": _good_ts, "recipient_id": _mostly(_good_str, st.none()),
     "recipient_type": st.sampled_from(["group", "individual"])},
    typed=False,
)
_contact = st.fixed_dictionaries(
    {}, optional={"wa_id": _good_str, "user_id": _good_str,
                  "profile": st.fixed_dictionaries({}, optional={"name": _good_str})
                  | vocab_values},
)
_values = _mostly(
    st.fixed_dictionaries(
        {},
        optional={
            "metadata": _mostly(
                st.fixed_dictionaries(
                    {}, optional={"phone_number_id": _good_str, "display_phone_number": _good_str}
                ),
                json_scalars,
                50,
            ),
            "contacts": _mostly(st.lists(_contact | vocab_values, max_size=3), json_scalars),
            "messages": _mostly(st.lists(_messages, min_size=1, max_size=4), json_values, 50),
            "statuses": _mostly(st.lists(_statuses, max_size=3), json_values, 50),
            "errors": _mostly(_errors, st.none(), 2),
        },
    ),
    json_values,
    50,
)
_changes = _mostly(
    st.fixed_dictionaries(
        {"field": _mostly(st.sampled_from(["messages", "messages", "calls"]), json_scalars, 50),
         "value": _values}
    ),
    json_values,
    50,
)
structured = st.fixed_dictionaries(
    {
        "object": st.just("whatsapp_business_account"),
        "entry": st.lists(
            _mostly(
                st.fixed_dictionaries(
                    {"changes": st.lists(_changes, min_size=1, max_size=3)},
                    optional={"id": _mostly(st.text(max_size=6), json_scalars, 50)},
                ),
                json_values,
                50,
            ),
            min_size=1,
            max_size=3,
        ),
    }
)


@PROPS
@given(structured)
def test_structured_junk_is_parsed_or_rejected(body: Any) -> None:
    _total(body)


@PROPS
@given(st.binary(max_size=200) | json_safe.map(orjson.dumps))
def test_arbitrary_bytes_are_parsed_or_rejected(raw: bytes) -> None:
    try:
        result = parse_webhook_bytes(raw)
    except WebhookShapeError:
        return
    assert isinstance(result, ParsedWebhook)


# ------------------------------------------------------------------ round trip

_digits = st.text(alphabet="0123456789", min_size=1, max_size=15)
_phone = st.integers(10**8, 10**11 - 1).map(lambda n: f"6281{n}")
_word = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
_status_name = st.sampled_from(["sent", "delivered", "read", "played", "failed", "Deleted"])


@st.composite
def valid_change(draw: st.DrawFn) -> dict[str, Any]:
    n_msg = draw(st.integers(0, 4))
    n_st = draw(st.integers(0, 3))
    messages = [
        {"from": draw(_phone), "id": f"wamid.{draw(_word)}",
         "timestamp": draw(_digits | st.integers(0, 2**40)), "type": "text",
         "text": {"body": draw(_safe_text)}, "extra": draw(json_scalars_safe)}
        for _ in range(n_msg)
    ]
    statuses = [
        {"id": f"wamid.{draw(_word)}", "status": draw(_status_name),
         "timestamp": draw(_digits), "recipient_id": draw(_phone)}
        for _ in range(n_st)
    ]
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": draw(_phone), "phone_number_id": draw(_digits)},
    }
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


valid_bodies = st.fixed_dictionaries(
    {
        "object": st.just("whatsapp_business_account"),
        "entry": st.lists(
            st.fixed_dictionaries(
                {"id": _digits, "changes": st.lists(valid_change(), min_size=1, max_size=3)}
            ),
            min_size=1,
            max_size=3,
        ),
    }
)


@settings(PROPS, max_examples=150)
@given(valid_bodies)
def test_valid_bodies_round_trip_in_order(body: dict[str, Any]) -> None:
    parsed = parse_webhook_bytes(orjson.dumps(body))
    want_msgs = []
    want_sts = []
    for entry in body["entry"]:
        for change in entry["changes"]:
            v = change["value"]
            pnid = v["metadata"]["phone_number_id"]
            for m in v.get("messages", []):
                want_msgs.append((m["id"], m["from"], int(m["timestamp"]), m["text"]["body"],
                                  pnid, entry["id"]))
            for s in v.get("statuses", []):
                want_sts.append((s["id"], s["status"].lower(), int(s["timestamp"]),
                                 s["recipient_id"], pnid, entry["id"]))
    got_msgs = [(m.wamid, m.wa_id, m.timestamp, m.text, m.phone_number_id, m.entry_id)
                for m in parsed.messages]
    got_sts = [(s.wamid, s.status, s.timestamp, s.recipient_id, s.phone_number_id, s.entry_id)
               for s in parsed.statuses]
    assert got_msgs == want_msgs
    assert got_sts == want_sts
    assert parsed.events == () and parsed.errors == ()
    # parsing the decoded object directly gives the same result
    assert parse_webhook(orjson.loads(orjson.dumps(body))) == parsed


_any_status = _status_name | st.text(max_size=8)


@PROPS
@given(st.lists(_any_status, min_size=1, max_size=12))
def test_status_never_moves_backwards(seq: list[str]) -> None:
    """Folding any sequence keeps a status that is never replaced by a lower known rank."""
    current: str | None = None
    for new in seq:
        if status_advances(current, new):
            if current is not None:
                assert current.lower() != "failed"
            current = new
    assert current is not None
    if "failed" in (s.lower() for s in seq) and current.lower() != "failed":
        # failed can only be ignored because the message had been seen (or deleted) first
        assert any(s.lower() in ("read", "played", "deleted") for s in seq)
