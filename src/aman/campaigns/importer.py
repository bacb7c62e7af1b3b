"""CSV import of contacts: validate and normalise numbers, de-duplicate, consent proof, report.

A row is rejected with its line number and a reason (numbers in the report
are masked); a number seen earlier in the same file is reported as a
duplicate and skipped.  Valid rows are written in batches, each batch one
transaction.  A ``consent`` column records marketing consent events with
source ``import:<file name>``; an import never overrides a customer's own
"stop" (their latest decision wins, UU PDP).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aman.campaigns.contacts import (
    clean_field_key,
    clean_fields,
    clean_language,
    clean_tag,
    open_fields,
    seal_fields,
)
from aman.campaigns.contacts_repository import ContactsRepository
from aman.campaigns.context import CampaignContext
from aman.campaigns.errors import CampaignInputError
from aman.campaigns.phone import mask_number, normalize_phone

__all__ = ["ContactImporter", "ImportReport", "RowIssue", "count_data_lines"]

_ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "phone",
        "wa_id",
        "whatsapp",
        "nomor",
        "no_hp",
        "nohp",
        "hp",
        "telepon",
        "phone_number",
        "mobile",
        "nomor_hp",
        "no_wa",
        "msisdn",
    ),
    "name": ("name", "nama", "full_name", "nama_lengkap"),
    "tags": ("tags", "tag", "label", "labels"),
    "consent": ("consent", "opt_in", "optin", "persetujuan", "marketing_consent"),
    "language": ("language", "bahasa", "lang"),
    "orders": ("orders", "orders_count", "jumlah_order", "jumlah_pesanan"),
    "total_spent": ("total_spent", "total_belanja", "orders_total"),
    "last_order_at": ("last_order_at", "last_order", "pesanan_terakhir"),
}
_YES = {"yes", "y", "ya", "true", "1", "granted", "setuju", "opt-in", "optin"}
_NO = {"no", "n", "tidak", "false", "0", "denied", "tolak", "opt-out", "optout"}
_TAG_SPLIT = re.compile(r"[;|,]")
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class RowIssue:
    line: int
    reason: str
    value: str = ""  # masked number, never the full one


@dataclass(slots=True)
class ImportReport:
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    consent_recorded: int = 0
    consent_kept_opt_out: int = 0
    duplicates: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Row:
    line: int
    number: str
    ix: str
    name: str | None
    tags: list[str]
    consent: bool | None
    language: str | None
    orders: int | None
    total: int | None
    last_order: float | None
    fields: dict[str, Any]


def count_data_lines(path: Path) -> int:
    """Lines after the header (for a progress bar total; quoted newlines make it an estimate)."""
    with path.open("rb") as fh:
        return max(0, sum(1 for _ in fh) - 1)


def _sniff(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _int(raw: str, what: str) -> int:
    text = raw.strip().lower().removeprefix("rp").strip().replace(".", "").replace(",", "")
    if not text.isdigit():
        raise CampaignInputError(f"{what} must be a whole number ≥ 0")
    return int(text)


def _when(raw: str, tz: ZoneInfo) -> float:
    text = raw.strip()
    if text.isdigit():
        return float(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CampaignInputError("last order date must be YYYY-MM-DD or ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.timestamp()


class ContactImporter:
    """Imports contacts from CSV files into the tenant's contact book."""

    def __init__(self, ctx: CampaignContext, *, batch: int = 1000, tz: str = "Asia/Jakarta"):
        if batch < 1:
            raise CampaignInputError("batch must be at least 1")
        self.ctx = ctx
        self.batch = batch
        self.tz = ZoneInfo(tz)
        self.repo = ContactsRepository(ctx.dialect, ctx.tenant)

    def import_file(
        self,
        actor: str,
        path: Path,
        *,
        progress: Callable[[int], None] | None = None,
        tags: Iterable[str] = (),
    ) -> ImportReport:
        """Import ``path``; ``progress(n)`` is called with rows handled so far."""
        extra_tags = [clean_tag(t) for t in tags]
        report = ImportReport(file=path.name)
        source = f"import:{path.name}"[:64]
        self.ctx.audit.record(
            self.ctx.engine,
            tenant=self.ctx.tenant,
            actor=actor,
            action="contacts_import_start",
            target="contacts",
            details={"file": path.name[:120]},
        )
        with path.open(newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
            fh.seek(0)
            reader = csv.reader(fh, delimiter=_sniff(first))
            header = next(reader, None)
            if header is None:
                raise CampaignInputError(f"{path.name}: the file is empty")
            columns = self._columns(header)
            seen: dict[str, int] = {}
            pending: list[_Row] = []
            for line, cells in self._records(reader):
                report.rows += 1
                row = self._parse(line, cells, columns, report, extra_tags)
                if row is not None:
                    first_line = seen.get(row.ix[:20])
                    if first_line is not None:
                        report.duplicates.append(
                            RowIssue(
                                line, f"duplicate of line {first_line}", mask_number(row.number)
                            )
                        )
                    else:
                        seen[row.ix[:20]] = line
                        pending.append(row)
                if len(pending) >= self.batch:
                    self._flush(pending, report, source)
                    pending = []
                    if progress is not None:
                        progress(report.rows)
            self._flush(pending, report, source)
            if progress is not None:
                progress(report.rows)
        self.ctx.audit.record(
            self.ctx.engine,
            tenant=self.ctx.tenant,
            actor=actor,
            action="contacts_import",
            target="contacts",
            details={
                "file": path.name[:120],
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "rejected": len(report.rejected),
                "duplicates": len(report.duplicates),
            },
        )
        return report

    @staticmethod
    def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            yield line, cells

    @staticmethod
    def _columns(header: list[str]) -> dict[str, int]:
        """Map our column roles (and custom field names) to header positions."""
        names = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in header]
        columns: dict[str, int] = {}
        for role, aliases in _ALIASES.items():
            for i, name in enumerate(names):
                if name in aliases and role not in columns:
                    columns[role] = i
        if "phone" not in columns:
            raise CampaignInputError(
                "no phone column: name one of " + ", ".join(_ALIASES["phone"][:6])
            )
        known = set(columns.values())
        for i, name in enumerate(names):
            if i in known or not name:
                continue
            key = clean_field_key(name)
            columns["field:" + key] = i
        return columns

    def _parse(
        self,
        line: int,
        cells: list[str],
        columns: dict[str, int],
        report: ImportReport,
        extra_tags: list[str],
    ) -> _Row | None:
        def cell(role: str) -> str:
            i = columns.get(role)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        raw = cell("phone")
        try:
            number = normalize_phone(raw)
            name = cell("name")[:MAX_NAME] or None
            tags = [clean_tag(t) for t in _TAG_SPLIT.split(cell("tags")) if t.strip()]
            consent_raw = cell("consent").lower()
            consent: bool | None = None
            if consent_raw in _YES:
                consent = True
            elif consent_raw in _NO:
                consent = False
            elif consent_raw:
                raise CampaignInputError(f"consent must be yes or no, got {consent_raw[:20]!r}")
            lang_raw = cell("language")
            orders_raw, total_raw, last_raw = (
                cell("orders"),
                cell("total_spent"),
                cell("last_order_at"),
            )
            fields = clean_fields(
                {k[6:]: cell(k) for k in columns if k.startswith("field:") and cell(k)}
            )
            return _Row(
                line,
                number,
                self.ctx.vault.contact_index(number),
                name,
                sorted(set(tags + extra_tags)),
                consent,
                clean_language(lang_raw) if lang_raw else None,
                _int(orders_raw, "orders") if orders_raw else None,
                _int(total_raw, "total spent") if total_raw else None,
                _when(last_raw, self.tz) if last_raw else None,
                fields,
            )
        except CampaignInputError as exc:
            report.rejected.append(RowIssue(line, str(exc), mask_number(raw)))
            return None

    def _flush(self, rows: list[_Row], report: ImportReport, source: str) -> None:
        if not rows:
            return
        v = self.ctx.vault
        now = self.ctx.now()
        with self.ctx.unit() as conn:
            existing = self.repo.ids_for(conn, [r.ix for r in rows])
            v.ensure_contact_keys((r.ix for r in rows), conn)
            ids = self.repo.ensure(
                conn,
                [
                    {
                        "contact_ix": r.ix,
                        "wa_id_enc": v.seal(
                            "contacts", "wa_id", r.ix, r.number.encode(), contact=r.ix, conn=conn
                        ),
                        "name_enc": v.seal(
                            "contacts", "name", r.ix, r.name.encode(), contact=r.ix, conn=conn
                        )
                        if r.name
                        else None,
                        "now": now,
                    }
                    for r in rows
                ],
            )
            renamed = [
                (
                    existing[r.ix],
                    v.seal("contacts", "name", r.ix, r.name.encode(), contact=r.ix, conn=conn),
                )
                for r in rows
                if r.name and r.ix in existing
            ]
            self.repo.set_names(conn, renamed)
            records = self.repo.get_many(conn, ids.values())
            profiles = []
            consents = []
            for r in rows:
                cid = ids[r.ix]
                rec = records[cid]
                profile = rec.profile()
                if r.fields:
                    merged = open_fields(v, cid, rec.fields_enc) | r.fields
                    profile["fields_enc"] = seal_fields(v, rec, merged, conn)
                if r.language:
                    profile["language"] = r.language
                if r.orders is not None:
                    profile["orders_count"] = r.orders
                if r.total is not None:
                    profile["orders_total"] = r.total
                if r.last_order is not None:
                    profile["last_order_at"] = r.last_order
                if r.consent is not None:
                    if r.consent and (rec.marketing == "denied" or rec.opted_out):
                        report.consent_kept_opt_out += 1  # the customer's own stop stands
                    else:
                        state = "granted" if r.consent else "denied"
                        if state != rec.marketing:
                            profile["marketing"], profile["marketing_at"] = state, now
                            consents.append(
                                {
                                    "contact_ix": r.ix,
                                    "purpose": "marketing",
                                    "granted": r.consent,
                                    "source": source,
                                    "at": now,
                                }
                            )
                profiles.append({"contact_id": cid, **profile, "source": source, "updated_at": now})
                if r.ix in existing:
                    report.updated += 1
                else:
                    report.created += 1
            self.repo.save_profiles(conn, profiles)
            self.repo.add_tags(conn, [(ids[r.ix], t) for r in rows for t in r.tags])
            self.repo.consent(conn, consents)
            report.consent_recorded += len(consents)
