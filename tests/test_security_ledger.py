"""Tests for aman.security.ledger: signed tree heads, proofs and tamper detection."""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aman.security.ledger import (
    AuditEntry,
    AuditLedger,
    InMemoryLedgerStore,
    LedgerError,
    SecretInDetailsError,
    SignedTreeHead,
    head_message,
    sign_head,
    verify_head,
    verify_ledger,
)
from aman.security.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUB = KEY.public_key()
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def fake_clock() -> Any:
    ticks = itertools.count()
    return lambda: 1_700_000_000.0 + next(ticks) * 0.5


def build(n: int = 10) -> tuple[AuditLedger, InMemoryLedgerStore]:
    store = InMemoryLedgerStore()
    ledger = AuditLedger(store, KEY, key_id="audit:1", clock=fake_clock())
    for i in range(n):
        ledger.append("bank-a", f"agent:{i % 3}", "contact.view", f"contact:{i}", {"i": i})
    return ledger, store


def check(store: InMemoryLedgerStore, **kw: Any) -> Any:
    return verify_ledger(store.entries, store.heads, PUB, **kw)


# --- entries and heads ---------------------------------------------------------------------


def test_entry_encoding_is_canonical() -> None:
    entry = AuditEntry(3, 1700000000.5, "bank-a", "agent:1", "login", "user:1", {"b": 1, "a": [1]})
    assert entry.encode() == (
        b'{"action":"login","actor":"agent:1","details":{"a":[1],"b":1},"seq":3,'
        b'"target":"user:1","tenant":"bank-a","ts":1700000000.5}'
    )
    assert (
        AuditEntry(3, 1700000000, "t", "a", "x", "y").encode()
        == AuditEntry(3, 1700000000.0, "t", "a", "x", "y").encode()
    )
    assert "é".encode() in AuditEntry(0, 1.0, "t", "a", "x", "caf\u00e9").encode()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seq": -1},
        {"seq": True},
        {"ts": float("nan")},
        {"ts": "now"},
        {"tenant": ""},
        {"action": "x" * 513},
        {"details": ["not", "a", "mapping"]},
    ],
)
def test_entry_validation(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "seq": 0,
        "ts": 1.0,
        "tenant": "t",
        "actor": "a",
        "action": "x",
        "target": "y",
        "details": {},
    }
    with pytest.raises(LedgerError):
        AuditEntry(**{**base, **kwargs})


def test_head_message_layout() -> None:
    msg = head_message(5, b"R" * 32, 1700000000.123, "audit:1")
    assert msg == (
        b"aman-sth-v1"
        + (5).to_bytes(8, "big")
        + (1700000000123).to_bytes(8, "big")
        + b"R" * 32
        + b"\x07audit:1"
    )
    with pytest.raises(LedgerError):
        head_message(-1, b"R" * 32, 0.0, "audit:1")
    with pytest.raises(LedgerError):
        head_message(1, b"R" * 31, 0.0, "audit:1")
    with pytest.raises(LedgerError):
        head_message(1, b"R" * 32, 0.0, "bad key id")


def test_sign_and_verify_head() -> None:
    sth = sign_head(KEY, 7, b"\x11" * 32, 1700000000.1234, "audit:1")
    assert sth.ts == 1700000000.123
    assert verify_head(PUB, sth)
    assert verify_head({"audit:1": PUB}, sth)
    assert not verify_head({"audit:2": PUB}, sth)
    assert not verify_head(OTHER_KEY.public_key(), sth)
    for change in (
        {"size": 8},
        {"root": b"\x12" * 32},
        {"ts": 1700000001.0},
        {"key_id": "audit:2"},
        {"signature": bytes(64)},
        {"root": b"x"},
    ):
        assert not verify_head(PUB, dataclasses.replace(sth, **change))


# --- appending and proofs ------------------------------------------------------------------


def test_append_signs_a_head_each_time_and_proofs_verify() -> None:
    ledger, store = build(12)
    assert ledger.size == 12 and len(store.heads) == 12
    assert [e.seq for e in store.entries] == list(range(12))
    assert [h.size for h in store.heads] == list(range(1, 13))
    assert all(verify_head(PUB, h) for h in store.heads)
    assert store.leaf_hashes == [leaf_hash(e.encode()) for e in store.entries]
    assert ledger.root() == store.heads[-1].root
    for size in (1, 5, 12):
        head = store.heads[size - 1]
        for seq in range(size):
            proof = ledger.inclusion(seq, size)
            assert verify_inclusion(seq, size, store.leaf_hashes[seq], proof, head.root)
    for old in range(1, 12):
        proof = ledger.consistency(old, 12)
        assert verify_consistency(old, 12, store.heads[old - 1].root, ledger.root(), proof)
    entry, head = ledger.append("bank-a", "system", "key.rotate", "tenant:bank-a")
    assert entry.seq == 12 and head.size == 13 and entry.details == {}
    proof = ledger.inclusion(12, 13)  # the cached tree follows new appends
    assert verify_inclusion(12, 13, leaf_hash(entry.encode()), proof, head.root)
    assert check(store).ok


