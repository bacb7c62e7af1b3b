"""Tamper-evident audit ledger: Merkle-hashed entries with an Ed25519-signed tree head per append.

Storage-agnostic: the database layer implements :class:`LedgerStore`. Entry ``seq`` is the
0-based leaf index in the RFC 6962 tree. After every append the ledger signs a
:class:`SignedTreeHead` (size, root, time); :func:`verify_ledger` recomputes the tree from
the stored entries and names the first entry that was altered, deleted, inserted or
reordered, a forged head, or a rollback behind a head an outside party has witnessed.

One writer per store at a time (the storage layer serialises appends, e.g. with a
database lock). Timestamps must round-trip exactly: store ``ts`` as a double, or keep the
canonical bytes from :meth:`AuditEntry.encode`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aman.security.merkle import (
    EMPTY_ROOT,
    HASH_LEN,
    MerkleAccumulator,
    MerkleTree,
    leaf_hash,
)

__all__ = [
    "AuditEntry",
    "AuditLedger",
    "InMemoryLedgerStore",
    "LedgerError",
    "LedgerStore",
    "SecretInDetailsError",
    "SignedTreeHead",
    "VerifyReport",
    "head_message",
    "sign_head",
    "verify_head",
    "verify_ledger",
]

_STH_PREFIX = b"aman-sth-v1"
_MAX_FIELD = 512
_KEY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._@+/-]{0,254}")
# Key-name parts that mark a secret: exact parts, substrings, and adjacent pairs.
_SECRET_PARTS = frozenset(
    {"pin", "mpin", "otp", "pwd", "pw", "pass", "passcode", "cvv", "cvc", "sandi", "tac"}
)
_SECRET_SUBSTRINGS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "privatekey",
)
_SECRET_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("kata", "sandi"), ("kata", "kunci")}
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

PublicKeys = Ed25519PublicKey | Mapping[str, Ed25519PublicKey]


class LedgerError(Exception):
    """Root of every error raised by :mod:`aman.security.ledger`."""


class SecretInDetailsError(LedgerError, ValueError):
    """Audit details contain a key that names a secret (password, PIN, OTP, token...)."""


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_FIELD:
        raise LedgerError(f"{name} must be a non-empty string of at most {_MAX_FIELD} chars")
    return value


def _secret_key(key: str) -> bool:
    parts = [p for p in _NON_ALNUM.split(_CAMEL.sub(r"\1_\2", key).lower()) if p]
    if any(p in _SECRET_PARTS for p in parts):
        return True
    joined = "".join(parts)
    if any(s in joined for s in _SECRET_SUBSTRINGS):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


def _check_details(value: object, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerError(f"details key {key!r} at {path or 'top level'} must be a string")
            where = f"{path}.{key}" if path else key
            if _secret_key(key):
                raise SecretInDetailsError(
                    f"details key {where!r} looks like it holds a secret "
                    "(password/PIN/OTP/token); audit details must never contain secrets"
                )
            _check_details(item, where)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_details(item, f"{path}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise LedgerError(f"details value at {path!r} must be a finite number")
    elif not isinstance(value, str | int | float | bool | None):
        raise LedgerError(f"details value at {path!r} has unsupported type {type(value).__name__}")


def _canonical(obj: object) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record; :meth:`encode` is the Merkle leaf data."""

    seq: int
    ts: float
    tenant: str
    actor: str
    action: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or self.seq < 0:
            raise LedgerError("seq must be a non-negative integer")
        if isinstance(self.ts, bool) or not isinstance(self.ts, int | float):
            raise LedgerError("ts must be a number (seconds since the epoch)")
        if not math.isfinite(self.ts):
            raise LedgerError("ts must be finite")
        object.__setattr__(self, "ts", float(self.ts))
        for name in ("tenant", "actor", "action", "target"):
            _check_text(name, getattr(self, name))
        if not isinstance(self.details, Mapping):
            raise LedgerError("details must be a mapping")

    def encode(self) -> bytes:
        """Canonical bytes: sorted-key compact UTF-8 JSON of every field."""
        try:
            return _canonical(
                {
                    "action": self.action,
                    "actor": self.actor,
                    "details": self.details,
                    "seq": self.seq,
                    "target": self.target,
                    "tenant": self.tenant,
                    "ts": self.ts,
                }
            )
        except (TypeError, ValueError) as exc:
            raise LedgerError(f"audit entry {self.seq} cannot be encoded: {exc}") from None


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A signed statement that the ledger had ``size`` entries with Merkle ``root`` at ``ts``."""

    size: int
    root: bytes
    ts: float
    signature: bytes = field(repr=False)
    key_id: str


def head_message(size: int, root: bytes, ts: float, key_id: str) -> bytes:
    """Bytes signed for a tree head: tag | size (u64 BE) | ts ms (u64 BE) | root | key id."""
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
        raise LedgerError("tree size must be a non-negative 63-bit integer")
    if not isinstance(root, bytes) or len(root) != HASH_LEN:
        raise LedgerError(f"root must be {HASH_LEN} bytes")
    if not isinstance(ts, int | float) or not math.isfinite(ts) or ts < 0:
        raise LedgerError("ts must be a non-negative finite number")
    if not isinstance(key_id, str) or not key_id.isascii() or not _KEY_ID_RE.fullmatch(key_id):
        raise LedgerError(f"invalid signing key id {key_id!r}")
    kid = key_id.encode("ascii")
    ts_ms = round(ts * 1000)
    return (
        _STH_PREFIX
        + size.to_bytes(8, "big")
        + ts_ms.to_bytes(8, "big")
        + root
        + bytes((len(kid),))
        + kid
    )


def sign_head(
    key: Ed25519PrivateKey, size: int, root: bytes, ts: float, key_id: str
) -> SignedTreeHead:
    """Sign a tree head; ``ts`` is kept to the millisecond that the signature covers."""
    message = head_message(size, root, ts, key_id)
    return SignedTreeHead(size, root, round(ts * 1000) / 1000, key.sign(message), key_id)


def verify_head(public_key: PublicKeys, sth: SignedTreeHead) -> bool:
    """True when ``sth`` carries a valid signature (by key id when given a mapping)."""
    pk = _key_for(public_key, sth.key_id)
    if pk is None:
        return False
    try:
        message = head_message(sth.size, sth.root, sth.ts, sth.key_id)
        pk.verify(sth.signature, message)
    except (InvalidSignature, LedgerError, TypeError, ValueError):
        return False
    return True


def _key_for(public_key: PublicKeys, key_id: str) -> Ed25519PublicKey | None:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    return public_key.get(key_id)


class LedgerStore(Protocol):
    """Persistence port for :class:`AuditLedger` (implemented by the storage layer)."""

    def append_entry(self, entry: AuditEntry, leaf_hash: bytes) -> None:
        """Persist one entry (its ``seq`` is the next index) and its leaf hash."""
        ...

    def append_head(self, sth: SignedTreeHead) -> None:
        """Persist a signed tree head."""
        ...

    def iter_entries(self, start: int = 0) -> Iterator[AuditEntry]:
        """Entries with ``seq >= start`` in seq order."""
        ...

    def iter_heads(self) -> Iterator[SignedTreeHead]:
        """All signed heads in the order they were appended."""
        ...

    def latest_head(self) -> SignedTreeHead | None:
        """The most recently appended head, if any."""
        ...

    def entry_count(self) -> int:
        """Number of entries stored."""
        ...


class InMemoryLedgerStore:
    """A :class:`LedgerStore` in plain lists (tests, tools)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.leaf_hashes: list[bytes] = []
        self.heads: list[SignedTreeHead] = []

    def append_entry(self, entry: AuditEntry, leaf_hash: bytes) -> None:
        """Append an entry."""
        self.entries.append(entry)
        self.leaf_hashes.append(leaf_hash)

    def append_head(self, sth: SignedTreeHead) -> None:
        """Append a head."""
        self.heads.append(sth)

    def iter_entries(self, start: int = 0) -> Iterator[AuditEntry]:
        """Entries from position ``start``."""
        return iter(self.entries[start:])

    def iter_heads(self) -> Iterator[SignedTreeHead]:
        """All heads."""
        return iter(self.heads)

    def latest_head(self) -> SignedTreeHead | None:
        """Last head or None."""
        return self.heads[-1] if self.heads else None

    def entry_count(self) -> int:
        """Number of entries."""
        return len(self.entries)


