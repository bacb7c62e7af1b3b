"""Tests for the simulator's command line, configuration checks and payload helpers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from aman.simulator import (
    Faults,
    GraphError,
    Simulator,
    SimulatorConfig,
    SimulatorConfigError,
    SimulatorError,
    TemplateSpec,
    WebhookReceiver,
    template_registry,
)
from aman.simulator.__main__ import build_config, parse_args
from aman.simulator.payloads import encode, new_wamid, sign, user_id_for

SECRET = "cli-secret"
TOKEN = "cli-token"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def config(**overrides: Any) -> SimulatorConfig:
    base: dict[str, Any] = {"access_token": TOKEN, "app_secret": SECRET,
                            "webhook_url": "http://127.0.0.1:9/webhook"}
    base.update(overrides)
    return SimulatorConfig(**base)


@pytest.mark.anyio
async def test_cli_serves_until_sigterm() -> None:
    receiver = WebhookReceiver(SECRET)
    url = await receiver.start()
    env = {**os.environ, "AMAN_SIM_ACCESS_TOKEN": TOKEN}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aman.simulator", "--port", "0", "--webhook-url", url,
        "--app-secret", SECRET, "--no-window", "--status-delays", "0,0,0",
        "--faults", '{"latency_ms": 1}',
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        graph = line.decode().strip()
        assert graph.startswith("http://127.0.0.1:") and graph.endswith("/v23.0")
        body = {"messaging_product": "whatsapp", "to": "6281234567890", "type": "text",
                "text": {"body": "Halo"}, "biz_opaque_callback_data": "cli-1"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{graph}/106540352242922/messages", json=body,
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 200
            async with session.get(graph.rsplit("/", 1)[0] + "/_sim/faults") as resp:
                assert (await resp.json())["latency_ms"] == 1.0
        statuses = await receiver.wait_for_statuses(3, timeout=10)
        assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
        assert statuses[0]["biz_opaque_callback_data"] == "cli-1"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await receiver.stop()


def test_cli_rejects_bad_arguments() -> None:
    for extra in (["--faults", "[1]"], ["--faults", '{"rate_429": 3}'], ["--faults", "{"],
                  ["--status-delays", "1,2"]):
        args = parse_args(["--webhook-url", "http://127.0.0.1:1/w", "--app-secret", "s",
                           "--access-token", "t", *extra])
        with pytest.raises(SimulatorConfigError):
            build_config(args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAN_SIM_")}
    done = subprocess.run(
        [sys.executable, "-m", "aman.simulator", "--webhook-url", "http://127.0.0.1:1/w"],
        capture_output=True, text=True, env=env, timeout=20, check=False,
    )
    assert done.returncode == 2
    assert "access_token" in done.stderr
    args = parse_args(["--webhook-url", "http://127.0.0.1:1/w", "--app-secret", "s",
                       "--access-token", "t", "--no-statuses", "--unknown-number",
                       "6281200000000", "--faults", '{"rate_5xx": 0.25}'])
    built = build_config(args)
    assert built.statuses is False
    assert built.unknown_numbers == frozenset({"6281200000000"})
    assert built.faults.rate_5xx == 0.25
    assert built.max_messages == 100_000
    base = ["--webhook-url", "http://127.0.0.1:1/w", "--app-secret", "s", "--access-token", "t"]
    assert build_config(parse_args([*base, "--max-messages", "50"])).max_messages == 50
    for bad in ("0", "-3"):
        with pytest.raises(SimulatorConfigError, match="max_messages"):
            build_config(parse_args([*base, "--max-messages", bad]))
    with pytest.raises(SystemExit):
        parse_args([*base, "--max-messages", "many"])


def test_config_validation() -> None:
    bad: list[dict[str, Any]] = [
        {"access_token": ""}, {"app_secret": ""}, {"webhook_url": "ftp://x"},
        {"phone_number_id": "12a"}, {"status_delays": (0.1, 0.2)},
        {"status_delays": (0.1, -1.0, 0.2)}, {"webhook_retry_delays": (float("nan"),)},
        {"status_kinds": ("sent", "sent")}, {"status_kinds": ("seen",)},
        {"status_batch_max": 0}, {"webhook_timeout_s": 0.0},
        {"unknown_numbers": frozenset({"+62812"})},
        {"max_messages": 0}, {"max_messages": True}, {"max_messages": 2.5},
        {"max_messages": "10"},
    ]
    for overrides in bad:
        with pytest.raises(SimulatorConfigError):
            config(**overrides)
    shown = repr(config())
    assert TOKEN not in shown and SECRET not in shown


def test_faults_validation() -> None:
    assert Faults().updated({"latency_ms": 5}).latency_ms == 5.0
    assert Faults().updated({"timeout_accepts": True}).timeout_accepts is True
    for changes in ({"rate_429": 1.01}, {"rate_429": -0.1}, {"nope": 1}, {"latency_ms": True},
                    {"retry_after_s": 1.5}, {"timeout_accepts": "yes"},
                    {"latency_ms": float("inf")}):
        with pytest.raises(SimulatorConfigError):
            Faults().updated(changes)
    with pytest.raises(SimulatorConfigError):
        Faults(rate_5xx=2.0)
    assert Faults(rate_429=0.5).to_dict()["rate_429"] == 0.5


def test_template_registry_checks() -> None:
    with pytest.raises(SimulatorConfigError):
        template_registry(TemplateSpec("a", "id"), TemplateSpec("a", "id"))
    with pytest.raises(SimulatorConfigError):
        TemplateSpec("a", "id", body_params=-1)
    with pytest.raises(SimulatorConfigError):
        TemplateSpec("", "id")
    registry = template_registry(TemplateSpec("a", "id"), TemplateSpec("a", "en_US"))
    assert set(registry) == {("a", "id"), ("a", "en_US")}


def test_payload_helpers() -> None:
    ids = {new_wamid("6281234567890") for _ in range(5000)}
    assert len(ids) == 5000
    assert all(i.startswith("wamid.HBg") for i in ids)
    assert user_id_for("6281234567890").startswith("ID.")
    assert user_id_for("6281234567890") == user_id_for("6281234567890")
    assert user_id_for("14155550100").startswith("US.")
    assert user_id_for("99912345678").startswith("ZZ.")
    body = encode({"text": "é"})
    assert body == b'{"text":"\\u00e9"}'
    assert sign(b"k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()


def test_graph_error_shape() -> None:
    err = GraphError(130429, "slow down", http_status=429, retry_after_s=3)
    body = err.body()["error"]
    assert body["message"] == "(#130429) Rate limit hit"
    assert body["error_data"] == {"messaging_product": "whatsapp", "details": "slow down"}
    assert body["fbtrace_id"] != err.body()["error"]["fbtrace_id"]
    assert "error_data" not in GraphError(190, http_status=401).body()["error"]
    assert isinstance(err, SimulatorError)


@pytest.mark.anyio
async def test_simulator_lifecycle() -> None:
    sim = Simulator(config())
    with pytest.raises(SimulatorError):
        _ = sim.graph_url
    base = await sim.start()
    assert sim.graph_url == f"{base}/v23.0"
    with pytest.raises(SimulatorError):
        await sim.start()
    await sim.stop()
    await sim.stop()
    assert sim.base_url is None
