"""Contact book endpoints of the deployment's tenant: list, read, upsert, tags, fields,
CSV import and export, merge.  Lists show masked numbers only; full reads are audited."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from aman.accounts import permissions as perms
from aman.accounts.scope import TenantScope, require, scoped
from aman.api.v1.deps import MAX_ID, ObjectId, Principal, runtime_of
from aman.api.v1.problems import PROBLEM_RESPONSE, Problem
from aman.campaigns.contacts import (
    ContactBook,
    ContactView,
    clean_fields,
    clean_tag,
    open_fields,
)
from aman.campaigns.contacts_repository import (
    ContactRecord,
    ContactsRepository,
    record_columns,
    to_record,
)
from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import CampaignInputError, InvalidPhoneNumberError
from aman.campaigns.importer import ContactImporter, ImportReport, RowIssue
from aman.campaigns.models import ContactProfileRow, ContactTagRow
from aman.campaigns.phone import mask_number, normalize_phone
from aman.storage.models import Contact
from aman.storage.vault import Vault

__all__ = ["MAX_IMPORT_BYTES", "NAME_SCAN_CAP", "list_contacts_page", "router"]

router = APIRouter(prefix="/contacts", tags=["contacts"])

MAX_IMPORT_BYTES = 5 * 1024 * 1024
NAME_SCAN_CAP = 2000  # contacts whose names one search request may decrypt
_PHONE_CHARS = re.compile(r"[0-9+() -]*[0-9][0-9+() -]*")
_CSV_TYPES = ("text/csv", "application/csv", "text/plain")
_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
_CSV_OUT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every contact of the tenant as CSV (audited)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
_UNSUPPORTED: dict[int | str, dict[str, Any]] = {
    415: PROBLEM_RESPONSE | {"description": "The body is not text/csv"},
}


def _ctx(request: Request, scope: TenantScope) -> CampaignContext:
    """The campaign context of the runtime's tenant; other tenants see nothing (404)."""
    runtime = runtime_of(request)
    if scope.tenant != runtime.vault.tenant:
        raise Problem(404, "not found")
    return CampaignContext(runtime.engine, runtime.vault, runtime.audit)


# -- models ----------------------------------------------------------------------------
FieldValue = str | int | float | bool | None


class ContactSummary(BaseModel):
    """A contact in a list: the number is masked, no custom fields."""

    id: int
    name: str | None
    number_masked: str
    language: str | None
    tags: list[str]
    opted_out: bool
    marketing: str
    number_valid: bool
    orders_count: int
    last_inbound_at: float
    created_at: float


class ContactPage(BaseModel):
    items: list[ContactSummary]
    next_cursor: int | None


class ContactOut(BaseModel):
    """One contact in full (its read is audited)."""

    id: int
    wa_id: str
    name: str | None
    language: str | None
    tags: list[str]
    fields: dict[str, FieldValue]
    opted_out: bool
    marketing: str
    number_valid: bool
    orders_count: int
    orders_total: int
    last_order_at: float | None
    last_inbound_at: float
    created_at: float


class ContactIn(BaseModel):
    wa_id: str = Field(min_length=1, max_length=40, description="E.164 or Indonesian local")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    language: str | None = Field(default=None, min_length=2, max_length=16)
    tags: list[str] = Field(default_factory=list, max_length=50)
    fields: dict[str, FieldValue] = Field(default_factory=dict, max_length=50)
    marketing_consent: bool | None = Field(
        default=None, description="The customer's marketing decision, if they gave one"
    )
    consent_source: str = Field(
        default="api", min_length=1, max_length=64, description="Where the consent was given"
    )


class TagsIn(BaseModel):
    tags: list[str] = Field(max_length=100, description="The contact's complete set of tags")


class TagsOut(BaseModel):
    tags: list[str]


class FieldsIn(BaseModel):
    fields: dict[str, FieldValue] = Field(
        max_length=50, description="The contact's complete set of custom fields"
    )


class FieldsOut(BaseModel):
    keys: list[str] = Field(description="Names of the custom fields now set (values not echoed)")


class MergeIn(BaseModel):
    source_id: int = Field(ge=1, le=MAX_ID)


class MergeOut(BaseModel):
    target_id: int
    source_id: int
    tags: int
    fields: int
    memberships: int
    opted_out: bool


