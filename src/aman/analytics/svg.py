"""Inline SVG charts for the HTML report: grouped vertical bars and horizontal bars.

No scripts, no external fonts or stylesheets; every label is escaped, so data
(intent names, campaign names written by staff) cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["PALETTE", "bar_chart", "hbar_chart", "nice_ticks"]

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2")
_FONT = "font-family:system-ui,sans-serif;font-size:11px"


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 760,
    height: int = 280,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series."""
    left, right, top, bottom = 56, 12, 30, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, values in series for v in values), default=0.0)
    ticks = nice_ticks(peak)
    scale = plot_h / ticks[-1]
    group = plot_w / max(1, len(categories))
    bar = max(1.0, group * 0.8 / max(1, len(series)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}" style="{_FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    for t in ticks:
        y = top + plot_h - t * scale
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#374151">'
            f"{_num(t)}</text>"
        )
    every = max(1, math.ceil(len(categories) / 24))
    for i, cat in enumerate(categories):
        x0 = left + i * group + group * 0.1
        for j, (name, values) in enumerate(series):
            value = values[i] if i < len(values) else 0.0
            h = value * scale
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(cat)} · {escape(name)}: {_num(value)}</title></rect>"
            )
        if i % every == 0:
            cx = left + i * group + group / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" fill="#374151" '
                f'transform="rotate(-40 {cx:.1f} {top + plot_h + 14})">{escape(cat)}</text>'
            )
    lx = left
    for j, (name, _) in enumerate(series):
        parts.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{lx + 14}" y="{height - 5}">{escape(name)}</text>')
        lx += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    title: str, items: Sequence[tuple[str, float]], *, width: int = 760, color: str = PALETTE[0]
) -> str:
    """Horizontal bars, one per item, with the value written at the end of each bar."""
    label_w, right, row, top = 190, 70, 22, 28
    height = top + row * max(1, len(items)) + 8
    peak = max((v for _, v in items), default=0.0) or 1.0
    plot_w = width - label_w - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}" style="{_FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = plot_w * value / peak
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" fill="#374151">'
            f"{escape(short)}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{color}"><title>{escape(label)}: {_num(value)}</title></rect>'
        )
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{_num(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)
