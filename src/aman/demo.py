"""The embedded demo stack: Cloud API simulator + aman in one process, no credentials needed.

``DemoStack`` is what ``aman demo``, ``aman chat`` and the end-to-end tests
use: it generates throw-away secrets (the master key goes to a 0600 file),
binds aman's port first so the simulator knows where to deliver webhooks,
then starts the simulator and aman's runtime against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from aman.app import create_app
from aman.config import Secret, Settings
from aman.engine.bot import Bot
from aman.engine.builtin import load_builtin_bot
from aman.engine.router import BotRouter
from aman.monitor.config import MonitorSettings
from aman.runtime import Runtime
from aman.security.crypto import generate_master_key
from aman.simulator import Simulator, SimulatorConfig

__all__ = ["DemoStack", "demo_settings", "run_chat", "run_demo"]

DEMO_PHONE_NUMBER_ID = "106540352242922"
# The demo's second business number (the bank bot), display number included.
DEMO_BANK_NUMBER = ("106540352242933", "6281100000002")


def _master_key_file(data_dir: Path) -> str:
    """Load or create the demo master key in a file only the owner can read."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "master.key"
    if path.exists():
        return path.read_text().strip()
    key = generate_master_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def demo_settings(data_dir: Path, *, bot: str, **overrides: Any) -> Settings:
    """Settings with generated secrets and a SQLite file under ``data_dir``."""
    base = Settings(
        database_url=f"sqlite:///{data_dir / 'aman.db'}",
        app_secret=Secret(secrets.token_hex(32)),
        verify_token=Secret(secrets.token_urlsafe(24)),
        access_token=Secret("demo-" + secrets.token_urlsafe(32)),
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        bot=bot,
        master_key=Secret(_master_key_file(data_dir)),
        poll_seconds=0.5,
        worker_stale_seconds=5.0,
    )
    return base.with_(**overrides) if overrides else base


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the embedding program owns signals."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@dataclass
class DemoStack:
    """Simulator + aman on loopback; use as ``async with DemoStack(...) as stack``."""

    data_dir: Path
    bot: str | Bot = "shop"
    host: str = "127.0.0.1"
    port: int = 0
    statuses: bool = True
    settings_overrides: dict[str, Any] | None = None
    simulator_options: dict[str, Any] | None = None
    # More business numbers: phone_number_id -> (display number, bot name).
    extra_bots: dict[str, tuple[str, str]] | None = None
    monitor_settings: MonitorSettings | None = None

    async def __aenter__(self) -> DemoStack:
        self._sock = _bind(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        name = self.bot if isinstance(self.bot, str) else self.bot.name
        settings = demo_settings(self.data_dir, bot=name, **(self.settings_overrides or {}))
        if settings.app_secret is None or settings.access_token is None:
            raise ValueError("the demo needs an app secret and an access token")
        self.simulator = Simulator(
            SimulatorConfig(
                access_token=settings.access_token.reveal(),
                app_secret=settings.app_secret.reveal(),
                webhook_url=f"{self.url}/webhook",
                phone_number_id=settings.phone_number_id,
                statuses=self.statuses,
                extra_numbers={pnid: disp for pnid, (disp, _) in (self.extra_bots or {}).items()},
                **(self.simulator_options or {}),
            )
        )
        await self.simulator.start(self.host, 0)
        numbers = (
            (settings.phone_number_id, name),
            *((pnid, f"{b} (+{disp})") for pnid, (disp, b) in (self.extra_bots or {}).items()),
        )
        demo = {"demo_simulator_url": self.simulator.base_url or "", "demo_numbers": numbers}
        if "public_url" not in (self.settings_overrides or {}):
            demo["public_url"] = self.url  # the console's origin (cookie and CSRF checks)
        self.settings = settings.with_(graph_api_url=self.simulator.graph_url, **demo)
        default = load_builtin_bot(self.bot) if isinstance(self.bot, str) else self.bot
        others = {pnid: load_builtin_bot(b) for pnid, (_, b) in (self.extra_bots or {}).items()}
        self.runtime = Runtime(
            self.settings,
            BotRouter(default, others) if others else default,
            monitor_settings=self.monitor_settings,
        )
        config = uvicorn.Config(
            create_app(self.runtime),
            lifespan="on",
            access_log=False,
            log_level="warning",
            loop="asyncio",
            http="httptools",
        )
        self.server = _QuietServer(config)
        self._serve = asyncio.create_task(self.server.serve(sockets=[self._sock]))
        while not self.server.started:
            if self._serve.done():
                await self._serve  # surfaces the start-up error
            await asyncio.sleep(0.02)
        return self

    @property
    def phone(self) -> Any:
        return self.simulator.phone

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._serve, 40)
        await self.simulator.stop()
        self._sock.close()


