"""bench.soak: the RSS/latency chart and the soak section of RESULTS.md."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from bench.results import RunInfo, write_section
from bench.soak import _relative, render_section, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def _samples() -> list[dict[str, Any]]:
    return [
        {"t_s": 10.0 * i, "rss_mib": 100.0 + i, "echo_p50_ms": 5.0 + i,
         "echo_p99_ms": None if i == 2 else 40.0 + 3 * i}
        for i in range(1, 7)
    ]


def test_chart_has_rss_and_both_latency_lines_with_round_ticks() -> None:
    svg = render_svg(_samples(), "soak <200/s> & more")
    root = ET.fromstring(svg)  # well-formed: the caption is escaped
    lines = root.findall(f"{SVG}polyline")
    assert [len(p.attrib["points"].split()) for p in lines] == [6, 6, 5]  # p99 gap skipped
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "soak <200/s> & more" in texts
    assert {"RSS", "p50", "p99"} <= set(texts)
    assert "125" in texts and "60" in texts  # nice_ticks: RSS axis to 125 MiB, latency to 60
    # The highest RSS sample, 106 MiB on the 125 MiB axis of the 230 px panel at y 50..280.
    rss = [tuple(map(float, xy.split(","))) for xy in lines[0].attrib["points"].split()]
    assert abs(min(y for _, y in rss) - (280 - 230 * 106 / 125)) < 0.1


def _result() -> dict[str, Any]:
    trend = {"first": 100.0, "last": 106.0, "max": 106.0, "growth_per_hour_after_warmup": None}
    fds = {"first": 20, "last": 21, "max": 22, "growth_per_hour_after_warmup": 1.5}
    lat = {"p50": 5.0, "p90": 9.0, "p99": 44.0, "max": 60.0}
    return {
        "config": {"rate": 200.0, "minutes": 30.0, "database": "sqlite", "customers": 3000,
                   "send_rate": 1000.0, "no_statuses": False, "no_read_receipts": False,
                   "cooldown": 25.0, "sample_seconds": 10.0},
        "summary": {"offered": 360000, "offered_rate": 200.0, "acked": 360000, "failed": 0,
                    "retried_503": 0, "echoed": 360000, "lost": 0, "warmup_s": 120.0,
                    "echo_ms": lat, "ack_ms": lat, "rss_mib": trend, "open_fds": fds},
    }


def test_section_links_the_chart_and_states_the_figures(tmp_path: Path) -> None:
    info = RunInfo("python -m bench.soak", "2026-01-01 00:00:00 UTC", "git abc", "1.00 1 1",
                   "0.50 1 1", elapsed_s=1860.0)
    results = tmp_path / "bench" / "RESULTS.md"
    results.parent.mkdir()
    link = _relative(tmp_path / "bench" / "soak.svg", results.parent)
    assert link == "soak.svg"
    assert _relative(tmp_path / "elsewhere" / "s.svg", results.parent) == "../elsewhere/s.svg"
    text = render_section(_result(), info, link)
    assert text.startswith("## Soak: 200 messages/s for 30 minutes")
    assert "![aman RSS and echo latency p50/p99 over the soak](soak.svg)" in text
    assert "- Command: `python -m bench.soak` (1,860 s)" in text
    assert "| echo latency ms p50 / p90 / p99 / max | 5.0 / 9.0 / 44.0 / 60.0 |" in text
    assert "100.0 / 106.0 / 106.0; – (needs 5 min after warm-up) |" in text
    assert "20 / 21 / 22; +1.5 fds/h |" in text
    write_section(results, "soak", text)
    assert "<!-- bench:soak -->\n## Soak" in results.read_text()


def test_growth_is_fitted_to_the_samples_under_load_only() -> None:
    from bench.soak import _trend

    # RSS grows 1 MiB per minute under load, then falls back when the load stops.
    load = [{"t_s": 60.0 * i, "rss_mib": 100.0 + i, "phase": "load"} for i in range(11)]
    after = [{"t_s": 660.0, "rss_mib": 104.0, "phase": "drain"},
             {"t_s": 690.0, "rss_mib": 90.0, "phase": "idle"},
             {"t_s": 720.0, "rss_mib": 90.0, "phase": "idle"}]
    trend = _trend(load + after, "rss_mib", warm_from=0.0)
    assert trend["growth_per_hour_after_warmup"] == 60.0
    assert (trend["first"], trend["last"], trend["max"]) == (100.0, 90.0, 110.0)
    # Samples of older runs carry no phase: all of them count, as before.
    old = [{k: v for k, v in s.items() if k != "phase"} for s in load]
    assert _trend(old, "rss_mib", warm_from=0.0)["growth_per_hour_after_warmup"] == 60.0
