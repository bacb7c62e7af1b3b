"""Run the ASGI app under uvicorn (uvloop + httptools), one process per call.

SIGTERM/SIGINT start a graceful shutdown: stop accepting, let the runtime stop
claiming, finish in-flight sends, release claims, then exit 0.  A second
signal forces the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator

import uvicorn
import uvloop

from aman.app import create_app
from aman.config import Settings
from aman.engine.builtin import load_builtin_bot
from aman.runtime import Runtime

__all__ = ["GracefulServer", "build_server", "serve"]


class GracefulServer(uvicorn.Server):
    """uvicorn whose signal handling drains and then exits normally (no re-raise)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def build_server(settings: Settings, *, host: str, port: int, role: str = "all") -> GracefulServer:
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
    return GracefulServer(config)


def serve(settings: Settings, *, host: str, port: int, role: str = "all") -> int:
    server = build_server(settings, host=host, port=port, role=role)
    print(f"aman {role} listening on http://{host}:{port} (webhook: /webhook)", flush=True)
    uvloop.run(server.serve())  # Server.serve() alone would run on the default loop
    return 0
