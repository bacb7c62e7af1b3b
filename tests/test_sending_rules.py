"""Pacing, retry policy and Graph error classification (no network, controllable clocks)."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aman.outbox.graph import GraphResult, _result, classify
from aman.outbox.ratelimit import Pacer, RecipientBuckets
from aman.outbox.retry import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Simulate late wake-ups too: the scheduler may oversleep by up to 3 ms.
        self.now += max(0.0, seconds) + random.uniform(0, 0.003)


def max_in_any_window(times: list[float], width: float = 1.0) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


@settings(max_examples=40, deadline=None)
@given(rate=st.sampled_from([1.0, 5.0, 20.0, 80.0, 333.0, 1000.0]),
       n=st.integers(min_value=1, max_value=1500))
def test_pacer_never_exceeds_rate_in_any_one_second_window(rate: float, n: int) -> None:
    clock = FakeClock()
    pacer = Pacer(rate, clock=clock, sleep=clock.sleep)

    async def run() -> list[float]:
        return [await pacer.acquire() for _ in range(n)]

    times = asyncio.run(run())
    assert max_in_any_window(times) <= int(rate)
    if n > 2 * rate:
        achieved = (n - 1) / (times[-1] - times[0])
        assert achieved >= rate * 0.95  # paces, does not starve


def test_pacer_concurrent_acquirers_share_the_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(50, clock=clock, sleep=clock.sleep)

    async def run() -> list[float]:
        return list(await asyncio.gather(*(pacer.acquire() for _ in range(300))))

    times = sorted(asyncio.run(run()))
    assert max_in_any_window(times) <= 50


def test_pacer_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        Pacer(0)


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
        (401, 190, "failed"),
        (400, 368, "failed"),
        (400, 131031, "failed"),
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