def run_demo(*, host: str, port: int, data_dir: str) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        bank_pnid, bank_display = DEMO_BANK_NUMBER
        async with DemoStack(
            Path(data_dir),
            bot="shop",
            host=host,
            port=port,
            extra_bots={bank_pnid: (bank_display, "bank")},
        ) as stack:
            print("aman demo running: shop bot on +6281100000001, bank bot on +" + bank_display)
            from aman.console.bootstrap import demo_admin_hint

            print(f"  console:    {stack.url}/")
            print("              " + demo_admin_hint(stack.runtime.accounts, stack.settings.tenant,
                                                     stack.url))
            print(f"  phone:      {stack.url}/simulator   (talk to the bots as a customer)")
            print(f"  health:     {stack.url}/healthz   metrics: {stack.url}/metrics")
            print(f"  simulator:  {stack.simulator.base_url}/_sim/stats")
            print(
                f"  talk to it: curl -X POST {stack.simulator.base_url}/_sim/inbound "
                "-H 'content-type: application/json' "
                '-d \'{"from": "6281234567890", "text": "halo"}\''
            )
            print(f'  bank bot:   add "to": "{bank_pnid}" to that JSON')
            print(f"  replies:    {stack.simulator.base_url}/_sim/messages")
            print("  or in a terminal: aman chat --bot shop   (Ctrl-C stops the demo)", flush=True)
            await stop.wait()

    asyncio.run(main())
    return 0


def _render(body: dict[str, Any]) -> tuple[str, list[tuple[str, str, str]]]:
    """Text to show for a bot message and its choices as (id, title, kind)."""
    kind = body.get("type")
    if kind == "text":
        return str(body.get("text", {}).get("body", "")), []
    if kind == "interactive":
        inter = body.get("interactive", {})
        text = str(inter.get("body", {}).get("text", ""))
        action = inter.get("action", {})
        if inter.get("type") == "button":
            return text, [
                (b["reply"]["id"], b["reply"]["title"], "button") for b in action.get("buttons", [])
            ]
        if inter.get("type") == "list":
            rows = [
                (r["id"], r["title"], "list")
                for s in action.get("sections", [])
                for r in s.get("rows", [])
            ]
            return text, rows
    if kind == "template":
        return f"[template {body.get('template', {}).get('name')}]", []
    return f"[{kind} message]", []


def run_chat(*, bot: str, wa_id: str, name: str) -> int:
    """Interactive terminal chat; numbers pick buttons/list rows; 'quit' ends."""
    import tempfile

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="aman-chat-") as tmp:
            async with DemoStack(Path(tmp), bot=bot) as stack:
                print(f"Chatting with the {bot} bot as {wa_id[:5]}… (type 'quit' to leave)")
                record = stack.simulator.state
                seen = 0  # index of the next send to show (indices go on past the cap)
                choices: list[tuple[str, str, str]] = []
                loop = asyncio.get_running_loop()
                while True:
                    line = await loop.run_in_executor(None, sys.stdin.readline)
                    if not line or line.strip().lower() in {"quit", "exit"}:
                        return
                    line = line.strip()
                    if not line:
                        continue
                    if line.isdigit() and 1 <= int(line) <= len(choices):
                        rid, title, kind = choices[int(line) - 1]
                        await stack.phone.send_reply(wa_id, rid, title, kind=kind)
                    else:
                        await stack.phone.send_text(wa_id, line, name=name)
                    choices = []
                    # Wait briefly for the bot's replies to arrive at the simulator.
                    deadline = loop.time() + 3.0
                    while loop.time() < deadline:
                        await asyncio.sleep(0.05)
                        if record.accepted > seen and loop.time() > deadline - 2.7:
                            break
                    await asyncio.sleep(0.2)
                    for _, msg in record.sent_since(seen):
                        text, opts = _render(msg.body)
                        print(f"bot> {text}")
                        for i, (_id, title, _k) in enumerate(opts, start=len(choices) + 1):
                            print(f"     [{i}] {title}")
                        choices.extend(opts)
                    seen = record.accepted

    asyncio.run(main())
    return 0