def test_details_are_copied_and_normalised() -> None:
    ledger, store = build(0)
    details: dict[str, Any] = {"items": ("a", "b"), "nested": {"n": 1}}
    entry, _ = ledger.append("t", "a", "x", "y", details)
    details["nested"]["n"] = 2
    assert entry.details == {"items": ["a", "b"], "nested": {"n": 1}}
    assert json.loads(entry.encode())["details"] == {"items": ["a", "b"], "nested": {"n": 1}}
    assert check(store).ok


@pytest.mark.parametrize(
    "details",
    [
        {"password": "x"},
        {"new_pin": "x"},
        {"userPin": "x"},
        {"otp": "x"},
        {"otp_code": "x"},
        {"access_token": "x"},
        {"refreshToken": "x"},
        {"client-secret": "x"},
        {"api_key": "x"},
        {"kata_sandi": "x"},
        {"cvv": "x"},
        {"meta": {"deep": [{"PIN": "x"}]}},
    ],
)
def test_secret_detail_keys_are_rejected(details: dict[str, Any]) -> None:
    ledger, store = build(0)
    with pytest.raises(SecretInDetailsError, match="must never contain secrets"):
        ledger.append("t", "a", "x", "y", details)
    assert store.entries == [] and store.heads == []


def test_harmless_detail_keys_are_allowed() -> None:
    ledger, _ = build(0)
    details = {
        "shipping": 1,
        "opinion": "ok",
        "pinned": True,
        "passenger": 2,
        "spin": None,
        "topic": "x",
        "keyboard": 1.5,
    }
    entry, _ = ledger.append("t", "a", "x", "y", details)
    assert entry.details == details


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"x": float("nan")}, "finite"),
        ({"x": object()}, "unsupported type object"),
        ({1: "x"}, "must be a string"),
        ({"x": {"y": b"bytes"}}, "unsupported type bytes"),
    ],
)
def test_bad_details_rejected(details: Any, message: str) -> None:
    ledger, _ = build(0)
    with pytest.raises(LedgerError, match=message):
        ledger.append("t", "a", "x", "y", details)


def test_restart_continues_and_recovers_a_lost_head() -> None:
    ledger, store = build(5)
    again = AuditLedger(store, KEY, clock=fake_clock())
    assert again.size == 5 and again.root() == ledger.root()
    entry, head = again.append("t", "a", "x", "y")
    assert entry.seq == 5 and head.size == 6
    store.heads.pop()  # crash after writing the entry, before its head
    assert not check(store).ok
    recovered = AuditLedger(store, KEY, clock=fake_clock())
    assert store.heads[-1].size == 6 and recovered.size == 6
    assert check(store).ok


def test_ledger_refuses_to_extend_a_tampered_store() -> None:
    _, store = build(5)
    store.entries[2] = dataclasses.replace(store.entries[2], action="contact.delete")
    with pytest.raises(LedgerError, match="tampered"):
        AuditLedger(store, KEY)
    _, store = build(5)
    store.heads.append(sign_head(KEY, 9, EMPTY_ROOT, 1.0, "audit:1"))
    with pytest.raises(LedgerError, match="entries were deleted"):
        AuditLedger(store, KEY)


def test_running_ledger_notices_a_rollback() -> None:
    ledger, store = build(5)
    del store.entries[-2:]
    with pytest.raises(LedgerError, match="rollback"):
        ledger.append("t", "a", "x", "y")


# --- tamper detection ------------------------------------------------------------------------


def test_clean_ledger_verifies() -> None:
    _, store = build(10)
    report = check(store)
    assert report.ok and report.entries == 10 and report.heads == 10
    assert report.first_bad_seq is None and report.problem is None
    assert verify_ledger([], [], PUB).ok


def test_altered_entry() -> None:
    _, store = build(10)
    store.entries[4] = dataclasses.replace(store.entries[4], details={"i": 400})
    report = check(store)
    assert not report.ok and report.first_bad_seq == 4
    assert report.problem is not None and "entry seq 4 was altered" in report.problem


def test_deleted_middle_entry() -> None:
    _, store = build(10)
    del store.entries[6]
    report = check(store)
    assert report.first_bad_seq == 6
    assert report.problem is not None and "entry seq 6 is missing (deleted)" in report.problem


def test_deleted_last_entry() -> None:
    _, store = build(10)
    del store.entries[-1]
    report = check(store)
    assert report.first_bad_seq == 9
    assert report.problem is not None and "from seq 9 were deleted" in report.problem


def test_inserted_entry_with_duplicate_seq() -> None:
    _, store = build(10)
    fake = dataclasses.replace(store.entries[3], actor="intruder")
    store.entries.insert(4, fake)
    report = check(store)
    assert report.first_bad_seq == 4
    assert report.problem is not None and "appears again at position 4" in report.problem


