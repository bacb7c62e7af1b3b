"""Liveness with a database check, Prometheus metrics, and the index page."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

__all__ = ["healthz", "index", "metrics_endpoint"]


async def healthz(request: Request) -> Response:
    runtime = request.app.state.runtime

    def ping() -> None:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, ping), 5.0)
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        return JSONResponse({"status": "unhealthy", "database": type(exc).__name__}, 503)
    return JSONResponse({"status": "ok", "database": "ok", "role": runtime.role})


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


_INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>aman</title></head><body><h1>aman</h1>
<p>Secure WhatsApp Business chatbot platform.</p>
<ul><li><a href="/healthz">/healthz</a></li><li><a href="/metrics">/metrics</a></li>
<li>POST /webhook (signed Cloud API webhooks)</li></ul></body></html>"""


async def index(request: Request) -> Response:
    return HTMLResponse(_INDEX)
