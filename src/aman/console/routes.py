"""The console's routes: the page shell, its static files, and the demo's simulated phone.

Everything the browser runs ships inside this package (``static/``): no CDN,
nothing fetched at run time, no inline script or style (the CSP forbids both).
The page shell is the same for every screen; the screens are drawn by the
console's JavaScript from the REST API under ``/api/v1``.  ``/simulator`` and
its proxy exist only when the server runs against the demo's simulator.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from aman.config import Settings
from aman.console.simproxy import SimulatorProxy

__all__ = ["STATIC_DIR", "console_routes"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
_PAGES = {
    "console": Path(__file__).resolve().parent / "pages" / "index.html",
    "simulator": Path(__file__).resolve().parent / "pages" / "simulator.html",
}


class _Static(StaticFiles):
    """Package files; browsers revalidate them (ETag) so an upgrade shows at once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def revalidate(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers.append((b"cache-control", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await super().__call__(scope, receive, revalidate)  # type: ignore[arg-type]


def _page(name: str) -> Route:
    body = _PAGES[name].read_bytes()

    async def page(request: Request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    return Route("/", page) if name == "console" else Route(f"/{name}", page)


def console_routes(settings: Settings) -> list[BaseRoute]:
    """Routes to add to the outer app: ``/``, ``/enrol/{token}``, ``/static``, demo phone."""
    shell = _page("console")
    routes: list[BaseRoute] = [
        shell,
        Route("/enrol/{token}", shell.endpoint),
        Mount("/static", app=_Static(directory=STATIC_DIR), name="static"),
    ]
    if settings.demo_simulator_url:
        proxy = SimulatorProxy(settings.demo_simulator_url, dict(settings.demo_numbers))
        routes += [
            _page("simulator"),
            Route("/simulator/api/numbers", proxy.numbers_endpoint),
            Route("/simulator/api/send", proxy.send, methods=["POST"]),
            Route("/simulator/api/messages", proxy.messages),
        ]
    return routes
