"""Start, watch and stop the processes under test, each pinned to a core with ``taskset -c``.

``ProcessGroup`` remembers every process it started and stops all of them
(SIGTERM, then SIGKILL after a timeout) when the ``with`` block ends, also on
Ctrl-C and errors.  Every server listens on 127.0.0.1 only.  CPU time is read
from ``/proc/<pid>/stat`` (all threads of the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bench.workload import PHONE_NUMBER_ID

__all__ = [
    "HOST",
    "BenchSecrets",
    "Proc",
    "ProcessGroup",
    "count_inbox_rows",
    "free_port",
    "niceness",
]

HOST = "127.0.0.1"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
VENV_BIN = Path(sys.executable).parent


class BenchError(Exception):
    """A process under test could not be started or did not become ready."""


@dataclass(frozen=True)
class BenchSecrets:
    """Throw-away secrets for one benchmark run (never printed)."""

    app_secret: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    verify_token: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    access_token: str = field(default_factory=lambda: "bench-" + secrets.token_urlsafe(24),
                              repr=False)
    master_key: str = field(default="", repr=False)

    @classmethod
    def generate(cls) -> BenchSecrets:
        from aman.security.crypto import generate_master_key

        return cls(master_key=generate_master_key())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """One started process."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the whole process so far (0.0 once it is gone)."""
        try:
            raw = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = raw[raw.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 45.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit code."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode


class ProcessGroup:
    """Starts pinned processes; stops every one of them on exit."""

    def __init__(self, log_dir: Path, *, server_cpu: int, tool_cpu: int) -> None:
        self.log_dir = log_dir
        self.server_cpu = server_cpu
        self.tool_cpu = tool_cpu
        self._procs: list[Proc] = []
        self._taskset = shutil.which("taskset")
        log_dir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()

    def stop(self, proc: Proc) -> int | None:
        code = proc.stop()
        if proc in self._procs:
            self._procs.remove(proc)
        return code

    def pinned(self, cpu: int | None, argv: list[str]) -> list[str]:
        """``argv`` pinned to ``cpu`` (None: not pinned, the kernel spreads the process).

        No ``nice`` prefix: children inherit the niceness ``niceness()`` gave this process
        (a prefix on top of it would apply the niceness twice)."""
        if cpu is None:
            return argv
        if self._taskset is None:
            raise BenchError("taskset (util-linux) is required to pin processes to cores")
        return [self._taskset, "-c", str(cpu), *argv]

    def start(self, name: str, argv: list[str], *, cpu: int | None, port: int,
              env: dict[str, str] | None = None) -> Proc:
        log_path = self.log_dir / f"{name}.log"
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["PYTHONUNBUFFERED"] = "1"
        with log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} start {name} ===\n".encode())
            log.flush()
            popen = subprocess.Popen(
                self.pinned(cpu, argv), stdout=log, stderr=subprocess.STDOUT, env=full_env,
                stdin=subprocess.DEVNULL,
            )
        proc = Proc(name, popen, port, log_path)
        self._procs.append(proc)
        return proc

    # -- the processes of the benchmark -------------------------------------
    def start_aman(self, name: str, s: BenchSecrets, *, role: str, db_path: Path | None = None,
                   graph_url: str, mark_read: bool, port: int = 0,
                   database_url: str | None = None, pinned: bool = True) -> Proc:
        """``aman serve --role role`` on SQLite file ``db_path`` or on ``database_url``."""
        if (db_path is None) == (database_url is None):
            raise ValueError("give exactly one of db_path and database_url")
        port = port or free_port()
        env = {
            "AMAN_DATABASE_URL": database_url or f"sqlite:///{db_path}",
            "AMAN_APP_SECRET": s.app_secret,
            "AMAN_VERIFY_TOKEN": s.verify_token,
            "AMAN_ACCESS_TOKEN": s.access_token,
            "AMAN_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "AMAN_GRAPH_API_URL": graph_url,
            "AMAN_BOT": "echo",
            "AMAN_MASTER_KEY": s.master_key,
            # The simulator does not limit throughput; Meta's 80/s (or 1,000/s) per
            # number would otherwise be what we measure.
            "AMAN_SEND_RATE": "10000",
            "AMAN_MARK_READ": "true" if mark_read else "false",
        }
        argv = [str(VENV_BIN / "aman"), "serve", "--role", role, "--host", HOST,
                "--port", str(port)]
        return self.start(name, argv, cpu=self.server_cpu if pinned else None, port=port,
                          env=env)

    def start_bare(self, name: str, s: BenchSecrets) -> Proc:
        port = free_port()
        argv = [sys.executable, "-m", "bench.bare_server", "--host", HOST, "--port", str(port)]
        return self.start(name, argv, cpu=self.server_cpu, port=port,
                          env={"BENCH_APP_SECRET": s.app_secret})

    def start_pywa(self, name: str, s: BenchSecrets, *, graph_url: str, mark_read: bool,
                   port: int = 0) -> Proc:
        port = port or free_port()
        argv = [sys.executable, "-m", "bench.pywa_echo", "--host", HOST, "--port", str(port),
                "--graph-url", graph_url, "--phone-number-id", PHONE_NUMBER_ID]
        if mark_read:
            argv.append("--mark-read")
        env = {"BENCH_APP_SECRET": s.app_secret, "BENCH_ACCESS_TOKEN": s.access_token,
               "BENCH_VERIFY_TOKEN": s.verify_token}
        return self.start(name, argv, cpu=self.server_cpu, port=port, env=env)

    def start_simulator(self, name: str, s: BenchSecrets, *, webhook_port: int,
                        pinned: bool = True) -> Proc:
        port = free_port()
        argv = [sys.executable, "-m", "aman.simulator", "--host", HOST, "--port", str(port),
                "--webhook-url", f"http://{HOST}:{webhook_port}/webhook",
                "--phone-number-id", PHONE_NUMBER_ID, "--no-statuses", "--no-window"]
        env = {"AMAN_SIM_APP_SECRET": s.app_secret, "AMAN_SIM_ACCESS_TOKEN": s.access_token}
        return self.start(name, argv, cpu=self.tool_cpu if pinned else None, port=port, env=env)


