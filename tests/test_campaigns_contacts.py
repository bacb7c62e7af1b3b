"""Contacts: number normalisation, CSV import edge cases, consent proof, export, merge."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from aman.campaigns import (
    CampaignInputError,
    ContactBook,
    ContactImporter,
    InvalidPhoneNumberError,
    SegmentService,
    mask_number,
    normalize_phone,
)
from test_campaigns_support import campaign_ctx, one, q


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("0812-3456-7890", "6281234567890"),
        ("+62 812 3456 7890", "6281234567890"),
        ("62812-3456-7890", "6281234567890"),
        ("81234567890", "6281234567890"),
        ("+62 (0)812 3456 7890", "6281234567890"),
        ("0062 812 3456 7890", "6281234567890"),
        ("0811.222.333", "62811222333"),
        ("+60 12-345 6789", "60123456789"),
        ("+1 (415) 555-0100", "14155550100"),
    ],
)
def test_numbers_are_normalised(raw: str, want: str) -> None:
    assert normalize_phone(raw) == want


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("021-555-1234", "not an Indonesian mobile"),
        ("0812345", "too short"),
        ("0812 3456 7890 1234", "too long"),
        ("08123abc567", "characters other than digits"),
        ("60123456789", "not an Indonesian number"),
        ("+0812345678", "never starts with 0"),
        ("0801 2345 6789", "080"),
        ("+1234", "8 to 15 digits"),
    ],
)
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumberError) as exc:
        normalize_phone(raw)
    assert reason in exc.value.reason


def test_masking_never_shows_the_whole_number() -> None:
    assert mask_number("0812-3456-7890") == "08********90"
    assert mask_number("12") == "****"
    assert "3456" not in mask_number("+62 812 3456 7890")


CSV_TEXT = (
    "\ufeffNama;No HP;Tags;Consent;Kota;Orders\n"
    "Budi Santoso;0812-3456-7890;vip|jakarta;ya;Jakarta;3\n"
    "Siti;+62 812 9876 5432;;tidak;Bandung;\n"
    "Budi lagi;62812-3456-7890;;;;\n"
    "Kantor;021-555-1234;;;;\n"
    "Pendek;0812345;;;;\n"
    '"Ani\nWulandari";0813-2222-3333;;;;\n'
    "\n"
    "Huruf;08123abc567;;;;\n"
    "Kosong;;;;;\n"
    "Ahmad;+60123456789;;yes;KL;\n"
    "Tanpa plus;60123456789;;;;\n"
    "Tanpa nol;81234567891;;;;\n"
    "Ragu;0813 1111 2222;;mungkin;;\n"
    "Minus;0813 1111 4444;;;;-2\n"
)


def write_csv(tmp_path: Path, text: str = CSV_TEXT, name: str = "pelanggan.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_edge_cases(tmp_path: Path, db_url: str) -> None:
    seen: list[int] = []
    with campaign_ctx(db_url) as ctx:
        report = ContactImporter(ctx, batch=3).import_file(
            "staff:ani", write_csv(tmp_path), progress=seen.append, tags=["import-jan"]
        )
        assert report.rows == 13
        assert report.created == 5  # Budi, Siti, Ani, Ahmad, Tanpa nol
        assert report.updated == 0
        assert [(d.line, d.reason) for d in report.duplicates] == [(4, "duplicate of line 2")]
        rejected = {r.line: r.reason for r in report.rejected}
        assert sorted(rejected) == [5, 6, 10, 11, 13, 15, 16]  # the quoted name spans 7-8
        assert "not an Indonesian mobile" in rejected[5]
        assert "too short" in rejected[6]
        assert "digits" in rejected[10]
        assert "empty" in rejected[11]
        assert "not an Indonesian number" in rejected[13]
        assert "consent" in rejected[15]
        assert "orders" in rejected[16]
        for issue in [*report.rejected, *report.duplicates]:
            assert "3456789" not in issue.value and "555123" not in issue.value
        assert seen == sorted(seen) and seen[-1] == 13
        assert report.consent_recorded == 3
        consent = q(ctx, "select purpose, granted, source from consent_events order by id")
        assert consent == [
            ("marketing", True, "import:pelanggan.csv"),
            ("marketing", False, "import:pelanggan.csv"),
            ("marketing", True, "import:pelanggan.csv"),
        ]
        book = ContactBook(ctx)
        budi_id = book.find("0812 3456 7890")
        assert budi_id is not None
        budi = book.get("staff:ani", budi_id)
        assert budi.wa_id == "6281234567890" and budi.name == "Budi Santoso"
        assert budi.tags == ("import-jan", "jakarta", "vip")
        assert budi.fields == {"kota": "Jakarta"}
        assert budi.orders_count == 3 and budi.marketing == "granted"
        ani = book.get("staff:ani", book.find("081322223333") or 0)
        assert ani.name == "Ani\nWulandari"
        # Custom fields are sealed: the city name is nowhere in the table.
        blobs = q(ctx, "select fields_enc from contact_profiles where fields_enc is not null")
        assert blobs and all(b"Bandung" not in bytes(b[0]) for b in blobs)
        actions = [r[0] for r in q(ctx, "select action from audit_entries order by seq")]
        assert actions[:2] == ["contacts_import_start", "contacts_import"]


def test_reimport_updates_and_keeps_a_customers_stop(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url) as ctx:
        imp = ContactImporter(ctx)
        imp.import_file("staff:ani", write_csv(tmp_path))
        book = ContactBook(ctx)
        budi = book.find("081234567890") or 0
        book.set_marketing_consent("customer", budi, False, source="chat:STOP")
        events = one(ctx, "select count(*) from consent_events")
        again = imp.import_file("staff:ani", write_csv(tmp_path))
        assert (again.created, again.updated) == (0, 5)
        assert again.consent_kept_opt_out == 1
        assert again.consent_recorded == 0  # nothing changed, nothing recorded
        assert one(ctx, "select count(*) from consent_events") == events
        assert book.get("staff:ani", budi).marketing == "denied"


def test_import_without_phone_column_is_refused(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url) as ctx:
        path = write_csv(tmp_path, "name,city\nBudi,Jakarta\n", "x.csv")
        with pytest.raises(CampaignInputError, match="no phone column"):
            ContactImporter(ctx).import_file("staff:ani", path)


def test_export_is_decrypted_escaped_and_audited(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url) as ctx:
        book = ContactBook(ctx)
        book.upsert(
            "staff:ani",
            "0812-3456-7890",
            name="=HYPERLINK(1)",
            tags=["vip"],
            fields={"kota": "Jakarta", "poin": 12},
        )
        book.upsert("staff:ani", "+62 813 2222 3333", language="en")
        out = io.StringIO()
        assert book.export_csv("staff:ani", out) == 2
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert [r["phone"] for r in rows] == ["+6281234567890", "+6281322223333"]
        assert rows[0]["name"] == "'=HYPERLINK(1)"  # no formula injection into spreadsheets
        assert rows[0]["kota"] == "Jakarta" and rows[0]["poin"] == "12"
        assert rows[0]["tags"] == "vip" and rows[1]["language"] == "en"
        last = q(ctx, "select action, details from audit_entries order by seq desc limit 1")[0]
        assert last[0] == "contacts_export" and '"rows":2' in last[1].replace(" ", "")
        assert "812" not in last[1]


def test_merge_folds_source_into_target(tmp_path: Path, db_url: str) -> None:
    with campaign_ctx(db_url) as ctx:
        book = ContactBook(ctx)
        old = book.upsert("staff:ani", "081111111111", tags=["lama"], fields={"kota": "Bogor"})
        new = book.upsert("staff:ani", "082222222222", tags=["baru"], fields={"kota": "Depok"})
        book.record_order("staff:ani", old, 50_000, 100.0)
        book.record_order("staff:ani", new, 70_000, 200.0)
        seg = SegmentService(ctx).create("staff:ani", "lama", {"tag": "lama"}, kind="static")
        assert seg.size == 1
        with ctx.engine.begin() as conn:
            book.repo.set_opted_out(conn, old, True, 5.0)
        result = book.merge("staff:ani", new, old)
        assert result.opted_out and result.memberships == 1
        merged = book.get("staff:ani", new)
        assert merged.tags == ("baru", "lama")
        assert merged.fields == {"kota": "Depok"}  # the target's value wins
        assert (merged.orders_count, merged.orders_total) == (2, 120_000)
        assert merged.opted_out  # an opt-out on either side stays
        assert book.find("081111111111") is None
        assert SegmentService(ctx).size(seg.id) == 1
        with pytest.raises(CampaignInputError):
            book.merge("staff:ani", new, new)
        assert "contact_merge" in [r[0] for r in q(ctx, "select action from audit_entries")]
