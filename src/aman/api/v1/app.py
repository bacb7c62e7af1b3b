"""Assemble the v1 API: routers, problem handlers, OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from aman import __version__
from aman.api.v1 import (
    admin,
    audit,
    auth,
    campaigns,
    contacts,
    conversations,
    events,
    flows,
    nlu,
    privacy,
    security,
)
from aman.api.v1.problems import PROBLEM_CODES, PROBLEM_RESPONSE, install_problem_handlers
from aman.runtime import Runtime

__all__ = ["create_api", "openapi_document"]


def create_api(runtime: Runtime) -> FastAPI:
    api = FastAPI(
        title="aman API",
        version=__version__,
        description=(
            "REST API of aman, the secure WhatsApp Business chatbot platform. "
            "Authenticate with `Authorization: Bearer aman_...` (API token) or a console "
            "session cookie plus `X-CSRF-Token` for unsafe methods. Errors are RFC 9457 "
            "problem documents."
        ),
        openapi_url=None,  # served at /openapi.json by the outer app
        docs_url=None,
        redoc_url=None,
        servers=[{"url": "/api/v1"}],
        responses={
            code: PROBLEM_RESPONSE | {"description": text} for code, text in PROBLEM_CODES.items()
        },
    )
    api.state.runtime = runtime
    install_problem_handlers(api)
    for module in (
        auth,
        conversations,
        audit,
        admin,
        security,
        campaigns,
        contacts,
        events,
        flows,
        nlu,
        privacy,
    ):
        api.include_router(module.router)
    return api


def openapi_document(api: FastAPI) -> dict[str, Any]:
    return api.openapi()
