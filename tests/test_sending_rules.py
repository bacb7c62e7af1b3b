"""Pacing, retry policy and Graph error classification (no network, controllable clocks)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
from collections.abc import Awaitable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.outbox.graph import MAX_RETRY_AFTER, GraphResult, _result, _retry_after, classify
from aman.outbox.ratelimit import Pacer, RecipientBuckets
from aman.outbox.retry import RetryPolicy

_T = TypeVar("_T")


class VirtualTime:
    """A discrete-event clock: ``sleep`` parks the task until the driver reaches its wake time.

    Every wake-up is late by the next of ``stalls`` (event-loop stalls, a busy core), so the
    pacer is checked against late timers, not just exact ones.
    """

    def __init__(self, stalls: list[float] | None = None) -> None:
        self.now = 1000.0
        self._stalls = stalls or [0.0]
        self._n = 0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self._n += 1
        late = self._stalls[self._n % len(self._stalls)]
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds) + late, self._n, fut))
        await fut

    async def run(self, main: Awaitable[_T]) -> _T:
        task = asyncio.ensure_future(main)
        while not task.done():
            # Let what is ready run before time moves (moving early only makes tasks late).
            for i in range(200):
                await asyncio.sleep(0)
                if task.done() or (i >= 5 and self._timers):
                    break
            if task.done():
                break
            assert self._timers, "deadlock: every task waits and no timer is pending"
            at, _, fut = heapq.heappop(self._timers)
            self.now = max(self.now, at)
            fut.set_result(None)
        return task.result()


# Float rounding of the virtual clock's sums (a release at 1023.5000000000001 plus 1.0
# is 1024.5): stamps this close to a full window apart count as a window apart.
_ROUNDING = 1e-9


def max_in_any_window(times: list[float], width: float = 1.0) -> int:
    """The most stamps in any half-open window [t, t + width), up to float rounding."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - width + _ROUNDING:
            j += 1
        best = max(best, i - j + 1)
    return best


async def fake_graph_run(
    pacer: Pacer,
    clock: VirtualTime,
    n: int,
    *,
    workers: int,
    write_delays: list[float],
    answer_delays: list[float],
    retry_every: int = 0,
) -> tuple[list[float], list[float]]:
    """``n`` messages through ``workers`` sender tasks to a fake Graph server.

    A request's bytes reach the server ``write_delays[k]`` after its permit (a busy loop,
    bunched writes), the server stamps it, and the answer comes ``answer_delays[k]`` later
    (a server stall or queue).  With ``retry_every`` every such request is answered 429 and
    the message is sent again (another attempt, another permit).  Returns
    (server stamps of every request, permit grant times).
    """
    stamps: list[float] = []
    grants: list[float] = []
    queue = list(range(n))
    k = 0

    async def worker() -> None:
        nonlocal k
        while queue:
            msg = queue.pop()
            while True:
                k += 1
                async with pacer.send() as granted:
                    grants.append(granted)
                    await clock.sleep(write_delays[k % len(write_delays)])
                    stamps.append(clock.now)
                    await clock.sleep(answer_delays[k % len(answer_delays)])
                if not (retry_every and msg % retry_every == 0 and k % 2):
                    break

    await asyncio.gather(*(worker() for _ in range(workers)))
    return stamps, grants


