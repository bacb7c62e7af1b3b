"""Small numeric helpers: latency summaries, CPU meters for processes and cores."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CoreMeter", "latency_summary", "machine_facts", "rate_of"]

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def latency_summary(seconds: Iterable[float]) -> dict[str, float | int | None]:
    """p50/p90/p99/p99.9/max/mean in milliseconds of the finite values (None when empty)."""
    arr = np.asarray([s for s in seconds if s == s], dtype=np.float64) * 1000.0
    if arr.size == 0:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "p999": None, "max": None,
                "mean": None}
    p50, p90, p99, p999 = np.percentile(arr, [50, 90, 99, 99.9])
    return {"count": int(arr.size), "p50": round(float(p50), 3), "p90": round(float(p90), 3),
            "p99": round(float(p99), 3), "p999": round(float(p999), 3),
            "max": round(float(arr.max()), 3), "mean": round(float(arr.mean()), 3)}


def rate_of(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def _core_jiffies() -> dict[int, tuple[int, int]]:
    """Per core: (busy, total) jiffies from /proc/stat."""
    out: dict[int, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *vals = line.split()
            nums = [int(v) for v in vals[:8]]
            idle = nums[3] + nums[4]
            out[int(name[3:])] = (sum(nums) - idle, sum(nums))
    return out


@dataclass
class CoreMeter:
    """Busy fraction of every core between ``start()`` and ``stop()``."""

    _t0: dict[int, tuple[int, int]] | None = None

    def start(self) -> None:
        self._t0 = _core_jiffies()

    def stop(self) -> dict[int, float]:
        t1 = _core_jiffies()
        t0 = self._t0 or t1
        busy: dict[int, float] = {}
        for core, (b1, tot1) in t1.items():
            b0, tot0 = t0.get(core, (b1, tot1))
            busy[core] = round((b1 - b0) / (tot1 - tot0), 3) if tot1 > tot0 else 0.0
        return busy


def machine_facts() -> dict[str, str | int | float]:
    """nproc, CPU model, Python version, kernel and load average at this moment."""
    import platform

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load1, load5, load15 = os.getloadavg()
    return {
        "nproc": os.cpu_count() or 0,
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_avg_1_5_15": f"{load1:.2f} {load5:.2f} {load15:.2f}",
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def fraction(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def share_within(latencies: Sequence[float], limit: float, total: int) -> float:
    """Share of ``total`` whose latency (seconds) is finite and at most ``limit``."""
    ok = sum(1 for x in latencies if x == x and x <= limit)
    return fraction(ok, total)
