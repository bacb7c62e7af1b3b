"""``aman contacts import/export/merge`` and ``aman campaigns scheduler/status``."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import pytest

from aman.cli import main
from aman.security.crypto import generate_master_key


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AMAN_DATABASE_URL", db_url)
    monkeypatch.setenv("AMAN_MASTER_KEY", generate_master_key())
    monkeypatch.setenv("AMAN_TENANT", "toko")
    return db_url


def test_import_export_merge_from_the_command_line(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "pelanggan.csv"
    src.write_text(
        "nomor,nama,tags,consent\n"
        "0812-1111-2222,Budi,vip,ya\n"
        "+62 813 3333 4444,Siti,,tidak\n"
        "021-555-0000,Kantor,,\n"
        "0812 1111 2222,Budi lagi,,\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    assert main(["contacts", "import", str(src), "--tag", "jan", "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "import of pelanggan.csv" in err and "duplicate of line 2" in err
    assert "021-555-0000" not in err and "5550000" not in err  # masked
    data = json.loads(report.read_text())
    assert (data["created"], len(data["rejected"]), len(data["duplicates"])) == (2, 1, 1)
    out = tmp_path / "export.csv"
    assert main(["contacts", "export", "--out", str(out)]) == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["phone"], r["name"], r["tags"]) for r in rows] == [
        ("+6281211112222", "Budi", "jan;vip"),
        ("+6281333334444", "Siti", "jan"),
    ]
    assert main(["contacts", "merge", "1", "2"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["target"] == 1 and merged["source"] == 2
    assert main(["contacts", "merge", "1", "1"]) == 2
    assert "itself" in capsys.readouterr().err
    assert main(["contacts", "import", str(tmp_path / "missing.csv")]) == 2
    assert main(["campaigns", "scheduler", "--once"]) == 0
    assert main(["campaigns", "status", "99"]) == 2
