"""bench.results: each tool rewrites only its own section of RESULTS.md; bench niceness once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.results import TITLE, RunInfo, command_line, write_section

ROOT = Path(__file__).resolve().parent.parent


def test_missing_file_gets_the_title_and_the_section(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_section(path, "soak", "## Soak\n\nfigures\n")
    text = path.read_text()
    assert text.startswith(TITLE)
    assert text.endswith("<!-- bench:soak -->\n## Soak\n\nfigures\n<!-- /bench:soak -->\n")


def test_rewriting_one_section_keeps_every_other_byte(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(
        "# results\n\nhand-written intro\n\n"
        "<!-- bench:run -->\nold run\n<!-- /bench:run -->\n\n"
        "between: kept *exactly*  \n\n"
        "<!-- bench:broadcast -->\nbroadcast figures\n<!-- /bench:broadcast -->\n"
        "trailer\n"
    )
    before = path.read_text()
    write_section(path, "run", "## new run\n\nnew figures")
    after = path.read_text()
    assert after == before.replace("old run", "## new run\n\nnew figures")
    write_section(path, "run", "again")  # idempotent place: still one run section
    assert path.read_text().count("<!-- bench:run -->") == 1
    assert "broadcast figures" in path.read_text()


def test_new_section_goes_to_its_place_in_the_order(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_section(path, "soak", "soak")
    write_section(path, "run", "run")
    write_section(path, "broadcast", "broadcast")
    write_section(path, "scaleout", "scaleout")
    text = path.read_text()
    order = [text.index(f"<!-- bench:{n} -->") for n in ("run", "scaleout", "broadcast", "soak")]
    assert order == sorted(order)


def test_unbalanced_or_bad_markers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("<!-- bench:run -->\nno end marker\n")
    with pytest.raises(ValueError, match="unbalanced"):
        write_section(path, "run", "x")
    assert path.read_text() == "<!-- bench:run -->\nno end marker\n"
    with pytest.raises(ValueError, match="bad section name"):
        write_section(path, "a -->", "x")


def test_run_info_states_command_date_revision_and_load() -> None:
    info = RunInfo.start("python -m bench.soak", ["--minutes", "0.5", "--database-url", "a b"])
    info.finish()
    text = "\n".join(info.lines())
    assert "- Command: `python -m bench.soak --minutes 0.5 --database-url 'a b'`" in text
    assert info.date_utc in text and info.code in text
    assert info.code.startswith("git ")
    assert f"at start / end: {info.load_start} / {info.load_end}" in text
    assert command_line("python -m bench.run", []) == "python -m bench.run"


def test_children_get_the_benchmark_niceness_once() -> None:
    """run.py used to renice itself and prefix every child with ``nice -n``: twice."""
    script = (
        "import os, sys, tempfile\n"
        "from pathlib import Path\n"
        "from bench.servers import ProcessGroup, niceness\n"
        "base = os.nice(0)\n"
        "with niceness(3), ProcessGroup(Path(tempfile.mkdtemp()), server_cpu=0, "
        "tool_cpu=0) as group:\n"
        "    proc = group.start('child', [sys.executable, '-c', "
        "'import os; print(os.nice(0))'], cpu=None, port=0)\n"
        "    proc.popen.wait(30)\n"
        "    print(base, proc.log_path.read_text().split()[-1])\n"
    )
    # A session of its own, so the autogroup it renices is not the test runner's.
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base, child = (int(x) for x in out.stdout.split())
    assert child == min(base + 3, 19)
