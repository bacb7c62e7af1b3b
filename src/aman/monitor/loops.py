"""The monitor's background loops: flush alerts, reload controls, train and score the forest.

Each loop survives database outages (it logs the exception type and tries again at
its next tick) and ends when ``stop`` is set.  Blocking work runs in the executor
handed in, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from aman.aio import sleep_or_stop

if TYPE_CHECKING:
    from aman.monitor.monitor import Monitor

__all__ = ["controls_loop", "flush_loop", "forest_loop"]

log = logging.getLogger(__name__)
SWEEP_EVERY = 30.0  # seconds between sweeps of idle detector state


async def flush_loop(monitor: Monitor, stop: asyncio.Event, executor: Executor) -> None:
    loop = asyncio.get_running_loop()
    last_sweep = loop.time()
    while not stop.is_set():
        await sleep_or_stop(stop, monitor.settings.flush_seconds)
        try:
            monitor.push(await loop.run_in_executor(executor, monitor.flush))
            if loop.time() - last_sweep > SWEEP_EVERY:
                last_sweep = loop.time()
                await loop.run_in_executor(executor, monitor.sweep)
        except Exception as exc:  # noqa: BLE001 - keep monitoring through DB outages
            log.warning("monitor flush failed: %s; will retry", type(exc).__name__)


async def controls_loop(monitor: Monitor, stop: asyncio.Event, executor: Executor) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        await sleep_or_stop(stop, monitor.settings.controls_refresh_seconds)
        try:
            await loop.run_in_executor(executor, monitor.controls.load)
        except Exception as exc:  # noqa: BLE001
            log.warning("monitor: reloading controls failed: %s", type(exc).__name__)


async def forest_loop(monitor: Monitor, stop: asyncio.Event, executor: Executor) -> None:
    """Score every ``score_seconds``; retrain every ``retrain_seconds`` (or without a model)."""
    loop = asyncio.get_running_loop()
    s = monitor.settings
    last_train = loop.time()
    while not stop.is_set():
        await sleep_or_stop(stop, s.score_seconds)
        if stop.is_set():
            return
        retrain = loop.time() - last_train >= s.retrain_seconds
        for tenant in monitor.tenants_seen():
            try:
                if retrain or tenant not in monitor.models:
                    await loop.run_in_executor(executor, monitor.train, tenant)
                else:
                    await loop.run_in_executor(executor, monitor.score, tenant)
            except Exception as exc:  # noqa: BLE001
                log.warning("monitor: forest for a tenant failed: %s", type(exc).__name__)
        if retrain:
            last_train = loop.time()
