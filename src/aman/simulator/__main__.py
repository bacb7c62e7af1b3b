"""Command line entry point: serve the Cloud API simulator until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

import orjson

from aman.simulator.config import SimulatorConfig
from aman.simulator.errors import SimulatorConfigError
from aman.simulator.faults import Faults
from aman.simulator.server import Simulator
from aman.simulator.state import DEFAULT_MAX_MESSAGES

TOKEN_ENV = "AMAN_SIM_ACCESS_TOKEN"  # noqa: S105 - an env var name  # nosec B105
SECRET_ENV = "AMAN_SIM_APP_SECRET"  # noqa: S105 - an env var name  # nosec B105


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated numbers") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m aman.simulator",
        description="Local fake of the WhatsApp Cloud API. Prints the Graph base URL.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090, help="0 picks a free port")
    parser.add_argument("--webhook-url", required=True)
    parser.add_argument("--app-secret", help=f"or set {SECRET_ENV}")
    parser.add_argument("--access-token", help=f"or set {TOKEN_ENV}")
    parser.add_argument("--phone-number-id", default="106540352242922")
    parser.add_argument("--display-phone-number", default="6281100000001")
    parser.add_argument("--waba-id", default="102290129340398")
    parser.add_argument("--no-statuses", action="store_true", help="emit no status webhooks")
    parser.add_argument("--status-delays", type=_floats, default=(0.01, 0.05, 0.2),
                        help="sent,delivered,read delays in seconds")
    parser.add_argument("--retry-delays", type=_floats, default=(0.5, 1.0, 2.0, 5.0),
                        help="webhook re-delivery delays in seconds")
    parser.add_argument("--no-window", action="store_true",
                        help="do not enforce the 24 h customer-service window")
    parser.add_argument("--unknown-number", action="append", default=[],
                        help="a wa_id that is not on WhatsApp (repeatable)")
    parser.add_argument(
        "--max-messages",
        type=int,
        default=DEFAULT_MAX_MESSAGES,
        metavar="N",
        help="keep only the newest N sends in memory for /_sim/messages "
        f"(default {DEFAULT_MAX_MESSAGES:,}; counters count all)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default="{}", help='JSON, e.g. {"rate_429": 0.1}')
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """Turn parsed arguments (plus secret env vars) into a SimulatorConfig."""
    token = args.access_token or os.environ.get(TOKEN_ENV, "")
    secret = args.app_secret or os.environ.get(SECRET_ENV, "")
    try:
        fault_changes = orjson.loads(args.faults)
    except orjson.JSONDecodeError:
        raise SimulatorConfigError("--faults must be a JSON object") from None
    if not isinstance(fault_changes, dict):
        raise SimulatorConfigError("--faults must be a JSON object")
    if len(args.status_delays) != 3:
        raise SimulatorConfigError("--status-delays needs three numbers")
    d0, d1, d2 = args.status_delays
    return SimulatorConfig(
        access_token=token,
        app_secret=secret,
        webhook_url=args.webhook_url,
        phone_number_id=args.phone_number_id,
        display_phone_number=args.display_phone_number,
        waba_id=args.waba_id,
        statuses=not args.no_statuses,
        status_delays=(d0, d1, d2),
        webhook_retry_delays=args.retry_delays,
        enforce_window=not args.no_window,
        unknown_numbers=frozenset(args.unknown_number),
        seed=args.seed,
        faults=Faults().updated(fault_changes),
        max_messages=args.max_messages,
    )


async def serve(config: SimulatorConfig, host: str, port: int) -> None:
    """Run until SIGTERM/SIGINT, printing the Graph base URL once listening."""
    sim = Simulator(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await sim.start(host, port)
    try:
        print(sim.graph_url, flush=True)
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(argv)
    try:
        config = build_config(args)
    except SimulatorConfigError as err:
        print(f"aman.simulator: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as err:
        print(f"aman.simulator: cannot serve on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