class AuditLedger:
    """Appends audit entries to a :class:`LedgerStore` and signs a tree head after each one."""

    def __init__(
        self,
        store: LedgerStore,
        signing_key: Ed25519PrivateKey,
        *,
        key_id: str = "audit:1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        head_message(0, EMPTY_ROOT, 0.0, key_id)  # validates the key id
        self._store = store
        self._key = signing_key
        self._key_id = key_id
        self._clock = clock
        self._lock = threading.Lock()
        self._acc = MerkleAccumulator()
        self._tree: MerkleTree | None = None
        with self._lock:
            self._sync()

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key that verifies this ledger's heads."""
        return self._key.public_key()

    @property
    def key_id(self) -> str:
        """Id of the signing key, recorded in every head."""
        return self._key_id

    @property
    def size(self) -> int:
        """Number of entries known to this ledger."""
        return self._acc.size

    def root(self) -> bytes:
        """Current Merkle root."""
        return self._acc.root()

    def _sync(self) -> None:
        """Catch up with entries written by an earlier process; refuse a tampered store."""
        count = self._store.entry_count()
        if count == self._acc.size and self._acc.size:
            return
        if count < self._acc.size:
            raise LedgerError(
                f"store has {count} entries but this ledger wrote {self._acc.size}: rollback"
            )
        latest = self._store.latest_head()
        for entry in self._store.iter_entries(self._acc.size):
            if entry.seq != self._acc.size:
                raise LedgerError(
                    f"store returned entry seq {entry.seq} where {self._acc.size} was expected"
                )
            leaf = leaf_hash(entry.encode())
            self._acc.append(leaf)
            if self._tree is not None:
                self._tree.append(leaf)
            if latest is not None and latest.size == self._acc.size:
                self._check_head(latest)
        if latest is None:
            if self._acc.size:
                self._sign(self._clock())  # entries whose head was lost (crash): cover them
            return
        if latest.size > self._acc.size:
            raise LedgerError(
                f"latest head covers {latest.size} entries but the store has "
                f"{self._acc.size}: entries were deleted"
            )
        if latest.size == self._acc.size:
            self._check_head(latest)
        else:
            self._sign(self._clock())

    def _check_head(self, head: SignedTreeHead) -> None:
        if head.root != self._acc.root():
            raise LedgerError(
                f"stored entries do not match the latest signed head (size {head.size}); "
                "refusing to append to a tampered ledger"
            )

    def _sign(self, ts: float) -> SignedTreeHead:
        sth = sign_head(self._key, self._acc.size, self._acc.root(), ts, self._key_id)
        self._store.append_head(sth)
        return sth

    def append(
        self,
        tenant: str,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> tuple[AuditEntry, SignedTreeHead]:
        """Record one action; returns the entry and the new signed tree head."""
        data: Mapping[str, Any] = {} if details is None else details
        _check_details(data, "")
        with self._lock:
            self._sync()
            ts = self._clock()
            entry = AuditEntry(
                self._acc.size,
                ts,
                tenant,
                actor,
                action,
                target,
                json.loads(_canonical(data)),
            )
            leaf = leaf_hash(entry.encode())
            self._store.append_entry(entry, leaf)
            self._acc.append(leaf)
            if self._tree is not None:
                self._tree.append(leaf)
            return entry, self._sign(ts)

    def _full_tree(self) -> MerkleTree:
        with self._lock:
            self._sync()
            if self._tree is None:
                tree = MerkleTree(leaf_hash(e.encode()) for e in self._store.iter_entries(0))
                if tree.size != self._acc.size or tree.root() != self._acc.root():
                    raise LedgerError("stored entries changed underneath the ledger")
                self._tree = tree
            return self._tree

    def inclusion(self, seq: int, tree_size: int) -> list[bytes]:
        """Proof that entry ``seq`` is in the tree of ``tree_size`` entries."""
        return self._full_tree().inclusion_proof(seq, tree_size)

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        """Proof that the tree of ``new_size`` entries extends the one of ``old_size``."""
        return self._full_tree().consistency_proof(old_size, new_size)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of :func:`verify_ledger`; ``first_bad_seq`` names the first suspect entry."""

    ok: bool
    entries: int
    heads: int
    first_bad_seq: int | None
    problem: str | None


def _seq_problem(entries: list[AuditEntry], pos: int) -> str:
    found = entries[pos].seq
    if found < pos:
        return f"entry seq {found} appears again at position {pos} (inserted or duplicated)"
    if any(e.seq == pos for e in entries[pos + 1 :]):
        return f"entries are out of order: seq {found} is at position {pos} (reordered)"
    return f"entry seq {pos} is missing (deleted); seq {found} is in its place"


def verify_ledger(
    entries: Iterable[AuditEntry],
    heads: Iterable[SignedTreeHead],
    public_key: PublicKeys,
    *,
    witnessed: SignedTreeHead | None = None,
) -> VerifyReport:
    """Check stored entries against the signed heads (and a head seen by a witness)."""
    items = list(entries)
    sths = list(heads)
    problems: list[tuple[int | None, str]] = []

    def report() -> VerifyReport:
        if not problems:
            return VerifyReport(True, len(items), len(sths), None, None)
        seq, problem = min(problems, key=lambda p: (p[0] is None, p[0] or 0))
        return VerifyReport(False, len(items), len(sths), seq, problem)

    valid: list[SignedTreeHead] = []
    prev_size = 0
    for idx, sth in enumerate(sths):
        if not verify_head(public_key, sth):
            problems.append(
                (
                    min(prev_size, len(items)),
                    f"head #{idx} (size {sth.size}) has an invalid signature (forged or altered)",
                )
            )
        elif sth.size < prev_size:
            problems.append(
                (
                    sth.size,
                    f"head #{idx} shrinks the tree from {prev_size} to "
                    f"{sth.size} entries (heads reordered or rolled back)",
                )
            )
        else:
            valid.append(sth)
        prev_size = max(prev_size, sth.size)

    checks = list(valid)
    if witnessed is not None:
        if not verify_head(public_key, witnessed):
            problems.append((None, "the witnessed head has an invalid signature"))
        else:
            newest = max((h.size for h in valid), default=0)
            if newest < witnessed.size:
                problems.append(
                    (
                        newest,
                        f"rollback: the store's newest head has size {newest} "
                        f"but a head of size {witnessed.size} was witnessed",
                    )
                )
            checks.append(witnessed)

    needed = {h.size for h in checks}
    computed: dict[int, bytes] = {0: EMPTY_ROOT}
    acc = MerkleAccumulator()
    for pos, entry in enumerate(items):
        if entry.seq != pos:
            problems.append((pos, _seq_problem(items, pos)))
            break
        try:
            acc.append(leaf_hash(entry.encode()))
        except LedgerError as exc:
            problems.append((pos, str(exc)))
            break
        if acc.size in needed:
            computed[acc.size] = acc.root()

    good: list[int] = [0]
    for sth in sorted(checks, key=lambda h: h.size):
        got = computed.get(sth.size)
        if got is None:
            continue
        if got == sth.root:
            good.append(sth.size)
            continue
        if sth is witnessed:
            problems.append(
                (
                    None,
                    f"the stored entries are not consistent with the witnessed "
                    f"head of size {sth.size}: history was rewritten (fork)",
                )
            )
            continue
        last_good = max(size for size in good if size < sth.size)
        if sth.size - last_good == 1:
            what = f"entry seq {last_good} was altered or replaced"
        else:
            what = f"an entry in seq {last_good}..{sth.size - 1} was altered, inserted or moved"
        problems.append(
            (last_good, f"{what}: entries do not match the signed head of size {sth.size}")
        )
        break

    newest = max((h.size for h in valid), default=0)
    if newest > len(items):
        problems.append(
            (
                len(items),
                f"the latest signed head covers {newest} entries but only "
                f"{len(items)} are stored: entries from seq {len(items)} were deleted",
            )
        )
    elif len(items) > newest:
        problems.append(
            (
                newest,
                f"entries from seq {newest} on are not covered by any signed "
                "head (inserted or unsigned)",
            )
        )
    return report()