class RowIssueOut(BaseModel):
    line: int
    reason: str
    value: str = Field(description="The row's number, masked")


class ImportOut(BaseModel):
    file: str
    rows: int
    created: int
    updated: int
    consent_recorded: int
    consent_kept_opt_out: int
    duplicates: list[RowIssueOut]
    rejected: list[RowIssueOut]


# -- reads -----------------------------------------------------------------------------
def list_contacts_page(
    engine: Engine,
    vault: Vault,
    scope: TenantScope,
    *,
    after: int = 0,
    limit: int = 50,
    tag: str | None = None,
    contact_ix: str | None = None,
) -> list[ContactSummary]:
    """One page of the tenant's contacts in id order after ``after``, numbers masked
    (only the contact with blind index ``contact_ix`` when it is given)."""
    stmt = (
        select(*record_columns())
        .select_from(Contact)
        .outerjoin(ContactProfileRow, ContactProfileRow.contact_id == Contact.id)
        .where(Contact.id > after)
        .order_by(Contact.id)
        .limit(limit)
    )
    stmt = scoped(stmt, Contact, scope)
    if contact_ix is not None:
        stmt = stmt.where(Contact.contact_ix == contact_ix)
    if tag is not None:
        tagged = scoped(
            select(ContactTagRow.contact_id).where(ContactTagRow.tag == clean_tag(tag)),
            ContactTagRow,
            scope,
        )
        stmt = stmt.where(Contact.id.in_(tagged))
    with engine.connect() as conn:
        records = [to_record(row) for row in conn.execute(stmt)]
        tags = ContactsRepository(engine.dialect.name, scope.tenant).tags_for(
            conn, [r.id for r in records]
        )
    return [_summary(vault, rec, tags.get(rec.id, set())) for rec in records]


def search_contacts_page(
    engine: Engine,
    vault: Vault,
    scope: TenantScope,
    q: str,
    *,
    after: int = 0,
    limit: int = 50,
    tag: str | None = None,
) -> tuple[list[ContactSummary], int | None]:
    """Contacts matching ``q`` and the cursor to continue from (None: nothing more).

    A query of phone characters is a whole number, looked up by its blind index (the
    only way numbers are findable).  Otherwise names, which are encrypted, are
    decrypted page by page: at most ``NAME_SCAN_CAP`` contacts per call.
    """
    if _PHONE_CHARS.fullmatch(q):
        try:
            number = normalize_phone(q)
        except InvalidPhoneNumberError as exc:
            raise Problem(
                422, "invalid request", f"q: {exc}; numbers are found whole only", field="q"
            ) from None
        ix = vault.contact_index(number)
        found = list_contacts_page(
            engine, vault, scope, after=after, limit=1, tag=tag, contact_ix=ix
        )
        return found, None
    needle = q.casefold()
    out: list[ContactSummary] = []
    cursor, scanned = after, 0
    while scanned < NAME_SCAN_CAP:
        size = min(200, NAME_SCAN_CAP - scanned)
        page = list_contacts_page(engine, vault, scope, after=cursor, limit=size, tag=tag)
        for c in page:
            scanned += 1
            cursor = c.id
            if c.name is not None and needle in c.name.casefold():
                out.append(c)
                if len(out) == limit:
                    return out, (cursor if c is not page[-1] or len(page) == size else None)
        if len(page) < size:
            return out, None
    return out, cursor


def _summary(vault: Vault, rec: ContactRecord, tags: set[str]) -> ContactSummary:
    number = vault.open("contacts", "wa_id", rec.contact_ix, rec.wa_id_enc).decode()
    name = (
        vault.open("contacts", "name", rec.contact_ix, rec.name_enc).decode()
        if rec.name_enc is not None
        else None
    )
    return ContactSummary(
        id=rec.id,
        name=name,
        number_masked=mask_number(number),
        language=rec.language,
        tags=sorted(tags),
        opted_out=rec.opted_out,
        marketing=rec.marketing,
        number_valid=rec.number_valid,
        orders_count=rec.orders_count,
        last_inbound_at=rec.last_inbound_at,
        created_at=rec.created_at,
    )


