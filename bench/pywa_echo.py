"""The peer under test: the same echo bot written with pywa 4.5 (async client + FastAPI).

Idiomatic pywa: ``pywa_async.WhatsApp`` mounted on a FastAPI app, signature
validation with the app secret, one ``on_message(filters.text)`` handler that
replies with the same text (optionally marking the message read first), served
by uvicorn with uvloop + httptools like aman.  pywa 4.5 has no base-URL option,
so the Graph client's base URL is pointed at the simulator after construction,
and replies address the user by ``wa_id`` (the simulator, like most Cloud API
set-ups today, wants ``to``).  Run: ``BENCH_APP_SECRET=... BENCH_ACCESS_TOKEN=...
python -m bench.pywa_echo --port 8082 --graph-url http://127.0.0.1:9090/v23.0``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import uvicorn
from fastapi import FastAPI
from pywa.utils import UserIdentifier
from pywa_async import WhatsApp, filters, types

SECRET_ENV = "BENCH_APP_SECRET"
TOKEN_ENV = "BENCH_ACCESS_TOKEN"
VERIFY_ENV = "BENCH_VERIFY_TOKEN"


def build_app(
    *, phone_id: str, token: str, app_secret: str, verify_token: str, graph_url: str,
    mark_read: bool,
) -> FastAPI:
    """FastAPI app with pywa's webhook routes at /webhook and the echo handler."""
    app = FastAPI()
    wa = WhatsApp(
        phone_id=phone_id,
        token=token,
        server=app,
        webhook_endpoint="/webhook",
        verify_token=verify_token,
        app_secret=app_secret,
        validate_updates=True,
        user_identifier_priority=(UserIdentifier.WA_ID, UserIdentifier.BSUID,
                                  UserIdentifier.PARENT_BSUID),
    )
    wa.api._session.base_url = graph_url  # no public option in pywa 4.5

    @wa.on_message(filters.text)
    async def echo(_: WhatsApp, msg: types.Message) -> None:
        if mark_read:
            await msg.mark_as_read()
        await msg.reply_text(msg.text or "")

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pywa_echo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--graph-url", required=True, help="simulator Graph base incl. version")
    parser.add_argument("--phone-number-id", default="106540352242922")
    parser.add_argument("--mark-read", action="store_true", help="mark each message read first")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    token = os.environ.get(TOKEN_ENV, "")
    if not secret or not token:
        print(f"pywa_echo: set {SECRET_ENV} and {TOKEN_ENV}", file=sys.stderr)
        return 2
    if not args.graph_url.startswith(("http://127.0.0.1", "http://localhost")):
        print("pywa_echo: the benchmark only talks to the loopback interface", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    app = build_app(
        phone_id=args.phone_number_id, token=token, app_secret=secret,
        verify_token=os.environ.get(VERIFY_ENV, "bench-verify"), graph_url=args.graph_url,
        mark_read=args.mark_read,
    )
    uvicorn.run(
        app, host=args.host, port=args.port, loop="uvloop", http="httptools",
        lifespan="on", access_log=False, log_level="warning", server_header=False,
        backlog=4096,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
