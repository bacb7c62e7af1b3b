"""The ASGI application: ``/webhook`` on a lean path, everything else on Starlette.

``create_app(runtime)`` returns an ASGI callable whose lifespan starts and
stops the runtime's background roles.  Health and metrics live in
``aman.api.health``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from aman.api.health import healthz, metrics_endpoint
from aman.api.security_headers import BodyLimitMiddleware, SecurityHeadersMiddleware
from aman.api.v1.app import create_api
from aman.api.v1.problems import problem_response
from aman.console import console_routes
from aman.runtime import Runtime
from aman.verify.routes import verify_page
from aman.webhook.routes import Receive, Scope, Send, WebhookApp

__all__ = ["create_app"]


class _Dispatch:
    """Send ``/webhook`` straight to the webhook app, the rest to Starlette."""

    def __init__(self, webhook: WebhookApp | None, rest: Starlette) -> None:
        self._webhook = webhook
        self._rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._webhook is not None
            and scope["type"] == "http"
            and scope["path"] in ("/webhook", "/webhook/")
        ):
            await self._webhook(scope, receive, send)
            return
        await self._rest(scope, receive, send)


def create_app(runtime: Runtime) -> _Dispatch:
    s = runtime.settings

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await runtime.start()
        # Everything built at start-up (models, compiled SQL, the bot) lives as long as the
        # process: move it out of the collector's generations so that full collections
        # under load walk only what requests allocate (shorter pauses on the hot path).
        gc.collect()
        gc.freeze()
        try:
            yield {"runtime": runtime}
        finally:
            await runtime.stop()

    api = create_api(runtime)
    spec = api.openapi()

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    async def not_found(request: Request, exc: Exception) -> Response:
        # A path the API mount cannot match (e.g. a newline in it) is still an API 404.
        if request.url.path.startswith("/api/"):
            return problem_response(404, "not found")
        return PlainTextResponse("Not Found", 404)

    rest = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint),
            Route("/openapi.json", openapi_json),
            Mount("/api/v1", app=api),
            Route("/verify/{token}", verify_page, methods=["GET", "POST"]),
            *console_routes(s),
        ],
        middleware=[Middleware(SecurityHeadersMiddleware), Middleware(BodyLimitMiddleware)],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )
    rest.state.runtime = runtime
    webhook = None
    if runtime.role in ("all", "web"):
        if s.app_secret is None or s.verify_token is None:
            raise ValueError("AMAN_APP_SECRET and AMAN_VERIFY_TOKEN are required for the web role")
        webhook = _LazyWebhook(
            runtime, s.app_secret.reveal().encode(), s.verify_token.reveal().encode(), s.max_body
        )
    return _Dispatch(webhook, rest)  # type: ignore[arg-type]


class _LazyWebhook:
    """Builds the WebhookApp on first request, after the lifespan created the ingestor."""

    def __init__(self, runtime: Runtime, secret: bytes, token: bytes, max_body: int) -> None:
        self._runtime = runtime
        self._secret = secret
        self._token = token
        self._max_body = max_body
        self._app: WebhookApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:
            ingestor = self._runtime.ingestor
            if ingestor is None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "http.response.body", "body": b"starting"})
                return
            app = self._app = WebhookApp(
                app_secret=self._secret,
                verify_token=self._token,
                ingestor=ingestor,
                max_body=self._max_body,
                on_bad_signature=self._runtime.monitor.signature_failure,
            )
        await app(scope, receive, send)
