"""Render the security report as JSON or as one self-contained, printable HTML page.

The HTML has no scripts, no external resources (no CDN, fonts or images) and
escapes every value it shows, so evidence text cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import orjson

__all__ = ["render_html", "render_json"]

_STATUS_LABEL = dict(zip(("pass", "fail", "not_applicable"), ("PASS", "FAIL", "N/A"), strict=True))

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f23;
margin:2rem auto;max-width:1100px;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.75rem 0 .5rem;
border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.meta{color:#57606a;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;margin:.25rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.pass{color:#116329;font-weight:700}.fail{color:#a40e26;font-weight:700}
.not_applicable{color:#57606a;font-weight:700}
.summary span{display:inline-block;margin-right:1.25rem}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}
tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


def render_json(report: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(report), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _e(value: object) -> str:
    return escape("—" if value is None else str(value), quote=True)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Mapping[str, Any]) -> str:
    """A complete HTML document for ``report`` (values escaped; no scripts or links)."""
    checks = list(report.get("checks") or [])
    summary = report.get("summary") or {}
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>aman security report {_e(report.get('generated_at'))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>aman security self-assessment</h1>",
        f'<p class="meta">Generated {_e(report.get("generated_at"))} · aman '
        f"{_e(report.get('aman_version'))} · tenant <code>{_e(report.get('tenant'))}</code> · "
        f"database {_e(report.get('database'))}</p>",
    ]
    if summary:
        parts.append(
            '<p class="summary">'
            + "".join(
                f'<span class="{s}">{_STATUS_LABEL[s]} {_e(summary.get(s, 0))}</span>'
                for s in ("pass", "fail", "not_applicable")
            )
            + f"<span>of {_e(summary.get('total', len(checks)))} checks</span></p>"
        )
    parts.append("<h2>Checklist (derived from OWASP ASVS 5.0)</h2>")
    rows = []
    for c in checks:
        status = str(c.get("status"))
        css = status if status in _STATUS_LABEL else "fail"
        rows.append(
            [
                f"<code>{_e(c.get('id'))}</code>",
                _e(c.get("chapter")),
                _e(c.get("title")),
                f'<span class="{css}">{_e(_STATUS_LABEL.get(status, status))}</span>',
                _e(c.get("evidence")),
            ]
        )
    parts.append(_table(["Id", "ASVS chapter", "Requirement", "Result", "Evidence"], rows))
    two = report.get("two_factor")
    if isinstance(two, Mapping):
        parts.append("<h2>Staff two-factor authentication</h2>")
        parts.append(f"<p>{_e(two.get('note'))}</p>")
    keys = report.get("keys")
    if isinstance(keys, list):
        parts.append("<h2>Data keys</h2>")
        parts.append(
            _table(
                ["Key id", "Tenant", "Purpose", "Active", "Age (days)"],
                [
                    [
                        f"<code>{_e(k.get('key_id'))}</code>",
                        _e(k.get("tenant")),
                        _e(k.get("purpose")),
                        _e("yes" if k.get("active") else "no"),
                        _e(k.get("age_days")),
                    ]
                    for k in keys
                    if isinstance(k, Mapping)
                ],
            )
            if keys
            else "<p>No data keys yet.</p>"
        )
    audit = report.get("audit")
    if isinstance(audit, Mapping):
        verdict = {True: "intact", False: "FAILED", None: "not verified"}.get(
            audit.get("verified"), "not verified"
        )
        parts.append("<h2>Audit ledger</h2>")
        parts.append(
            f"<p>{_e(verdict)}: {_e(audit.get('entries'))} entries, "
            f"{_e(audit.get('signed_heads'))} signed heads"
            + (f"; problem: {_e(audit.get('problem'))}" if audit.get("problem") else "")
            + "</p>"
        )
    alerts = report.get("alerts")
    if isinstance(alerts, Mapping):
        parts.append("<h2>Open alerts</h2>")
        by = alerts.get("open_by_severity")
        if isinstance(by, Mapping):
            parts.append(
                _table(["Severity", "Unresolved"], [[_e(k), _e(v)] for k, v in by.items()])
            )
        else:
            parts.append(
                "<p>Alerts are not available (database not reachable or not migrated).</p>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)