def test_inserted_entry_with_renumbering() -> None:
    _, store = build(10)
    fake = AuditEntry(3, 1700000001.25, "bank-a", "intruder", "contact.export", "contact:*")
    rest = [dataclasses.replace(e, seq=e.seq + 1) for e in store.entries[3:]]
    store.entries[3:] = [fake, *rest]
    report = check(store)
    assert report.first_bad_seq == 3
    assert report.problem is not None and "seq 3 was altered or replaced" in report.problem


def test_inserted_entry_at_the_end() -> None:
    _, store = build(10)
    store.entries.append(AuditEntry(10, 1.0, "bank-a", "intruder", "x", "y"))
    report = check(store)
    assert report.first_bad_seq == 10
    assert report.problem is not None and "not covered by any signed head" in report.problem


def test_swapped_entries() -> None:
    _, store = build(10)
    store.entries[2], store.entries[7] = store.entries[7], store.entries[2]
    report = check(store)
    assert report.first_bad_seq == 2
    assert report.problem is not None and "out of order" in report.problem


def test_swapped_entries_with_renumbered_seqs() -> None:
    _, store = build(10)
    a, b = store.entries[2], store.entries[3]
    store.entries[2] = dataclasses.replace(b, seq=2)
    store.entries[3] = dataclasses.replace(a, seq=3)
    report = check(store)
    assert report.first_bad_seq == 2


def test_forged_head_signature() -> None:
    _, store = build(10)
    forged = sign_head(OTHER_KEY, 10, store.heads[-1].root, store.heads[-1].ts, "audit:1")
    store.heads[-1] = forged
    report = check(store)
    assert report.first_bad_seq == 9
    assert report.problem is not None and "invalid signature" in report.problem


def test_altered_entry_with_forged_heads() -> None:
    _, store = build(10)
    store.entries[5] = dataclasses.replace(store.entries[5], target="contact:999")
    forger_store = InMemoryLedgerStore()
    forger = AuditLedger(forger_store, OTHER_KEY, clock=fake_clock())
    for e in store.entries:
        forger.append(e.tenant, e.actor, e.action, e.target, dict(e.details))
    store.heads[5:] = forger_store.heads[5:]
    report = check(store)
    assert report.first_bad_seq == 5


def test_head_root_edited_without_key() -> None:
    _, store = build(10)
    store.heads[3] = dataclasses.replace(store.heads[3], root=bytes(32))
    report = check(store)
    assert report.first_bad_seq == 3 and "invalid signature" in (report.problem or "")


def test_reordered_heads() -> None:
    _, store = build(6)
    store.heads[2], store.heads[4] = store.heads[4], store.heads[2]
    report = check(store)
    assert not report.ok and "shrinks the tree" in (report.problem or "")


def test_rollback_against_witnessed_head() -> None:
    _, store = build(10)
    witnessed = store.heads[-1]
    del store.entries[-2:]
    del store.heads[-2:]
    assert check(store).ok  # consistent on its own...
    report = check(store, witnessed=witnessed)  # ...but behind what a witness saw
    assert not report.ok and report.first_bad_seq == 8
    assert "rollback" in (report.problem or "")


def test_fork_against_witnessed_head() -> None:
    _, store = build(10)
    witnessed = store.heads[5]
    other_ledger, other = build(0)
    for i in range(12):
        other_ledger.append("bank-a", "agent:x", "contact.view", f"contact:{i}", {"i": -i})
    assert verify_ledger(other.entries, other.heads, PUB).ok  # self-consistent fork
    report = verify_ledger(other.entries, other.heads, PUB, witnessed=witnessed)
    assert not report.ok and report.first_bad_seq is None
    assert "not consistent with the witnessed head of size 6" in (report.problem or "")


def test_witnessed_head_checks() -> None:
    _, store = build(10)
    assert check(store, witnessed=store.heads[4]).ok
    assert check(store, witnessed=store.heads[-1]).ok
    bad = dataclasses.replace(store.heads[4], signature=bytes(64))
    report = check(store, witnessed=bad)
    assert not report.ok and report.first_bad_seq is None
    assert "witnessed head has an invalid signature" in (report.problem or "")


def test_heads_signed_with_rotated_keys() -> None:
    store = InMemoryLedgerStore()
    first = AuditLedger(store, KEY, key_id="audit:1", clock=fake_clock())
    first.append("t", "a", "x", "1")
    second = AuditLedger(store, OTHER_KEY, key_id="audit:2", clock=fake_clock())
    second.append("t", "a", "x", "2")
    keys = {"audit:1": PUB, "audit:2": OTHER_KEY.public_key()}
    assert verify_ledger(store.entries, store.heads, keys).ok
    assert not verify_ledger(store.entries, store.heads, PUB).ok


def test_empty_signature_is_invalid() -> None:
    head = SignedTreeHead(0, EMPTY_ROOT, 0.0, b"", "audit:1")
    assert not verify_head(PUB, head)