_AUTOGROUP = Path("/proc/self/autogroup")


@contextlib.contextmanager
def niceness(nice: int) -> Iterator[None]:
    """This process (and every child it starts later) at niceness ``nice``, relative to now.

    With autogroup scheduling, per-process nice only counts inside a session, so the
    session's group (this benchmark's processes) gets the niceness too, and its previous
    value back on exit.  A negative ``nice`` needs root: PermissionError otherwise."""
    if not nice:
        yield
        return
    os.nice(nice)
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    before: int | None = None
    if enabled.exists() and enabled.read_text().strip() == "1" and _AUTOGROUP.exists():
        before = int(_AUTOGROUP.read_text().split()[-1])
        _AUTOGROUP.write_text(f"{nice}\n")
    try:
        yield
    finally:
        if before is not None:
            _AUTOGROUP.write_text(f"{before}\n")


async def wait_ready(proc: Proc, path: str, *, timeout: float = 60.0) -> None:
    """Poll ``GET path`` until the process answers below 500; BenchError if it dies or times out."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{proc.port}\r\nConnection: close\r\n\r\n"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, proc.port), timeout=1.0)
            writer.write(request.encode())
            line = await asyncio.wait_for(reader.readline(), timeout=2.0)
            writer.close()
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < 500:
                return
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise BenchError(f"{proc.name} not ready after {timeout:.0f} s:\n{proc.log_tail()}")


def count_inbox_rows(db_path: Path) -> int:
    """Rows in aman's inbox table (read-only; safe while aman runs thanks to WAL)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM inbox").fetchone()[0])
    finally:
        conn.close()
