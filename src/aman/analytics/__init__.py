"""aman.analytics: conversation, bot, handoff, intent, flow and campaign figures, and reports.

``analytics_report(engine, vault, start, end)`` computes every figure (the API
and console use it); ``render`` turns it into JSON, CSV or a self-contained
HTML page with inline SVG charts (``aman report analytics``).
"""

from aman.analytics.render import render_csv, render_html, render_json
from aman.analytics.service import Classifier, analytics_report

__all__ = ["Classifier", "analytics_report", "render_csv", "render_html", "render_json"]
