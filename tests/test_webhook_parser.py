"""Tests for aman.webhook.parser: own fixtures, Meta's real bodies, bad shapes, status order."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from aman.webhook.parser import (
    STATUS_RANK,
    WebhookShapeError,
    parse_webhook,
    parse_webhook_bytes,
    status_advances,
)
from aman.webhook.types import InboundMessage, ParsedWebhook

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "cloud-api-webhooks"

WABA = "102938475610293"
PNID = "109876543210987"
DISPLAY = "6281180008000"
PNID2 = "118877665544332"
BUDI, SITI, ANDI, DEWI = "6281234567890", "6281298765432", "6285712345678", "6287788990011"
UID_BUDI = "ID.11838455130072953381"
UID_ANDI = "ID.30917726458813390214"


def load(name: str) -> ParsedWebhook:
    return parse_webhook_bytes((FIXTURES / name).read_bytes())


# ----------------------------------------------------------------- own fixtures

# name -> expected fields of the single message in the body
MESSAGE_FIXTURES: dict[str, dict[str, Any]] = {
    "msg_text.json": dict(type="text", text="Halo, saya mau cek saldo rekening", wa_id=BUDI,
                          user_id=UID_BUDI, profile_name="Budi Santoso", timestamp=1735693200),
    "msg_image.json": dict(type="image", text="Bukti transfer", wa_id=SITI, user_id=None,
                           profile_name="Siti Rahayu", timestamp=1735693260),
    "msg_audio.json": dict(type="audio", text=None, subtype=None, wa_id=ANDI, user_id=UID_ANDI),
    "msg_voice.json": dict(type="audio", text=None, subtype="voice", wa_id=BUDI),
    "msg_video.json": dict(type="video", text="Video kerusakan barang", wa_id=DEWI,
                           profile_name="Dewi Lestari"),
    "msg_document.json": dict(type="document", text="Slip gaji Januari", wa_id=SITI),
    "msg_sticker.json": dict(type="sticker", text=None, wa_id=ANDI),
    "msg_location.json": dict(type="location",
                              text="Monumen Nasional, Gambir, Jakarta Pusat, DKI Jakarta 10110"),
    "msg_contacts.json": dict(type="contacts", text="Rina Kusuma, Toko Maju Jaya", wa_id=DEWI),
    "msg_interactive_button_reply.json": dict(type="interactive", subtype="button_reply",
                                              text="Ya, benar", reply_id="konfirmasi_ya",
                                              has_context=True),
    "msg_interactive_list_reply.json": dict(type="interactive", subtype="list_reply",
                                            text="Cek saldo", reply_id="menu_cek_saldo",
                                            has_context=True),
    "msg_interactive_nfm_reply.json": dict(type="interactive", subtype="nfm_reply", text="Sent",
                                           reply_id=None, has_context=True),
    "msg_button.json": dict(type="button", text="Berhenti promo", reply_id="STOP_PROMO",
                            has_context=True, timestamp=1735693920),
    "msg_reaction.json": dict(type="reaction", text="\U0001f44d", reply_id=None, has_context=False),
    "msg_order.json": dict(type="order", text="Tolong kirim sore ini", wa_id=SITI),
    "msg_system.json": dict(type="system", subtype="user_changed_number", wa_id=ANDI, user_id=None,
                            profile_name=None,
                            text="Andi Wijaya changed their phone number to a new number"),
    "msg_unsupported.json": dict(type="unsupported", subtype="poll", text=None,
                                 error_codes=(131051,)),
    "msg_text_referral.json": dict(type="text", text="Halo! Bisa minta info promo KPR?",
                                   has_referral=True, has_context=False),
    "msg_text_context.json": dict(type="text", text="Iya, jam 3 sore bisa", has_context=True,
                                  timestamp=1735694280),
}

# name -> expected fields of the single status
STATUS_FIXTURES: dict[str, dict[str, Any]] = {
    "status_sent.json": dict(status="sent", recipient_id=BUDI, timestamp=1735693150,
                             biz_opaque_callback_data="otp-req-7f3a91",
                             conversation_id="c8a9f3e1d2b4a6c7e9f0a1b2c3d4e5f6",
                             pricing_category="authentication"),
    "status_delivered.json": dict(status="delivered", recipient_id=SITI,
                                  biz_opaque_callback_data=None, conversation_id=None,
                                  pricing_category="utility"),
    "status_read.json": dict(status="read", recipient_id=SITI, pricing_category=None),
    "status_played.json": dict(status="played", recipient_id=ANDI),
    "status_failed.json": dict(status="failed", recipient_id=DEWI, error_codes=(131047,)),
}

# name -> (field, phone_number_id)
FIELD_FIXTURES: dict[str, tuple[str, str]] = {
    "field_message_template_status_update.json": ("message_template_status_update", ""),
    "field_message_template_quality_update.json": ("message_template_quality_update", ""),
    "field_template_category_update.json": ("template_category_update", ""),
    "field_phone_number_quality_update.json": ("phone_number_quality_update", ""),
    "field_account_update.json": ("account_update", ""),
    "field_user_preferences_stop.json": ("user_preferences", PNID),
    "field_user_preferences_resume.json": ("user_preferences", PNID),
    "field_security.json": ("security", ""),
    "messages_value_errors.json": ("messages", PNID),
}

OTHER_FIXTURES = {"batch_mixed.json"}


def test_every_own_fixture_has_expectations() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.json")}
    covered = set(MESSAGE_FIXTURES) | set(STATUS_FIXTURES) | set(FIELD_FIXTURES) | OTHER_FIXTURES
    assert on_disk == covered


@pytest.mark.parametrize("name", sorted(MESSAGE_FIXTURES))
def test_own_message_fixture(name: str) -> None:
    parsed = load(name)
    assert (len(parsed.messages), parsed.statuses, parsed.events, parsed.errors) == (1, (), (), ())
    m = parsed.messages[0]
    exp = dict(MESSAGE_FIXTURES[name])
    assert m.wamid == m.raw["id"] and m.wamid.startswith("wamid.HBg")
    assert (m.phone_number_id, m.display_phone_number, m.entry_id) == (PNID, DISPLAY, WABA)
    assert m.raw["from"] == m.wa_id
    if exp.pop("has_context", False):
        assert m.context_wamid is not None and m.context_wamid.startswith("wamid.")
        assert m.context_wamid == m.raw["context"]["id"]
    else:
        assert m.context_wamid is None
    if exp.pop("has_referral", False):
        assert m.referral is not None and m.referral["source_type"] == "ad"
        assert m.referral["ctwa_clid"].startswith("ARAk")
    else:
        assert m.referral is None
    assert tuple(e.code for e in m.errors) == exp.pop("error_codes", ())
    for attr, want in exp.items():
        assert getattr(m, attr) == want, attr


def test_own_unsupported_fixture_error_fields() -> None:
    (err,) = load("msg_unsupported.json").messages[0].errors
    assert err.title == "Message type unknown"
    assert err.details == "Message type is currently not supported."


@pytest.mark.parametrize("name", sorted(STATUS_FIXTURES))
def test_own_status_fixture(name: str) -> None:
    parsed = load(name)
    assert (parsed.messages, len(parsed.statuses), parsed.events) == ((), 1, ())
    s = parsed.statuses[0]
    exp = dict(STATUS_FIXTURES[name])
    assert s.wamid == s.raw["id"] and s.wamid.startswith("wamid.HBg")
    assert (s.phone_number_id, s.entry_id) == (PNID, WABA)
    assert tuple(e.code for e in s.errors) == exp.pop("error_codes", ())
    for attr, want in exp.items():
        assert getattr(s, attr) == want, attr


def test_own_failed_status_error_details() -> None:
    (err,) = load("status_failed.json").statuses[0].errors
    assert err.title == "Re-engagement message"
    assert err.details is not None and "24 hours" in err.details
    assert err.href is not None and err.href.startswith("https://developers.facebook.com/")


@pytest.mark.parametrize("name", sorted(FIELD_FIXTURES))
def test_own_field_fixture(name: str) -> None:
    parsed = load(name)
    field, pnid = FIELD_FIXTURES[name]
    assert (parsed.messages, parsed.statuses, len(parsed.events)) == ((), (), 1)
    ev = parsed.events[0]
    assert (ev.field, ev.entry_id, ev.phone_number_id) == (field, WABA, pnid)
    assert re.fullmatch(re.escape(field) + r":[0-9a-f]{64}", ev.event_key)
    body = orjson.loads((FIXTURES / name).read_bytes())
    assert ev.value == body["entry"][0]["changes"][0]["value"]


def test_user_preferences_stop_value_is_kept() -> None:
    (ev,) = load("field_user_preferences_stop.json").events
    (pref,) = ev.value["user_preferences"]
    assert (pref["value"], pref["category"], pref["wa_id"]) == ("stop", "marketing_messages", SITI)


def test_messages_change_with_value_errors() -> None:
    parsed = load("messages_value_errors.json")
    assert [e.code for e in parsed.errors] == [131000]
    assert parsed.errors[0].details == "Unsupported webhook payload"


def test_batch_fixture_order_and_routing() -> None:
    parsed = load("batch_mixed.json")
    assert [m.type for m in parsed.messages] == [
        "text", "image", "button", "interactive", "reaction", "location",
    ]
    assert [m.timestamp for m in parsed.messages] == [
        1735700001, 1735700002, 1735700003, 1735700101, 1735700102, 1735700201,
    ]
    assert [m.phone_number_id for m in parsed.messages] == [PNID] * 3 + [PNID2] * 3
    assert [m.entry_id for m in parsed.messages] == [WABA] * 3 + ["118273645501928"] * 3
    assert [m.profile_name for m in parsed.messages] == [
        "Budi Santoso", "Siti Rahayu", "Budi Santoso", "Dewi Lestari", "Dewi Lestari",
        "Budi Santoso",
    ]
    assert [m.user_id for m in parsed.messages][:2] == [UID_BUDI, None]
    assert [s.status for s in parsed.statuses] == [
        "sent", "delivered", "read", "delivered", "failed", "read",
    ]
    assert [s.recipient_id for s in parsed.statuses] == [ANDI] * 3 + [DEWI, BUDI, SITI]
    assert [e.code for e in parsed.statuses[4].errors] == [131026]
    assert parsed.statuses[0].pricing_category == "marketing"
    assert (parsed.events, parsed.errors) == ((), ())
    assert len({m.wamid for m in parsed.messages}) == 6


def test_event_key_is_stable_and_content_sensitive() -> None:
    body = orjson.loads((FIXTURES / "field_security.json").read_bytes())
    key = parse_webhook(body).events[0].event_key
    reordered = copy.deepcopy(body)
    value = reordered["entry"][0]["changes"][0]["value"]
    reordered["entry"][0]["changes"][0]["value"] = dict(reversed(list(value.items())))
    assert list(reordered["entry"][0]["changes"][0]["value"]) != list(value)
    assert parse_webhook(reordered).events[0].event_key == key
    body["entry"][0]["changes"][0]["value"]["event"] = "PIN_RESET_SUCCESS"
    assert parse_webhook(body).events[0].event_key != key


def test_records_are_frozen() -> None:
    m = load("msg_text.json").messages[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.text = "x"  # type: ignore[misc]


# ----------------------------------------------------------- Meta's real bodies


def _shared_rows() -> list[tuple[str, str]]:
    index = SHARED / "INDEX.md"
    if not index.is_file():
        return [("<missing>", "")]
    rows = []
    for line in index.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].endswith(".json"):
            rows.append((cells[0], cells[1]))
    return rows


def _require_shared() -> None:
    if (SHARED / "INDEX.md").is_file():
        return
    if os.environ.get("AMAN_NO_SHARED") == "1":
        pytest.skip("shared Cloud API fixtures disabled by AMAN_NO_SHARED=1")
    pytest.fail(f"shared Cloud API fixtures missing at {SHARED} (set AMAN_NO_SHARED=1 to skip)")


def test_shared_index_lists_every_file() -> None:
    _require_shared()
    listed = {name for name, _ in _shared_rows()}
    assert listed == {p.name for p in SHARED.glob("*.json")}
    assert len(listed) >= 60


@pytest.mark.parametrize(("name", "kind"), _shared_rows())
def test_shared_fixture_parses(name: str, kind: str) -> None:
    _require_shared()
    parsed = parse_webhook_bytes((SHARED / name).read_bytes())
    if kind.startswith("message:"):
        assert len(parsed.messages) >= 1
        assert parsed.messages[0].type == kind.split(":")[1].split("/")[0].split("+")[0]
        assert all(m.timestamp > 1_600_000_000 for m in parsed.messages)
    elif kind.startswith("status:"):
        assert len(parsed.statuses) >= 1
        assert parsed.statuses[0].status == kind.split(":")[1]
    else:
        assert parsed.messages == () and parsed.statuses == ()
        assert len(parsed.events) >= 1


def _shared(name: str) -> ParsedWebhook:
    _require_shared()
    return parse_webhook_bytes((SHARED / name).read_bytes())


def test_shared_specific_fields() -> None:
    (m,) = _shared("msg_button_quick_reply_no_context.json").messages
    assert (m.user_id, m.reply_id, m.text, m.context_wamid) == (
        "US.13491208655302741918", "callback_data", "title", None,
    )
    (m,) = _shared("msg_system_user_changed_number.json").messages
    assert (m.user_id, m.profile_name, m.subtype) == (None, None, "user_changed_number")
    (m,) = _shared("msg_edit_image.json").messages
    assert (m.type, m.subtype, m.text) == ("edit", "image", "Updated image caption")
    (s,) = _shared("status_read_group.json").statuses
    assert s.recipient_type == "group"
    parsed = _shared("msg_interactive_unsupported_value_errors_131000.json")
    assert [e.code for e in parsed.errors] == [131000]
    assert [e.field for e in parsed.events] == ["messages"]
    parsed = _shared("calls_terminate_with_errors.json")
    assert [(e.code, e.title) for e in parsed.errors] == [(12455, "ERROR_TITLE")]
    assert [e.field for e in parsed.events] == ["calls"]
    (ev,) = _shared("smb_message_echo_text.json").events
    assert ev.field == "smb_message_echoes" and ev.phone_number_id == "1122334455667"


# -------------------------------------------------------------- malformed input


def _body(value: Any, field: str = "messages") -> dict[str, Any]:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA, "changes": [{"field": field, "value": value}]}]}


def _msg(**over: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"from": BUDI, "id": "wamid.A1", "timestamp": "1735693200",
                         "type": "text", "text": {"body": "halo"}}
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


def _status(**over: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"id": "wamid.S1", "status": "sent", "timestamp": "1735693200",
                         "recipient_id": BUDI}
    s.update(over)
    return {k: v for k, v in s.items() if v is not None}


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


_THIRD_MSG_NO_ID = {
    "object": "whatsapp_business_account",
    "entry": [{"id": WABA, "changes": [
        {"field": "messages", "value": {"messages": [_msg()]}},
        {"field": "messages", "value": {"messages": [_msg(), _msg(), _msg(id=None)]}},
    ]}],
}

BAD: list[tuple[str, Any, str]] = [
    ("not json", b"not json", "body: invalid JSON"),
    ("invalid utf-8", b'{"object": "\xff\xfe"}', "body: invalid JSON"),
    ("truncated", b'{"object": "whatsapp_business_account", "entry": [', "body: invalid JSON"),
    ("deep 10k array", _deep(10_000), "body: invalid JSON"),
    ("deep 10k inside value",
     b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"x","value":{"a":'
     + _deep(10_000) + b"}}]}]}", "body: invalid JSON"),
    ("json array", b"[1, 2]", "body: expected a JSON object"),
    ("json string", b'"whatsapp_business_account"', "body: expected a JSON object"),
    ("wrong object", {"object": "page", "entry": []}, "body: 'object' must be"),
    ("missing entry", {"object": "whatsapp_business_account"}, "body: missing 'entry'"),
    ("entry not list", {"object": "whatsapp_business_account", "entry": {}},
     "body: 'entry' must be an array"),
    ("entry item not object", {"object": "whatsapp_business_account", "entry": [1]},
     "entry[0]: expected an object"),
    ("entry id wrong type",
     {"object": "whatsapp_business_account", "entry": [{"id": [1], "changes": []}]},
     "entry[0]: 'id' must be a string"),
    ("missing changes", {"object": "whatsapp_business_account", "entry": [{"id": WABA}]},
     "entry[0]: missing 'changes'"),
    ("change without value",
     {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]},
     "entry[0].changes[0]: missing 'value'"),
    ("value not object", _body([1]), "entry[0].changes[0]: 'value' must be an object"),
    ("change without field",
     {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {}}]}]},
     "entry[0].changes[0]: missing 'field'"),
    ("metadata not object", _body({"metadata": "x"}), "value.metadata: expected an object"),
    ("phone_number_id not str", _body({"metadata": {"phone_number_id": 5}}),
     "'phone_number_id' must be a string"),
    ("messages not list", _body({"messages": {}}), "value: 'messages' must be an array"),
    ("statuses not list", _body({"statuses": "x"}), "value: 'statuses' must be an array"),
    ("message not object", _body({"messages": ["x"]}), "value.messages[0]: expected an object"),
    ("message without id", _THIRD_MSG_NO_ID,
     "entry[0].changes[1].value.messages[2]: missing 'id'"),
    ("message id empty", _body({"messages": [_msg(id="")]}), "messages[0]: empty 'id'"),
    ("message id not str", _body({"messages": [_msg(id=7)]}), "'id' must be a string"),
    ("message without from", _body({"messages": [_msg(**{"from": None})]}), "missing 'from'"),
    ("message without type", _body({"messages": [_msg(type=None)]}), "missing 'type'"),
    ("message without timestamp", _body({"messages": [_msg(timestamp=None)]}),
     "messages[0]: missing 'timestamp'"),
    ("timestamp not digits", _body({"messages": [_msg(timestamp="17356932OO")]}),
     "messages[0]: 'timestamp' must be epoch digits"),
    ("timestamp non-ascii digits", _body({"messages": [_msg(timestamp="١٧٣٥٦٩٣٢٠٠")]}),
     "'timestamp' must be epoch digits"),
    ("timestamp superscript", _body({"messages": [_msg(timestamp="²")]}),
     "'timestamp' must be epoch digits"),
    ("timestamp signed", _body({"messages": [_msg(timestamp="-1735693200")]}),
     "'timestamp' must be epoch digits"),
    ("timestamp float", _body({"messages": [_msg(timestamp=1735693200.0)]}),
     "'timestamp' must be epoch digits"),
    ("timestamp bool", _body({"messages": [_msg(timestamp=True)]}),
     "'timestamp' must be epoch digits"),
    ("timestamp negative int", _body({"messages": [_msg(timestamp=-5)]}),
     "'timestamp' must be epoch digits"),
    ("timestamp huge", _body({"messages": [_msg(timestamp="9" * 5000)]}),
     "'timestamp' must be epoch digits"),
    ("message errors not list", _body({"messages": [_msg(errors={"code": 1})]}),
     "messages[0]: 'errors' must be an array"),
    ("message error without code", _body({"messages": [_msg(errors=[{"title": "x"}])]}),
     "messages[0].errors[0]: missing integer 'code'"),
    ("value error not object", _body({"errors": ["x"]}), "value.errors[0]: expected an object"),
    ("status without recipient", _body({"statuses": [_status(recipient_id=None)]}),
     "value.statuses[0]: missing 'recipient_id'"),
    ("status group-less null recipient",
     _body({"statuses": [_status(recipient_id=None, recipient_type="individual")]}),
     "missing 'recipient_id'"),
    ("status without status", _body({"statuses": [_status(status=None)]}),
     "statuses[0]: missing 'status'"),
    ("status bad timestamp", _body({"statuses": [_status(timestamp="soon")]}),
     "statuses[0]: 'timestamp' must be epoch digits"),
    ("event value not serialisable", _body({"k": float("inf"), 1: 2}, field="security"),
     "entry[0].changes[0].value: not serialisable as JSON"),
]


@pytest.mark.parametrize(("case", "body", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_shape(case: str, body: Any, needle: str) -> None:
    with pytest.raises(WebhookShapeError) as info:
        if isinstance(body, bytes):
            parse_webhook_bytes(body)
        else:
            parse_webhook(body)
    assert needle in str(info.value), case
    assert isinstance(info.value, ValueError)
    assert str(info.value) == f"{info.value.path}: {info.value.reason}"


def test_shape_error_never_echoes_values() -> None:
    secret = "6281299990000"
    body = _body({"messages": [_msg(**{"from": secret}, timestamp=secret + "x")]})
    with pytest.raises(WebhookShapeError) as info:
        parse_webhook(body)
    assert secret not in str(info.value)


def test_deep_python_value_in_event_is_shape_error() -> None:
    deep: Any = []
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(WebhookShapeError, match="not serialisable"):
        parse_webhook(_body({"a": deep}, field="calls"))


def test_bytes_api_rejects_non_bytes() -> None:
    with pytest.raises(TypeError, match="needs bytes"):
        parse_webhook_bytes('{"object": "whatsapp_business_account"}')  # type: ignore[arg-type]


def test_bytes_api_accepts_bytearray_and_memoryview() -> None:
    raw = (FIXTURES / "msg_text.json").read_bytes()
    expected = parse_webhook_bytes(raw)
    assert parse_webhook_bytes(bytearray(raw)) == expected  # type: ignore[arg-type]
    assert parse_webhook_bytes(memoryview(raw)) == expected  # type: ignore[arg-type]


# ------------------------------------------------------------------ tolerance


def _one(value: dict[str, Any], field: str = "messages") -> ParsedWebhook:
    return parse_webhook(_body(value, field))


def test_unknown_message_type_kept_as_is() -> None:
    (m,) = _one({"messages": [_msg(type="poll_vote", text=None,
                                   poll_vote={"body": "Opsi B", "type": "single"},
                                   brand_new_field={"x": 1})]}).messages
    assert (m.type, m.text, m.subtype, m.reply_id) == ("poll_vote", "Opsi B", "single", None)
    assert m.raw["brand_new_field"] == {"x": 1}


def test_unknown_type_without_payload() -> None:
    (m,) = _one({"messages": [_msg(type="ephemeral", text=None)]}).messages
    assert (m.type, m.text) == ("ephemeral", None)


def test_unknown_field_becomes_event() -> None:
    parsed = _one({"anything": [1, 2]}, field="some_future_field")
    assert [e.field for e in parsed.events] == ["some_future_field"]


def test_messages_change_without_content_emits_nothing() -> None:
    parsed = _one({"messaging_product": "whatsapp", "metadata": {"phone_number_id": PNID},
                   "contacts": [{"wa_id": BUDI}], "messages": [], "errors": []})
    assert parsed == ParsedWebhook((), (), (), ())


def test_empty_entry_list() -> None:
    assert parse_webhook({"object": "whatsapp_business_account", "entry": []}) == ParsedWebhook(
        (), (), (), ()
    )


def test_int_timestamp_and_int_entry_id() -> None:
    body = _body({"messages": [_msg(timestamp=1735693200)]})
    body["entry"][0]["id"] = 102938475610293
    (m,) = parse_webhook(body).messages
    assert (m.timestamp, m.entry_id) == (1735693200, "102938475610293")


def test_status_is_lower_cased_and_group_recipient_may_be_absent() -> None:
    parsed = _one({"statuses": [
        _status(status="DELIVERED"),
        _status(recipient_id=None, recipient_type="group", status="read"),
    ]})
    assert [(s.status, s.recipient_id) for s in parsed.statuses] == [
        ("delivered", BUDI), ("read", None),
    ]
    assert parsed.statuses[1].recipient_type == "group"


def test_metadata_absent_gives_empty_ids() -> None:
    (m,) = _one({"messages": [_msg()]}).messages
    assert (m.phone_number_id, m.display_phone_number, m.profile_name, m.user_id) == (
        "", "", None, None,
    )


def test_contact_matching() -> None:
    contacts = [
        {"wa_id": BUDI, "profile": {"name": "Budi"}, "user_id": "ID.1"},
        {"wa_id": SITI, "profile": {"name": "Siti"}},
    ]
    parsed = _one({"contacts": contacts, "messages": [
        _msg(), _msg(**{"from": SITI}), _msg(**{"from": DEWI}),
        _msg(**{"from": SITI, "from_user_id": "ID.9"}),
    ]})
    assert [(m.profile_name, m.user_id) for m in parsed.messages] == [
        ("Budi", "ID.1"), ("Siti", None), (None, None), ("Siti", "ID.9"),
    ]
    # a single contact is used even when its wa_id differs (Meta's edit bodies do this)
    (m,) = _one({"contacts": contacts[:1], "messages": [_msg(**{"from": DEWI})]}).messages
    assert (m.profile_name, m.user_id) == ("Budi", "ID.1")


def test_malformed_optional_parts_are_ignored() -> None:
    (m,) = _one({"contacts": "nope", "messages": [
        _msg(context="x", referral=[1], text=["not", "a", "dict"]),
    ]}).messages
    assert (m.context_wamid, m.referral, m.text, m.profile_name) == (None, None, None, None)


def test_error_code_as_digit_string_and_title_fallback() -> None:
    parsed = _one({"errors": [{"code": "131000", "message": "Something"}]})
    (err,) = parsed.errors
    assert (err.code, err.title, err.message, err.details) == (
        131000, "Something", "Something", None,
    )


def test_message_echo_is_not_inbound() -> None:
    parsed = _one({"message_echoes": [_msg()]}, field="smb_message_echoes")
    assert parsed.messages == () and [e.field for e in parsed.events] == ["smb_message_echoes"]


def test_reaction_removed_has_no_text() -> None:
    (m,) = _one({"messages": [_msg(type="reaction", text=None,
                                   reaction={"message_id": "wamid.X", "emoji": ""})]}).messages
    assert m.text is None


def test_raw_is_the_received_dict() -> None:
    body = _body({"messages": [_msg()]})
    (m,) = parse_webhook(body).messages
    assert m.raw is body["entry"][0]["changes"][0]["value"]["messages"][0]
    assert isinstance(m, InboundMessage)


# ----------------------------------------------------------------- status order

ORDER: list[tuple[str | None, str, bool]] = [
    (None, "sent", True),
    (None, "failed", True),
    (None, "some_new_status", True),
    ("sent", "delivered", True),
    ("sent", "read", True),
    ("delivered", "read", True),
    ("read", "played", True),
    ("delivered", "sent", False),
    ("read", "delivered", False),
    ("read", "sent", False),
    ("played", "read", False),
    ("read", "read", False),
    ("sent", "sent", False),
    ("sent", "failed", True),
    ("delivered", "failed", True),
    ("read", "failed", False),
    ("played", "failed", False),
    ("deleted", "failed", False),
    ("failed", "delivered", False),
    ("failed", "read", False),
    ("failed", "deleted", False),
    ("failed", "failed", False),
    ("read", "deleted", True),
    ("played", "deleted", True),
    ("deleted", "read", False),
    ("read", "warning", False),
    ("warning", "sent", True),
    ("warning", "failed", True),
    ("warning", "other_unknown", True),
    ("SENT", "Delivered", True),
    ("Read", "DELIVERED", False),
]


@pytest.mark.parametrize(("current", "new", "expected"), ORDER)
def test_status_advances(current: str | None, new: str, expected: bool) -> None:
    assert status_advances(current, new) is expected


def test_status_rank_order() -> None:
    assert sorted(STATUS_RANK, key=STATUS_RANK.__getitem__) == [
        "sent", "delivered", "read", "played", "deleted", "failed",
    ]
    with pytest.raises(TypeError):
        STATUS_RANK["sent"] = 9  # type: ignore[index]


def test_missing_shared_folder_fails_unless_opted_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "SHARED", tmp_path / "absent")
    monkeypatch.delenv("AMAN_NO_SHARED", raising=False)
    assert _shared_rows() == [("<missing>", "")]
    with pytest.raises(pytest.fail.Exception, match="AMAN_NO_SHARED"):
        _require_shared()
    monkeypatch.setenv("AMAN_NO_SHARED", "1")
    with pytest.raises(pytest.skip.Exception):
        _require_shared()