def _full(view: ContactView) -> ContactOut:
    return ContactOut(
        id=view.id,
        wa_id=view.wa_id,
        name=view.name,
        language=view.language,
        tags=list(view.tags),
        fields=view.fields,
        opted_out=view.opted_out,
        marketing=view.marketing,
        number_valid=view.number_valid,
        orders_count=view.orders_count,
        orders_total=view.orders_total,
        last_order_at=view.last_order_at,
        last_inbound_at=view.last_inbound_at,
        created_at=view.created_at,
    )


def _current(ctx: CampaignContext, contact_id: int) -> tuple[set[str], set[str]]:
    """The contact's tags and custom field names (no values leave this function)."""
    repo = ContactsRepository(ctx.dialect, ctx.tenant)
    with ctx.engine.connect() as conn:
        rec = repo.get(conn, contact_id)
        if rec is None:
            raise Problem(404, "not found")
        tags = repo.tags_for(conn, [contact_id]).get(contact_id, set())
    return tags, set(open_fields(ctx.vault, contact_id, rec.fields_enc))


def _stopped(ctx: CampaignContext, contact_id: int) -> bool:
    """Has the customer said stop (opt-out or marketing denied)? Their decision stands."""
    with ctx.engine.connect() as conn:
        rec = ContactsRepository(ctx.dialect, ctx.tenant).get(conn, contact_id)
    return rec is not None and (rec.opted_out or rec.marketing == "denied")


# -- routes ----------------------------------------------------------------------------
@router.get("", response_model=ContactPage)
def list_contacts(
    request: Request,
    scope: Principal,
    cursor: int | None = Query(default=None, ge=0, le=MAX_ID, description="Last id seen"),
    limit: int = Query(default=50, ge=1, le=200),
    tag: str | None = Query(default=None, min_length=1, max_length=64),
    q: str | None = Query(
        default=None,
        min_length=1,
        max_length=100,
        description="A whole phone number (any accepted format) or part of a name",
    ),
) -> ContactPage:
    """The tenant's contacts in id order; numbers are masked, custom fields left out.

    ``q`` of digits (with +, spaces, -, parentheses) finds the contact with that whole
    number through its blind index; partial numbers cannot be searched (422).  Any
    other ``q`` matches names, case-insensitively.  Names are stored encrypted, so a
    name search decrypts at most 2,000 contacts per request: a page may be short or
    empty while ``next_cursor`` is set — follow it until it is null.
    """
    require(scope, perms.CONTACTS_READ)
    ctx = _ctx(request, scope)
    if q is not None and q.strip():
        found, nxt = search_contacts_page(
            ctx.engine, ctx.vault, scope, q.strip(), after=cursor or 0, limit=limit, tag=tag
        )
        return ContactPage(items=found, next_cursor=nxt)
    items = list_contacts_page(
        ctx.engine, ctx.vault, scope, after=cursor or 0, limit=limit, tag=tag
    )
    return ContactPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)