delays = st.lists(
    st.one_of(
        st.floats(min_value=0.0, max_value=0.05),
        st.floats(min_value=0.0, max_value=2.5),  # now and then a long stall
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.sampled_from([1.0, 2.5, 7.0, 20.0, 80.0, 100.0, 333.0]),
    n=st.integers(min_value=1, max_value=600),
    workers=st.integers(min_value=1, max_value=64),
    write_delays=delays,
    answer_delays=delays,
    stalls=st.lists(st.floats(min_value=0.0, max_value=1.5), min_size=1, max_size=10),
    retry_every=st.sampled_from([0, 0, 2, 5]),
)
def test_no_one_second_window_at_the_server_exceeds_the_rate(
    rate: float,
    n: int,
    workers: int,
    write_delays: list[float],
    answer_delays: list[float],
    stalls: list[float],
    retry_every: int,
) -> None:
    """The cap holds on the times the fake Graph server sees, retries included."""
    clock = VirtualTime(stalls)
    pacer = Pacer(rate, clock=clock, sleep=clock.sleep)
    stamps, _ = asyncio.run(
        clock.run(
            fake_graph_run(
                pacer,
                clock,
                n,
                workers=workers,
                write_delays=write_delays,
                answer_delays=answer_delays,
                retry_every=retry_every,
            )
        )
    )
    assert len(stamps) >= n
    assert max_in_any_window(stamps) <= math.floor(rate)
    assert pacer.in_flight == 0


@settings(max_examples=12, deadline=None)
@given(rate=st.sampled_from([5.0, 20.0, 100.0, 333.0]), latency=st.floats(0.0, 0.01))
def test_pacer_paces_at_the_rate_without_starving(rate: float, latency: float) -> None:
    """Prompt answers and prompt timers: the rate is met to within the answer latency."""
    clock = VirtualTime()
    pacer = Pacer(rate, clock=clock, sleep=clock.sleep)
    n = int(rate * 4)
    _, grants = asyncio.run(
        clock.run(
            fake_graph_run(pacer, clock, n, workers=64, write_delays=[0.0], answer_delays=[latency])
        )
    )
    grants.sort()
    achieved = (n - 1) / (grants[-1] - grants[0])
    assert achieved <= rate * 1.0001
    # Each send holds its permit for one second plus its latency.
    assert achieved >= rate / (1.0 + latency) * 0.98
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert min(gaps) >= 1.0 / rate - 1e-9  # evenly spaced: no burst at the start


def test_pacer_waits_for_answers_when_every_permit_is_in_flight() -> None:
    clock = VirtualTime()
    pacer = Pacer(3, clock=clock, sleep=clock.sleep)

    async def run() -> list[float]:
        grants = [await pacer.acquire() for _ in range(3)]
        waiter = asyncio.ensure_future(pacer.acquire())
        await clock.sleep(5.0)  # three requests hang for 5 s
        assert not waiter.done()
        for _ in range(3):
            pacer.release()
        grants.append(await waiter)
        return grants

    grants = asyncio.run(clock.run(run()))
    assert grants[3] - grants[0] >= 6.0  # answered at +5 s, counted one second more


def test_quiet_in_is_the_time_until_a_hand_over_is_safe() -> None:
    clock = VirtualTime()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)

    async def run() -> None:
        assert pacer.quiet_in() == 0.0
        async with pacer.send():
            assert pacer.quiet_in() == math.inf
            await clock.sleep(0.3)
        assert pacer.quiet_in() == pytest.approx(1.0)
        await clock.sleep(0.4)
        assert pacer.quiet_in() == pytest.approx(0.6)
        await clock.sleep(0.6)
        assert pacer.quiet_in() == 0.0

    asyncio.run(clock.run(run()))


def test_pacer_rejects_bad_rate_and_unbalanced_release() -> None:
    with pytest.raises(ValueError):
        Pacer(0)
    with pytest.raises(RuntimeError):
        Pacer(1).release()


def test_recipient_bucket_allows_burst_then_paces() -> None:
    now = [0.0]
    buckets = RecipientBuckets(capacity=45, refill_per_second=1 / 6, clock=lambda: now[0])
    assert all(buckets.take("a") == 0.0 for _ in range(45))
    wait = buckets.take("a")
    assert 5.9 < wait <= 6.0
    assert buckets.take("b") == 0.0  # other recipients unaffected
    now[0] += 6.0
    assert buckets.take("a") == 0.0


def test_recipient_buckets_are_bounded() -> None:
    buckets = RecipientBuckets(max_recipients=100)
    for i in range(1000):
        buckets.take(str(i))
    assert len(buckets._buckets) == 100


def test_refilled_recipient_buckets_are_forgotten() -> None:
    # A broadcast sends one message to each of many numbers: a bucket is full again
    # 6 s after its one message and then needs no memory.
    now = [0.0]
    buckets = RecipientBuckets(capacity=45, refill_per_second=1 / 6, clock=lambda: now[0])
    for i in range(1000):
        now[0] += 0.01
        buckets.take(f"62812{i:07d}")
    assert len(buckets) <= 601  # those used within the last 6 s
    now[0] += 6.0
    buckets.take("628120000000")
    assert len(buckets) == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.floats(min_value=0.0, max_value=20.0)),
        max_size=150,
    )
)
def test_forgetting_full_buckets_never_changes_an_answer(
    steps: list[tuple[str, float]],
) -> None:
    now = [0.0]
    pruned = RecipientBuckets(capacity=3, refill_per_second=0.5, clock=lambda: now[0])
    reference: dict[str, tuple[float, float]] = {}  # the same buckets, never forgotten
    for who, gap in steps:
        now[0] += gap
        tokens, stamp = reference.get(who, (3.0, now[0]))
        tokens = min(3.0, tokens + (now[0] - stamp) * 0.5)
        expected = 0.0 if tokens >= 1.0 else (1.0 - tokens) / 0.5
        reference[who] = (tokens - 1.0 if tokens >= 1.0 else tokens, now[0])
        assert pruned.take(who) == pytest.approx(expected)


