"""Audit ledger endpoints: entries, signed tree head, inclusion and consistency proofs."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from starlette.requests import Request

from aman.accounts import permissions as perms
from aman.accounts.scope import require, scoped
from aman.api.v1.deps import Principal, runtime_of
from aman.api.v1.problems import Problem
from aman.audit.service import head_to_json
from aman.audit.store import SqlLedgerStore
from aman.security.ledger import LedgerError
from aman.security.merkle import MerkleError, MerkleTree
from aman.storage.models import AuditEntryRow

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])


class EntryOut(BaseModel):
    seq: int
    ts: float
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: int | None


class HeadOut(BaseModel):
    head: dict[str, Any] | None
    key_id: str
    public_key: str


class ProofOut(BaseModel):
    proof: list[str]
    leaf_hash: str | None = None
    root: str


class VerifyOut(BaseModel):
    ok: bool
    entries: int
    heads: int
    first_bad_seq: int | None
    problem: str | None


@router.get("/entries", response_model=EntryPage)
def entries(
    request: Request,
    scope: Principal,
    cursor: int = Query(default=0, ge=0, le=2**62),
    limit: int = Query(default=100, ge=1, le=500),
) -> EntryPage:
    """This tenant's audit entries in ledger order (seq)."""
    import json

    require(scope, perms.AUDIT_READ)
    engine = runtime_of(request).engine
    stmt = (
        scoped(select(AuditEntryRow), AuditEntryRow, scope)
        .where(AuditEntryRow.seq >= cursor)
        .order_by(AuditEntryRow.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    items = [
        EntryOut(
            seq=r.seq,
            ts=r.ts,
            actor=r.actor,
            action=r.action,
            target=r.target,
            details=json.loads(r.details),
        )
        for r in rows
    ]
    return EntryPage(items=items, next_cursor=rows[-1].seq + 1 if len(rows) == limit else None)


def _tree(request: Request) -> MerkleTree:
    with runtime_of(request).engine.connect() as conn:
        rows = conn.execute(select(AuditEntryRow.leaf_hash).order_by(AuditEntryRow.seq)).all()
    return MerkleTree(bytes(r[0]) for r in rows)


@router.get("/head", response_model=HeadOut)
def head(request: Request, scope: Principal) -> HeadOut:
    """The latest signed tree head and the Ed25519 key that verifies it."""
    require(scope, perms.AUDIT_READ)
    runtime = runtime_of(request)
    with runtime.engine.connect() as conn:
        latest = SqlLedgerStore(conn).latest_head()
    public = runtime.audit.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return HeadOut(
        head=head_to_json(latest) if latest else None,
        key_id=runtime.audit.key_id,
        public_key=public.hex(),
    )


@router.get("/proofs/inclusion", response_model=ProofOut)
def inclusion(
    request: Request,
    scope: Principal,
    seq: int = Query(ge=0, le=2**62),
    size: int = Query(ge=1, le=2**62),
) -> ProofOut:
    """RFC 6962 audit path of entry ``seq`` in the tree of ``size`` entries."""
    require(scope, perms.AUDIT_READ)
    with runtime_of(request).engine.connect() as conn:
        mine = conn.execute(
            scoped(select(AuditEntryRow.seq), AuditEntryRow, scope).where(AuditEntryRow.seq == seq)
        ).first()
    if mine is None:
        raise Problem(404, "not found")  # another tenant's entry, or none
    tree = _tree(request)
    try:
        proof = tree.inclusion_proof(seq, size)
        leaf = tree.leaf(seq)
        root = tree.root(size)
    except (MerkleError, LedgerError, ValueError, IndexError) as exc:
        raise Problem(400, "no such proof", str(exc)) from None
    return ProofOut(proof=[p.hex() for p in proof], leaf_hash=leaf.hex(), root=root.hex())


@router.get("/proofs/consistency", response_model=ProofOut)
def consistency(
    request: Request,
    scope: Principal,
    old: int = Query(ge=1, le=2**62),
    new: int = Query(ge=1, le=2**62),
) -> ProofOut:
    """RFC 6962 consistency proof between tree sizes ``old`` and ``new``."""
    require(scope, perms.AUDIT_READ)
    tree = _tree(request)
    try:
        proof = tree.consistency_proof(old, new)
        root = tree.root(new)
    except (MerkleError, LedgerError, ValueError, IndexError) as exc:
        raise Problem(400, "no such proof", str(exc)) from None
    return ProofOut(proof=[p.hex() for p in proof], root=root.hex())


@router.get("/verify", response_model=VerifyOut)
def verify(request: Request, scope: Principal) -> VerifyOut:
    """Check the whole ledger against its signed heads (and the witnessed head)."""
    require(scope, perms.AUDIT_READ)
    runtime = runtime_of(request)
    report = runtime.audit.verify(runtime.engine, witnessed=runtime.audit.read_witness())
    return VerifyOut(
        ok=report.ok,
        entries=report.entries,
        heads=report.heads,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
    )
