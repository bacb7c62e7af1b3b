"""Runs the guard's phishing scan off the hot path: a bounded queue and one worker thread.

``aman.guard.scan`` costs 0.05-6 ms per message (it grows with length and links),
too much for the inbox worker's loop, so ``Monitor.inbound_text`` only queues the
text.  When the queue is full the text is not scanned and the drop is counted.
Texts live only in this queue until scanned; nothing here logs them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from aman.guard import Verdict, scan

__all__ = ["ScanJob", "TextScanner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScanJob:
    tenant: str
    contact_ix: str
    text: str
    own_domains: tuple[str, ...]
    ts: float


Handler = Callable[[ScanJob, Verdict, bool], None]  # (job, verdict, is_fraud_report)


class TextScanner:
    """Bounded queue of texts and the thread that scans them."""

    def __init__(self, cap: int, handle: Handler) -> None:
        self._queue: queue.Queue[ScanJob | None] = queue.Queue(maxsize=max(1, cap))
        self._handle = handle
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.scanned = 0

    def offer(self, job: ScanJob) -> bool:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def process(self, job: ScanJob) -> None:
        """Scan one text and hand the result over (any thread)."""
        verdict = scan(job.text, job.own_domains)
        # scan() already asked is_fraud_report (reason "fraud_report"): no second pass.
        self._handle(job, verdict, "fraud_report" in verdict.reasons)
        self.scanned += 1

    def drain(self) -> int:
        """Scan everything queued, in the caller's thread (tests, shutdown)."""
        done = 0
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return done
            if job is not None:
                self._safe(job)
                done += 1

    def _safe(self, job: ScanJob) -> None:
        try:
            self.process(job)
        except Exception as exc:  # noqa: BLE001 - one bad text must not stop the scanner
            log.warning("text scan failed: %s", type(exc).__name__)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._safe(job)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="monitor-scan", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        while True:
            try:
                self._queue.put(None, timeout=timeout)
                break
            except queue.Full:
                self.drain()
        thread.join(timeout)