def test_retry_policy_backoff_with_jitter_and_cap() -> None:
    policy = RetryPolicy(base=1.0, cap=10.0, max_attempts=5)
    rng = random.Random(1)
    delays = [policy.delay(a, None, rng) for a in range(1, 5)]
    assert all(d is not None for d in delays)
    assert 0.5 <= delays[0] <= 1.0 and 4.0 <= delays[3] <= 8.0  # type: ignore[operator]
    assert policy.delay(5, None, rng) is None
    big = RetryPolicy(base=1.0, cap=10.0, max_attempts=50)
    assert all(5.0 <= big.delay(30, None, rng) <= 10.0 for _ in range(20))  # type: ignore[operator]
    # Retry-After is honoured (never earlier), with a little jitter.
    assert 7.0 <= policy.delay(1, 7.0, rng) <= 8.0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (200, None, "sent"),
        (429, 130429, "retry"),
        (400, 131056, "retry"),  # pair rate limit
        (400, 80007, "retry"),
        (400, 4, "retry"),
        (500, 131000, "retry"),
        (503, 2, "retry"),
        (502, None, "retry"),
        (400, 131047, "window"),
        (400, 131026, "failed"),
        (400, 131048, "failed"),
        (400, 131049, "failed"),
        (400, 131050, "failed"),
        (400, 131051, "failed"),
        (400, 132000, "failed"),
        (400, 132001, "failed"),
        (400, 133010, "failed"),
        # Meta refuses the number or the token: nothing to retry, nothing to give up on.
        (401, 190, "halt"),
        (400, 368, "halt"),
        (400, 131031, "halt"),
        (500, 190, "halt"),
        (400, 100, "failed"),
    ],
)
def test_classify_graph_errors(status: int, code: int | None, expected: str) -> None:
    wamid = "wamid.X" if status == 200 else None
    assert classify(GraphResult(status, wamid=wamid, error_code=code)) == expected


def test_classify_network_failures() -> None:
    assert classify(GraphResult(None)) == "retry"  # never connected: safe to retry
    assert classify(GraphResult(None, sent_uncertain=True)) == "uncertain"


def test_graph_result_parsing_is_defensive() -> None:
    ok = _result(200, b'{"messages":[{"id":"wamid.A"}]}', None, 1.0)
    assert ok.wamid == "wamid.A"
    err = _result(400, b'{"error":{"code":131047,"message":"Re-engagement message"}}', 3.0, 1.0)
    assert (err.error_code, err.retry_after) == (131047, 3.0)
    assert err.error_title == "Re-engagement message"
    for junk in (b"", b"<html>", b"[]", b'{"error": "x"}', b'{"error": {"code": "12"}}'):
        r = _result(502, junk, None, 1.0)
        assert r.error_code is None and classify(r) == "retry"
    # Values the outbox columns cannot hold would make the outcome unstorable.
    wild = _result(400, b'{"error":{"code":99999999999,"message":"x"}}', None, 1.0)
    assert wild.error_code is None and classify(wild) == "failed"
    long_id = _result(200, b'{"messages":[{"id":"' + b"w" * 257 + b'"}]}', None, 1.0)
    assert long_id.wamid is None and classify(long_id) == "sent"


def test_retry_after_as_seconds_or_http_date_and_huge_values_are_cut_not_ignored() -> None:
    now = 1_900_000_000.0
    later = format_datetime(datetime.fromtimestamp(now + 120, UTC), usegmt=True)
    assert _retry_after(later, now) == pytest.approx(120.0)
    earlier = format_datetime(datetime.fromtimestamp(now - 5, UTC), usegmt=True)
    assert _retry_after(earlier, now) == 0.0
    assert _retry_after(" 7 ", now) == 7.0
    # Meta asked for a long wait: retrying within a second instead would ignore it.
    assert _retry_after("7200", now) == MAX_RETRY_AFTER
    assert _retry_after("1e400", now) == MAX_RETRY_AFTER
    for junk in ("", "-1", "nan", "soon", "Mon, 99 Foo 2024 99:99:99 GMT"):
        assert _retry_after(junk, now) is None


def test_a_hold_delays_every_permit_then_pacing_resumes() -> None:
    clock = VirtualTime()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    start = clock.now

    async def main() -> list[float]:
        async with pacer.send():
            pass
        pacer.hold(2.0)
        pacer.hold(0.5)  # a shorter hold never shortens a longer one
        granted = []
        for _ in range(3):
            async with pacer.send() as at:
                granted.append(at)
        return granted

    granted = asyncio.run(clock.run(main()))
    assert granted[0] >= start + 2.0
    assert granted[1] - granted[0] == pytest.approx(0.1)


def test_pair_rate_retries_wait_at_least_4_to_the_n_seconds() -> None:
    policy = RetryPolicy(base=1.0, cap=300.0, max_attempts=8)
    rng = random.Random(3)
    for attempt, least in ((1, 1.0), (2, 4.0), (3, 16.0), (4, 64.0), (5, 256.0), (6, 300.0)):
        for _ in range(20):
            delay = policy.delay(attempt, None, rng, pair_rate=True)
            assert delay is not None and least <= delay <= least * 1.1
    assert policy.delay(8, None, rng, pair_rate=True) is None
    assert 9.0 <= policy.delay(2, 9.0, rng, pair_rate=True) <= 10.0  # type: ignore[operator]
