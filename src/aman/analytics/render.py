"""Render an analytics report as JSON, CSV (section, name, metric, value) or a standalone HTML page.

The HTML page has inline SVG charts and inline CSS only, and a Content
Security Policy that forbids scripts and outside resources.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from aman.analytics.svg import PALETTE, bar_chart, hbar_chart

__all__ = ["render_csv", "render_html", "render_json"]


def render_json(report: Mapping[str, Any]) -> str:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def _rows(report: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    vol = report["volume"]
    yield "window", "from", "", report["from"]
    yield "window", "to", "", report["to"]
    yield "window", "tz", "", report["tz"]
    for k in ("inbound", "outbound"):
        yield "volume", "total", k, vol[k]
    for k, v in vol["outbound_by_source"].items():
        yield "volume", "outbound_by_source", k, v
    for d in vol["by_day"]:
        for k in ("inbound", "outbound"):
            yield "volume.by_day", d["day"], k, d[k]
    for h in vol["by_hour"]:
        for k in ("inbound", "outbound"):
            yield "volume.by_hour", f"{h['hour']:02d}", k, h[k]
    for pnid, counts in vol["by_number"].items():
        for k, v in counts.items():
            yield "volume.by_number", pnid, k, v
    for k, v in report["contacts"].items():
        yield "contacts", k, "", v
    for k, v in report["conversations"].items():
        if isinstance(v, dict):
            for stat, value in v.items():
                yield "conversations", k, stat, value
        else:
            yield "conversations", k, "", v
    intents = report["intents"]
    yield "intents", "available", "", intents["available"]
    yield "intents", "total", "", intents["total"]
    yield "intents", "fallback_rate", "", intents["fallback_rate"]
    for k, v in intents["distribution"].items():
        yield "intents.distribution", k, "", v
    for flow, data in report["flows"]["flows"].items():
        for step, n in data["at_step"].items():
            yield "flows.at_step", flow, step, n
        for step, n in data["stalled_at_step"].items():
            yield "flows.stalled_at_step", flow, step, n
    for c in report["campaigns"]:
        name = f"{c['campaign_id']}:{c['run_id']}:{c['name']}"
        for k in (
            "queued",
            "excluded",
            "sent",
            "delivered",
            "read",
            "failed",
            "replied",
            "opted_out",
        ):
            yield "campaigns", name, k, c[k]
        for code, n in c["error_codes"].items():
            yield "campaigns.error_codes", name, code, n
        for reason, n in c["excluded_reasons"].items():
            yield "campaigns.excluded", name, reason, n


def _cell(value: Any) -> Any:
    text = "" if value is None else value
    if isinstance(text, str) and text[:1] in ("=", "+", "-", "@"):
        return "'" + text  # staff-written names must not become spreadsheet formulas
    return text


def render_csv(report: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "name", "metric", "value"])
    for row in _rows(report):
        writer.writerow([_cell(x) for x in row])
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#111827;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e5e7eb}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e5e7eb;border-radius:8px;
padding:10px 14px;min-width:130px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #e5e7eb;padding:4px 8px;
text-align:right}th{background:#f9fafb}td:first-child,th:first-child{text-align:left}
.note{color:#6b7280;font-size:13px}
"""


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Mapping[str, Any]) -> str:
    zone = ZoneInfo(report["tz"])

    def day(ts: float) -> str:
        return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M")

    vol, conv, contacts = report["volume"], report["conversations"], report["contacts"]
    cards = [
        ("inbound messages", f"{vol['inbound']:,}"),
        ("outbound messages", f"{vol['outbound']:,}"),
        ("active contacts", f"{contacts['active']:,}"),
        ("new contacts", f"{contacts['new']:,}"),
        ("conversations", f"{conv['sessions']:,}"),
        ("containment", _pct(conv["containment_rate"])),
        ("handoff rate", _pct(conv["handoff_rate"])),
        ("bot first response (median)", _secs(conv["bot_first_response_s"]["median"])),
        ("human first response (median)", _secs(conv["human_first_response_s"]["median"])),
    ]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>aman analytics {escape(day(report['from']))}</title><style>{_CSS}</style>",
        "</head><body>",
        f"<h1>aman analytics · {escape(report['tenant'])}</h1>",
        f"<p class='note'>{escape(day(report['from']))} to {escape(day(report['to']))} "
        f"({escape(report['tz'])})"
        + (f" · number {escape(report['phone_number_id'])}" if report["phone_number_id"] else "")
        + "</p><div class='cards'>",
        *(f"<div class='card'>{escape(k)}<b>{escape(v)}</b></div>" for k, v in cards),
        "</div><h2>Volume</h2>",
        bar_chart(
            "Messages per day",
            [d["day"] for d in vol["by_day"]],
            [
                ("inbound", [d["inbound"] for d in vol["by_day"]]),
                ("outbound", [d["outbound"] for d in vol["by_day"]]),
            ],
        ),
        bar_chart(
            "Messages by hour of day",
            [f"{h['hour']:02d}" for h in vol["by_hour"]],
            [
                ("inbound", [h["inbound"] for h in vol["by_hour"]]),
                ("outbound", [h["outbound"] for h in vol["by_hour"]]),
            ],
        ),
        _table(
            ["business number", "inbound", "outbound"],
            [[p, c["inbound"], c["outbound"]] for p, c in vol["by_number"].items()],
        ),
        _table(
            ["outbound source", "messages"], [[k, v] for k, v in vol["outbound_by_source"].items()]
        ),
        "<h2>Response and resolution</h2>",
        _table(
            ["measure", "count", "mean", "median", "p90"],
            [
                [
                    label,
                    conv[key]["count"],
                    _secs(conv[key]["mean"]),
                    _secs(conv[key]["median"]),
                    _secs(conv[key]["p90"]),
                ]
                for label, key in (
                    ("bot first response", "bot_first_response_s"),
                    ("human first response", "human_first_response_s"),
                    ("resolution by the bot", "bot_resolution_s"),
                    ("resolution by a human", "human_resolution_s"),
                )
            ],
        ),
        f"<p class='note'>A conversation starts after {conv['session_gap_s'] / 60:.0f} minutes "
        f"of customer silence. Handoffs: {conv['handoffs']}, still open: "
        f"{conv['unresolved_handoffs']}.</p>",
        "<h2>Intents</h2>",
    ]
    intents = report["intents"]
    if intents["available"] and intents["distribution"]:
        parts.append(hbar_chart("Intent distribution", list(intents["distribution"].items())))
        parts.append(
            f"<p>Fallback rate: <b>{_pct(intents['fallback_rate'])}</b> of "
            f"{intents['total']:,} texts.</p>"
        )
    parts.append(f"<p class='note'>{escape(intents['note'] or '')}</p><h2>Flows</h2>")
    flows = report["flows"]
    for name, data in flows["flows"].items():
        parts.append(
            hbar_chart(
                f"Flow {name}: conversations at each step",
                list(data["at_step"].items()),
                color=PALETTE[4],
            )
        )
        if data["stalled_at_step"]:
            parts.append(
                _table(
                    ["stalled at step", "conversations"],
                    [[k, v] for k, v in data["stalled_at_step"].items()],
                )
            )
    parts.append(f"<p class='note'>{escape(flows['note'])}</p><h2>Campaigns</h2>")
    rows = []
    for c in report["campaigns"]:
        rows.append(
            [
                c["name"],
                c["run_id"],
                c["state"],
                c["queued"],
                c["excluded"],
                c["sent"],
                c["delivered"],
                c["read"],
                c["replied"],
                c["opted_out"],
                c["failed"],
                ", ".join(f"{k}×{v}" for k, v in c["error_codes"].items()) or "–",
            ]
        )
        parts.append(
            hbar_chart(
                f"{c['name']} (run {c['run_id']})",
                [
                    (k, float(c[k]))
                    for k in (
                        "queued",
                        "sent",
                        "delivered",
                        "read",
                        "replied",
                        "opted_out",
                        "failed",
                    )
                ],
                color=PALETTE[1],
            )
        )
    parts.append(
        _table(
            [
                "campaign",
                "run",
                "state",
                "queued",
                "excluded",
                "sent",
                "delivered",
                "read",
                "replied",
                "opted out",
                "failed",
                "error codes",
            ],
            rows,
        )
        if rows
        else "<p class='note'>No campaign ran in this window.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)
