"""Run the ASGI app under uvicorn (uvloop + httptools), one process per call."""

from __future__ import annotations

import asyncio

import uvicorn

from aman.app import create_app
from aman.config import Settings
from aman.engine.builtin import load_builtin_bot
from aman.runtime import Runtime

__all__ = ["build_server", "serve"]


def build_server(settings: Settings, *, host: str, port: int, role: str = "all") -> uvicorn.Server:
    runtime = Runtime(settings, load_builtin_bot(settings.bot), role=role)
    config = uvicorn.Config(
        create_app(runtime),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=30,
        backlog=4096,
    )
    return uvicorn.Server(config)


def serve(settings: Settings, *, host: str, port: int, role: str = "all") -> int:
    server = build_server(settings, host=host, port=port, role=role)
    print(f"aman {role} listening on http://{host}:{port} (webhook: /webhook)", flush=True)
    asyncio.run(server.serve())
    return 0
