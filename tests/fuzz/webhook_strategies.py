"""Hypothesis strategies for webhook fuzzing: seed bodies, structural and byte-level mutations.

Seeds are the hand-written bodies in ``corpus/webhook`` (also the atheris seed
corpus).  ``mutated_bodies`` replaces, deletes, inserts and duplicates nodes of
a seed; ``mutated_bytes`` flips, inserts, deletes and splices bytes of a
serialised seed.  Values include hostile strings (NUL, RTL override, SQL, HTML,
lone combining marks) and edge numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

__all__ = [
    "CORPUS",
    "SEED_BODIES",
    "SEED_BYTES",
    "all_paths",
    "json_values",
    "mutated_bodies",
    "mutated_bytes",
]

CORPUS = Path(__file__).parent / "corpus" / "webhook"
SEED_BYTES: dict[str, bytes] = {p.stem: p.read_bytes() for p in sorted(CORPUS.glob("*.json"))}
SEED_BODIES: dict[str, Any] = {k: orjson.loads(v) for k, v in SEED_BYTES.items()}

Path_ = tuple[str | int, ...]

HOSTILE_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202e",
    "'; DROP TABLE inbox; --",
    "<script>alert(1)</script>",
    "\u0301",
    "👨‍👩‍👧‍👦",
    "wamid." + "x" * 64,
    "6281234567890",
    "+62 812-3456-7890",
    "1764115200",
    "text",
    "messages",
    "statuses",
    "failed",
    "aman:m1.0",
    "whatsapp_business_account",
]
_text = st.text(st.characters(codec="utf-8"), max_size=24)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31 - 1)
    | st.sampled_from([0, -1, 2**53, 2**63 - 1, -(2**63)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
    | st.sampled_from(HOSTILE_STRINGS)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


def _same_kind(value: Any) -> st.SearchStrategy[Any]:
    """A replacement of the same JSON type as ``value``."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-(2**63), 2**64 - 1)
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        edits = [value + "\x00", value + "x", value[:-1], value * 3, "x" + value[1:]]
        return _text | st.sampled_from(HOSTILE_STRINGS) | st.sampled_from(edits)
    return json_values


def all_paths(obj: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every node's path (the root is ``()``)."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from all_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from all_paths(v, (*prefix, i))


def _get(obj: Any, path: Path_) -> Any:
    for p in path:
        obj = obj[p]
    return obj


@st.composite
def mutated_bodies(draw: st.DrawFn) -> Any:
    """A seed body with one to four structural mutations."""
    body = copy.deepcopy(SEED_BODIES[draw(st.sampled_from(sorted(SEED_BODIES)))])
    for _ in range(draw(st.sampled_from((1, 1, 1, 2, 2, 3, 4)))):
        paths = list(all_paths(body))
        leaves = [p for p in paths if not isinstance(_get(body, p), dict | list)]
        # Mostly one leaf changed, so the body stays close to valid and reaches deep code.
        pool = leaves if leaves and draw(st.integers(0, 9)) < 7 else paths
        path = draw(st.sampled_from(pool))
        op = draw(st.sampled_from(("replace", "replace", "delete", "insert", "duplicate")))
        if not path:
            if op == "replace":
                body = draw(json_values)
            continue
        parent, key = _get(body, path[:-1]), path[-1]
        if op == "replace" and draw(st.booleans()):
            parent[key] = draw(_same_kind(parent[key]))  # stays well-typed: reaches deeper
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "delete":
            del parent[key]
        elif op == "insert" and isinstance(parent, dict):
            parent[draw(_text | st.sampled_from(HOSTILE_STRINGS))] = draw(json_values)
        elif op == "insert":
            parent.insert(int(key), draw(json_values))
        elif isinstance(parent, list):
            parent.insert(int(key), copy.deepcopy(parent[int(key)]))
        else:
            parent[draw(st.sampled_from(HOSTILE_STRINGS))] = copy.deepcopy(parent[key])
    return body


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """A serialised seed with one to three byte-level edits."""
    raw = bytearray(SEED_BYTES[draw(st.sampled_from(sorted(SEED_BYTES)))])
    for _ in range(draw(st.integers(1, 3))):
        if not raw:
            break
        at = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(("flip", "insert", "delete", "splice")))
        if op == "flip":
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(_TOKENS))
        elif op == "delete":
            del raw[at : at + draw(st.integers(1, 16))]
        else:
            other = SEED_BYTES[draw(st.sampled_from(sorted(SEED_BYTES)))]
            start = draw(st.integers(0, len(other) - 1))
            raw[at:at] = other[start : start + draw(st.integers(1, 64))]
    return bytes(raw)


_TOKENS = [
    b'"',
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"1e999",
    b"-0",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xff",
]
