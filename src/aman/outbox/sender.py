"""The sender: claim outbox rows, pace them, call the Graph API, record what happened.

Claims are committed (state 'sending') before any request leaves, so after a
crash every possibly-sent row is known and reconciled instead of guessed (see
``aman.outbox.repository``).  Each message carries its outbox ref in
``biz_opaque_callback_data``; the status webhooks bring it back.  Outcomes are
written through a group commit so a busy sender costs few transactions.  On SQLite
the inbox worker runs the claim for the replies it writes inside its own completion
transaction and hands the claimed rows over (``handoff_claim`` … ``adopt``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from aman import metrics
from aman.aio import sleep_or_stop, wait_any
from aman.outbox.fallback import fallback_body, requeue_window_closed
from aman.outbox.graph import PAIR_RATE, THROUGHPUT, GraphClient, GraphResult, classify
from aman.outbox.ratelimit import Pacer, RecipientBuckets
from aman.outbox.repository import ClaimedSend, OutboxRepository, SendOutcome
from aman.outbox.retry import RetryPolicy
from aman.security.blind_index import mask_id
from aman.storage.db import PinnedConnection
from aman.storage.groupcommit import GroupCommitter, Unstorable
from aman.storage.leases import Leases
from aman.storage.threads import db_thread
from aman.storage.vault import Vault
from aman.storage.workers import Liveness
from aman.webhook.ingest import CALLBACK_PREFIX

__all__ = ["LEASE_TTL", "Handed", "Sender"]

log = logging.getLogger(__name__)
LEASE_TTL = 6.0  # seconds; a dead sender's numbers are taken over within about this long
# A throughput limit hit holds the whole number (not only the message that hit it) for the
# Retry-After, else one throughput window; at most this long, as claimed sends wait it out
# in the pacer (shorter than drain's 30 s, so a graceful stop still lets them finish).
THROUGHPUT_HOLD_MAX = 20.0
# Meta refused the number or the token (``graph.ALERT_CODES``): its sends are kept, not
# failed.  The refused one is tried again after this long, as a probe; the number's other
# waiting rows are put off twice as long, so a long queue does not hammer Meta each time.
HALT_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class Handed:
    """Rows claimed for this sender inside another transaction (the inbox worker's)."""

    rows: list[ClaimedSend]
    epoch: int


class Sender:
    """Delivers outbox rows until stopped."""

    def __init__(
        self,
        *,
        engine: Engine,
        vault: Vault,
        graph: GraphClient,
        dialect: str,
        worker_id: Callable[[], int],
        rate: float,
        incarnation: Callable[[], int] = lambda: 0,
        liveness: Liveness | None = None,
        concurrency: int = 256,
        retry: RetryPolicy | None = None,
        poll_seconds: float = 1.0,
        reconcile_seconds: float = 30.0,
        numbers: Sequence[str] = (),
        on_failed: Callable[[str, int | None], None] | None = None,
        on_halted: Callable[[str, int], None] | None = None,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        self._conn = PinnedConnection(engine)  # used on the sender thread only
        self._vault = vault
        self._graph = graph
        self._repo = OutboxRepository(dialect)
        self._worker_id = worker_id
        self._incarnation = incarnation
        self._liveness = liveness
        self._rate = rate
        self._pacers: dict[str, Pacer] = {}
        self._pairs = RecipientBuckets()
        self._concurrency = concurrency
        self._retry = retry or RetryPolicy()
        self._poll = poll_seconds
        self._reconcile = reconcile_seconds
        self._on_failed = on_failed
        self._on_halted = on_halted
        self._halt_logged: dict[str, float] = {}  # number -> when its halt was last logged
        self._clock = clock
        # Back-off jitter, not security: a seedable PRNG keeps tests reproducible.
        self._rng = random.Random(seed)  # noqa: S311  # nosec B311
        self._thread = db_thread(engine, "sender")
        self._results: GroupCommitter[SendOutcome] = GroupCommitter(
            engine,
            self._record,
            queue_limit=1_000_000,
            name="send-results",
            after_commit=self._results_committed,
        )
        # Claimed rows in flight and the claims we own are counted on the database thread
        # (where claims commit) and on the event loop (where sends end): under this lock.
        self._lock = threading.Lock()
        self._in_flight = 0
        self._accepting = False  # running: rows may be handed to us
        self.handed = 0  # rows handed over by the inbox worker (no claim of our own)
        self._slot_free = asyncio.Event()
        self.wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        self._lease = Leases()
        self._numbers: set[str] = set(numbers)
        self._leased: dict[str, float] = {}
        self._leases_due = 0.0
        self._watermark = 0
        # Claimed rows whose outcome is not committed yet, with the claim's incarnation.
        self._owned: dict[int, int] = {}
        self._unrecorded: list[SendOutcome] = []
        self._stalled = False  # warned that sends wait for a fresh heartbeat
        # The last claim left ready rows behind (more to claim, or rows held back behind
        # an earlier message to the same recipient): claim again without waiting.
        self._waiting = True

    def _pacer(self, phone_number_id: str) -> Pacer:
        pacer = self._pacers.get(phone_number_id)
        if pacer is None:
            pacer = self._pacers[phone_number_id] = Pacer(self._rate)
        return pacer

    def _record(self, conn: Connection, outcomes: Sequence[SendOutcome]) -> None:
        """Write outcomes; an uncertain row's reconcile window starts when it is written.

        An outcome kept through a database outage is written late: its status webhooks
        were refused meanwhile and come back only on Meta's retries, so the window
        must not have run down already.
        """
        deadline = self._clock() + self._reconcile
        written = [
            replace(o, next_attempt_at=deadline) if o.outcome == "uncertain" else o
            for o in outcomes
        ]
        self._repo.record(conn, written)
        # A failed 131047 status that came before this outcome (ingest leaves such rows
        # to us): the reply goes out as its template.
        sent = [o.outbox_id for o in written if o.outcome == "sent"]
        if sent:
            requeue_window_closed(conn, self._vault, ids=sent)

    def _results_committed(self, outcomes: Sequence[SendOutcome]) -> None:
        if not outcomes:
            return  # nothing finished: waking the loop here made an idle sender spin
        with self._lock:
            for o in outcomes:
                self._owned.pop(o.outbox_id, None)
        # A finished row may unblock the next message to the same recipient, if the
        # last claim left any row waiting (new rows wake us through on_outbox).
        if self._waiting:
            self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._results.start()
        await self._graph.start()
        self._accepting = True
        try:
            while not stop.is_set():
                free = self._concurrency - self._in_flight
                if free <= 0:
                    self._slot_free.clear()
                    await wait_any(stop, self._slot_free, self._poll)
                    continue
                self.wake.clear()
                unrecorded, self._unrecorded = self._unrecorded, []
                try:
                    claimed, epoch = await self._thread.run(self._claim, min(free, 500), unrecorded)
                except Exception as exc:  # noqa: BLE001 - survive a DB outage
                    log.warning("sender: claim failed: %s", type(exc).__name__)
                    self._unrecorded = unrecorded + self._unrecorded
                    await sleep_or_stop(stop, 1.0)
                    continue
                self._results_committed(unrecorded)
                self._start(claimed, epoch)
                if not claimed or not self._waiting:
                    # Nothing left to claim: a claim now would find nothing.  New rows,
                    # resends and finished rows that unblock others set ``wake``.
                    await wait_any(stop, self.wake, self._poll)
        finally:
            self._accepting = False
            # Rows handed over in transactions queued before this point are adopted
            # first (their answers reach the event loop before this one's).
            await self._thread.run(int)
            await self.drain()

    def _start(self, claimed: Sequence[ClaimedSend], epoch: int) -> None:
        """Deliver claimed rows (already counted as owned and in flight)."""
        for row in claimed:
            metrics.OUTBOX_QUEUE.inc()
            task = asyncio.create_task(self._deliver(row, epoch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- rows handed over by the inbox worker (same database thread, SQLite) ----------
    def handoff_claim(self, conn: Connection, now: float) -> Handed | None:
        """Claim ready rows inside the caller's transaction (the worker's completion), so
        its new replies need no claim transaction of ours.  Database thread only."""
        if not self._accepting:
            return None
        free = self._concurrency - self._in_flight
        if free <= 0:
            return None
        epoch = self._incarnation()
        try:
            rows = self._claim_in(conn, min(free, 500), now)
        except Exception:
            self._forget_leases()
            raise
        return Handed(rows, epoch)

    def handoff_committed(self, handed: Handed) -> None:
        """The caller's transaction committed: the rows are ours (database thread)."""
        self._own(handed.rows, handed.epoch)

    def handoff_failed(self) -> None:
        """The caller's transaction rolled back: leases taken in it are not ours."""
        self._forget_leases()

    def _forget_leases(self) -> None:
        """Leases taken in a transaction that did not commit are not ours: renew first."""
        self._leased.clear()
        self._leases_due = 0.0

    def adopt(self, handed: Handed) -> None:
        """Deliver rows handed over (event loop); wake the claim loop if rows wait."""
        self.handed += len(handed.rows)
        if handed.rows and self._accepting:
            self._start(handed.rows, handed.epoch)
        # (Not accepting: we are stopping; the rows stay 'sending' under our id and are
        # reconciled once our worker row is gone, like any claim of a stopped sender.)
        if self._waiting:
            self.wake.set()

    def _own(self, claimed: Sequence[ClaimedSend], epoch: int) -> None:
        """Committed claims are ours: count them owned and in flight (database thread)."""
        with self._lock:
            for row in claimed:
                self._owned[row.id] = epoch
            self._in_flight += len(claimed)
        # Keys of rows sealed by other processes are loaded here, off the event loop.
        self._vault.load_keys_for(c.body_enc for c in claimed)

    async def drain(self) -> None:
        """Let in-flight requests finish and their outcomes commit."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)
        await self._results.close()
        await self._graph.close()
        # Hand a number over only when our last send can no longer share a one-second
        # window with the next holder's first (at most 1 s; in-flight sends were drained).
        quiet = max((p.quiet_in() for p in self._pacers.values()), default=0.0)
        if 0.0 < quiet <= 1.0:
            await asyncio.sleep(quiet)
        await self._thread.run(self._release_leases)
        self._thread.close()
        self._conn.close()

    def _claim(self, limit: int, unrecorded: list[SendOutcome]) -> tuple[list[ClaimedSend], int]:
        """Ready rows, and the incarnation of our worker row that claimed them."""
        now = self._clock()
        if unrecorded:
            # Outcomes whose write failed (database restart): the updates are idempotent.
            with self._conn.begin() as conn:
                self._record(conn, unrecorded)
        epoch = self._incarnation()
        try:
            with self._conn.begin() as conn:
                claimed = self._claim_in(conn, limit, now)
        except Exception:
            self._forget_leases()
            raise
        self._own(claimed, epoch)
        return claimed, epoch

    def _claim_in(self, conn: Connection, limit: int, now: float) -> list[ClaimedSend]:
        """One claim in ``conn``'s transaction: new business numbers, leases when due, rows."""
        if self._new_numbers(conn) or now >= self._leases_due:
            with self._lock:
                owned = frozenset(self._owned)
            self._renew_leases(conn, now, owned)
        numbers = [n for n, until in self._leased.items() if until > now + 1.0]
        claimed = self._repo.claim(conn, self._worker_id(), limit, now, numbers)
        self._waiting = self._repo.any_waiting(conn, now, numbers)
        return claimed

    def _new_numbers(self, conn: Connection) -> bool:
        """Look at outbox rows added since the last look for business numbers not seen yet."""
        found, self._watermark = self._repo.discover(conn, self._watermark)
        new = found - self._numbers
        self._numbers |= found
        return bool(new)

    def _renew_leases(self, conn: Connection, now: float, owned: frozenset[int]) -> None:
        """Exactly one active sender per business number: take or renew its lease.

        Also sweep our own 'sending' rows that we no longer track (a claim whose commit
        answer was lost): they may or may not have gone out, so they are reconciled.
        """
        self._leases_due = now + LEASE_TTL / 3
        worker = self._worker_id()
        swept = self._repo.sweep_untracked(conn, worker, owned, now + self._reconcile)
        if swept:
            log.warning("sender: %d untracked claim(s) marked uncertain", swept)
        for number in sorted(self._numbers):
            if self._lease.acquire(conn, f"sender:{number}", worker, LEASE_TTL, now):
                if number not in self._leased:
                    log.info("sender: now sending for business number %s", mask_id(number))
                self._leased[number] = now + LEASE_TTL
            else:
                self._leased.pop(number, None)

    def _release_leases(self) -> None:
        worker = self._worker_id()
        try:
            with self._conn.begin() as conn:
                for number in list(self._leased):
                    self._lease.release(conn, f"sender:{number}", worker)
        except Exception as exc:  # noqa: BLE001 - leases expire by themselves anyway
            log.warning("sender: could not release leases: %s", type(exc).__name__)
        self._leased.clear()

    async def _deliver(self, row: ClaimedSend, epoch: int) -> None:
        try:
            outcome = await self._attempt(row, epoch)
        except Exception as exc:  # noqa: BLE001 - never lose a claimed row silently
            log.error("sender: unexpected %s for outbox row %d", type(exc).__name__, row.id)
            outcome = SendOutcome(
                row.id,
                row.attempts,
                "retry",
                self._clock(),
                0.0,
                error_title=type(exc).__name__,
                next_attempt_at=self._clock() + 5.0,
            )
        finally:
            with self._lock:
                self._in_flight -= 1
            metrics.OUTBOX_QUEUE.dec()
            self._slot_free.set()
        if outcome is None:
            with self._lock:
                if self._owned.get(row.id) == epoch:  # not if a newer claim of it is ours
                    del self._owned[row.id]
            return
        await self._write_outcome(row.id, outcome)

    async def _write_outcome(self, row_id: int, outcome: SendOutcome) -> None:
        """Commit ``outcome``; kept in memory and written again later if that fails.

        If the database refuses the outcome itself (a wamid another row already has, a
        value out of range), it is written once more without the Graph API's values: a
        sent row must stay sent, not be reconciled into a resend (its statuses still
        find it by our callback ref).  Refused even so, it would fail every claim it
        was retried with: the row stays 'sending' and untracked, and the next lease
        pass reconciles it (statuses, else a resend).
        """
        attempt: SendOutcome | None = outcome
        while attempt is not None:
            try:
                await self._results.submit(attempt)
                return
            except Unstorable as exc:
                log.error("sender: outcome of outbox row %d refused (%s)", row_id, exc)
            except Exception as exc:  # noqa: BLE001 - kept and written again later
                log.warning("sender: outcome not recorded (%s); will retry", type(exc).__name__)
                self._unrecorded.append(attempt)
                return
            # Built only when refused (a dataclass copy per outcome costs a few µs).
            bare = replace(attempt, wamid=None, error_code=None, error_title=None, http_status=None)
            attempt = bare if bare != attempt else None
        log.error("sender: outbox row %d left to reconciliation", row_id)
        with self._lock:
            self._owned.pop(row_id, None)

    async def _still_ours(self, row: ClaimedSend, epoch: int) -> bool:
        """False once our worker row was reaped since the claim (we were judged dead).

        The claim then belongs to reconciliation, which sends the row again once its
        window has passed: sending it here as well could reach the customer twice.
        After a stall (or while the database is away) our last heartbeat may be too old
        to tell: wait for a fresh one, which re-registers us if we had been reaped.
        """
        if self._liveness is not None and not self._liveness.fresh():
            if not self._stalled:
                self._stalled = True
                log.warning(
                    "sender: last heartbeat %.1f s ago; sends wait for a fresh one",
                    self._liveness.age,
                )
            await self._liveness.confirmed()
            self._stalled = False
        if self._incarnation() == epoch:
            return True
        log.warning("sender: outbox row %d given up: claimed before we were judged dead", row.id)
        return False

    def _hold_number(self, phone_number_id: str, result: GraphResult) -> None:
        """Meta said the number is over its limit: its other sends wait as well."""
        if result.error_code == PAIR_RATE:
            return  # about one recipient only
        if result.retry_after is not None:
            wait = result.retry_after
        elif result.http_status == 429 or result.error_code == THROUGHPUT:
            wait = 1.0
        else:
            return
        self._pacer(phone_number_id).hold(min(wait, THROUGHPUT_HOLD_MAX))

    def _halt_number(self, phone_number_id: str, code: int) -> None:
        """Meta refuses the number itself: hold its other sends and tell the monitor."""
        self._pacer(phone_number_id).hold(THROUGHPUT_HOLD_MAX)
        if self._on_halted is not None:
            self._on_halted(phone_number_id, code)
        now = self._clock()
        if now - self._halt_logged.get(phone_number_id, -HALT_WAIT) >= HALT_WAIT:
            self._halt_logged[phone_number_id] = now
            log.error(
                "sender: Meta refused a business number's sends (error %d: expired token, "
                "policy block or locked account); its messages wait and are tried again "
                "every %.0f s",
                code,
                HALT_WAIT,
            )

    async def _attempt(self, row: ClaimedSend, epoch: int) -> SendOutcome | None:
        envelope = self._vault.open_json("outbox", "body", row.ref, row.body_enc)
        body: dict[str, Any] = dict(envelope["msg"])
        if row.kind == "message":
            wait = self._pairs.take(row.contact_ix)
            if wait > 0:
                now = self._clock()
                return SendOutcome(
                    row.id,
                    row.attempts,
                    "deferred",
                    now,
                    0.0,
                    error_title="pair rate pacing",
                    next_attempt_at=now + wait,
                )
            body["biz_opaque_callback_data"] = CALLBACK_PREFIX + row.ref
            # The permit is held from just before the write until the answer is in: the
            # cap then holds on the times Meta sees (every attempt, retries included).
            async with self._pacer(row.phone_number_id).send():
                if not await self._still_ours(row, epoch):
                    return None
                result = await self._graph.send(row.phone_number_id, orjson.dumps(body))
        else:  # a read receipt: not a message, outside the messaging throughput limit
            if not await self._still_ours(row, epoch):
                return None
            result = await self._graph.send(row.phone_number_id, orjson.dumps(body))
        metrics.SEND_LATENCY.observe(result.latency_ms / 1000.0)
        decision = classify(result)
        if decision == "retry":
            self._hold_number(row.phone_number_id, result)
        elif decision == "halt":
            self._halt_number(row.phone_number_id, int(result.error_code or 0))
        metrics.child(metrics.SEND_RESULTS, row.kind, decision).inc()
        now = self._clock()

        def outcome(kind: str, **extra: Any) -> SendOutcome:
            return SendOutcome(
                row.id,
                row.attempts,
                kind,
                now,
                result.latency_ms,
                result.http_status,
                error_code=result.error_code,
                error_title=result.error_title,
                **extra,
            )

        if decision == "sent":
            self.sent += 1
            return outcome("sent", wamid=result.wamid)
        if decision == "uncertain" and row.kind == "read":
            decision = "retry"  # marking read twice is harmless: no need to reconcile
        if decision == "uncertain":
            return outcome("uncertain")  # its reconcile deadline is set when it is written
        if decision == "window":
            new_body = fallback_body(self._vault, row.ref, row.contact_ix, envelope)
            if new_body is not None:
                return outcome("fallback", new_body_enc=new_body)
        if decision == "halt":
            probe = now + HALT_WAIT
            return outcome(
                "halted", next_attempt_at=probe, halt=(row.phone_number_id, probe + HALT_WAIT)
            )
        if decision == "retry":
            delay = self._retry.delay(
                row.attempts,
                result.retry_after,
                self._rng,
                pair_rate=result.error_code == PAIR_RATE,
            )
            if delay is not None:
                return outcome("retry", next_attempt_at=now + delay)
        if self._on_failed is not None:
            self._on_failed(row.phone_number_id, result.error_code)
        return outcome("failed")