@router.get("/export", response_class=Response, responses=_CSV_OUT)
def export_contacts(request: Request, scope: Principal) -> Response:
    """Every contact decrypted, as CSV (spreadsheet-safe cells); the export is audited."""
    require(scope, perms.CONTACTS_READ)
    out = io.StringIO()
    ContactBook(_ctx(request, scope)).export_csv(scope.principal, out)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="contacts.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/import",
    response_model=ImportOut,
    openapi_extra=_CSV_BODY,
    responses=_UNSUPPORTED,
)
async def import_contacts(
    request: Request,
    scope: Principal,
    filename: str = Query(
        default="api.csv",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="Recorded as the consent source (import:<filename>)",
    ),
) -> ImportOut:
    """Import a CSV file (body ``text/csv``, at most 5 MiB); rejected rows are reported."""
    require(scope, perms.CONTACTS_WRITE)
    ctx = _ctx(request, scope)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _CSV_TYPES:
        raise Problem(415, "unsupported media type", "send the file as text/csv")
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > MAX_IMPORT_BYTES:
        raise Problem(413, "request body too large", f"at most {MAX_IMPORT_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_IMPORT_BYTES:
            raise Problem(413, "request body too large", f"at most {MAX_IMPORT_BYTES} bytes")
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(400, "request refused", "the file is not UTF-8 text") from None
    report = await run_in_threadpool(_import_text, ctx, scope.principal, filename, text)
    return ImportOut(
        file=report.file,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        consent_recorded=report.consent_recorded,
        consent_kept_opt_out=report.consent_kept_opt_out,
        duplicates=[_issue(i) for i in report.duplicates],
        rejected=[_issue(i) for i in report.rejected],
    )


def _import_text(ctx: CampaignContext, actor: str, filename: str, text: str) -> ImportReport:
    # The importer reads files: a private temporary directory (0700), removed right after.
    with tempfile.TemporaryDirectory(prefix="aman-import-") as tmp:
        path = FilePath(tmp) / filename
        path.write_text(text, encoding="utf-8")
        try:
            return ContactImporter(ctx).import_file(actor, path)
        except CampaignInputError:
            raise
        except (csv.Error, ValueError):
            raise Problem(400, "request refused", "a value in the file could not be read") from None


def _issue(issue: RowIssue) -> RowIssueOut:
    return RowIssueOut(line=issue.line, reason=issue.reason, value=issue.value)


@router.post(
    "",
    response_model=ContactOut,
    status_code=201,
    responses={200: {"model": ContactOut, "description": "An existing contact was updated"}},
)
def upsert_contact(
    request: Request, scope: Principal, body: ContactIn, response: Response
) -> ContactOut:
    """Create a contact, or update the one with this number (201 created, 200 updated)."""
    require(scope, perms.CONTACTS_WRITE)
    ctx = _ctx(request, scope)
    book = ContactBook(ctx)
    found = book.find(body.wa_id)
    if body.marketing_consent and found is not None and _stopped(ctx, found):
        raise Problem(409, "conflict", "the customer opted out; only they can opt back in")
    cid = book.upsert(
        scope.principal,
        body.wa_id,
        name=body.name,
        language=body.language,
        tags=body.tags,
        fields=body.fields,
    )
    if body.marketing_consent is not None:
        book.set_marketing_consent(
            scope.principal, cid, body.marketing_consent, source=body.consent_source
        )
    if found is not None:
        response.status_code = 200
    # The save itself is audited (contact_upsert); echoing it back is not a read.
    return _full(book.get(scope.principal, cid, audit=False))


@router.get("/{contact_id}", response_model=ContactOut)
def get_contact(request: Request, scope: Principal, contact_id: ObjectId) -> ContactOut:
    """One contact in full, with its number; the read is audited."""
    require(scope, perms.CONTACTS_READ)
    return _full(ContactBook(_ctx(request, scope)).get(scope.principal, contact_id))


@router.put("/{contact_id}/tags", response_model=TagsOut)
def put_tags(request: Request, scope: Principal, contact_id: ObjectId, body: TagsIn) -> TagsOut:
    """Replace the contact's tags with ``tags``."""
    require(scope, perms.CONTACTS_WRITE)
    ctx = _ctx(request, scope)
    wanted = {clean_tag(t) for t in body.tags}
    current, _ = _current(ctx, contact_id)
    tags = ContactBook(ctx).set_tags(
        scope.principal,
        contact_id,
        add=sorted(wanted - current),
        remove=sorted(current - wanted),
    )
    return TagsOut(tags=list(tags))


@router.put("/{contact_id}/fields", response_model=FieldsOut)
def put_fields(
    request: Request, scope: Principal, contact_id: ObjectId, body: FieldsIn
) -> FieldsOut:
    """Replace the contact's custom fields with ``fields`` (values are stored sealed)."""
    require(scope, perms.CONTACTS_WRITE)
    ctx = _ctx(request, scope)
    book = ContactBook(ctx)
    _, keys = _current(ctx, contact_id)
    new = clean_fields(body.fields)
    book.set_fields(scope.principal, contact_id, new, remove=sorted(keys - set(new)))
    _, now_keys = _current(ctx, contact_id)
    return FieldsOut(keys=sorted(now_keys))


@router.post("/{contact_id}/merge", response_model=MergeOut)
def merge_contacts(
    request: Request, scope: Principal, contact_id: ObjectId, body: MergeIn
) -> MergeOut:
    """Fold contact ``source_id`` into this one and delete it (an opt-out always wins)."""
    require(scope, perms.CONTACTS_WRITE)
    result = ContactBook(_ctx(request, scope)).merge(scope.principal, contact_id, body.source_id)
    return MergeOut(
        target_id=result.target_id,
        source_id=result.source_id,
        tags=result.tags,
        fields=result.fields,
        memberships=result.memberships,
        opted_out=result.opted_out,
    )
